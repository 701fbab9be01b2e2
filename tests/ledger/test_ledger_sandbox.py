"""The ledger against the real sandbox server process, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from autopack.services.approvals import ApprovalService
from autopack.services.context import Runtime
from autopack.services.executor import Executor
from autopack.services.ledger import IntentRequest, LedgerService
from autopack.services.providers import ProviderRegistry
from autopack.services.runs import RunService
from autopack.settings import Settings
from conftest import make_settings
from sandbox_support import SandboxProcess, running_sandbox

SECRET = "sk_live_" + "Q7f" * 12


def _services(
    workspace: Path, database_url: str, url: str
) -> tuple[Runtime, ProviderRegistry, LedgerService, ApprovalService, Executor]:
    from autopack.services.runtime import build_runtime

    settings: Settings = make_settings(workspace, database_url, sandbox_url=url)
    rt = build_runtime(settings)
    registry = ProviderRegistry(settings)
    return (
        rt,
        registry,
        LedgerService(rt, registry),
        ApprovalService(rt, registry),
        Executor(rt, registry, worker="t"),
    )


def _run(sbx: SandboxProcess, workspace: Path, database_url: str) -> None:
    rt, registry, ledger, approvals, executor = _services(workspace, database_url, sbx.url)
    try:
        RunService(rt).create("demo", "publish", "run-1")
        proposal = ledger.propose(
            IntentRequest(
                provider="sandbox",
                action="video.upload",
                account="main",
                key="vid-1",
                payload={"title": "Hello", "tags": ["a", "b"]},
                run_id="run-1",
            )
        )
        rec = proposal.record
        assert rec.category == "publish"
        assert rec.status == "awaiting_approval"
        assert proposal.rendered.url == f"{sbx.url}/v1/videos"
        assert rec.approval_id is not None
        sbx.set_faults({"kind": "leak_secret", "secret": SECRET})
        approvals.approve(rec.approval_id, hash_=rec.payload_hash, approver="alice")
        (done,) = executor.run_once()
        assert done.status == "succeeded"
        effects = sbx.effects()
        assert len(effects) == 1
        assert effects[0]["id"] == done.provider_object_id
        # The secret came back in the response but is in no row and no export.
        with rt.engine.connect() as conn:
            for table in ("external_actions", "external_action_events", "approvals"):
                for row in conn.execute(text(f"SELECT * FROM {table}")):  # noqa: S608 - fixed names
                    assert SECRET not in repr(tuple(row)), table
        path, _ = ledger.export_run("run-1")
        data = Path(path).read_bytes()
        assert SECRET.encode() not in data
        assert done.provider_object_id is not None
        assert done.provider_object_id.encode() in data
    finally:
        registry.close()
        rt.close()


def test_secret_in_a_sandbox_response_never_reaches_db_or_export(
    tmp_path: Path, workspace: Path, database_url: str
) -> None:
    with running_sandbox(tmp_path / "sbx", mode="idempotent") as sbx:
        _run(sbx, workspace, database_url)


@pytest.mark.parametrize("mode", ["idempotent", "lookup_only", "none"])
def test_lost_response_is_reconciled_per_mode(
    tmp_path: Path, workspace: Path, database_url: str, mode: str
) -> None:
    with running_sandbox(tmp_path / "sbx", mode=mode) as sbx:
        rt, registry, ledger, approvals, executor = _services(workspace, database_url, sbx.url)
        try:
            rec = ledger.propose(
                IntentRequest(
                    provider="sandbox",
                    action="order.submit",
                    account="paper",
                    key="o-1",
                    payload={"symbol": "AAPL", "qty": "1", "side": "buy"},
                )
            ).record
            assert rec.category == "trade"
            assert rec.approval_id is not None
            approvals.approve(rec.approval_id, hash_=rec.payload_hash, approver="alice")
            sbx.set_faults({"kind": "lost_response"})
            (done,) = executor.run_once()
            assert done.status == "unknown"
            report = executor.reconcile()
            final = ledger.get("o-1")
            if mode == "none":
                assert report["needs_attention"] == ["o-1"]
                assert final.status == "needs_attention"
            else:
                assert report["succeeded"] == ["o-1"]
                assert final.provider_object_id == sbx.effects()[0]["id"]
            assert len(sbx.effects()) == 1
            assert executor.run_once() == []
            assert len(sbx.effects()) == 1
        finally:
            registry.close()
            rt.close()


def test_not_found_is_no_proof_while_the_request_may_still_land(
    tmp_path: Path, workspace: Path, database_url: str
) -> None:
    """lookup_only provider, a request slower than the adapter's timeout: the dispatch
    ends in unknown while the provider is still working on it. A reconcile inside the
    settle window must not send it again; once the effect lands, lookup confirms it."""
    from autopack.providers.sandbox.adapter import SandboxAdapter
    from autopack.services.runtime import build_runtime

    with running_sandbox(tmp_path / "sbx", mode="lookup_only") as sbx:
        settings: Settings = make_settings(workspace, database_url, sandbox_url=sbx.url)
        rt = build_runtime(settings)
        adapter = SandboxAdapter(sbx.url, timeout=0.5)
        registry = ProviderRegistry(settings, extra=[adapter])
        ledger = LedgerService(rt, registry)
        approvals = ApprovalService(rt, registry)
        executor = Executor(rt, registry, worker="t")
        try:
            assert executor.settle_seconds_for("sandbox") >= adapter.request_timeout_seconds
            rec = ledger.propose(
                IntentRequest(
                    provider="sandbox",
                    action="order.submit",
                    account="paper",
                    key="slow-1",
                    payload={"symbol": "AAPL", "qty": "1", "side": "buy"},
                )
            ).record
            assert rec.approval_id is not None
            approvals.approve(rec.approval_id, hash_=rec.payload_hash, approver="alice")
            sbx.set_faults({"kind": "delay", "seconds": 2.0})  # commits after the timeout
            (done,) = executor.run_once()
            assert done.status == "unknown"
            assert sbx.health()["in_flight"] == 1
            report = executor.reconcile()  # the lookup says NOT_FOUND: not yet proof
            assert report["settling"] == report["still_unknown"] == ["slow-1"]
            assert report["retry_wait"] == []
            assert ledger.get("slow-1").status == "unknown"
            assert executor.run_once() == []  # nothing is sent again
            sbx.wait_idle()  # the delayed request commits
            assert len(sbx.effects()) == 1
            report = executor.reconcile()
            assert report["succeeded"] == ["slow-1"]
            final = ledger.get("slow-1")
            assert final.status == "succeeded"
            assert final.provider_object_id == sbx.effects()[0]["id"]
            assert executor.run_once() == []
            assert len(sbx.effects()) == 1  # exactly one effect
            ledger.verify_chain()
        finally:
            registry.close()
            rt.close()
