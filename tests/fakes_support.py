"""Start, drive and crash the provider fakes process in tests.

The fakes run as their own process (``python -m autopack.fakes``), on one port
for every provider. Everything below talks to it over real HTTP on 127.0.0.1::

    from fakes_support import running_fakes

    def test_something(tmp_path):
        with running_fakes(tmp_path) as fakes:
            fakes.set_faults({"provider": "alpaca", "kind": "lost_response"})
            ...                                   # point an adapter at fakes.url
            assert len(fakes.effects("alpaca")) == 1
            fakes.kill()                          # SIGKILL, like a crash
            fakes.restart()                       # same store and port
            assert fakes.stderr_problems() == []  # no traceback, no logging error

Faults: see ``autopack.fakes.faults``. The queue lives in server memory: a
restart empties it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from autopack.fakes.server import CONTROL_PREFIX, READY_PREFIX
from sandbox_support import read_line

READY_TIMEOUT_SECONDS = 20.0
STOP_TIMEOUT_SECONDS = 10.0
STDERR_PROBLEMS = ("Traceback", "Logging error", "Exception in thread")


class FakesStartFailedError(RuntimeError):
    """The process exited or stayed silent instead of printing its ready line."""


class FakesProcess:
    """A running (or killed) fakes server. Build it with ``running_fakes``."""

    def __init__(
        self, *, store: Path, log_dir: Path, providers: tuple[str, ...], via_cli: bool
    ) -> None:
        self.store = store
        self.log_dir = log_dir
        self.providers = providers
        self.port = 0
        self._via_cli = via_cli
        self._proc: subprocess.Popen[str] | None = None
        self._starts = 0
        self._launch()

    @property
    def url(self) -> str:
        """Base URL of every fake, e.g. ``http://127.0.0.1:41234``; stable across restarts."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_path(self, start: int | None = None) -> Path:
        return self.log_dir / f"fakes-{start or self._starts}.log"

    def stderr_text(self) -> str:
        """stderr of every start so far."""
        return "".join(
            self.log_path(n).read_text(encoding="utf-8", errors="replace")
            for n in range(1, self._starts + 1)
            if self.log_path(n).exists()
        )

    def stderr_problems(self) -> list[str]:
        text = self.stderr_text()
        return [marker for marker in STDERR_PROBLEMS if marker in text]

    def _command(self) -> list[str]:
        entry = ["-m", "autopack", "fakes", "serve"] if self._via_cli else ["-m", "autopack.fakes"]
        chosen = [arg for name in self.providers for arg in ("--provider", name)]
        return [
            sys.executable,
            *entry,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--store",
            str(self.store),
            *chosen,
        ]

    def _launch(self) -> None:
        self._starts += 1
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path().open("w", encoding="utf-8") as log:
            proc = subprocess.Popen(
                self._command(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                encoding="ascii",
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        assert proc.stdout is not None
        line = read_line(proc.stdout, READY_TIMEOUT_SECONDS)
        if not line or not line.startswith(READY_PREFIX):
            proc.kill()
            proc.wait()
            proc.stdout.close()
            raise FakesStartFailedError(
                f"fakes did not start (said {line!r}); stderr:\n"
                + self.log_path().read_text(encoding="utf-8", errors="replace")
            )
        self.port = int(line.strip().rsplit(":", 1)[1])
        self._proc = proc

    def _reap(self, timeout: float) -> int:
        assert self._proc is not None
        try:
            code = self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            code = self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        return code

    def kill(self) -> int:
        """SIGKILL the server (a crash: nothing survives but what was committed)."""
        if self._proc is None:
            return 0
        if self._proc.poll() is None:
            self._proc.kill()
        return self._reap(STOP_TIMEOUT_SECONDS)

    def stop(self) -> int:
        """Graceful stop (SIGTERM), escalating to SIGKILL after a timeout."""
        if self._proc is None:
            return 0
        if self._proc.poll() is None:
            self._proc.terminate()
        return self._reap(STOP_TIMEOUT_SECONDS)

    def restart(self) -> None:
        """Start again on the same store and port; queued faults are gone."""
        self.kill()
        self._launch()

    # --- control API ------------------------------------------------------------------

    def control(self, method: str, path: str, body: Any = None, **params: str) -> Any:
        """Call ``/_control<path>`` and return the decoded JSON (raises on non-2xx)."""
        with httpx.Client(timeout=10.0, trust_env=False) as client:
            response = client.request(
                method,
                f"{self.url}{CONTROL_PREFIX}{path}",
                json=body,
                params={k: v for k, v in params.items() if v is not None},
            )
        response.raise_for_status()
        return response.json()

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self.control("GET", "/health")
        return result

    def set_faults(self, *faults: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Queue faults; returns the whole pending queue."""
        result: list[dict[str, Any]] = self.control("POST", "/faults", {"faults": list(faults)})[
            "pending"
        ]
        return result

    def pending_faults(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.control("GET", "/faults")["pending"]
        return result

    def clear_faults(self) -> None:
        self.control("DELETE", "/faults")

    def effects(self, provider: str) -> list[dict[str, Any]]:
        """Every object ``provider``'s fake created, oldest first."""
        result: list[dict[str, Any]] = self.control("GET", "/effects", provider=provider)["effects"]
        return result

    def reset(self) -> None:
        self.control("POST", "/reset")

    def wait_in_flight(self, count: int = 1, timeout: float = 10.0) -> None:
        """Wait until at least ``count`` provider requests are being handled."""
        self._wait(lambda: self.health()["in_flight"] >= count, timeout, "in-flight requests")

    def wait_idle(self, timeout: float = 30.0) -> None:
        self._wait(lambda: self.health()["in_flight"] == 0, timeout, "idle fakes")

    def _wait(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}")


@contextmanager
def running_fakes(tmp_path: Path, *providers: str, via_cli: bool = False) -> Iterator[FakesProcess]:
    """The fakes process on a free port with its store under ``tmp_path``; stopped
    (and checked for a clean stop) at the end."""
    fakes = FakesProcess(
        store=tmp_path / "fakes" / "fakes.db",
        log_dir=tmp_path / "fakes",
        providers=providers,
        via_cli=via_cli,
    )
    try:
        yield fakes
    finally:
        fakes.stop()
