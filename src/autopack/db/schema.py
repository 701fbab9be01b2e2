"""Schema versioning through Alembic: the only way the schema changes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from autopack.db.models import Base
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import CheckFailedError, UnavailableError

SCRIPT_LOCATION = "autopack.db:migrations"
UPGRADE_HINT = "run `autopack db upgrade`"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("no migrations found")
    return head


def _compare_options(connection: Connection) -> dict[str, Any]:
    return {"compare_type": True, "render_as_batch": connection.dialect.name == "sqlite"}


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        raise UnavailableError(
            f"database unreachable: {type(exc).__name__}", code=ErrorCode.DATABASE_UNREACHABLE
        ) from exc


def upgrade(engine: Engine, revision: str = "head") -> None:
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def model_differences(engine: Engine) -> list[str]:
    """What the models have that the migrated database lacks (and vice versa)."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts=_compare_options(connection))
        return [repr(diff) for diff in compare_metadata(context, Base.metadata)]


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    current: str | None
    head: str

    @property
    def at_head(self) -> bool:
        return self.current == self.head


def schema_status(engine: Engine) -> SchemaStatus:
    return SchemaStatus(current=current_revision(engine), head=head_revision())


def ensure_at_head(engine: Engine) -> SchemaStatus:
    """Raise with the command to fix it when the schema is not at head."""
    status = schema_status(engine)
    if not status.at_head:
        shown = status.current or "empty"
        raise UnavailableError(
            f"database schema is at {shown}, this version needs {status.head}: {UPGRADE_HINT}",
            code=ErrorCode.SCHEMA_NOT_AT_HEAD,
            details={"current": status.current, "head": status.head},
        )
    return status


def check(engine: Engine) -> SchemaStatus:
    """`autopack db check`: at head, and the models equal the migrations."""
    status = schema_status(engine)
    if not status.at_head:
        raise CheckFailedError(
            f"database schema is at {status.current or 'empty'}, head is {status.head}: "
            + UPGRADE_HINT,
            code=ErrorCode.SCHEMA_BEHIND,
        )
    diffs = model_differences(engine)
    if diffs:
        raise CheckFailedError(
            "models differ from migrations: " + "; ".join(diffs),
            code=ErrorCode.SCHEMA_DRIFT,
            details={"differences": diffs},
        )
    return status
