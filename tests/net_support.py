"""Loopback helpers for tests that start real server processes."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import httpx


def free_port() -> int:
    """A port that is free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_ok(
    url: str, proc: subprocess.Popen[bytes], log: Path, *, timeout: float = 60.0
) -> None:
    """Wait until GET ``url`` answers 200; fail with the log if ``proc`` dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"{url} never answered 200:\n{log.read_text(errors='replace')[-3000:]}")
