"""The external-action ledger: propose, read, cancel, verify the chain, export.

One current-state row per idempotency key (``external_actions``) plus an
insert-only, per-action hash-chained ``external_action_events`` table. Every
state change is a compare-and-set UPDATE on (status, fencing) in the same
transaction as the event row that records it; ``move`` is the only place that
changes an action's status.

The hot paths (propose, replay, claim-on-insert, outcome) run raw statements
on one pooled driver connection (``LedgerCore.driver`` and ``write``): no ORM
unit of work and no per-transaction SQL layer, one transaction per durable step.
Everything else uses SQLAlchemy Core transactions.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final, cast

from sqlalchemy import Connection, Table, bindparam, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from autopack.db.engine import read_only
from autopack.db.models import ApprovalRow, ExternalActionEventRow, ExternalActionRow, RunRow
from autopack.db.types import UTCDateTime, sqlite_datetime_text
from autopack.domain.approvals import (
    AUTO_APPROVER,
    DEFAULT_APPROVAL_TTL,
    ApprovalStatus,
    validate_person,
)
from autopack.domain.canonical import (
    MAX_INTEGER_DIGITS,
    MAX_NESTING_DEPTH,
    CanonicalizationError,
    canonical_form,
    canonical_json,
    check_unicode,
    format_utc,
    parse_json_strict,
)
from autopack.domain.errors import (
    CheckFailedError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    parse_choice,
)
from autopack.domain.layout import RunRef, ledger_export_path, validate_identifier
from autopack.domain.ledger import (
    CANCELLABLE,
    CLAIMABLE,
    GENESIS_HASH,
    MAX_PAYLOAD_BYTES,
    ActionStatus,
    action_category,
    event_hash,
    flat_canonical_json,
    intent_hash,
    transition,
    validate_key,
    validate_name,
)
from autopack.domain.providers import Intent, ProviderAdapter, RenderedRequest
from autopack.domain.redaction import Redactor
from autopack.services.context import Runtime
from autopack.services.credentials import dispatch_block_reason
from autopack.services.fsio import atomic_write_bytes
from autopack.services.policy import PolicyLoader
from autopack.services.providers import ProviderRegistry

ACTIONS = cast(Table, ExternalActionRow.__table__)
EVENTS = cast(Table, ExternalActionEventRow.__table__)
APPROVALS = cast(Table, ApprovalRow.__table__)
RUNS = cast(Table, RunRow.__table__)

# Statements built once: the hot path only binds values.
_BY_KEY = select(ACTIONS).where(ACTIONS.c.idempotency_key == bindparam("key"))
_BY_KEY_LOCKED = _BY_KEY.with_for_update()
_ACTION_COLUMNS = tuple(c.name for c in ACTIONS.columns)
_RAW_COLUMNS = ", ".join(_ACTION_COLUMNS)  # from the model, never from input
_RAW_BY_KEY = f"SELECT {_RAW_COLUMNS} FROM external_actions WHERE idempotency_key = "  # noqa: S608

EXPORT_SCHEMA: Final = "autopack.ledger-export/1"
DEFAULT_REQUESTER: Final = "agent"
DEFAULT_LIST_LIMIT: Final = 100
MAX_LIST_LIMIT: Final = 1000
MAX_TEXT: Final = 4000  # stored error text is cut to this many characters


class LeaseLostError(ConflictError):
    """A worker's compare-and-set found another owner or state: it must stop."""

    default_code = "lease_lost"


class IdempotencyConflictError(ConflictError):
    default_code = "idempotency_conflict"


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


def _check_texts(**texts: str | None) -> None:
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
    _rendered: RenderedRequest | None = field(default=None)

    @property
    def rendered(self) -> RenderedRequest:
        if self._rendered is None:
            self._rendered = self.adapter.render(self.intent)
        return self._rendered


def _bind_processor(column_type: Any, dialect: Any) -> Any:
    """SQLAlchemy's bind processor for a column type; UTCDateTime on SQLite gets the
    one-step equivalent (same text, a fraction of the cost)."""
    if isinstance(column_type, UTCDateTime) and dialect.name == "sqlite":
        return sqlite_datetime_text
    return column_type._cached_bind_processor(dialect)


def driver_of(conn: Connection | Any) -> Any:
    """The DBAPI connection under a SQLAlchemy Connection (or ``conn`` itself)."""
    if isinstance(conn, Connection):
        return conn.connection.dbapi_connection
    return conn


