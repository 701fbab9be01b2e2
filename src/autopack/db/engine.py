"""Engines with the connection settings Autopack relies on."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import ConfigurationError

SQLITE_BUSY_TIMEOUT_MS = 10_000
# Execution option: this connection only reads (SQLite: deferred BEGIN, no write lock).
READ_ONLY_OPTION = "autopack_read_only"
_IMMEDIATE = "BEGIN IMMEDIATE"


def normalize_database_url(url: str) -> str:
    """Route plain PostgreSQL URLs to psycopg 3; leave others alone."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError; keep the message short
        raise ConfigurationError(
            "AUTOPACK_DATABASE_URL is not a database URL", code=ErrorCode.INVALID_DATABASE_URL
        ) from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigurationError(
            f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql",
            code=ErrorCode.INVALID_DATABASE_URL,
        )
    return parsed.render_as_string(hide_password=False)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Autocommit at the driver level so SQLAlchemy's "begin" below decides
        # how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # FULL: a committed ledger row survives power loss, not only a crash.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Take the write lock up front: a deferred transaction that later
        # upgrades to a writer can fail with SQLITE_BUSY without waiting.
        # Connections marked read-only (see ``read_only``) take no write lock:
        # in WAL mode they read a consistent snapshot and never block writers.
        # Sent straight to the driver connection: the statement needs none of
        # SQLAlchemy's execution machinery, and this runs for every transaction.
        sql = "BEGIN" if connection.get_execution_options().get(READ_ONLY_OPTION) else _IMMEDIATE
        connection.connection.dbapi_connection.execute(sql)


def create_db_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url`` (SQLite file or PostgreSQL) with Autopack's settings."""
    url = normalize_database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    if "pool_pre_ping" in kwargs:
        return create_engine(url, **kwargs)
    engine = create_engine(url, **kwargs)
    _configure_postgres(engine)
    return engine


# A pooled PostgreSQL connection idle longer than this is pinged on checkout.
POOL_PING_IDLE_SECONDS = 1.0
_CHECKED_IN = "autopack_checked_in"


def _configure_postgres(engine: Engine) -> None:
    """Pessimistic disconnect handling without a round trip on every checkout.

    SQLAlchemy's ``pool_pre_ping`` pings each time a connection leaves the
    pool: one extra round trip per transaction on the hot path. A connection
    goes stale while it sits idle (server restart, idle timeout), so only one
    that has been idle for ``POOL_PING_IDLE_SECONDS`` is pinged; a failed ping
    discards it and the pool connects afresh, as with ``pool_pre_ping``.
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        last = record.info.get(_CHECKED_IN)
        if last is None or time.monotonic() - last < POOL_PING_IDLE_SECONDS:
            return  # just connected, or used a moment ago
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
            dbapi_connection.rollback()  # the ping opened a transaction
        except Exception as exc:  # any failure: this connection is gone
            raise DisconnectionError("pooled connection failed its ping") from exc


def create_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def backend_name(engine: Engine) -> str:
    return engine.dialect.name


@contextmanager
def read_only(engine: Engine) -> Iterator[Connection]:
    """A transaction for reads only: on SQLite it takes no write lock (WAL snapshot).

    Writing through it is a bug: SQLite may then fail with SQLITE_BUSY instead
    of waiting. PostgreSQL ignores the option.
    """
    with engine.connect().execution_options(**{READ_ONLY_OPTION: True}) as conn, conn.begin():
        yield conn
