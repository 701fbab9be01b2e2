"""Alembic environment: uses the connection Autopack passes in, else the settings URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from autopack.db.engine import create_db_engine
from autopack.db.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    # Plain `alembic ...` from the repo root: read the URL from the settings.
    from autopack.settings import load_settings

    engine = create_db_engine(load_settings().effective_database_url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline SQL generation is not supported: run against a database")
run_migrations_online()
