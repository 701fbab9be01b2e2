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
from typing import Any, Final, Literal

from autopack.domain.canonical import canonical_hash
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import ConflictError, InvalidInputError
from autopack.domain.ledger import Catalogue, action_category, always_needs_human
from autopack.domain.principals import Actor

DEFAULT_APPROVAL_TTL: Final = timedelta(hours=24)
AUTO_APPROVER: Final = "policy:auto"
POLICY_SCHEMA: Final = "autopack.policy/1"
# Every field a policy file may hold (docs/CONFIG_GUIDE.md "Project policy files").
POLICY_KEYS: Final = frozenset({"schema", "allow_self_approval", "auto_approve", "two_person"})


class ApprovalStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    # Replaced by a batch approval covering the same action.
    SUPERSEDED = "superseded"


class ApprovalRefusedError(ConflictError):
    default_code = ErrorCode.APPROVAL_REFUSED


_PERSON = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@:+-]*")
PERSON_MAX = 64


PersonRole = Literal["requester", "actor", "approver"]
_INVALID_PERSON: Mapping[PersonRole, ErrorCode] = {
    "requester": ErrorCode.INVALID_REQUESTER,
    "actor": ErrorCode.INVALID_ACTOR,
    "approver": ErrorCode.INVALID_APPROVER,
}


