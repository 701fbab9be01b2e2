"""runs table

Revision ID: 0001_runs
Revises:
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import autopack.db.types

revision: str = "0001_runs"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("family", sa.String(length=64), nullable=False),
        sa.Column("created_at", autopack.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_runs")),
    )
    op.create_index("ix_runs_project_family_created", "runs", ["project", "family", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_runs_project_family_created", table_name="runs")
    op.drop_table("runs")
