"""The ledger's storage contract, with a SQLite and a PostgreSQL implementation.

Everything the ledger services need from the database goes through a
``LedgerStore``: transactions (``tx``, ``read``, and ``driver`` + ``write`` for
the hot path), reading an action row, the compare-and-set ``move`` that is the
only way an action's status changes, inserting a new intent, and the facts the
gate pipeline reads (halts, credential state). The two backends differ only in
the methods ``SqliteLedgerStore`` and ``PostgresLedgerStore`` define;
``make_store`` picks one from the engine's dialect.

The hot paths (propose, replay, claim-on-insert, outcome) run raw statements
on one pooled driver connection (``driver`` and ``write``): no ORM unit of work
and no per-transaction SQL layer, one transaction per durable step.
Everything else uses SQLAlchemy Core transactions.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, Select, bindparam, select
from sqlalchemy.engine import RowMapping

from autopack.db.engine import read_only
from autopack.domain.canonical import canonical_json, format_utc
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import NotFoundError
from autopack.domain.ledger import (
    ActionStatus,
    event_hash,
    flat_canonical_json,
    transition,
    validate_key,
)
from autopack.domain.redaction import Redactor
from autopack.services.context import Runtime
from autopack.services.ledger.raw import APPROVAL_ID_BLOCK, RawWriter, driver_of
from autopack.services.ledger.records import (
    ACTIONS,
    MAX_TEXT,
    LeaseLostError,
    plain,
)
from autopack.services.notifications.outbox import Outbox, outbox_for

# Statements built once: the hot path only binds values.
_BY_KEY = select(ACTIONS).where(ACTIONS.c.idempotency_key == bindparam("key"))
_ACTION_COLUMNS: Final = tuple(c.name for c in ACTIONS.columns)
_RAW_COLUMNS: Final = ", ".join(_ACTION_COLUMNS)  # from the model, never from input


class LedgerStore:
    """What both backends share; the dialect-specific steps are overridden below."""

    # SQLite checks for a replay with a lone SELECT before taking the write lock;
    # PostgreSQL's insert skips a taken key itself (see ``Intake.record_intent``).
    prechecks_replays: bool = True

    def __init__(self, runtime: Runtime, redactor: Redactor | None = None) -> None:
        self.rt = runtime
        self._redactor = redactor
        dialect = runtime.engine.dialect
        # None when no webhook is configured: the hot paths then write nothing more.
        self.outbox: Outbox | None = outbox_for(runtime)
        self.raw = RawWriter(dialect)
        self.integrity_errors = self.raw.integrity_errors
        self._processors: tuple[Any, ...] = tuple(
            c.type._cached_result_processor(dialect, None) for c in ACTIONS.columns
        )
        self._last_at: tuple[datetime | None, str] = (None, "")
        # Fixed SQL text: column names from the model, placeholders for every value.
        m = self.raw.mark
        self._by_key_sql = (
            f"SELECT {_RAW_COLUMNS} FROM external_actions WHERE idempotency_key = {m}"  # noqa: S608 - model names
        )
        self._halts_sql = (
            "SELECT id, scope, reason FROM halts WHERE released_at IS NULL "  # noqa: S608 - fixed text
            f"AND (provider IS NULL OR provider = {m}) "
            f"AND (account IS NULL OR account = {m}) ORDER BY id"
        )
        self._creds_sql = (
            "SELECT state, paused, pause_code FROM credentials "  # noqa: S608 - fixed text
            f"WHERE provider = {m} AND account = {m}"
        )
        self._run_sql = f"SELECT project FROM runs WHERE run_id = {m}"  # noqa: S608 - fixed text

    @property
    def redactor(self) -> Redactor:
        """The redactor given, else the runtime's: rules plus every stored secret,
        including secrets stored after this store was built."""
        return self._redactor if self._redactor is not None else self.rt.redactor()

    # -- transactions -------------------------------------------------------------

    @contextmanager
    def tx(self) -> Iterator[Connection]:
        """A SQLAlchemy write transaction (SQLite: BEGIN IMMEDIATE, see ``db.engine``)."""
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
        ends, rolled back when it raises."""
        self._begin(db)
        try:
            yield db
        except BaseException:
            db.rollback()
            raise
        db.commit()

    def _begin(self, db: Any) -> None:
        raise NotImplementedError

    def for_update(self, query: Select[Any], *, skip_locked: bool = False) -> Select[Any]:
        """``query`` taking row locks where the backend has them (PostgreSQL); SQLite's
        write transaction already holds the whole database."""
        return query

    # -- redaction ----------------------------------------------------------------

    def redactor_on(self, db: Any) -> Redactor:
        """The current redactor, its freshness checked on the driver connection ``db``
        (no transaction open): one probe for all the values one write redacts."""
        return self._redactor if self._redactor is not None else self.rt.redactor(db=db)

    def redacted_json(self, value: Any, redactor: Redactor | None = None) -> str:
        """Canonical JSON text of ``value`` after redaction (what rows and events hold)."""
        chosen = redactor if redactor is not None else self.redactor
        return canonical_json(chosen.redact_value(plain(value))).decode("utf-8")

    def redacted_text(self, text: str | None, redactor: Redactor | None = None) -> str | None:
        if text is None:
            return None
        chosen = redactor if redactor is not None else self.redactor
        return chosen.redact_text(text)[:MAX_TEXT]

    @staticmethod
    def internal_json(data: Mapping[str, str | int | None]) -> str:
        """Canonical JSON of flat event data the ledger built itself: hashes,
        counters, state names, ids and text it has already redacted. Nothing in
        it is raw provider or user data, so it skips the redaction pass; the
        bytes are exactly ``canonical_json(data)``."""
        return flat_canonical_json(data).decode("utf-8")

    # -- reads --------------------------------------------------------------------

    def row(self, conn: Connection, key: str, *, lock: bool = False) -> RowMapping | None:
        query = self.for_update(_BY_KEY) if lock else _BY_KEY
        return conn.execute(query, {"key": key}).mappings().first()

    def require_row(self, conn: Connection, key: str, *, lock: bool = False) -> RowMapping:
        row = self.row(conn, validate_key(key), lock=lock)
        if row is None:
            raise NotFoundError(f"no action with key {key!r}", code=ErrorCode.ACTION_NOT_FOUND)
        return row

    def row_autocommit(self, key: str, db: Any = None) -> dict[str, Any] | None:
        """Read one action row outside any transaction (a single consistent SELECT).

        Column values go through the same type processors SQLAlchemy uses. With
        ``db`` (a driver connection with no transaction open) that connection is
        used instead of another pool checkout.
        """
        if db is not None:
            found = self._fetch_one_autocommit(db, self._by_key_sql, (key,))
        else:
            raw = self.rt.engine.raw_connection()
            try:
                found = self._fetch_one_autocommit(raw.dbapi_connection, self._by_key_sql, (key,))
            finally:
                raw.close()
        if found is None:
            return None
        return {
            name: (proc(value) if proc is not None and value is not None else value)
            for name, proc, value in zip(_ACTION_COLUMNS, self._processors, found, strict=True)
        }

    def _fetch_one_autocommit(self, db: Any, sql: str, params: tuple[Any, ...]) -> Any:
        raise NotImplementedError

    def _fetch_all(self, conn: Connection | Any, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """Rows of ``sql`` on ``conn`` (a SQLAlchemy connection or a driver one), in
        the caller's transaction."""
        cursor = driver_of(conn).cursor()
        try:
            cursor.execute(sql, params)
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def run_project(self, db: Any, run_id: str) -> str:
        """The project a run belongs to; ``run_not_found`` when there is no such run."""
        found = self._fetch_all(db, self._run_sql, (run_id,))
        if not found:
            raise NotFoundError(f"no run {run_id!r}", code=ErrorCode.RUN_NOT_FOUND)
        return str(found[0][0])

    # -- gate facts -----------------------------------------------------------------

    def covering_halts(
        self, conn: Connection | Any, provider: str, account: str
    ) -> list[tuple[int, str, str]]:
        """(id, scope, reason) of every engaged halt covering this provider account."""
        rows = self._fetch_all(conn, self._halts_sql, (provider, account))
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    def credential_state(
        self, conn: Connection | Any, provider: str, account: str
    ) -> tuple[str, bool, str | None] | None:
        """(state, paused, pause code) of the stored credential, or None (never a secret)."""
        rows = self._fetch_all(conn, self._creds_sql, (provider, account))
        if not rows:
            return None
        state, paused, code = rows[0]
        return str(state), bool(paused), code

    # -- events and moves -----------------------------------------------------------

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
        if self._compare_and_set_with_event(driver_of(conn), changes, ev, cas) != 1:
            raise LeaseLostError(
                f"action {row['idempotency_key']!r} changed underneath "
                f"(expected {current.value} at fencing {row['fencing']}): nothing written",
                details={"key": row["idempotency_key"]},
            )
        if to is ActionStatus.NEEDS_ATTENTION and self.outbox is not None:
            # In this transaction: the notification commits exactly when the move does.
            reason = changes.get("last_error") or (data or {}).get("error")
            self.outbox.needs_attention(
                conn, row, seq, None if reason is None else str(reason), now, self.redactor
            )
        merged = dict(row)
        merged.update(changes)
        return merged

    def _compare_and_set_with_event(
        self, db: Any, changes: dict[str, Any], event: dict[str, Any], cas: dict[str, Any]
    ) -> int:
        raise NotImplementedError

    # -- new intents ----------------------------------------------------------------

    def reserve_approval(self, db: Any, approval: dict[str, Any]) -> int:
        """The id of the new intent's approval, inside the caller's write transaction."""
        raise NotImplementedError

    def insert_intent(
        self,
        db: Any,
        approval: dict[str, Any],
        action: dict[str, Any],
        events: list[dict[str, Any]],
    ) -> bool:
        """Write the new action, its approval and its first events; False when the key
        is already recorded (nothing written)."""
        raise NotImplementedError


class SqliteLedgerStore(LedgerStore):
    prechecks_replays = True

    def _begin(self, db: Any) -> None:
        # Like every Autopack write on SQLite (see ``db.engine``): take the write
        # lock up front, so the transaction never fails half-way on a busy lock.
        db.execute("BEGIN IMMEDIATE")

    def _fetch_one_autocommit(self, db: Any, sql: str, params: tuple[Any, ...]) -> Any:
        # The driver connection is in autocommit mode: a lone SELECT takes no
        # write lock (a SQLAlchemy transaction would start with BEGIN IMMEDIATE).
        cursor = db.cursor()
        try:
            cursor.execute(sql, params)
            return cursor.fetchone()
        finally:
            cursor.close()

    def _compare_and_set_with_event(
        self, db: Any, changes: dict[str, Any], event: dict[str, Any], cas: dict[str, Any]
    ) -> int:
        updated = self.raw.compare_and_set(db, changes, **cas)
        if updated == 1:
            self.raw.insert(db, "external_action_events", [event])
        return updated

    def reserve_approval(self, db: Any, approval: dict[str, Any]) -> int:
        return int(self.raw.insert(db, "approvals", [approval], returning="id"))

    def insert_intent(
        self,
        db: Any,
        approval: dict[str, Any],
        action: dict[str, Any],
        events: list[dict[str, Any]],
    ) -> bool:
        # The approval went in with ``reserve_approval``; a taken key raises
        # IntegrityError from the primary key (the caller re-reads it).
        self.raw.insert(db, "external_actions", [action])
        self.raw.insert(db, "external_action_events", events)
        return True


class PostgresLedgerStore(LedgerStore):
    prechecks_replays = False

    def __init__(self, runtime: Runtime, redactor: Redactor | None = None) -> None:
        super().__init__(runtime, redactor)
        self._approval_ids: deque[int] = deque()
        self._id_lock = threading.Lock()

    def _begin(self, db: Any) -> None:
        """psycopg opens the transaction implicitly with the first statement."""

    def for_update(self, query: Select[Any], *, skip_locked: bool = False) -> Select[Any]:
        return query.with_for_update(skip_locked=skip_locked)

    def _fetch_one_autocommit(self, db: Any, sql: str, params: tuple[Any, ...]) -> Any:
        # Autocommit for this one statement (a client-side flag): one round trip,
        # without BEGIN and COMMIT; the SELECT is its own snapshot.
        db.autocommit = True
        try:
            with db.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchone()
        finally:
            db.autocommit = False

    def _compare_and_set_with_event(
        self, db: Any, changes: dict[str, Any], event: dict[str, Any], cas: dict[str, Any]
    ) -> int:
        return self.raw.compare_and_set_with_event(db, changes, event, **cas)

    def reserve_approval(self, db: Any, approval: dict[str, Any]) -> int:
        """An approval id from a reserved block (sequence values are never rolled
        back; a gap is harmless), so the intent goes in one statement."""
        with self._id_lock:
            if not self._approval_ids:
                self._approval_ids.extend(self.raw.next_ids(db, "approvals", APPROVAL_ID_BLOCK))
            approval_id = self._approval_ids.popleft()
        approval["id"] = approval_id
        return approval_id

    def insert_intent(
        self,
        db: Any,
        approval: dict[str, Any],
        action: dict[str, Any],
        events: list[dict[str, Any]],
    ) -> bool:
        return self.raw.insert_intent(db, approval, action, events)


def make_store(runtime: Runtime, redactor: Redactor | None = None) -> LedgerStore:
    """The store for the runtime's database."""
    if runtime.engine.dialect.name == "postgresql":
        return PostgresLedgerStore(runtime, redactor)
    return SqliteLedgerStore(runtime, redactor)
