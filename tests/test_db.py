"""Database: migrations are the schema, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import hypothesis.strategies as st
import pytest
from alembic import command
from hypothesis import given
from sqlalchemy import text
from sqlalchemy.dialects import sqlite as sqlite_dialect

from autopack.db.engine import create_db_engine, normalize_database_url
from autopack.db.schema import (
    alembic_config,
    check,
    ensure_at_head,
    head_revision,
    model_differences,
    schema_status,
    upgrade,
)
from autopack.db.types import UTCDateTime, sqlite_datetime_text
from autopack.domain.errors import CheckFailedError, ConfigurationError, UnavailableError


def test_alembic_check_models_equal_migrations(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as connection:
            command.check(alembic_config(connection))  # raises on any difference
        assert model_differences(engine) == []
        assert check(engine).at_head
    finally:
        engine.dispose()


def test_upgrade_from_empty_then_downgrade_and_back(empty_database_url: str) -> None:
    engine = create_db_engine(empty_database_url)
    try:
        assert schema_status(engine).current is None
        with pytest.raises(UnavailableError) as info:
            ensure_at_head(engine)
        assert info.value.code == "schema_not_at_head"
        assert "autopack db upgrade" in info.value.message
        with pytest.raises(CheckFailedError):
            check(engine)
        upgrade(engine)
        assert schema_status(engine).current == head_revision()
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "base")
        assert schema_status(engine).current is None
        upgrade(engine)
        assert check(engine).at_head
    finally:
        engine.dispose()


def test_drift_is_detected(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE stray_table (id INTEGER PRIMARY KEY)"))
        with pytest.raises(CheckFailedError) as info:
            check(engine)
        assert info.value.code == "schema_drift"
        assert "stray_table" in info.value.message
    finally:
        engine.dispose()


def test_sqlite_connection_settings(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path}/x/a.db")
    try:
        with engine.connect() as connection:
            pragmas = {
                name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
            }
        assert pragmas == {
            "journal_mode": "wal",
            "foreign_keys": 1,
            "busy_timeout": 10000,
            "synchronous": 2,
        }
    finally:
        engine.dispose()


def test_unreachable_database_is_unavailable() -> None:
    engine = create_db_engine(
        "postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 2}
    )
    try:
        with pytest.raises(UnavailableError) as info:
            schema_status(engine)
        assert info.value.code == "database_unreachable"
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_database_url_normalisation(given: str, expected: str) -> None:
    assert normalize_database_url(given) == expected


@pytest.mark.parametrize("bad", ["mysql://u@h/db", "not a url"])
def test_unsupported_database_urls(bad: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        normalize_database_url(bad)
    assert info.value.code == "invalid_database_url"


@given(
    st.datetimes(
        min_value=datetime(1, 1, 2),  # noqa: DTZ001 - bounds for aware values below
        max_value=datetime(9999, 12, 30),  # noqa: DTZ001
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
        ),
    )
)
def test_sqlite_datetime_text_is_what_sqlalchemy_binds(moment: datetime) -> None:
    """The ledger's raw writes bind UTCDateTime on SQLite in one step; the stored text
    must equal SQLAlchemy's own chain for the column, or reads would disagree."""
    dialect = sqlite_dialect.dialect()
    chain = UTCDateTime()._cached_bind_processor(dialect)
    assert chain is not None
    assert sqlite_datetime_text(moment) == chain(moment)


def test_sqlite_datetime_text_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="naive"):
        sqlite_datetime_text(datetime(2026, 1, 1))  # noqa: DTZ001 - the refused case


def test_principals_migration_keeps_existing_approvals_both_ways(empty_database_url: str) -> None:
    """On SQLite a table rebuild of `approvals` failed once actions referenced it (foreign
    keys are on): upgrade and downgrade must work on a database holding data."""
    from sqlalchemy import text

    engine = create_db_engine(empty_database_url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0004_halts")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO approvals (id, subject_hash, hashes, status, category, "
                    "requested_by, created_at, expires_at) VALUES (1, :h, :hs, 'pending', "
                    "'other', 'agent', :t, :t)"
                ),
                {"h": "a" * 64, "hs": f'["{"a" * 64}"]', "t": "2026-01-01 00:00:00.000000"},
            )
            conn.execute(
                text(
                    "INSERT INTO external_actions (idempotency_key, provider, action, account, "
                    "category, payload, payload_hash, request_hash, approval_id, requested_by, "
                    "status, created_at, updated_at, attempt_count, retry_count, "
                    "redispatch_count, fencing, event_count, last_event_hash) VALUES ('k', "
                    "'sandbox', 'a', 'main', 'other', '{}', :h, :h, 1, 'agent', "
                    "'awaiting_approval', :t, :t, 0, 0, 0, 0, 0, :h)"
                ),
                {"h": "a" * 64, "t": "2026-01-01 00:00:00.000000"},
            )
        upgrade(engine)
        with engine.begin() as conn:
            assert conn.execute(text("SELECT required_approvals FROM approvals")).scalar_one() == 1
            conn.execute(
                text(
                    "INSERT INTO approval_decisions (approval_id, decision, person, via, at) "
                    "VALUES (1, 'approve', 'alice', 'cli', '2026-01-01 00:00:00.000000')"
                )
            )
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0004_halts")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM external_actions")).scalar_one() == 1
        upgrade(engine)
        assert check(engine).at_head
    finally:
        engine.dispose()