def validate_person(kind: PersonRole, name: str) -> str:
    if not name or len(name) > PERSON_MAX or _PERSON.fullmatch(name) is None:
        raise InvalidInputError(
            f"invalid {kind} {name[:80]!r}: 1 to {PERSON_MAX} of letters, digits and '._@:+-'",
            code=_INVALID_PERSON[kind],
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
class TwoPersonRule:
    """Actions this rule matches need two distinct people to approve the same hash.
    A field left out matches anything; at least one field is given."""

    category: str | None = None
    provider: str | None = None
    account: str | None = None

    def matches(self, category: str, provider: str, account: str) -> bool:
        return (
            (self.category is None or self.category == category)
            and (self.provider is None or self.provider == provider)
            and (self.account is None or self.account == account)
        )


TWO_PERSON_FIELDS: Final = ("category", "provider", "account")


@dataclass(frozen=True, slots=True)
class ProjectPolicy:
    """The project policy file (see ``layout.project_policy_path``).

    ``{"schema": "autopack.policy/1", "allow_self_approval": false,
    "auto_approve": [{"provider": "sandbox", "action": "notes.create"}],
    "two_person": [{"category": "trade", "account": "live"}]}``
    ``"*"`` matches any provider or action in ``auto_approve``. Publish, list,
    trade and payment actions are never auto-approved whatever the file says,
    and neither is an action a ``two_person`` rule matches: ``catalogue`` (the
    provider units' declared categories, given by the policy loader) decides
    which actions those are, and undeclared ones are classified by their names.
    """

    allow_self_approval: bool = False
    auto_approve: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    two_person: tuple[TwoPersonRule, ...] = field(default_factory=tuple)
    catalogue: Catalogue = field(default_factory=dict, compare=False, repr=False)

    def required_approvals(self, category: str, provider: str, account: str) -> int:
        """How many distinct people must approve: 2 under a two-person rule, else 1."""
        return 2 if any(r.matches(category, provider, account) for r in self.two_person) else 1

    def may_auto_approve(self, provider: str, action: str, account: str = "") -> bool:
        if always_needs_human(provider, action, self.catalogue):
            return False
        category = action_category(provider, action, self.catalogue).value
        if self.required_approvals(category, provider, account) > 1:
            return False
        return any(p in ("*", provider) and a in ("*", action) for p, a in self.auto_approve)

    @classmethod
    def from_json(cls, data: Any, catalogue: Catalogue | None = None) -> ProjectPolicy:
        if not isinstance(data, Mapping):
            raise InvalidInputError(
                "policy file must hold a JSON object", code=ErrorCode.INVALID_POLICY
            )
        unknown = set(data) - POLICY_KEYS
        if unknown:
            raise InvalidInputError(
                f"policy file has unknown fields: {', '.join(sorted(unknown))}",
                code=ErrorCode.INVALID_POLICY,
            )
        if data.get("schema", POLICY_SCHEMA) != POLICY_SCHEMA:
            raise InvalidInputError(
                f"policy schema must be {POLICY_SCHEMA!r}", code=ErrorCode.INVALID_POLICY
            )
        self_ok = data.get("allow_self_approval", False)
        if not isinstance(self_ok, bool):
            raise InvalidInputError(
                "allow_self_approval must be true or false", code=ErrorCode.INVALID_POLICY
            )
        rules: list[tuple[str, str]] = []
        raw_rules = data.get("auto_approve", [])
        if not isinstance(raw_rules, list):
            raise InvalidInputError("auto_approve must be a list", code=ErrorCode.INVALID_POLICY)
        for rule in raw_rules:
            if (
                not isinstance(rule, Mapping)
                or set(rule) != {"provider", "action"}
                or not all(isinstance(v, str) and v for v in rule.values())
            ):
                raise InvalidInputError(
                    'each auto_approve rule is {"provider": "...", "action": "..."}',
                    code=ErrorCode.INVALID_POLICY,
                )
            rules.append((rule["provider"], rule["action"]))
        two: list[TwoPersonRule] = []
        raw_two = data.get("two_person", [])
        if not isinstance(raw_two, list):
            raise InvalidInputError("two_person must be a list", code=ErrorCode.INVALID_POLICY)
        for rule in raw_two:
            if (
                not isinstance(rule, Mapping)
                or not rule
                or not set(rule) <= set(TWO_PERSON_FIELDS)
                or not all(isinstance(v, str) and v for v in rule.values())
            ):
                raise InvalidInputError(
                    "each two_person rule names one or more of category, provider and "
                    'account, e.g. {"category": "trade", "account": "live"}',
                    code=ErrorCode.INVALID_POLICY,
                )
            two.append(TwoPersonRule(**{k: str(v) for k, v in rule.items()}))
        return cls(
            allow_self_approval=self_ok,
            auto_approve=tuple(rules),
            two_person=tuple(two),
            catalogue=catalogue if catalogue is not None else {},
        )


DEFAULT_POLICY: Final = ProjectPolicy()


def check_decidable(status: str, expires_at: datetime, now: datetime) -> None:
    """An approval can be decided once, and only before it expires."""
    if status == ApprovalStatus.PENDING and now >= expires_at:
        raise ApprovalRefusedError(
            "approval expired: propose the action again", code=ErrorCode.APPROVAL_EXPIRED
        )
    if status == ApprovalStatus.EXPIRED:
        raise ApprovalRefusedError(
            "approval expired: propose the action again", code=ErrorCode.APPROVAL_EXPIRED
        )
    if status != ApprovalStatus.PENDING:
        raise ApprovalRefusedError(
            f"approval already {status}: an approval is single use", code=ErrorCode.APPROVAL_USED
        )


def check_hash(given: str, expected: str) -> None:
    if given.strip().lower() != expected:
        raise ApprovalRefusedError(
            "hash does not match what this approval covers: re-read the action and "
            "approve the hash it shows",
            code=ErrorCode.APPROVAL_HASH_MISMATCH,
        )


def check_approver(
    requester: str, requester_principal: int | None, approver: Actor, policy: ProjectPolicy
) -> None:
    if approver.name == AUTO_APPROVER:
        raise ApprovalRefusedError(
            f"{AUTO_APPROVER!r} is reserved", code=ErrorCode.APPROVER_RESERVED
        )
    if approver.same_person(requester, requester_principal) and not policy.allow_self_approval:
        raise ApprovalRefusedError(
            "the requester cannot approve its own action (the project policy does not "
            "allow self-approval)",
            code=ErrorCode.SELF_APPROVAL_REFUSED,
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
        raise ApprovalRefusedError(
            f"approval is {status}, not approved", code=ErrorCode.NOT_APPROVED
        )
    if payload_hash not in hashes:
        raise ApprovalRefusedError(
            "approval does not cover this payload hash", code=ErrorCode.APPROVAL_HASH_MISMATCH
        )
    if first_attempt and now >= expires_at:
        raise ApprovalRefusedError(
            "approval expired before the action started", code=ErrorCode.APPROVAL_EXPIRED
        )
