"""Start, drive and crash a real sandbox server process in tests.

The server runs as its own process (``python -m autopack.sandbox``, which starts
in about 0.3 s; ``via_cli=True`` goes through ``python -m autopack sandbox serve``).
Everything below talks to it over real HTTP on 127.0.0.1::

    from sandbox_support import running_sandbox

    def test_something(tmp_path):
        with running_sandbox(tmp_path, mode="lookup_only") as sbx:
            sbx.set_faults({"kind": "lost_response"})     # next create: commit, no answer
            with sbx.adapter(timeout=2.0) as adapter:      # a SandboxAdapter for sbx.url
                ...
            assert len(sbx.effects()) == 1                 # ground truth, from the store
            sbx.kill()                                     # SIGKILL, like a crash
            sbx.restart()                                  # same store, port and mode
            assert len(sbx.effects()) == 1

Faults are JSON objects (see ``autopack.sandbox.faults``): ``{"kind": K}`` with K in
delay, lost_response, http_5xx, http_5xx_after_commit, http_429, http_4xx,
leak_secret, crash_after_commit; optional ``on`` ("create"/"lookup"), ``match``
(only the request carrying that idempotency key / client_ref), ``times``,
``seconds``, ``after_commit``, ``status``, ``retry_after``, ``reset``, ``secret``.
The fault queue lives in server memory: a restart empties it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import httpx

from autopack.domain.sandbox_protocol import CONTROL_PREFIX, READY_PREFIX, Mode
from autopack.providers.sandbox.adapter import SandboxAdapter
from autopack.sandbox.store import SandboxStore

READY_TIMEOUT_SECONDS = 20.0
STOP_TIMEOUT_SECONDS = 10.0


class SandboxStartFailedError(RuntimeError):
    """The server exited or stayed silent instead of printing its ready line."""


def read_line(stream: IO[str], timeout: float) -> str | None:
    """One line from ``stream``, or None after ``timeout`` seconds."""
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return box[0] if box else None


class SandboxProcess:
    """A running (or killed) sandbox server. Build it with ``start_sandbox``."""

    def __init__(
        self,
        *,
        store: Path,
        mode: str,
        port: int,
        log_dir: Path,
        extra_args: tuple[str, ...],
        via_cli: bool,
    ) -> None:
        self.store = store
        self.mode = Mode(mode).value
        self.port = port
        self.log_dir = log_dir
        self._extra_args = extra_args
        self._via_cli = via_cli
        self._proc: subprocess.Popen[str] | None = None
        self._starts = 0
        self._launch()

    # --- process lifecycle ------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL for adapters, e.g. ``http://127.0.0.1:41234``; stable across restarts."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    @property
    def log_path(self) -> Path:
        """stderr of the current process (startup line, tracebacks, --verbose logs)."""
        return self.log_dir / f"sandbox-{self._starts}.log"

    def _command(self) -> list[str]:
        entry = (
            ["-m", "autopack", "sandbox", "serve"] if self._via_cli else ["-m", "autopack.sandbox"]
        )
        return [
            sys.executable,
            *entry,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--mode",
            self.mode,
            "--store",
            str(self.store),
            *self._extra_args,
        ]

    def _launch(self) -> None:
        self._starts += 1
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("w", encoding="utf-8") as log:
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
            raise SandboxStartFailedError(
                f"sandbox did not start (said {line!r}); stderr:\n"
                + self.log_path.read_text(encoding="utf-8", errors="replace")
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
        """SIGKILL the server (a crash: nothing is flushed but what was committed)."""
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

    def wait_exit(self, timeout: float = STOP_TIMEOUT_SECONDS) -> int:
        """Wait for the server to exit on its own (e.g. after crash_after_commit)."""
        return self._reap(timeout)

    def restart(self, *, mode: str | None = None) -> None:
        """Start again on the same store and port (kills a live process first).

        The mode is the last one set (``mode`` overrides it); queued faults are gone.
        """
        self.kill()  # reaps a process that already exited, too
        if mode is not None:
            self.mode = Mode(mode).value
        self._launch()

    # --- control API ------------------------------------------------------------

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
        """Append faults to the queue; returns the whole pending queue."""
        result: list[dict[str, Any]] = self.control("POST", "/faults", {"faults": list(faults)})[
            "pending"
        ]
        return result

    def pending_faults(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.control("GET", "/faults")["pending"]
        return result

    def clear_faults(self) -> None:
        self.control("DELETE", "/faults")

    def set_mode(self, mode: str) -> None:
        """Change the mode now; ``restart()`` keeps it."""
        self.control("POST", "/mode", {"mode": Mode(mode).value})
        self.mode = Mode(mode).value

    def effects(self, **filters: str) -> list[dict[str, Any]]:
        """Every effect the server performed, oldest first (filters: kind, client_ref,
        idempotency_key). Each: seq, id, kind, idempotency_key, client_ref, body,
        body_hash, created_at."""
        result: list[dict[str, Any]] = self.control("GET", "/effects", **filters)["effects"]
        return result

    def requests(self) -> list[dict[str, Any]]:
        """Every create/lookup the server saw: op, kind, idempotency_key, client_ref,
        fault, result (created/replayed/conflict/refused/throttled/invalid/answered),
        effect_id."""
        result: list[dict[str, Any]] = self.control("GET", "/requests")["requests"]
        return result

    def reset(self) -> None:
        """Forget effects, requests and faults; back to the start mode."""
        self.control("POST", "/reset")

    def wait_in_flight(self, count: int = 1, timeout: float = 10.0) -> None:
        """Wait until at least ``count`` requests are being handled (e.g. a create sleeping
        in a ``delay`` fault): the moment to SIGKILL a worker "during dispatch"."""
        self._wait(lambda: self.health()["in_flight"] >= count, timeout, "in-flight requests")

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait until no request is being handled. A create that a killed client left
        sleeping in a ``delay`` fault still commits afterwards: wait for it before trusting
        a NOT_FOUND lookup."""
        self._wait(lambda: self.health()["in_flight"] == 0, timeout, "an idle sandbox")

    def wait_for_effects(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait until at least ``count`` effects exist; returns them."""
        self._wait(lambda: len(self.effects()) >= count, timeout, f"{count} effect(s)")
        return self.effects()

    @staticmethod
    def _wait(done: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
            time.sleep(0.02)

    def effects_on_disk(self) -> list[dict[str, Any]]:
        """The effects read straight from the store file (works while the server is down)."""
        return [effect.to_dict() for effect in SandboxStore(self.store).find()]

    # --- adapters -----------------------------------------------------------------

    def adapter(self, **kwargs: Any) -> SandboxAdapter:
        """A SandboxAdapter for this server (close it, or use ``with``)."""
        return SandboxAdapter(self.url, **kwargs)


def start_sandbox(
    store: Path,
    *,
    mode: str = "idempotent",
    port: int = 0,
    log_dir: Path | None = None,
    fault_plan: Path | None = None,
    token_file: Path | None = None,
    verbose: bool = False,
    via_cli: bool = False,
) -> SandboxProcess:
    """Start a server on ``store`` and wait until it listens. The caller stops it."""
    extra: list[str] = []
    if fault_plan is not None:
        extra += ["--fault-plan", str(fault_plan)]
    if token_file is not None:
        extra += ["--token-file", str(token_file)]
    if verbose:
        extra.append("--verbose")
    return SandboxProcess(
        store=store,
        mode=mode,
        port=port,
        log_dir=log_dir or store.parent,
        extra_args=tuple(extra),
        via_cli=via_cli,
    )


@contextmanager
def running_sandbox(
    directory: Path, *, mode: str = "idempotent", store: Path | None = None, **kwargs: Any
) -> Iterator[SandboxProcess]:
    """A server whose store is ``directory/sandbox.db`` (or ``store``), stopped on exit."""
    sandbox = start_sandbox(
        store or directory / "sandbox.db", mode=mode, log_dir=directory, **kwargs
    )
    try:
        yield sandbox
    finally:
        sandbox.kill()
