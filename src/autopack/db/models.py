"""ORM models. Change them only together with an Alembic migration."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from autopack.db.types import UTCDateTime

# Deterministic constraint names so migrations and `alembic check` agree on
# every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class RunRow(Base):
    __tablename__ = "runs"

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    project: Mapped[str] = mapped_column(String(64))
    family: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_runs_project_family_created", "project", "family", "created_at"),)
