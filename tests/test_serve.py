"""`autopack serve` as a real process over loopback HTTP."""

from __future__ import annotations

import contextlib
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from autopack.services.context import Runtime
from autopack.services.credentials import CredentialService
from autopack.services.runtime import build_runtime
from conftest import make_settings
from net_support import free_port, wait_until_ok

API_KEY = "serve-test-key-" + "q" * 40


def _env(workspace: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPACK_")}
    env.update(AUTOPACK_WORKSPACE=str(workspace), AUTOPACK_DATABASE_URL=database_url, **extra)
    return env


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from autopack.cli import main; main()", *args]


@contextmanager
def running_serve(
    workspace: Path, database_url: str, log: Path, **env: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`autopack serve` on a free port; yields its base URL and process."""
    port = free_port()
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            _cli("serve", "--port", str(port)),
            env=_env(workspace, database_url, AUTOPACK_API_KEY=API_KEY, **env),
            cwd=workspace,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ok(f"{base}/health", proc, log, timeout=30)
        yield base, proc
    finally:
        proc.terminate()
        proc.wait(timeout=15)


@pytest.fixture
def server(workspace: Path, database_url: str, tmp_path: Path) -> Iterator[str]:
    with running_serve(workspace, database_url, tmp_path / "serve.log") as (base, _proc):
        yield base


def test_serve_health_and_auth(server: str) -> None:
    health = httpx.get(f"{server}/health")
    assert health.status_code == 200
    assert health.json()["database"]["at_head"] is True
    assert httpx.get(f"{server}/api/runs").status_code == 401
    ok = httpx.get(f"{server}/api/runs", headers={"X-API-Key": API_KEY})
    assert ok.status_code == 200
    assert ok.json() == {"runs": []}
    created = httpx.post(
        f"{server}/api/runs",
        json={"project": "demo", "family": "publish"},
        headers={"X-API-Key": API_KEY},
    )
    assert created.status_code == 201
    assert Path(created.json()["directory"], "run.json").is_file()


def test_serve_refuses_a_schema_behind_head(workspace: Path, empty_database_url: str) -> None:
    result = subprocess.run(
        _cli("serve", "--port", str(free_port())),
        env=_env(workspace, empty_database_url),
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 3
    assert "autopack db upgrade" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_refuses_production_without_secrets(workspace: Path, database_url: str) -> None:
    result = subprocess.run(
        _cli("serve", "--port", str(free_port())),
        env=_env(workspace, database_url, AUTOPACK_ENV="production"),
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "error: AUTOPACK_SECRET_KEY is required when AUTOPACK_ENV=production"
    )


def test_serve_refuses_production_that_nobody_can_administer(
    workspace: Path, database_url: str
) -> None:
    """No bootstrap key and no admin principal: nobody could create principals."""
    secret = "serve-admin-test-" + "Rt5y" * 10
    env = _env(workspace, database_url, AUTOPACK_ENV="production", AUTOPACK_SECRET_KEY=secret)
    result = subprocess.run(
        _cli("serve", "--port", str(free_port())),
        env=env,
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "no admin can call this API" in result.stderr
    assert "Traceback" not in result.stderr


STORED_SECRET = "Zk8s2LqP0vXw4RtY6uB9cD1eF3gH5jK7mN0pQ2rS"
SECRET_KEY = "serve-test-store-key-" + "Hq1w2E3r4T5y6U7i8O9p" * 2


def test_access_log_survives_redaction_and_masks_stored_secrets(
    workspace: Path, database_url: str, tmp_path: Path
) -> None:
    """Defect: the redaction filter set ``record.args = None``, so uvicorn's access
    formatter raised on every request, no access line survived and the error path
    printed the stored secret raw."""
    settings = make_settings(workspace, database_url, secret_key=SECRET_KEY)
    rt = build_runtime(settings)
    try:
        with CredentialService(rt) as service:
            service.add_api_key(
                "alpaca",
                "main",
                key_id="PKTESTKEYID000000001",
                secret=STORED_SECRET,
                environment="paper",
            )
    finally:
        rt.close()
    log = tmp_path / "serve.log"
    with running_serve(workspace, database_url, log, AUTOPACK_SECRET_KEY=SECRET_KEY) as (base, _):
        headers = {"X-API-Key": API_KEY}
        assert httpx.get(f"{base}/api/actions", headers=headers).status_code == 200
        missing = httpx.get(f"{base}/api/actions/{STORED_SECRET}", headers=headers)
        assert missing.status_code == 404
        assert httpx.get(f"{base}/api/runs?note={STORED_SECRET}").status_code == 401
    text = log.read_text(errors="replace")
    assert "Logging error" not in text
    assert "Traceback" not in text
    assert STORED_SECRET not in text
    assert '"GET /health HTTP/1.1" 200' in text
    assert '"GET /api/actions HTTP/1.1" 200' in text
    assert '"GET /api/actions/[REDACTED:known-secret] HTTP/1.1" 404' in text
    assert '"GET /api/runs?note=[REDACTED:known-secret] HTTP/1.1" 401' in text


MiB = 1024 * 1024


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _send_until_answered(port: int, head: bytes, chunks: Iterator[bytes]) -> tuple[bytes, int]:
    """Send ``head`` then ``chunks`` until the server answers; returns (answer, bytes sent)."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        for chunk in chunks:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        answer = b""
        with contextlib.suppress(ConnectionResetError):
            while True:  # the refusal closes the connection
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
    return answer, sent


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from /proc")
def test_oversized_bodies_are_refused_before_they_are_read(
    workspace: Path, database_url: str, tmp_path: Path
) -> None:
    """Defect: a 1 GiB POST was read whole (RSS +2 GB) and answered 422 after 14 s."""
    limit = 64 * 1024
    log = tmp_path / "serve.log"
    with running_serve(workspace, database_url, log, AUTOPACK_MAX_REQUEST_BYTES=str(limit)) as (
        base,
        proc,
    ):
        port = int(base.rsplit(":", 1)[1])
        headers = {"X-API-Key": API_KEY}
        under = {"provider": "sandbox", "action": "listing.create", "key": "k"}
        ok = httpx.post(
            f"{base}/api/actions", json={**under, "payload_json": '{"t": "x"}'}, headers=headers
        )
        assert ok.status_code == 201, ok.text
        rss_before = _rss_bytes(proc.pid)
        started = time.monotonic()

        # A declared length over the limit: refused without reading a byte.
        head = (
            f"POST /api/actions HTTP/1.1\r\nHost: x\r\nX-API-Key: {API_KEY}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {200 * MiB}\r\n\r\n"
        ).encode()
        answer, sent = _send_until_answered(port, head, iter(()))
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert sent == 0

        # A chunked body of 200 MiB: refused once the count passes the limit.
        head = (
            f"POST /api/actions HTTP/1.1\r\nHost: x\r\nX-API-Key: {API_KEY}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        ).encode()
        chunk = b"%x\r\n%s\r\n" % (MiB, b" " * MiB)
        answer, sent = _send_until_answered(port, head, (chunk for _ in range(200)))
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert b'"code": "request_too_large"' in answer
        assert sent < 200 * MiB
        elapsed = time.monotonic() - started
        growth = _rss_bytes(proc.pid) - rss_before
        # Still serving, and it never held the body.
        assert httpx.get(f"{base}/health").status_code == 200
    assert elapsed < 30, elapsed
    assert growth < 50 * MiB, growth


def test_request_size_limit_counts_chunked_bodies_in_process(runtime: Runtime) -> None:
    """The same limit through the ASGI stack: a body just over it, streamed, is a 413
    with the error body; one at the limit reaches the route."""
    from fastapi.testclient import TestClient

    from autopack.api.app import create_app

    limit = runtime.settings.max_request_bytes
    app = create_app(runtime=runtime)
    assert runtime.settings.api_key is not None
    headers = {
        "X-API-Key": runtime.settings.api_key.get_secret_value(),
        "Content-Type": "application/json",
    }

    def stream(total: int) -> Iterator[bytes]:
        body = b'{"provider": "sandbox", "action": "listing.create", "key": "k", "payload_json": "'
        yield body
        left = total - len(body) - 2
        while left > 0:
            step = min(left, 65536)
            yield b" " * step
            left -= step
        yield b'"}'

    with TestClient(app, raise_server_exceptions=False) as client:
        over = client.post("/api/actions", content=stream(limit + 1), headers=headers)
        assert over.status_code == 413
        assert over.json()["error"]["code"] == "request_too_large"
        at = client.post("/api/actions", content=stream(limit), headers=headers)
        assert at.status_code == 400  # read and parsed: a blank payload is not JSON
        assert at.json()["error"]["code"] == "invalid_json"


def test_head_health_is_public_and_405_names_the_allowed_methods(server: str) -> None:
    head = httpx.head(f"{server}/health")
    assert head.status_code == 200
    assert head.content == b""
    headers = {"X-API-Key": API_KEY}
    for method, path, allowed in (
        ("DELETE", "/health", {"GET", "HEAD"}),
        ("PUT", "/api/runs", {"GET", "POST"}),
        ("DELETE", "/api/actions/k1", {"GET"}),
        ("GET", "/api/approvals/1/approve", {"POST"}),
    ):
        response = httpx.request(method, f"{server}{path}", headers=headers)
        assert response.status_code == 405, (method, path)
        assert response.json()["error"]["code"] == "method_not_allowed"
        assert {m.strip() for m in response.headers["allow"].split(",")} == allowed
