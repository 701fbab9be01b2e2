"""The ledger against the real sandbox server process, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from autopack.services.approvals import ApprovalService
from autopack.services.context import Runtime
from autopack.services.executor import Executor
from autopack.services.ledger import LedgerService
from autopack.services.providers import ProviderRegistry
from autopack.services.runs import RunService
from autopack.settings import Settings
from conftest import make_settings
from sandbox_support import SandboxProcess, running_sandbox

SECRET = "sk_live_" + "Q7f" * 12


def _services(
    workspace: Path, database_url: str, url: str
) -> tuple[Runtime, ProviderRegistry, LedgerService, ApprovalService, Executor]:
    from autopack.services.context import build_runtime

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
            provider="sandbox",
            action="video.upload",
            account="main",
            key="vid-1",
            payload={"title": "Hello", "tags": ["a", "b"]},
            run_id="run-1",
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
                provider="sandbox",
                action="order.submit",
                account="paper",
                key="o-1",
                payload={"symbol": "AAPL", "qty": "1", "side": "buy"},
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
