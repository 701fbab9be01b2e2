"""The outbox: a notification row written in the transaction of its cause.

``enqueue`` runs on the caller's connection (a SQLAlchemy connection inside its
transaction, or a driver connection inside ``LedgerStore.write``), so the row
commits or rolls back with the change it reports: a crash can lose neither one
without the other. The row's ``notification_id`` is derived from the cause
(``domain.notifications``); ``INSERT ... ON CONFLICT DO NOTHING`` makes writing
the same cause twice a no-op on both backends, without aborting the caller's
transaction (PostgreSQL aborts a transaction on a failed statement).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, cast

from sqlalchemy import Connection, Table

from autopack.db.models import NotificationRow
from autopack.db.types import sqlite_datetime_text
from autopack.domain.canonical import canonical_json, format_utc
from autopack.domain.gates import Decision, Verdict
from autopack.domain.notifications import (
    DeliveryStatus,
    NotificationKind,
    action_held_key,
    approval_pending_key,
    halt_engaged_key,
    needs_attention_key,
    notification_id,
)
from autopack.domain.redaction import Redactor

NOTIFICATIONS = cast(Table, NotificationRow.__table__)
_COLUMNS: Final = (
    "notification_id",
    "kind",
    "subject",
    "payload",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
    "updated_at",
)
MAX_SUBJECT: Final = 200


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime refused: store aware UTC datetimes")
    return value.astimezone(UTC)


def _driver_of(conn: Connection | Any) -> Any:
    if isinstance(conn, Connection):
        return conn.connection.dbapi_connection
    return conn


class Outbox:
    """Writes notification rows; ``None`` stands for "notifications are off"
    (``for_settings``), so callers pay nothing when no webhook is configured."""

    def __init__(self, dialect: Any, redactor: Callable[[], Redactor]) -> None:
        self._redactor = redactor
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        self._sql = (
            f"INSERT INTO notifications ({', '.join(_COLUMNS)}) "  # noqa: S608 - model names
            f"VALUES ({', '.join([mark] * len(_COLUMNS))}) "
            "ON CONFLICT (notification_id) DO NOTHING"
        )
        # What UTCDateTime binds: SQLite text of naive UTC, PostgreSQL an aware UTC value.
        self._when: Callable[[datetime], Any] = (
            sqlite_datetime_text if dialect.name == "sqlite" else _aware_utc
        )

    def enqueue(
        self,
        conn: Connection | Any,
        *,
        kind: NotificationKind,
        dedupe_key: str,
        subject: str,
        data: Mapping[Any, Any],
        now: datetime,
        redactor: Redactor | None = None,
        trusted: bool = False,
    ) -> str:
        """Write one notification in the caller's transaction; returns its id. The
        same ``dedupe_key`` written again (a retry, another process) adds nothing.

        ``data`` is redacted first unless ``trusted``: built by the ledger from the
        values its own rows hold in clear (validated names, keys, hashes, times), as
        the ledger's trusted event data is. Every body is redacted again when it is
        sent, so nothing leaves unmasked either way."""
        if trusted:
            payload = canonical_json(dict(data)).decode("utf-8")
        else:
            chosen = redactor if redactor is not None else self._redactor()
            payload = canonical_json(chosen.redact_value(dict(data))).decode("utf-8")
        ident = notification_id(dedupe_key)
        when = self._when(now)
        params = (
            ident,
            kind.value,
            subject[:MAX_SUBJECT],
            payload,
            DeliveryStatus.PENDING.value,
            0,
            when,
            when,
            when,
        )
        cursor = _driver_of(conn).cursor()
        try:
            cursor.execute(self._sql, params)
        finally:
            cursor.close()
        return ident

    # -- the causes ---------------------------------------------------------------

    def approval_pending(
        self,
        conn: Connection | Any,
        approval: Mapping[Any, Any],
        actions: Sequence[Mapping[Any, Any]],
        now: datetime,
    ) -> str:
        """A new approval waits for a person (a proposal, or a batch). Its data is the
        approval's and actions' ids, names, hashes and times only (trusted: written
        on the propose hot path without a redaction pass; redacted when sent)."""
        approval_id = int(approval["id"])
        return self.enqueue(
            conn,
            kind=NotificationKind.APPROVAL_PENDING,
            dedupe_key=approval_pending_key(approval_id),
            subject=f"approval {approval_id}",
            data={
                "approval_id": approval_id,
                "subject_hash": approval["subject_hash"],
                "category": approval["category"],
                "project": approval["project"],
                "requested_by": approval["requested_by"],
                "required_approvals": int(approval["required_approvals"]),
                "created_at": format_utc(approval["created_at"]),
                "expires_at": format_utc(approval["expires_at"]),
                "actions": [
                    {
                        "key": a["idempotency_key"],
                        "provider": a["provider"],
                        "action": a["action"],
                        "account": a["account"],
                        "payload_hash": a["payload_hash"],
                    }
                    for a in actions
                ],
            },
            now=now,
            trusted=True,
        )

    def needs_attention(
        self,
        conn: Connection | Any,
        row: Mapping[Any, Any],
        seq: int,
        reason: str | None,
        now: datetime,
        redactor: Redactor | None = None,
    ) -> str:
        """An action reached needs_attention (event ``seq`` moved it there)."""
        key = str(row["idempotency_key"])
        return self.enqueue(
            conn,
            kind=NotificationKind.NEEDS_ATTENTION,
            dedupe_key=needs_attention_key(key, seq),
            subject=key,
            data={
                "key": key,
                "provider": row["provider"],
                "action": row["action"],
                "account": row["account"],
                "project": row["project"],
                "approval_id": row["approval_id"],
                "reason": reason,
            },
            now=now,
            redactor=redactor,
        )

    def halt_engaged(
        self,
        conn: Connection | Any,
        halt: Mapping[Any, Any],
        now: datetime,
        redactor: Redactor | None = None,
    ) -> str:
        halt_id = int(halt["id"])
        return self.enqueue(
            conn,
            kind=NotificationKind.HALT_ENGAGED,
            dedupe_key=halt_engaged_key(halt_id),
            subject=f"halt {halt_id}",
            data={
                "halt_id": halt_id,
                "scope": halt["scope"],
                "reason": halt["reason"],
                "engaged_by": halt["engaged_by"],
                "engaged_at": format_utc(halt["engaged_at"]),
            },
            now=now,
            redactor=redactor,
        )

    def action_held(
        self,
        conn: Connection | Any,
        row: Mapping[Any, Any],
        decision: Decision,
        now: datetime,
        redactor: Redactor | None = None,
    ) -> str | None:
        """A gate holds an approved action: one notification per (action, reason).
        None (nothing written) when the decision is not a hold."""
        reason = decision.reason
        if decision.verdict is not Verdict.HOLD or reason is None:
            return None
        first = decision.blocking[0]
        key = str(row["idempotency_key"])
        return self.enqueue(
            conn,
            kind=NotificationKind.ACTION_HELD,
            dedupe_key=action_held_key(key, reason),
            subject=key,
            data={
                "key": key,
                "provider": row["provider"],
                "action": row["action"],
                "account": row["account"],
                "project": row["project"],
                "status": row["status"],
                "gate": first.gate,
                "code": None if first.code is None else first.code.value,
                "reason": reason,
            },
            now=now,
            redactor=redactor,
        )


def outbox_for(runtime: Any) -> Outbox | None:
    """The runtime's outbox, or None when no webhook is configured."""
    if not runtime.settings.notifications_enabled:
        return None
    return Outbox(runtime.engine.dialect, runtime.redactor)