class RawWriter:
    """The ledger's hot writes, as raw statements on a DBAPI (driver) connection.

    Same connection settings as the engine's, and every value goes through the
    bind processor SQLAlchemy itself would apply to that column (so the stored
    bytes are identical to a Core insert); only the per-statement compilation
    and result machinery are skipped. SQL text is built once per column set from
    the model's column names, never from input. The caller owns the transaction
    (``LedgerCore.write`` or a SQLAlchemy transaction on the same connection).
    """

    def __init__(self, dialect: Any) -> None:
        self.mark = "?" if dialect.paramstyle == "qmark" else "%s"
        self.processors: dict[str, dict[str, Any]] = {
            table.name: {c.name: _bind_processor(c.type, dialect) for c in table.columns}
            for table in (ACTIONS, EVENTS, APPROVALS)
        }
        self.integrity_errors: tuple[type[BaseException], ...] = (
            IntegrityError,
            dialect.loaded_dbapi.IntegrityError,
        )
        self._sql: dict[tuple[Any, ...], str] = {}
        postgres = dialect.name == "postgresql"
        # PostgreSQL column types as DDL text, for typed parameters.
        self.pg_types: dict[str, dict[str, str]] = (
            {
                table.name: {c.name: c.type.compile(dialect=dialect) for c in table.columns}
                for table in (ACTIONS, EVENTS, APPROVALS)
            }
            if postgres
            else {}
        )
        # psycopg's cursor for numbered placeholders, passed to the server as is.
        self.raw_cursor: Any = (
            getattr(dialect.loaded_dbapi, "RawCursor", None) if postgres else None
        )
        self._last_bound: tuple[Any, Any, Any] = (None, None, None)

    def _params(self, table: str, columns: Sequence[str], values: Mapping[str, Any]) -> list[Any]:
        procs = self.processors[table]
        out = []
        # One write stamps several columns (and rows) with the same clock reading:
        # convert that object once. Held by reference, so its id cannot be reused.
        seen_proc, seen_value, seen_bound = self._last_bound
        for name in columns:
            value = values[name]
            proc = procs[name]
            if proc is None or value is None:
                out.append(value)
            elif value is seen_value and proc is seen_proc:
                out.append(seen_bound)
            else:
                seen_proc, seen_value, seen_bound = proc, value, proc(value)
                out.append(seen_bound)
        self._last_bound = (seen_proc, seen_value, seen_bound)
        return out

    def insert(
        self,
        db: Any,
        table: str,
        rows: Sequence[Mapping[str, Any]],
        returning: str | None = None,
    ) -> Any:
        columns = tuple(rows[0])
        cache = ("insert", table, columns, returning)
        sql = self._sql.get(cache)
        if sql is None:
            sql = (
                f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 - model names
                f"VALUES ({', '.join([self.mark] * len(columns))})"
            )
            if returning is not None:
                sql += f" RETURNING {returning}"
            self._sql[cache] = sql
        cursor = db.cursor()
        try:
            if len(rows) == 1:
                cursor.execute(sql, self._params(table, columns, rows[0]))
                if returning is None:
                    return None
                first = cursor.fetchone()
                assert first is not None
                return first[0]
            cursor.executemany(sql, [self._params(table, columns, r) for r in rows])
            return None
        finally:
            cursor.close()

    def compare_and_set(
        self,
        db: Any,
        changes: Mapping[str, Any],
        *,
        key: str,
        status: str,
        fencing: int,
        owner: str | None,
    ) -> int:
        """UPDATE external_actions ... WHERE key, status, fencing (and owner) match."""
        columns = tuple(changes)
        cache = ("cas", columns, owner is not None)
        sql = self._sql.get(cache)
        m = self.mark
        if sql is None:
            sql = (
                "UPDATE external_actions SET "  # noqa: S608 - model names
                + ", ".join(f"{c} = {m}" for c in columns)
                + f" WHERE idempotency_key = {m} AND status = {m} AND fencing = {m}"
                + (f" AND lease_owner = {m}" if owner is not None else "")
            )
            self._sql[cache] = sql
        params = self._params("external_actions", columns, changes)
        params += [key, status, fencing] + ([owner] if owner is not None else [])
        cursor = db.cursor()
        try:
            cursor.execute(sql, params)
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def insert_intent(
        self,
        db: Any,
        approval: Mapping[str, Any],
        action: Mapping[str, Any],
        events: Sequence[Mapping[str, Any]],
    ) -> bool:
        """PostgreSQL: action, approval and events in one statement (one round trip),
        written only when the key is new; returns False (nothing written) when the
        key is already recorded, so a new key needs no separate existence check.

        Data-modifying CTEs: the action insert skips a taken key (``ON CONFLICT
        DO NOTHING``; a concurrent insert of the same key is waited for) and the
        approval and events are selected from its RETURNING row. Foreign keys are
        checked at the end of the statement, when all three inserts are done.
        Placeholders are numbered (``$n``, sent as is): psycopg re-parses every
        call a ``%s`` statement with this many parameters."""
        a_cols, x_cols, e_cols = tuple(approval), tuple(action), tuple(events[0])
        cache = ("intent", a_cols, x_cols, e_cols, len(events))
        sql = self._sql.get(cache)
        if sql is None:
            number = itertools.count(1)

            def marks(table: str, columns: Sequence[str]) -> str:
                # Typed: a parameter selected (not inserted from VALUES) gets no type
                # from its target column, and a NULL would be taken for text.
                types = self.pg_types[table]
                return ", ".join(f"CAST(${next(number)} AS {types[c]})" for c in columns)

            x_marks = marks("external_actions", x_cols)
            a_marks = marks("approvals", a_cols)
            e_rows = ", ".join(f"({marks('external_action_events', e_cols)})" for _ in events)
            sql = (
                f"WITH x AS (INSERT INTO external_actions ({', '.join(x_cols)}) "  # noqa: S608
                f"VALUES ({x_marks}) ON CONFLICT (idempotency_key) DO NOTHING RETURNING 1), "
                f"a AS (INSERT INTO approvals ({', '.join(a_cols)}) SELECT {a_marks} FROM x) "
                f"INSERT INTO external_action_events ({', '.join(e_cols)}) "
                f"SELECT v.* FROM (VALUES {e_rows}) AS v, x"
            )
            self._sql[cache] = sql
        params = self._params("external_actions", x_cols, action)
        params += self._params("approvals", a_cols, approval)
        for ev in events:
            params += self._params("external_action_events", e_cols, ev)
        assert self.raw_cursor is not None
        cursor = self.raw_cursor(db)
        try:
            cursor.execute(sql, params)
            return int(cursor.rowcount) > 0
        finally:
            cursor.close()

    def compare_and_set_with_event(
        self,
        db: Any,
        changes: Mapping[str, Any],
        event: Mapping[str, Any],
        *,
        key: str,
        status: str,
        fencing: int,
        owner: str | None,
    ) -> int:
        """PostgreSQL: the compare-and-set UPDATE and its event row in one statement.

        The event is inserted only from the UPDATE's RETURNING row, so it exists
        exactly when the compare-and-set matched; returns 1 then, else 0."""
        columns, e_cols = tuple(changes), tuple(event)
        cache = ("cas_event", columns, e_cols, owner is not None)
        sql = self._sql.get(cache)
        m = self.mark
        if sql is None:
            sql = (
                "WITH u AS (UPDATE external_actions SET "  # noqa: S608 - model names
                + ", ".join(f"{c} = {m}" for c in columns)
                + f" WHERE idempotency_key = {m} AND status = {m} AND fencing = {m}"
                + (f" AND lease_owner = {m}" if owner is not None else "")
                + " RETURNING 1) "
                + f"INSERT INTO external_action_events ({', '.join(e_cols)}) "
                + f"SELECT {', '.join([m] * len(e_cols))} FROM u"  # noqa: S608 - model names
            )
            self._sql[cache] = sql
        params = self._params("external_actions", columns, changes)
        params += [key, status, fencing] + ([owner] if owner is not None else [])
        params += self._params("external_action_events", e_cols, event)
        cursor = db.cursor()
        try:
            cursor.execute(sql, params)
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def next_ids(self, db: Any, table: str, count: int) -> list[int]:
        """PostgreSQL: ``count`` fresh values of ``table``'s id sequence (one round trip)."""
        cursor = db.cursor()
        try:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                (table, count),
            )
            return [int(r[0]) for r in cursor.fetchall()]
        finally:
            cursor.close()


