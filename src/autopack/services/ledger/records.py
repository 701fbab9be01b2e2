"""The ledger's records and types: what the other ledger modules pass around.

``ActionRecord`` is one action as read back; ``IntentRequest`` is what a caller
asks for (the same fields every entry point takes); ``PreparedIntent`` is an
intent validated, normalised and hashed; ``Proposal`` is what proposing answers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, cast

from sqlalchemy import Table
from sqlalchemy.engine import RowMapping

from autopack.db.models import ApprovalRow, ExternalActionEventRow, ExternalActionRow, RunRow
from autopack.domain.canonical import (
    MAX_INTEGER_DIGITS,
    MAX_NESTING_DEPTH,
    check_unicode,
    format_utc,
    parse_json_strict,
)
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import ConflictError
from autopack.domain.providers import Intent, ProviderAdapter, RenderedRequest

ACTIONS = cast(Table, ExternalActionRow.__table__)
EVENTS = cast(Table, ExternalActionEventRow.__table__)
APPROVALS = cast(Table, ApprovalRow.__table__)
RUNS = cast(Table, RunRow.__table__)

EXPORT_SCHEMA: Final = "autopack.ledger-export/1"
DEFAULT_REQUESTER: Final = "agent"
DEFAULT_LIST_LIMIT: Final = 100
MAX_LIST_LIMIT: Final = 1000
MAX_TEXT: Final = 4000  # stored error text is cut to this many characters


@dataclass(frozen=True, slots=True)
class IntentRequest:
    """What a caller asks the ledger to do: one side effect, not yet validated.

    Every entry point (propose, the guarded call, the API body, the CLI flags)
    builds one of these; ``Intake.prepare`` validates and hashes it.
    """

    provider: str
    action: str
    key: str
    payload: Any
    account: str = "default"
    project: str | None = None
    run_id: str | None = None
    requested_by: str = DEFAULT_REQUESTER
    # The authenticated principal behind ``requested_by`` (None: a local caller).
    requester_principal: int | None = None
    # Set only by services acting on a person's own command (the trading kill
    # switch): that person's decision is the approval, bound to this hash. Never
    # taken from a request body.
    approved_by: str | None = None
    approval_reason: str | None = None


class LeaseLostError(ConflictError):
    """A worker's compare-and-set found another owner or state: it must stop."""

    default_code = ErrorCode.LEASE_LOST


class IdempotencyConflictError(ConflictError):
    default_code = ErrorCode.IDEMPOTENCY_CONFLICT


