"""Approval gate: an approval that holds and covers exactly the stored payload hash."""

from __future__ import annotations

from typing import Final

from autopack.domain.approvals import ApprovalRefusedError, check_usable_for_dispatch
from autopack.domain.error_codes import ErrorCode
from autopack.domain.gates import GateFacts, GateResult, allow, refuse

NAME: Final = "approval"


class ApprovalGate:
    name = NAME

    def check(self, facts: GateFacts) -> GateResult:
        approval = facts.approval
        if approval is None:
            return refuse(NAME, ErrorCode.NOT_APPROVED, "action has no approval")
        try:
            check_usable_for_dispatch(
                status=approval.status,
                hashes=list(approval.hashes),
                payload_hash=facts.action.payload_hash,
                expires_at=approval.expires_at,
                now=facts.now,
                first_attempt=facts.action.attempt_count == 0,
            )
        except ApprovalRefusedError as exc:
            return refuse(NAME, exc.code, exc.message)
        return allow(NAME)