APPROVAL_ID_BLOCK: Final = 64  # PostgreSQL approval ids reserved per round trip


class LedgerCore:
    """Shared plumbing for the ledger services: transactions, CAS moves, events."""

    def __init__(
        self,
        runtime: Runtime,
        registry: ProviderRegistry | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.rt = runtime
        self.registry = registry if registry is not None else ProviderRegistry(runtime.settings)
        self._redactor = redactor
        self.policies = PolicyLoader(runtime.workspace)
        self.is_postgres = runtime.engine.dialect.name == "postgresql"
        dialect = runtime.engine.dialect
        self.raw = RawWriter(dialect)
        self._processors: tuple[Any, ...] = tuple(
            c.type._cached_result_processor(dialect, None) for c in ACTIONS.columns
        )
        self._approval_ids: deque[int] = deque()
        self._last_at: tuple[datetime | None, str] = (None, "")
        self._id_lock = threading.Lock()

    @property
    def redactor(self) -> Redactor:
        """The redactor given, else the runtime's: rules plus every stored secret,
        including secrets stored after this service was built."""
        return self._redactor if self._redactor is not None else self.rt.redactor()

    def _approval_id(self, db: Any) -> int:
        """PostgreSQL: an approval id from a reserved block (sequence values are never
        rolled back; a gap is harmless). Lets the intent go in one statement."""
        with self._id_lock:
            if not self._approval_ids:
                self._approval_ids.extend(self.raw.next_ids(db, "approvals", APPROVAL_ID_BLOCK))
            return self._approval_ids.popleft()

    @contextmanager
    def tx(self) -> Iterator[Connection]:
        with self.rt.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A consistent snapshot for reads: on SQLite it takes no write lock, so a
        long read (verify-chain, export) never holds up proposers and workers."""
        with read_only(self.rt.engine) as conn:
            yield conn

    @contextmanager
    def driver(self) -> Iterator[Any]:
        """A pooled DBAPI connection for the hot path (propose, claim, outcome).

        Transactions on it go through ``write``; reads outside one are single
        consistent statements (``row_autocommit``). SQLAlchemy's per-transaction
        machinery costs more than the ledger's own work on these paths, so they
        skip it; the pool, its connect-time settings and its liveness checks stay.
        A connection whose server side died fails the call holding it; the pool's
        reset on return then discards it (psycopg marks it closed).
        """
        fairy = self.rt.engine.raw_connection()
        try:
            yield fairy.dbapi_connection
        finally:
            fairy.close()

    @contextmanager
    def write(self, db: Any) -> Iterator[Any]:
        """One write transaction on a driver connection: committed when the block
        ends, rolled back when it raises. SQLite starts it with BEGIN IMMEDIATE like
        every Autopack write (see ``db.engine``); psycopg opens it implicitly."""
        if not self.is_postgres:
            db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.rollback()
            raise
        db.commit()

    # -- redaction ----------------------------------------------------------------

    def redacted_json(self, value: Any) -> str:
        """Canonical JSON text of ``value`` after redaction (what rows and events hold)."""
        return canonical_json(self.redactor.redact_value(plain(value))).decode("utf-8")

    def redacted_text(self, text: str | None) -> str | None:
        if text is None:
            return None
        return self.redactor.redact_text(text)[:MAX_TEXT]

    @staticmethod
    def internal_json(data: Mapping[str, str | int | None]) -> str:
        """Canonical JSON of flat event data the ledger built itself: hashes,
        counters, state names, ids and text it has already redacted. Nothing in
        it is raw provider or user data, so it skips the redaction pass; the
        bytes are exactly ``canonical_json(data)``."""
        return flat_canonical_json(data).decode("utf-8")

    # -- reads --------------------------------------------------------------------

    def row(self, conn: Connection, key: str, *, lock: bool = False) -> RowMapping | None:
        query = _BY_KEY_LOCKED if lock and self.is_postgres else _BY_KEY
        return conn.execute(query, {"key": key}).mappings().first()

    def row_autocommit(self, key: str, db: Any = None) -> dict[str, Any] | None:
        """Read one action row outside any transaction (a single consistent SELECT).

        SQLite: the engine opens every SQLAlchemy transaction with BEGIN IMMEDIATE
        (the write lock), which a lone read by primary key does not need; the
        driver connection is in autocommit mode. PostgreSQL: the driver
        connection is switched to autocommit for this one statement (a client
        side flag), so the read costs one round trip, without BEGIN and COMMIT.
        Either way the SELECT is its own snapshot; column values go through the
        same type processors SQLAlchemy uses. With ``db`` (a driver connection
        with no transaction open) that connection is used instead of another
        pool checkout.
        """
        if db is not None:
            found = self._fetch_by_key(db, key)
        else:
            raw = self.rt.engine.raw_connection()
            try:
                found = self._fetch_by_key(raw.dbapi_connection, key)
            finally:
                raw.close()
        if found is None:
            return None
        return {
            name: (proc(value) if proc is not None and value is not None else value)
            for name, proc, value in zip(_ACTION_COLUMNS, self._processors, found, strict=True)
        }

    def _fetch_by_key(self, dbapi_connection: Any, key: str) -> Any:
        sql = _RAW_BY_KEY + self.raw.mark
        if not self.is_postgres:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute(sql, (key,))
                return cursor.fetchone()
            finally:
                cursor.close()
        dbapi_connection.autocommit = True
        try:
            with dbapi_connection.cursor() as cursor:
                cursor.execute(sql, (key,))
                return cursor.fetchone()
        finally:
            dbapi_connection.autocommit = False

    def require_row(self, conn: Connection, key: str, *, lock: bool = False) -> RowMapping:
        row = self.row(conn, validate_key(key), lock=lock)
        if row is None:
            raise NotFoundError(f"no action with key {key!r}", code="action_not_found")
        return row

    # -- events -------------------------------------------------------------------

    def event_values(
        self,
        *,
        key: str,
        seq: int,
        prev_hash: str,
        event: str,
        from_status: str | None,
        to_status: str,
        fencing: int,
        actor: str,
        now: datetime,
        data: Mapping[str, Any],
        trusted: bool = False,
    ) -> dict[str, Any]:
        """One chained event row. ``trusted`` data was built by the ledger (see
        ``internal_json``); anything else is redacted before it is written."""
        data_text = self.internal_json(data) if trusted else self.redacted_json(data)
        # The events of one write share its clock reading: format it once.
        stamped, at = self._last_at
        if now is not stamped:
            at = format_utc(now)
            self._last_at = (now, at)
        digest = event_hash(
            prev_hash=prev_hash,
            key=key,
            seq=seq,
            event=event,
            from_status=from_status,
            to_status=to_status,
            fencing=fencing,
            actor=actor,
            at=at,
            data=data_text,
        )
        return {
            "idempotency_key": key,
            "seq": seq,
            "event": event,
            "from_status": from_status,
            "to_status": to_status,
            "fencing": fencing,
            "actor": actor,
            "at": now,
            "data": data_text,
            "prev_hash": prev_hash,
            "hash": digest,
        }

    def move(
        self,
        conn: Connection | Any,
        row: Mapping[Any, Any],
        to: ActionStatus,
        *,
        event: str,
        actor: str,
        now: datetime,
        data: Mapping[str, Any] | None = None,
        values: Mapping[str, Any] | None = None,
        owner: str | None = None,
        trusted: bool = False,
    ) -> dict[str, Any]:
        """Compare-and-set the action from its current (status, fencing) to ``to``.

        Appends the chained event in the same transaction (``conn``: a SQLAlchemy
        connection in a transaction, or a driver connection inside ``write``).
        Raises LeaseLostError when the row moved underneath (another worker, a
        reconciler, a person). Returns the new values of the changed columns
        merged over ``row``.
        """
        db = driver_of(conn)
        current = ActionStatus(row["status"])
        transition(current, to)
        changes: dict[str, Any] = dict(values or {})
        fencing = int(changes.get("fencing", row["fencing"]))
        seq = int(row["event_count"]) + 1
        ev = self.event_values(
            key=row["idempotency_key"],
            seq=seq,
            prev_hash=row["last_event_hash"],
            event=event,
            from_status=current.value,
            to_status=to.value,
            fencing=fencing,
            actor=actor,
            now=now,
            data=data or {},
            trusted=trusted,
        )
        changes.update(status=to.value, updated_at=now, event_count=seq, last_event_hash=ev["hash"])
        cas = {
            "key": row["idempotency_key"],
            "status": current.value,
            "fencing": row["fencing"],
            "owner": owner,
        }
        if self.is_postgres:
            updated = self.raw.compare_and_set_with_event(db, changes, ev, **cas)
        else:
            updated = self.raw.compare_and_set(db, changes, **cas)
        if updated != 1:
            raise LeaseLostError(
                f"action {row['idempotency_key']!r} changed underneath "
                f"(expected {current.value} at fencing {row['fencing']}): nothing written",
                details={"key": row["idempotency_key"]},
            )
        if not self.is_postgres:
            self.raw.insert(db, "external_action_events", [ev])
        merged = dict(row)
        merged.update(changes)
        return merged

    # -- intents ------------------------------------------------------------------

    def prepare(
        self,
        *,
        provider: str,
        action: str,
        account: str,
        key: str,
        payload: Any,
        project: str | None = None,
        run_id: str | None = None,
        requested_by: str = DEFAULT_REQUESTER,
    ) -> PreparedIntent:
        """Validate and normalise an intent; raises before anything is written."""
        validate_name("provider", provider)
        validate_name("action", action)
        validate_name("account", account)
        validate_key(key)
        validate_person("requester", requested_by)
        if project is not None:
            validate_identifier("project", project)
        if run_id is not None:
            validate_identifier("run_id", run_id)
        adapter = self.registry.get(provider)
        if action not in adapter.actions:
            raise InvalidInputError(
                f"provider {provider!r} has no action {action!r}: "
                f"use one of {', '.join(sorted(adapter.actions))}",
                code="unknown_action",
            )
        if not isinstance(payload, Mapping):
            raise InvalidInputError("the payload must be a JSON object", code="invalid_payload")
        try:
            normalized, payload_bytes = canonical_form(payload, max_depth=MAX_NESTING_DEPTH)
        except CanonicalizationError as exc:
            raise InvalidInputError(f"payload refused: {exc.message}", code=exc.code) from exc
        if len(payload_bytes) > MAX_PAYLOAD_BYTES:
            raise InvalidInputError(
                f"payload is {len(payload_bytes)} bytes of canonical JSON; "
                f"the limit is {MAX_PAYLOAD_BYTES}",
                code="payload_too_large",
            )
        assert isinstance(normalized, dict)
        intent = Intent(provider, action, account, key, normalized)
        payload_text = payload_bytes.decode("utf-8")
        return PreparedIntent(
            intent=intent,
            payload_text=payload_text,
            # == canonical_hash(intent.to_hashable()), from the canonical text.
            payload_hash=intent_hash(provider, action, account, key, payload_text),
            adapter=adapter,
            project=project,
            run_id=run_id,
            requested_by=requested_by,
        )

    def existing(self, db: Any, prepared: PreparedIntent) -> ActionRecord | None:
        """The recorded action for this key when the hash matches; conflict otherwise.

        Read outside any transaction on the driver connection ``db`` (or a pooled
        one when None): one consistent SELECT, no write lock."""
        row = self.row_autocommit(prepared.intent.idempotency_key, db)
        if row is None:
            return None
        if row["payload_hash"] != prepared.payload_hash:
            raise IdempotencyConflictError(
                f"idempotency key {prepared.intent.idempotency_key!r} is already used by "
                "a different intent (payload hash differs): use a new key",
                details={
                    "key": prepared.intent.idempotency_key,
                    "recorded_hash": row["payload_hash"],
                    "given_hash": prepared.payload_hash,
                },
            )
        return ActionRecord.from_row(row)

    def insert_new(
        self,
        db: Any,
        prepared: PreparedIntent,
        now: datetime,
        *,
        claim_if_auto: str | None = None,
        lease_seconds: float = 0.0,
    ) -> dict[str, Any] | None:
        """Insert approval, action and first events on the driver connection ``db``,
        inside the caller's write transaction. With ``claim_if_auto``, an action the
        project policy auto-approves is inserted already claimed by that owner.

        Returns the new row; None when the key is already recorded (PostgreSQL
        checks in the insert itself; on SQLite a taken key raises IntegrityError)."""
        intent = prepared.intent
        project = prepared.project
        run_id = prepared.run_id
        if run_id is not None:
            run_project = self._run_project(db, run_id)
            if project is not None and project != run_project:
                raise InvalidInputError(
                    f"run {run_id!r} belongs to project {run_project!r}, not {project!r}",
                    code="project_mismatch",
                )
            project = run_project
        policy = self.policies.load(project)
        category = action_category(intent.provider, intent.action).value
        auto = policy.may_auto_approve(intent.provider, intent.action)
        claim_owner = claim_if_auto if auto else None
        request_hash = prepared.rendered.request_hash
        approval: dict[str, Any] = {}
        if self.is_postgres:
            approval["id"] = self._approval_id(db)
        approval.update(
            {
                "subject_hash": prepared.payload_hash,
                "hashes": f'["{prepared.payload_hash}"]',  # canonical JSON of [hash]
                "status": (ApprovalStatus.APPROVED if auto else ApprovalStatus.PENDING).value,
                "category": category,
                "project": project,
                "requested_by": prepared.requested_by,
                "decided_by": AUTO_APPROVER if auto else None,
                "reason": "project policy auto-approves this action" if auto else None,
                "created_at": now,
                "expires_at": now + DEFAULT_APPROVAL_TTL,
                "decided_at": now if auto else None,
            }
        )
        if self.is_postgres:
            approval_id = approval["id"]
        else:
            approval_id = self.raw.insert(db, "approvals", [approval], returning="id")
        key = intent.idempotency_key
        events: list[dict[str, Any]] = []
        prev = GENESIS_HASH

        def add(event: str, frm: str | None, to: str, fencing: int, actor: str, data: Any) -> None:
            nonlocal prev
            ev = self.event_values(
                key=key,
                seq=len(events) + 1,
                prev_hash=prev,
                event=event,
                from_status=frm,
                to_status=to,
                fencing=fencing,
                actor=actor,
                now=now,
                data=data,
                trusted=True,  # hashes, ids and counters only
            )
            events.append(ev)
            prev = ev["hash"]

        add(
            "proposed",
            None,
            ActionStatus.AWAITING_APPROVAL,
            0,
            prepared.requested_by,
            {
                "payload_hash": prepared.payload_hash,
                "request_hash": request_hash,
                "approval_id": approval_id,
            },
        )
        status = ActionStatus.AWAITING_APPROVAL
        fencing = 0
        values: dict[str, Any] = {}
        if auto:
            add(
                "approved",
                status,
                ActionStatus.APPROVED,
                0,
                AUTO_APPROVER,
                {"approval_id": approval_id, "hash": prepared.payload_hash},
            )
            status = ActionStatus.APPROVED
        if claim_owner is not None:
            fencing = 1
            add("claimed", status, ActionStatus.DISPATCHING, fencing, claim_owner, {"attempt": 1})
            status = ActionStatus.DISPATCHING
            values = {
                "lease_owner": claim_owner,
                "lease_expires_at": now + timedelta(seconds=lease_seconds),
                "started_at": now,
                "attempt_count": 1,
            }
        row: dict[str, Any] = {
            "idempotency_key": key,
            "provider": intent.provider,
            "action": intent.action,
            "account": intent.account,
            "category": category,
            "project": project,
            "run_id": run_id,
            "payload": prepared.payload_text,
            "payload_hash": prepared.payload_hash,
            "request_hash": request_hash,
            "approval_id": approval_id,
            "requested_by": prepared.requested_by,
            "status": status.value,
            "created_at": now,
            "updated_at": now,
            "started_at": None,
            "completed_at": None,
            "next_attempt_at": None,
            "attempt_count": 0,
            "retry_count": 0,
            "redispatch_count": 0,
            "lease_owner": None,
            "fencing": fencing,
            "lease_expires_at": None,
            "provider_object_id": None,
            "response_summary": None,
            "last_error": None,
            "event_count": len(events),
            "last_event_hash": prev,
        }
        row.update(values)
        if self.is_postgres:
            if not self.raw.insert_intent(db, approval, row, events):
                return None
        else:
            self.raw.insert(db, "external_actions", [row])
            self.raw.insert(db, "external_action_events", events)
        return row

    def _run_project(self, db: Any, run_id: str) -> str:
        """The project a run belongs to; ``run_not_found`` when there is no such run."""
        cursor = db.cursor()
        try:
            sql = f"SELECT project FROM runs WHERE run_id = {self.raw.mark}"  # noqa: S608 - fixed text
            cursor.execute(sql, (run_id,))
            found = cursor.fetchone()
        finally:
            cursor.close()
        if found is None:
            raise NotFoundError(f"no run {run_id!r}", code="run_not_found")
        return str(found[0])

    def record_intent(
        self,
        db: Any,
        prepared: PreparedIntent,
        *,
        claim_if_auto: str | None = None,
        lease_seconds: float = 0.0,
    ) -> tuple[dict[str, Any] | None, ActionRecord | None]:
        """Insert the intent, or find it: (new row, None) or (None, existing record).

        SQLite: the check is a lone SELECT outside the write transaction, so
        replays (a retrying agent) take no write lock and cost one statement; a
        proposer that slips in between the check and our insert is caught by the
        primary key. PostgreSQL: the insert itself skips a taken key, so a new key
        costs no extra round trip. Either way a key found taken is re-read and
        gives the existing record or the conflict error.
        """
        if not self.is_postgres:
            found = self.existing(db, prepared)
            if found is not None:
                return None, found
        try:
            with self.write(db):
                row = self.insert_new(
                    db,
                    prepared,
                    self.rt.clock(),
                    claim_if_auto=claim_if_auto,
                    lease_seconds=lease_seconds,
                )
        except self.raw.integrity_errors:
            # Lost the race to another proposer: the unique key decides.
            found = self.existing(db, prepared)
            if found is None:
                raise
            return None, found
        if row is None:
            # The insert skipped a committed row with this key; actions are never
            # deleted, so it is there to read.
            found = self.existing(db, prepared)
            assert found is not None
            return None, found
        return row, None


class LedgerService(LedgerCore):
    """Propose, read, cancel, verify and export. Execution lives in services.executor."""

    def propose(
        self,
        *,
        provider: str,
        action: str,
        account: str,
        key: str,
        payload: Any,
        project: str | None = None,
        run_id: str | None = None,
        requested_by: str = DEFAULT_REQUESTER,
    ) -> Proposal:
        """Record an intent (idempotent): same key + same hash returns the existing record,
        same key + different hash raises ``idempotency_conflict`` on every path."""
        prepared = self.prepare(
            provider=provider,
            action=action,
            account=account,
            key=key,
            payload=payload,
            project=project,
            run_id=run_id,
            requested_by=requested_by,
        )
        return self.propose_prepared(prepared)

    def propose_prepared(self, prepared: PreparedIntent) -> Proposal:
        with self.driver() as db:
            row, found = self.record_intent(db, prepared)
        if found is not None:
            return Proposal(False, prepared, found)
        assert row is not None
        return Proposal.lazy(row, prepared)

    # -- reads --------------------------------------------------------------------

    def get(self, key: str) -> ActionRecord:
        with self.read() as conn:
            return ActionRecord.from_row(self.require_row(conn, key))

    def list(
        self,
        status: str | None = None,
        *,
        project: str | None = None,
        run_id: str | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
    ) -> list[ActionRecord]:
        """Newest first."""
        query = select(ACTIONS)
        if status is not None:
            parse_choice(ActionStatus, status, "status")
            query = query.where(ACTIONS.c.status == status)
        if project is not None:
            query = query.where(ACTIONS.c.project == validate_identifier("project", project))
        if run_id is not None:
            query = query.where(ACTIONS.c.run_id == validate_identifier("run_id", run_id))
        limit = max(1, min(limit, MAX_LIST_LIMIT))
        query = query.order_by(ACTIONS.c.created_at.desc(), ACTIONS.c.idempotency_key).limit(limit)
        with self.read() as conn:
            return [ActionRecord.from_row(r) for r in conn.execute(query).mappings()]

    def events(self, conn: Connection, key: str) -> Sequence[RowMapping]:
        return (
            conn.execute(
                select(EVENTS).where(EVENTS.c.idempotency_key == key).order_by(EVENTS.c.seq)
            )
            .mappings()
            .all()
        )

    def show(self, key: str) -> dict[str, Any]:
        """Everything about one action: what, when, approval, attempts, object id, history."""
        with self.read() as conn:
            row = self.require_row(conn, key)
            record = ActionRecord.from_row(row)
            approval = None
            if record.approval_id is not None:
                arow = (
                    conn.execute(select(APPROVALS).where(APPROVALS.c.id == record.approval_id))
                    .mappings()
                    .first()
                )
                approval = None if arow is None else approval_dict(arow)
            events = [event_dict(e) for e in self.events(conn, record.key)]
            # Why a claimable action is not being sent (a paused or unconnected
            # provider account), so an operator sees the wait is deliberate.
            waiting = (
                dispatch_block_reason(conn, record.provider, record.account)
                if ActionStatus(record.status) in CLAIMABLE
                else None
            )
        return {
            "action": record.to_dict(),
            "approval": approval,
            "events": events,
            "waiting_reason": waiting,
        }

    # -- operator moves -----------------------------------------------------------

    def cancel(
        self, key: str, *, actor: str = "operator", reason: str | None = None
    ) -> ActionRecord:
        validate_person("actor", actor)
        _check_texts(reason=reason)
        with self.tx() as conn:
            row = self.require_row(conn, key, lock=True)
            status = ActionStatus(row["status"])
            if status not in CANCELLABLE:
                raise ConflictError(
                    f"action {key!r} is {status.value}: only "
                    + ", ".join(sorted(s.value for s in CANCELLABLE))
                    + " actions can be cancelled (nothing may be in flight)",
                    code="not_cancellable",
                )
            now = self.rt.clock()
            new = self.move(
                conn,
                row,
                ActionStatus.CANCELLED,
                event="cancelled",
                actor=actor,
                now=now,
                data={"reason": self.redacted_text(reason)},
                values={"completed_at": now, "next_attempt_at": None},
            )
            if row["approval_id"] is not None and status is ActionStatus.AWAITING_APPROVAL:
                conn.execute(
                    update(APPROVALS)
                    .where(APPROVALS.c.id == row["approval_id"])
                    .where(APPROVALS.c.status == ApprovalStatus.PENDING.value)
                    .where(APPROVALS.c.hashes == canonical_json([row["payload_hash"]]).decode())
                    .values(
                        status=ApprovalStatus.REJECTED.value,
                        decided_by=actor,
                        decided_at=now,
                        reason="action cancelled",
                    )
                )
            return ActionRecord.from_row(new)

    def resolve(
        self,
        key: str,
        *,
        outcome: str,
        actor: str,
        provider_object_id: str | None = None,
        reason: str | None = None,
    ) -> ActionRecord:
        """A person settles an action the ledger could not: ``needs_attention`` (or a
        still ``unknown`` one) becomes ``succeeded`` (with the object id they found at
        the provider) or ``failed`` (it did not happen). Never sends anything."""
        validate_person("actor", actor)
        _check_texts(reason=reason, provider_object_id=provider_object_id)
        targets = {"succeeded": ActionStatus.SUCCEEDED, "failed": ActionStatus.FAILED}
        target = targets.get(outcome)
        if target is None:
            raise InvalidInputError("outcome must be succeeded or failed", code="invalid_outcome")
        if target is ActionStatus.SUCCEEDED and not provider_object_id:
            raise InvalidInputError(
                "a succeeded resolution needs the provider object id",
                code="object_id_required",
            )
        if provider_object_id is not None and (
            len(provider_object_id) > 256 or not provider_object_id.isprintable()
        ):
            raise InvalidInputError("invalid provider object id", code="invalid_object_id")
        with self.tx() as conn:
            row = self.require_row(conn, key, lock=True)
            status = ActionStatus(row["status"])
            if status not in (ActionStatus.NEEDS_ATTENTION, ActionStatus.UNKNOWN):
                raise ConflictError(
                    f"action {key!r} is {status.value}: only needs_attention and unknown "
                    "actions are resolved by a person",
                    code="not_resolvable",
                )
            now = self.rt.clock()
            values: dict[str, Any] = {"completed_at": now, "fencing": row["fencing"] + 1}
            if provider_object_id is not None:
                values["provider_object_id"] = self.redacted_text(provider_object_id)
            new = self.move(
                conn,
                row,
                target,
                event="resolved",
                actor=actor,
                now=now,
                data={
                    "outcome": outcome,
                    "provider_object_id": provider_object_id,
                    "reason": self.redacted_text(reason),
                },
                values=values,
            )
            return ActionRecord.from_row(new)

    # -- chain --------------------------------------------------------------------

    def verify_chain(self) -> dict[str, Any]:
        """Recompute every event hash; report any break. Raises CheckFailedError on problems."""
        problems: list[dict[str, Any]] = []
        actions = 0
        events = 0
        with self.read() as conn:
            heads = {
                r["idempotency_key"]: (r["event_count"], r["last_event_hash"], r["status"])
                for r in conn.execute(
                    select(
                        ACTIONS.c.idempotency_key,
                        ACTIONS.c.event_count,
                        ACTIONS.c.last_event_hash,
                        ACTIONS.c.status,
                    )
                ).mappings()
            }
            state: dict[str, tuple[int, str, str | None]] = {}
            rows = conn.execute(
                select(EVENTS).order_by(EVENTS.c.idempotency_key, EVENTS.c.seq)
            ).mappings()
            for ev in rows:
                events += 1
                key = ev["idempotency_key"]
                seq, prev, status = state.get(key, (0, GENESIS_HASH, None))
                if ev["seq"] != seq + 1:
                    problems.append({"key": key, "seq": ev["seq"], "problem": "sequence_gap"})
                if ev["prev_hash"] != prev:
                    problems.append({"key": key, "seq": ev["seq"], "problem": "broken_link"})
                if ev["from_status"] != status:
                    problems.append({"key": key, "seq": ev["seq"], "problem": "status_mismatch"})
                recomputed = event_hash(
                    prev_hash=ev["prev_hash"],
                    key=key,
                    seq=ev["seq"],
                    event=ev["event"],
                    from_status=ev["from_status"],
                    to_status=ev["to_status"],
                    fencing=ev["fencing"],
                    actor=ev["actor"],
                    at=format_utc(ev["at"]),
                    data=ev["data"],
                )
                if recomputed != ev["hash"]:
                    problems.append({"key": key, "seq": ev["seq"], "problem": "hash_mismatch"})
                state[key] = (ev["seq"], ev["hash"], ev["to_status"])
        for key, (count, head, status) in sorted(heads.items()):
            actions += 1
            seen = state.get(key, (0, GENESIS_HASH, None))
            if seen[0] != count or seen[1] != head:
                problems.append({"key": key, "seq": seen[0], "problem": "head_mismatch"})
            elif seen[2] != status:
                problems.append({"key": key, "seq": seen[0], "problem": "status_mismatch"})
        report = {
            "ok": not problems,
            "actions": actions,
            "events": events,
            "problems": problems,
        }
        if problems:
            raise CheckFailedError(
                f"event chain broken: {len(problems)} problem(s), first: "
                f"{problems[0]['problem']} at {problems[0]['key']!r} seq {problems[0]['seq']}",
                code="chain_broken",
                details=report,
            )
        return report

    # -- export -------------------------------------------------------------------

    def export_document(self, run_id: str) -> tuple[RunRef, dict[str, Any]]:
        validate_identifier("run_id", run_id)
        with self.read() as conn:
            run = conn.execute(select(RUNS).where(RUNS.c.run_id == run_id)).mappings().first()
            if run is None:
                raise NotFoundError(f"no run {run_id!r}", code="run_not_found")
            ref = RunRef(run["project"], run["family"], run["run_id"])
            rows = (
                conn.execute(
                    select(ACTIONS)
                    .where(ACTIONS.c.run_id == run_id)
                    .order_by(ACTIONS.c.created_at, ACTIONS.c.idempotency_key)
                )
                .mappings()
                .all()
            )
            entries = []
            for row in rows:
                record = ActionRecord.from_row(row)
                approval = None
                if record.approval_id is not None:
                    arow = (
                        conn.execute(select(APPROVALS).where(APPROVALS.c.id == record.approval_id))
                        .mappings()
                        .first()
                    )
                    approval = None if arow is None else approval_dict(arow)
                body = record.to_dict()
                for volatile in ("lease_owner", "lease_expires_at"):
                    body.pop(volatile)
                body["approval"] = approval
                body["events"] = [event_dict(e) for e in self.events(conn, record.key)]
                entries.append(body)
        document = {
            "schema": EXPORT_SCHEMA,
            "project": ref.project,
            "family": ref.family,
            "run_id": ref.run_id,
            "actions": entries,
        }
        return ref, self.redactor.redact_value(document)

    def export_run(self, run_id: str) -> tuple[str, dict[str, Any]]:
        """Write ``<run dir>/ledger/actions.json`` atomically; returns (path, document)."""
        ref, document = self.export_document(run_id)
        path = ledger_export_path(self.rt.workspace, ref)
        atomic_write_bytes(path, canonical_json(document) + b"\n")
        return os.fspath(path), document
