"""``LedgerService``: the ledger's front door, composed of one part per job.

Intake (propose), reads (get, list, show), operator actions (cancel, resolve)
and audit (verify-chain, export) each live in their own module and share one
store; this class only wires them together for callers that want all of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from autopack.domain.errors import AutopackError
from autopack.domain.layout import RunRef
from autopack.domain.packets import is_packet, packet_id
from autopack.domain.principals import Actor
from autopack.domain.providers import Intent
from autopack.domain.redaction import Redactor
from autopack.services.context import Runtime
from autopack.services.gates import GateService
from autopack.services.ledger.audit import Audit
from autopack.services.ledger.intake import Intake
from autopack.services.ledger.operator import OperatorActions
from autopack.services.ledger.reads import ActionPage, LedgerReads
from autopack.services.ledger.records import (
    DEFAULT_LIST_LIMIT,
    ActionRecord,
    IntentRequest,
    PreparedIntent,
    Proposal,
)
from autopack.services.ledger.store import LedgerStore, make_store
from autopack.services.providers import ProviderRegistry


class LedgerService:
    """Propose, read, cancel, resolve, verify and export. Execution lives in
    ``services.executor``."""

    def __init__(
        self,
        runtime: Runtime,
        registry: ProviderRegistry | None = None,
        redactor: Redactor | None = None,
        *,
        store: LedgerStore | None = None,
    ) -> None:
        self.rt = runtime
        self.registry = registry if registry is not None else ProviderRegistry.for_runtime(runtime)
        self.store = store if store is not None else make_store(runtime, redactor)
        self.gates = GateService(self.store)
        self.intake = Intake(self.store, self.registry, self.gates)
        self.reads = LedgerReads(self.store, self.gates)
        self.operator = OperatorActions(self.store)
        self.audit = Audit(self.store)

    def prepare(self, request: IntentRequest) -> PreparedIntent:
        return self.intake.prepare(request)

    def propose(self, request: IntentRequest) -> Proposal:
        return self.intake.propose(request)

    def get(self, key: str) -> ActionRecord:
        return self.reads.get(key)

    def list(
        self,
        status: str | None = None,
        *,
        project: str | None = None,
        run_id: str | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        requested_by: str | None = None,
    ) -> list[ActionRecord]:
        return self.reads.list(
            status, project=project, run_id=run_id, limit=limit, requested_by=requested_by
        )

    def page(
        self,
        status: str | None = None,
        *,
        project: str | None = None,
        run_id: str | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        requested_by: str | None = None,
        cursor: str | None = None,
    ) -> ActionPage:
        return self.reads.page(
            status,
            project=project,
            run_id=run_id,
            limit=limit,
            requested_by=requested_by,
            cursor=cursor,
        )

    def show(self, key: str) -> dict[str, Any]:
        """``reads.show`` plus the dry-run request re-rendered from the stored payload
        (what an approver reads; the executor renders the same before it sends)."""
        detail = self.reads.show(key)
        action = detail["action"]
        intent = Intent(
            action["provider"],
            action["action"],
            action["account"],
            action["key"],
            action["payload"],
        )
        try:
            rendered = self.registry.get(action["provider"]).render(intent)
        except AutopackError:  # a provider without an adapter now: nothing to show
            detail["render"] = None
        else:
            detail["render"] = rendered.to_dict()
        payload = action["payload"]
        # A packet payload is the packet itself: its id names its media for a preview.
        detail["packet_id"] = (
            packet_id(payload) if isinstance(payload, dict) and is_packet(payload) else None
        )
        return detail

    def cancel(
        self, key: str, *, actor: str | Actor = "operator", reason: str | None = None
    ) -> ActionRecord:
        return self.operator.cancel(key, actor=actor, reason=reason)

    def resolve(
        self,
        key: str,
        *,
        outcome: str,
        actor: str | Actor,
        provider_object_id: str | None = None,
        reason: str | None = None,
    ) -> ActionRecord:
        return self.operator.resolve(
            key,
            outcome=outcome,
            actor=actor,
            provider_object_id=provider_object_id,
            reason=reason,
        )

    def verify_chain(self, checkpoint: Any = None) -> dict[str, Any]:
        return self.audit.verify_chain(checkpoint)

    def write_checkpoint(self, path: Path) -> dict[str, Any]:
        return self.audit.write_checkpoint(path)

    def export_document(self, run_id: str) -> tuple[RunRef, dict[str, Any]]:
        return self.audit.export_document(run_id)

    def export_run(self, run_id: str) -> tuple[str, dict[str, Any]]:
        return self.audit.export_run(run_id)
