"""`autopack worker` as a real process: SIGTERM lets the action in flight finish and
be recorded; a second SIGTERM records it unknown at once; neither leaves it
``dispatching`` until its lease runs out. A lease shorter than the adapter's
request timeout is refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from autopack.services.approvals import ApprovalService
from autopack.services.context import Runtime
from autopack.services.ledger import IntentRequest, LedgerService
from autopack.services.runtime import build_runtime
from conftest import invoke_cli, make_settings
from sandbox_support import SandboxProcess, running_sandbox

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX signals")
LEASE_SECONDS = 60


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxProcess]:
    with running_sandbox(tmp_path / "sbx") as sbx:
        yield sbx


@pytest.fixture
def approved(
    workspace: Path, database_url: str, sandbox: SandboxProcess
) -> Iterator[tuple[Runtime, str]]:
    """One approved sandbox action; yields the runtime and its key."""
    rt = build_runtime(make_settings(workspace, database_url, sandbox_url=sandbox.url))
    try:
        proposal = LedgerService(rt).propose(
            IntentRequest(
                provider="sandbox",
                action="video.upload",
                account="default",
                key="stop-1",
                payload={"title": "Hello"},
            )
        )
        record = proposal.record
        assert record.approval_id is not None
        ApprovalService(rt).approve(record.approval_id, hash_=record.payload_hash, approver="alice")
        yield rt, record.key
    finally:
        rt.close()


def _start_worker(
    workspace: Path, database_url: str, sandbox: SandboxProcess, log: Path
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPACK_")}
    env.update(
        AUTOPACK_WORKSPACE=str(workspace),
        AUTOPACK_DATABASE_URL=database_url,
        AUTOPACK_SANDBOX_URL=sandbox.url,
    )
    with log.open("wb") as sink:
        return subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from autopack.cli import main; main()",
                "worker",
                "--poll-seconds",
                "0.1",
                "--lease-seconds",
                str(LEASE_SECONDS),
            ],
            env=env,
            cwd=workspace,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


def _wait_in_flight(sandbox: SandboxProcess, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if sandbox.health()["in_flight"] >= 1:
            return
        assert proc.poll() is None, log.read_text(errors="replace")
        time.sleep(0.05)
    raise AssertionError("the worker never sent the request:\n" + log.read_text(errors="replace"))


def _status(rt: Runtime, key: str) -> dict[str, object]:
    detail = LedgerService(rt).show(key)
    action: dict[str, object] = detail["action"]
    return action


def test_sigterm_finishes_the_dispatch_in_flight_and_records_it(
    approved: tuple[Runtime, str],
    sandbox: SandboxProcess,
    workspace: Path,
    database_url: str,
    tmp_path: Path,
) -> None:
    rt, key = approved
    delay = 3.0
    sandbox.set_faults({"kind": "delay", "seconds": delay})
    log = tmp_path / "worker.log"
    proc = _start_worker(workspace, database_url, sandbox, log)
    try:
        _wait_in_flight(sandbox, proc, log)
        sent_at = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=LEASE_SECONDS / 2)
        elapsed = time.monotonic() - sent_at
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text(errors="replace")
    assert code == 0, text
    assert elapsed < delay + 5, elapsed
    assert "Traceback" not in text
    assert "stopping after the action in flight" in text
    action = _status(rt, key)
    assert action["status"] == "succeeded", action
    assert action["lease_expires_at"] is None
    assert len(sandbox.effects()) == 1


def test_a_second_sigterm_records_the_action_unknown_at_once(
    approved: tuple[Runtime, str],
    sandbox: SandboxProcess,
    workspace: Path,
    database_url: str,
    tmp_path: Path,
) -> None:
    rt, key = approved
    sandbox.set_faults({"kind": "delay", "seconds": 8.0})
    log = tmp_path / "worker.log"
    proc = _start_worker(workspace, database_url, sandbox, log)
    try:
        _wait_in_flight(sandbox, proc, log)
        sent_at = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=LEASE_SECONDS / 2)
        elapsed = time.monotonic() - sent_at
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text(errors="replace")
    assert code == 0, text
    assert elapsed < 4, elapsed  # not the 8 s answer, not the 60 s lease
    assert "Traceback" not in text
    action = _status(rt, key)
    assert action["status"] == "unknown", action
    assert "WorkerInterruptedError" in str(action["last_error"])
    assert action["lease_expires_at"] is None


def test_a_lease_shorter_than_the_adapter_timeout_is_refused(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from autopack.services.executor import DEFAULT_REQUEST_TIMEOUT_SECONDS
    from autopack.services.providers import ProviderRegistry
    from autopack.settings import load_settings

    # The longest request timeout of every adapter (each provider adds its own).
    registry = ProviderRegistry(load_settings())
    try:
        longest = max(
            float(getattr(registry.get(n), "request_timeout_seconds", None) or 0)
            or DEFAULT_REQUEST_TIMEOUT_SECONDS
            for n in registry.dispatchable
        )
    finally:
        registry.close()
    shorter = str(int(longest) - 5)
    code, out, err = invoke_cli(["worker", "--once", "--lease-seconds", shorter], capsys)
    assert code == 2, (out, err)
    assert err.startswith(f"error: --lease-seconds {shorter} is not longer than")
    assert f"({longest:g} s)" in err
    longer = str(int(longest) + 5)
    code, out, err = invoke_cli(["worker", "--once", "--lease-seconds", longer], capsys)
    assert code == 0, err
    assert out.strip() == "done: 0 action(s) executed"
