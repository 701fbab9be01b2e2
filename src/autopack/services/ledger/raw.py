"""Driver-level SQL: the ledger's hot writes as raw statements on a DBAPI connection.

The only place in Autopack that writes SQL text for the ledger by hand. Every
value goes through the bind processor SQLAlchemy would apply to its column, so
the stored bytes equal a Core insert's; SQL text is built from model column
names, never from input.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any, Final

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from autopack.db.types import UTCDateTime, sqlite_datetime_text
from autopack.services.ledger.records import ACTIONS, APPROVALS, EVENTS


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
    (``LedgerStore.write`` or a SQLAlchemy transaction on the same connection).
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
