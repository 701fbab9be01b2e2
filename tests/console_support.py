"""A real console stack for browser tests: API (serving the built console), worker
and sandbox provider as processes on 127.0.0.1, and Debian's Chromium driven by
Playwright (never a downloaded browser).

Under CI=true a missing Chromium or console build fails the test; elsewhere it
skips with the reason (``python3 scripts/bootstrap.py test`` installs and builds
both)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from net_support import free_port, wait_until_ok

if TYPE_CHECKING:
    from playwright.sync_api import Browser

REPO = Path(__file__).resolve().parents[1]
CONSOLE_DIR = REPO / "dist" / "console"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# What must never appear in a server's stderr.
LOG_FAILURES = ("Traceback", "Logging error")


def require_browser() -> None:
    """Fail under CI, skip elsewhere, when Chromium or the console build is missing."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    if not (CONSOLE_DIR / "index.html").exists():
        missing.append(
            f"the console build {CONSOLE_DIR.relative_to(REPO)} (npm ci && npm run build)"
        )
    if not missing:
        return
    message = "browser test needs " + " and ".join(missing)
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI=true: never skipped)")
    pytest.skip(message)


@contextmanager
def chromium() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _autopack() -> str:
    return str(Path(sys.executable).parent / "autopack")


class Stack:
    """The processes of one test and the environment they share."""

    def __init__(self, directory: Path, env: dict[str, str]) -> None:
        self.directory = directory
        self.env = env
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []
        self.url = ""

    def cli(self, *args: str) -> Any:
        proc = subprocess.run(
            [_autopack(), *args],
            env=self.env,
            cwd=self.directory,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return json.loads(proc.stdout) if "--json" in args else proc.stdout

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = self.directory / f"{name}.log"
        with log.open("wb") as sink:
            proc = subprocess.Popen(
                [_autopack(), *args],
                env=self.env,
                cwd=self.directory,
                stdout=sink,
                stderr=sink,
            )
        self.procs.append(proc)
        self.logs.append(log)
        return proc

    def log_text(self) -> str:
        return "\n".join(log.read_text(errors="replace") for log in self.logs)

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


@contextmanager
def console_stack(
    directory: Path,
    database_url: str,
    sandbox_url: str,
    *,
    worker: bool = True,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Stack]:
    """`autopack serve` (with the console) and `autopack worker` on ``database_url``
    (``extra_env``: more settings, such as the Alpaca fake's URLs)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPACK_")}
    env.update(
        AUTOPACK_WORKSPACE=str(directory),
        AUTOPACK_DATABASE_URL=database_url,
        AUTOPACK_SANDBOX_URL=sandbox_url,
        AUTOPACK_API_KEY="console-bootstrap-" + "q" * 40,
        AUTOPACK_CONSOLE_DIR=str(CONSOLE_DIR),
        AUTOPACK_PORT=str(port),
    )
    env.update(extra_env or {})
    stack = Stack(directory, env)
    stack.cli("db", "upgrade")
    try:
        if worker:
            stack.start("worker", "worker", "--reconcile", "--poll-seconds", "0.2")
        api = stack.start("api", "serve")
        stack.url = f"http://127.0.0.1:{port}"
        wait_until_ok(f"{stack.url}/health", api, stack.logs[-1], timeout=60)
        yield stack
    finally:
        stack.stop()
