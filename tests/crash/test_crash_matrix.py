"""Crash matrix: SIGKILL a real `autopack worker` process at each point, per sandbox mode.

For every (mode, point): propose + approve one action, run `autopack worker --once`
as a subprocess with AUTOPACK_CRASHPOINT set (the executor's test seam kills the
process with SIGKILL there), then "restart": a new executor whose clock is past
the dead worker's lease (and, later, past the settle window for "not found"
lookups) reconciles and runs what is claimable. The sandbox's own
store is the ground truth. Afterwards:

- zero duplicate effects (at most one per action, ever);
- zero confirmed actions lost (an effect the ledger confirmed stays succeeded, and
  every effect that exists is either confirmed with its object id or parked in
  needs_attention for a person);
- nothing left in unknown or dispatching.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from autopack.domain.providers import Intent
from autopack.providers.sandbox.adapter import provider_idempotency_key
from autopack.services.approvals import ApprovalService
from autopack.services.context import utc_now
from autopack.services.executor import CRASHPOINT_DELAY_ENV, CRASHPOINT_ENV, Executor
from autopack.services.ledger import IntentRequest, LedgerService
from autopack.services.providers import ProviderRegistry
from autopack.services.runtime import build_runtime
from conftest import make_settings
from sandbox_support import SandboxProcess, running_sandbox

pytestmark = pytest.mark.slow

# point -> (crashpoint env value, sandbox fault for the create or None)
POINTS: dict[str, tuple[str, dict[str, object] | None]] = {
    "before_claim": ("before_claim", None),
    "after_claim_commit": ("after_claim_commit", None),
    "during_dispatch": ("during_dispatch", {"kind": "delay", "seconds": 1.0}),
    "provider_committed_no_response": ("after_response", {"kind": "lost_response"}),
    "after_response_before_confirm": ("after_response", None),
    "after_confirm": ("after_confirm", None),
}
MODES = ["idempotent", "lookup_only", "none"]


@pytest.fixture(params=MODES)
def sandbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SandboxProcess]:
    with running_sandbox(tmp_path / "sbx", mode=request.param) as sbx:
        yield sbx


def _worker(workspace: Path, database_url: str, sandbox_url: str, point: str) -> int:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("AUTOPACK_") or k.endswith("PG_URL")
    }
    env.update(
        AUTOPACK_WORKSPACE=str(workspace),
        AUTOPACK_DATABASE_URL=database_url,
        AUTOPACK_SANDBOX_URL=sandbox_url,
        **{CRASHPOINT_ENV: point, CRASHPOINT_DELAY_ENV: "300"},
    )
    proc = subprocess.run(
        [sys.executable, "-m", "autopack", "worker", "--once", "--lease-seconds", "30"],
        env=env,
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, (point, proc.returncode, proc.stdout, proc.stderr)
    return proc.returncode


def _wait_for_server(sbx: SandboxProcess, marker: str) -> None:
    """The dead worker's request may still be in the server: wait until it is answered."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if any(r["client_ref"] == marker for r in sbx.requests() if r["op"] == "create"):
            return
        time.sleep(0.05)


def test_crash_matrix(sandbox: SandboxProcess, workspace: Path, database_url: str) -> None:
    settings = make_settings(workspace, database_url, sandbox_url=sandbox.url)
    rt = build_runtime(settings)
    registry = ProviderRegistry(settings)
    ledger = LedgerService(rt, registry)
    approvals = ApprovalService(rt, registry)
    skew = timedelta(0)
    rt.clock = lambda: utc_now() + skew
    try:
        for name, (point, fault) in POINTS.items():
            key = f"crash-{name}".replace("_", "-")
            payload = {"title": f"video {name}"}
            rec = ledger.propose(
                IntentRequest(
                    provider="sandbox",
                    action="video.upload",
                    account="main",
                    key=key,
                    payload=payload,
                )
            ).record
            assert rec.approval_id is not None
            approvals.approve(rec.approval_id, hash_=rec.payload_hash, approver="alice")
            marker = provider_idempotency_key(
                Intent("sandbox", "video.upload", "main", key, payload)
            )
            if fault is not None:
                sandbox.set_faults({**fault, "match": marker})
            _worker(workspace, database_url, sandbox.url, point)
            before = ledger.get(key)
            if point == "during_dispatch":
                _wait_for_server(sandbox, marker)
            sandbox.clear_faults()

            # Restart: a new worker after the dead one's lease ran out.
            skew += timedelta(minutes=5)
            executor = Executor(rt, registry, worker="restarted")
            executor.reconcile()
            # A "not found" counts only after the settle window (the dead worker's
            # request may still be in the provider): let it pass, then reconcile.
            skew += timedelta(seconds=executor.settle_seconds_for("sandbox") + 1)
            executor.reconcile()
            executor.run_once()
            executor.reconcile()
            executor.run_once()

            after = ledger.get(key)
            effects = sandbox.effects(client_ref=marker)
            where = f"{sandbox.mode}/{name}: {before.status} -> {after.status}"
            assert len(effects) <= 1, where  # zero duplicate effects
            assert after.status not in ("unknown", "dispatching"), where
            if before.status == "succeeded":  # confirmed before the crash: never lost
                assert after.status == "succeeded", where
                assert after.provider_object_id == before.provider_object_id, where
            if effects:
                assert after.status in ("succeeded", "needs_attention"), where
                if after.status == "succeeded":
                    assert after.provider_object_id == effects[0]["id"], where
            else:
                assert after.status in ("succeeded", "needs_attention"), where
                if after.status == "succeeded":
                    raise AssertionError(f"succeeded without an effect: {where}")
            if sandbox.mode != "none" or point in ("before_claim", "after_confirm"):
                # The provider can be asked (or nothing was in doubt): confirmed, exactly once.
                assert (after.status, len(effects)) == ("succeeded", 1), where
            else:
                # Cannot ask the provider: a person decides, never an automatic retry.
                assert after.status == "needs_attention", where
        ledger.verify_chain()
    finally:
        registry.close()
        rt.close()
