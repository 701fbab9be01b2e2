"""Child process body for the 8-process same-key test (imported by spawn)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from autopack.domain.errors import AutopackError
from autopack.services.approvals import ApprovalService
from autopack.services.executor import Executor
from autopack.services.ledger import IdempotencyConflictError, IntentRequest, LedgerService
from autopack.services.providers import ProviderRegistry
from autopack.services.runtime import build_runtime
from autopack.settings import Settings

ODD_ONE = 7  # this process proposes a different payload under the same key


def run(
    index: int,
    workspace: str,
    database_url: str,
    sandbox_url: str,
    trials: int,
    barrier: Any,
    results: Any,
) -> None:
    settings = Settings(
        _env_file=None,
        workspace=Path(workspace),
        database_url=database_url,
        sandbox_url=sandbox_url,
    )
    rt = build_runtime(settings)
    registry = ProviderRegistry(settings)
    ledger = LedgerService(rt, registry)
    approvals = ApprovalService(rt, registry)
    executor = Executor(rt, registry, worker=f"p{index}")
    try:
        for trial in range(trials):
            key = f"same-{trial}"
            payload = {"title": f"other {trial}" if index == ODD_ONE else f"video {trial}"}
            barrier.wait(timeout=120)
            approval: tuple[int, str] | None = None
            try:
                proposal = ledger.propose(
                    IntentRequest(
                        provider="sandbox",
                        action="video.upload",
                        account="main",
                        key=key,
                        payload=payload,
                        requested_by=f"agent{index}",
                    )
                )
                proposed = "created" if proposal.created else "existing"
                assert proposal.record.approval_id is not None
                approval = (proposal.record.approval_id, proposal.record.payload_hash)
            except IdempotencyConflictError:
                proposed = "conflict"
            # No barrier between the steps: proposals, approvals and claims of the 8
            # processes interleave freely; only the start of a trial is synchronised.
            approved = "-"
            if approval is not None:
                try:
                    approvals.approve(approval[0], hash_=approval[1], approver=f"human{index}")
                    approved = "approved"
                except AutopackError as exc:
                    approved = exc.code
            executed = False
            claim = executor.claim(key)
            if claim is not None:
                executed = executor.execute(claim).status == "succeeded"
            results.put((trial, index, payload["title"], proposed, approved, executed))
    finally:
        registry.close()
        rt.close()
