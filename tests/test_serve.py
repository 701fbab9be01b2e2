"""`autopack serve` as a real process over loopback HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from net_support import free_port, wait_until_ok

API_KEY = "serve-test-key-" + "q" * 40


def _env(workspace: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPACK_")}
    env.update(AUTOPACK_WORKSPACE=str(workspace), AUTOPACK_DATABASE_URL=database_url, **extra)
    return env


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from autopack.cli import main; main()", *args]


@pytest.fixture
def server(workspace: Path, database_url: str, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            _cli("serve", "--port", str(port)),
            env=_env(workspace, database_url, AUTOPACK_API_KEY=API_KEY),
            cwd=workspace,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ok(f"{base}/health", proc, log, timeout=30)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=15)


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
        result.stderr.strip() == "error: AUTOPACK_API_KEY is required when AUTOPACK_ENV=production"
    )
