"""README command 1 (`python scripts/bootstrap.py serve`) runs the main job end to end."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from autopack.settings import DEFAULT_SANDBOX_PORT
from net_support import free_port, wait_until_ok

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "bootstrap-test-key-" + "z" * 40


def _bootstrap_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bootstrap", ROOT / "scripts" / "bootstrap.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bootstrap_sandbox_port_follows_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    bootstrap = _bootstrap_module()
    assert bootstrap.DEFAULT_SANDBOX_PORT == DEFAULT_SANDBOX_PORT
    assert bootstrap.sandbox_port("") == DEFAULT_SANDBOX_PORT
    assert bootstrap.sandbox_port("http://127.0.0.1") == DEFAULT_SANDBOX_PORT
    assert bootstrap.sandbox_port("http://127.0.0.1:9123") == 9123
    # What the bootstrap reads is what the settings resolve (environment and .env).
    monkeypatch.setenv("AUTOPACK_SANDBOX_URL", "http://127.0.0.1:9124")
    monkeypatch.setenv("AUTOPACK_PORT", "9125")
    settings = bootstrap.effective_settings()
    assert (settings["sandbox_url"], settings["port"]) == ("http://127.0.0.1:9124", 9125)


@pytest.mark.parametrize("busy", ["sandbox", "API"])
def test_serve_checks_every_port_before_starting_anything(tmp_path: Path, busy: str) -> None:
    """Defect: with the sandbox port busy the API and worker still started (approved
    payloads could reach whatever owned the port); with the API port busy it exited
    only after printing a key and starting a worker."""
    api_port, sandbox_port = free_port(), free_port()
    workspace = tmp_path / "ws"
    workspace.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPACK_")}
    env.update(
        AUTOPACK_WORKSPACE=str(workspace),
        AUTOPACK_SANDBOX_URL=f"http://127.0.0.1:{sandbox_port}",
        AUTOPACK_PORT=str(api_port),
    )
    taken = sandbox_port if busy == "sandbox" else api_port
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", taken))
        holder.listen()
        proc = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "bootstrap.py"), "serve"],
            cwd=workspace,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 3, output
    lines = [line for line in output.splitlines() if line.startswith("[bootstrap] port ")]
    setting = "AUTOPACK_SANDBOX_URL" if busy == "sandbox" else "AUTOPACK_PORT"
    assert len(lines) == 1, output
    assert f"port {taken} ({busy}, 127.0.0.1) is in use" in lines[0]
    assert setting in lines[0]
    # Nothing started: no database upgrade, no key printed, no server.
    assert not (workspace / ".autonomous_runs").exists()
    assert "API key" not in output
    assert "Traceback" not in output


def _check_console(api: str, log: Path) -> None:
    """With Node.js the console is built and served at /; without, the log says how."""
    page = httpx.get(f"{api}/", timeout=10)
    if shutil.which("node") and shutil.which("npm"):
        assert page.status_code == 200, log.read_text(errors="replace")[-3000:]
        assert page.headers["content-type"].startswith("text/html")
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    else:
        assert page.status_code == 401  # the API's default-deny, as before
        assert "needs Node.js 18+ and npm" in log.read_text(errors="replace")


def test_serve_without_node_says_how_to_get_the_console(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bootstrap = _bootstrap_module()
    monkeypatch.setattr(bootstrap, "npm", lambda: None)
    bootstrap.build_console()
    out = capsys.readouterr().out
    assert "the operator console needs Node.js 18+ and npm" in out
    assert "starting without the console" in out


def test_console_checks_fail_under_ci_without_node(monkeypatch: pytest.MonkeyPatch) -> None:
    bootstrap = _bootstrap_module()
    monkeypatch.setattr(bootstrap, "npm", lambda: None)
    monkeypatch.setattr(bootstrap, "IS_CI", True)
    monkeypatch.setattr(bootstrap, "apt_install", lambda *packages: False)
    failures: list[str] = []
    bootstrap.console_checks(failures)
    assert "nodejs/npm (apt-get install failed)" in failures
    assert "console (CI=true but Node.js/npm are missing)" in failures


@pytest.fixture
def main_job(tmp_path: Path) -> Iterator[tuple[str, str]]:
    api_port, sandbox_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPACK_")}
    env.update(
        AUTOPACK_WORKSPACE=str(tmp_path / "ws"),
        AUTOPACK_API_KEY=API_KEY,
        AUTOPACK_SANDBOX_URL=f"http://127.0.0.1:{sandbox_port}",
    )
    (tmp_path / "ws").mkdir()
    log = tmp_path / "bootstrap.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "scripts" / "bootstrap.py"),
                "serve",
                "--port",
                str(api_port),
            ],
            cwd=tmp_path / "ws",
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    api, sandbox = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{sandbox_port}"
    try:
        wait_until_ok(f"{api}/health", proc, log, timeout=120)
        wait_until_ok(f"{sandbox}/_control/health", proc, log, timeout=120)
        _check_console(api, log)
        yield api, sandbox
        # SIGTERM to the bootstrap alone must stop its three children.
        proc.terminate()
        proc.wait(timeout=30)
        time.sleep(0.5)
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{sandbox}/_control/health", timeout=1)
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{api}/health", timeout=1)
    finally:
        # Whatever happened, leave no process of the group behind.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.skipif(os.name == "nt", reason="process groups are POSIX")
def test_serve_runs_api_sandbox_and_worker(main_job: tuple[str, str]) -> None:
    api, sandbox = main_job
    admin = {"X-API-Key": API_KEY}  # the bootstrap admin key creates the principals
    keys = {}
    for name, role in (("publisher-bot", "agent"), ("alice", "operator")):
        made = httpx.post(f"{api}/api/principals", headers=admin, json={"name": name, "role": role})
        assert made.status_code == 201, made.text
        keys[name] = {"X-API-Key": made.json()["api_key"]}
    headers, operator = keys["publisher-bot"], keys["alice"]
    proposed = httpx.post(
        f"{api}/api/actions",
        headers=headers,
        json={
            "provider": "sandbox",
            "action": "video.upload",
            "key": "demo-video-1",
            "payload_json": json.dumps({"title": "Hello"}),
        },
    )
    assert proposed.status_code == 201, proposed.text
    action: dict[str, Any] = proposed.json()["action"]
    assert action["status"] == "awaiting_approval"
    refused = httpx.post(
        f"{api}/api/approvals/{action['approval_id']}/approve",
        headers=headers,
        json={"hash": action["payload_hash"], "approver": "alice"},
    )
    assert refused.status_code == 403, refused.text  # an agent never approves
    approval = httpx.get(f"{api}/api/approvals/{action['approval_id']}", headers=operator).json()
    assert approval["subject_hash"] == action["payload_hash"]
    approved = httpx.post(
        f"{api}/api/approvals/{approval['id']}/approve",
        headers=operator,
        json={"hash": approval["subject_hash"]},
    )
    assert approved.status_code == 200, approved.text
    deadline = time.monotonic() + 60
    status = ""
    while time.monotonic() < deadline:
        shown = httpx.get(f"{api}/api/actions/demo-video-1", headers=headers).json()
        status = shown["action"]["status"]
        if status == "succeeded":
            break
        time.sleep(0.3)
    assert status == "succeeded"
    effects = httpx.get(f"{sandbox}/_control/effects").json()
    records = effects["effects"] if isinstance(effects, dict) else effects
    assert len(records) == 1