def plain(value: Any, _depth: int = 0) -> Any:
    """Provider data made canonicalizable: floats become decimal strings, odd types
    text, and what the canonical limits refuse (deep nesting, huge integers, lone
    surrogates) is replaced, so recording an outcome never fails on what a
    provider sent."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if -_INTEGER_BOUND < value < _INTEGER_BOUND:
            return value
        return f"<integer of {value.bit_length()} bits>"
    if isinstance(value, str):
        return value if _encodable(value) else value.encode("utf-8", "backslashreplace").decode()
    if isinstance(value, float):
        return str(Decimal(repr(value))) if value == value and abs(value) != float("inf") else None
    if isinstance(value, Decimal | datetime):
        return value
    if isinstance(value, Mapping | list | tuple) and _depth >= MAX_NESTING_DEPTH:
        return f"<nested deeper than {MAX_NESTING_DEPTH} levels>"
    if isinstance(value, Mapping):
        return {plain(str(k)): plain(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v, _depth + 1) for v in value]
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    return plain(str(value))


_INTEGER_BOUND: Final = 10**MAX_INTEGER_DIGITS


def check_texts(**texts: str | None) -> None:
    """Free text a person sends is refused (400 / exit 2) when it cannot be stored;
    only provider data is repaired (``plain``)."""
    for name, text in texts.items():
        if text is not None:
            check_unicode(text, name)


def _encodable(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class ActionRecord:
    key: str
    provider: str
    action: str
    account: str
    category: str
    project: str | None
    run_id: str | None
    payload: dict[str, Any]
    payload_hash: str
    request_hash: str
    approval_id: int | None
    requested_by: str
    status: str
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    next_attempt_at: datetime | None
    attempt_count: int
    retry_count: int
    redispatch_count: int
    lease_owner: str | None
    fencing: int
    lease_expires_at: datetime | None
    provider_object_id: str | None
    response_summary: Any
    last_error: str | None
    event_count: int
    last_event_hash: str

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> ActionRecord:
        summary = row["response_summary"]
        return cls(
            key=row["idempotency_key"],
            provider=row["provider"],
            action=row["action"],
            account=row["account"],
            category=row["category"],
            project=row["project"],
            run_id=row["run_id"],
            payload=_loads_obj(row["payload"]),  # canonical JSON we wrote
            payload_hash=row["payload_hash"],
            request_hash=row["request_hash"],
            approval_id=row["approval_id"],
            requested_by=row["requested_by"],
            status=row["status"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            started_at=row["started_at"],
            completed_at=row["completed_at"],
            next_attempt_at=row["next_attempt_at"],
            attempt_count=row["attempt_count"],
            retry_count=row["retry_count"],
            redispatch_count=row["redispatch_count"],
            lease_owner=row["lease_owner"],
            fencing=row["fencing"],
            lease_expires_at=row["lease_expires_at"],
            provider_object_id=row["provider_object_id"],
            response_summary=None if summary is None else parse_json_strict(summary),
            last_error=row["last_error"],
            event_count=row["event_count"],
            last_event_hash=row["last_event_hash"],
        )

    def intent(self) -> Intent:
        return Intent(self.provider, self.action, self.account, self.key, self.payload)

    def to_dict(self) -> dict[str, Any]:
        def when(moment: datetime | None) -> str | None:
            return None if moment is None else format_utc(moment)

        return {
            "key": self.key,
            "provider": self.provider,
            "action": self.action,
            "account": self.account,
            "category": self.category,
            "project": self.project,
            "run_id": self.run_id,
            "payload": self.payload,
            "payload_hash": self.payload_hash,
            "request_hash": self.request_hash,
            "approval_id": self.approval_id,
            "requested_by": self.requested_by,
            "status": self.status,
            "created_at": when(self.created_at),
            "updated_at": when(self.updated_at),
            "started_at": when(self.started_at),
            "completed_at": when(self.completed_at),
            "next_attempt_at": when(self.next_attempt_at),
            "attempt_count": self.attempt_count,
            "retry_count": self.retry_count,
            "redispatch_count": self.redispatch_count,
            "lease_owner": self.lease_owner,
            "fencing": self.fencing,
            "lease_expires_at": when(self.lease_expires_at),
            "provider_object_id": self.provider_object_id,
            "response_summary": self.response_summary,
            "last_error": self.last_error,
            "event_count": self.event_count,
        }


UNREADABLE_PAYLOAD: Final = "$unreadable"


def _loads_obj(text: str) -> dict[str, Any]:
    """Stored payloads are canonical JSON the ledger wrote (checked on the way in). A
    row edited behind the ledger's back is shown as unreadable, never executed: the
    executor rebuilds and re-hashes the intent and refuses it."""
    try:
        value = json.loads(text)
    except ValueError:
        return {UNREADABLE_PAYLOAD: "stored payload is not valid JSON"}
    if not isinstance(value, dict):
        return {UNREADABLE_PAYLOAD: "stored payload is not a JSON object"}
    return value


def approval_dict(row: RowMapping) -> dict[str, Any]:
    decided = row["decided_at"]
    return {
        "id": row["id"],
        "status": row["status"],
        "subject_hash": row["subject_hash"],
        "hashes": parse_json_strict(row["hashes"]),
        "category": row["category"],
        "project": row["project"],
        "requested_by": row["requested_by"],
        "requested_by_principal": row["requested_by_principal"],
        "required_approvals": row["required_approvals"],
        "decided_by": row["decided_by"],
        "reason": row["reason"],
        "created_at": format_utc(row["created_at"]),
        "expires_at": format_utc(row["expires_at"]),
        "decided_at": None if decided is None else format_utc(decided),
    }


def event_dict(row: RowMapping) -> dict[str, Any]:
    return {
        "seq": row["seq"],
        "event": row["event"],
        "from": row["from_status"],
        "to": row["to_status"],
        "fencing": row["fencing"],
        "actor": row["actor"],
        "at": format_utc(row["at"]),
        "data": parse_json_strict(row["data"]),
        "hash": row["hash"],
    }


@dataclass(frozen=True, slots=True)
class Proposal:
    created: bool
    prepared: PreparedIntent
    _record: ActionRecord | None = None
    _row: Mapping[str, Any] | None = None

    @classmethod
    def lazy(cls, row: Mapping[str, Any], prepared: PreparedIntent) -> Proposal:
        """A new record whose ActionRecord is built only when someone reads it."""
        return cls(True, prepared, None, row)

    @property
    def record(self) -> ActionRecord:
        if self._record is None:
            assert self._row is not None
            object.__setattr__(self, "_record", ActionRecord.from_row(self._row))
        assert self._record is not None
        return self._record

    @property
    def rendered(self) -> RenderedRequest:
        """The dry-run render (computed on first use: a replay does not need it)."""
        return self.prepared.rendered

    def to_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "action": self.record.to_dict(),
            "render": self.rendered.to_dict(),
            "request_hash": self.rendered.request_hash,
        }


@dataclass
class PreparedIntent:
    """A validated, normalised intent with its hashes and render."""

    intent: Intent
    payload_text: str
    payload_hash: str
    adapter: ProviderAdapter
    project: str | None
    run_id: str | None
    requested_by: str
    requester_principal: int | None = None
    approved_by: str | None = None
    approval_reason: str | None = None
    _rendered: RenderedRequest | None = field(default=None)

    @property
    def rendered(self) -> RenderedRequest:
        if self._rendered is None:
            self._rendered = self.adapter.render(self.intent)
        return self._rendered
