"""Approval rules, pure: bound to hashes, single use, expiring, never self-approved by default.

An approval is created when an action is proposed. It names the exact payload
hash (or, for a batch, the hash of the sorted list of payload hashes) and a
person approves by repeating that hash. It can be decided once; it expires
(default 24 h) if nobody decides or if the approved action is not started in
time. Publish, list, trade and payment actions always need a human: no project
policy can auto-approve them.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from autopack.domain.canonical import canonical_hash
from autopack.domain.errors import ConflictError, InvalidInputError
from autopack.domain.ledger import always_needs_human

DEFAULT_APPROVAL_TTL: Final = timedelta(hours=24)
AUTO_APPROVER: Final = "policy:auto"
POLICY_SCHEMA: Final = "autopack.policy/1"
# Every field a policy file may hold (docs/CONFIG_GUIDE.md "Project policy files").
POLICY_KEYS: Final = frozenset({"schema", "allow_self_approval", "auto_approve"})


class ApprovalStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    # Replaced by a batch approval covering the same action.
    SUPERSEDED = "superseded"


class ApprovalRefusedError(ConflictError):
    default_code = "approval_refused"


_PERSON = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@:+-]*")
PERSON_MAX = 64


def validate_person(kind: str, name: str) -> str:
    if not name or len(name) > PERSON_MAX or _PERSON.fullmatch(name) is None:
        raise InvalidInputError(
            f"invalid {kind} {name[:80]!r}: 1 to {PERSON_MAX} of letters, digits and '._@:+-'",
            code=f"invalid_{kind}",
        )
    return name


def batch_hash(hashes: Iterable[str]) -> str:
    """The subject hash of a batch approval: order of the actions does not matter."""
    return canonical_hash({"batch": sorted(set(hashes))})


def subject_hash(hashes: list[str]) -> str:
    """What a person must repeat to approve: the payload hash, or the batch hash."""
    if len(hashes) == 1:
        return hashes[0]
    return batch_hash(hashes)


@dataclass(frozen=True, slots=True)
class ProjectPolicy:
    """The project policy file (see ``layout.project_policy_path``).

    ``{"schema": "autopack.policy/1", "allow_self_approval": false,
    "auto_approve": [{"provider": "sandbox", "action": "notes.create"}]}``
    ``"*"`` matches any provider or action. Publish, list, trade and payment
    actions are never auto-approved whatever the file says.
    """

    allow_self_approval: bool = False
    auto_approve: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def may_auto_approve(self, provider: str, action: str) -> bool:
        if always_needs_human(provider, action):
            return False
        return any(p in ("*", provider) and a in ("*", action) for p, a in self.auto_approve)

    @classmethod
    def from_json(cls, data: Any) -> ProjectPolicy:
        if not isinstance(data, Mapping):
            raise InvalidInputError("policy file must hold a JSON object", code="invalid_policy")
        unknown = set(data) - POLICY_KEYS
        if unknown:
            raise InvalidInputError(
                f"policy file has unknown fields: {', '.join(sorted(unknown))}",
                code="invalid_policy",
            )
        if data.get("schema", POLICY_SCHEMA) != POLICY_SCHEMA:
            raise InvalidInputError(
                f"policy schema must be {POLICY_SCHEMA!r}", code="invalid_policy"
            )
        self_ok = data.get("allow_self_approval", False)
        if not isinstance(self_ok, bool):
            raise InvalidInputError(
                "allow_self_approval must be true or false", code="invalid_policy"
            )
        rules: list[tuple[str, str]] = []
        raw_rules = data.get("auto_approve", [])
        if not isinstance(raw_rules, list):
            raise InvalidInputError("auto_approve must be a list", code="invalid_policy")
        for rule in raw_rules:
            if (
                not isinstance(rule, Mapping)
                or set(rule) != {"provider", "action"}
                or not all(isinstance(v, str) and v for v in rule.values())
            ):
                raise InvalidInputError(
                    'each auto_approve rule is {"provider": "...", "action": "..."}',
                    code="invalid_policy",
                )
            rules.append((rule["provider"], rule["action"]))
        return cls(allow_self_approval=self_ok, auto_approve=tuple(rules))


DEFAULT_POLICY: Final = ProjectPolicy()


def check_decidable(status: str, expires_at: datetime, now: datetime) -> None:
    """An approval can be decided once, and only before it expires."""
    if status == ApprovalStatus.PENDING and now >= expires_at:
        raise ApprovalRefusedError(
            "approval expired: propose the action again", code="approval_expired"
        )
    if status == ApprovalStatus.EXPIRED:
        raise ApprovalRefusedError(
            "approval expired: propose the action again", code="approval_expired"
        )
    if status != ApprovalStatus.PENDING:
        raise ApprovalRefusedError(
            f"approval already {status}: an approval is single use", code="approval_used"
        )


def check_hash(given: str, expected: str) -> None:
    if given.strip().lower() != expected:
        raise ApprovalRefusedError(
            "hash does not match what this approval covers: re-read the action and "
            "approve the hash it shows",
            code="approval_hash_mismatch",
        )


def check_approver(requester: str, approver: str, policy: ProjectPolicy) -> None:
    if approver == AUTO_APPROVER:
        raise ApprovalRefusedError(f"{AUTO_APPROVER!r} is reserved", code="approver_reserved")
    if requester == approver and not policy.allow_self_approval:
        raise ApprovalRefusedError(
            "the requester cannot approve its own action (the project policy does not "
            "allow self-approval)",
            code="self_approval_refused",
        )


def check_usable_for_dispatch(
    *,
    status: str,
    hashes: list[str],
    payload_hash: str,
    expires_at: datetime,
    now: datetime,
    first_attempt: bool,
) -> None:
    """Just before the first dispatch: the approval holds and covers exactly this hash."""
    if status != ApprovalStatus.APPROVED:
        raise ApprovalRefusedError(f"approval is {status}, not approved", code="not_approved")
    if payload_hash not in hashes:
        raise ApprovalRefusedError(
            "approval does not cover this payload hash", code="approval_hash_mismatch"
        )
    if first_attempt and now >= expires_at:
        raise ApprovalRefusedError(
            "approval expired before the action started", code="approval_expired"
        )
