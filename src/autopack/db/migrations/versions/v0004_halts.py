"""durable halts: halts (current state) and insert-only halt_events

Revision ID: 0004_halts
Revises: 0003_credentials
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import autopack.db.types

revision: str = "0004_halts"
down_revision: str | None = "0003_credentials"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EVENTS = "halt_events"
INSERT_ONLY_MESSAGE = "halt_events is insert-only"

SQLITE_TRIGGERS = (
    f"CREATE TRIGGER {EVENTS}_no_update BEFORE UPDATE ON {EVENTS} "
    f"BEGIN SELECT RAISE(ABORT, '{INSERT_ONLY_MESSAGE}'); END",
    f"CREATE TRIGGER {EVENTS}_no_delete BEFORE DELETE ON {EVENTS} "
    f"BEGIN SELECT RAISE(ABORT, '{INSERT_ONLY_MESSAGE}'); END",
)
PG_FUNCTION = f"""
CREATE FUNCTION autopack_halt_events_insert_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{INSERT_ONLY_MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
END
$$
"""
PG_TRIGGERS = (
    f"CREATE TRIGGER {EVENTS}_no_update_delete BEFORE UPDATE OR DELETE ON {EVENTS} "
    "FOR EACH ROW EXECUTE FUNCTION autopack_halt_events_insert_only()",
    f"CREATE TRIGGER {EVENTS}_no_truncate BEFORE TRUNCATE ON {EVENTS} "
    "FOR EACH STATEMENT EXECUTE FUNCTION autopack_halt_events_insert_only()",
)


def upgrade() -> None:
    op.create_table(
        "halts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("scope", sa.String(length=140), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=True),
        sa.Column("account", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("engaged_by", sa.String(length=64), nullable=False),
        sa.Column("engaged_at", autopack.db.types.UTCDateTime(), nullable=False),
        sa.Column("released_by", sa.String(length=64), nullable=True),
        sa.Column("released_at", autopack.db.types.UTCDateTime(), nullable=True),
        sa.Column("release_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_halts")),
    )
    op.create_index("ix_halts_released_at", "halts", ["released_at"])
    op.create_table(
        EVENTS,
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("halt_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("principal_id", sa.Integer(), nullable=True),
        sa.Column("via", sa.String(length=8), nullable=False),
        sa.Column("at", autopack.db.types.UTCDateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["halt_id"], ["halts.id"], name=op.f("fk_halt_events_halt_id_halts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_halt_events")),
    )
    op.create_index("ix_halt_events_halt_id", EVENTS, ["halt_id", "id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        for statement in PG_TRIGGERS:
            op.execute(statement)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {EVENTS}_no_truncate ON {EVENTS}")
        op.execute(f"DROP TRIGGER IF EXISTS {EVENTS}_no_update_delete ON {EVENTS}")
        op.execute("DROP FUNCTION IF EXISTS autopack_halt_events_insert_only()")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {EVENTS}_no_delete")
        op.execute(f"DROP TRIGGER IF EXISTS {EVENTS}_no_update")
    op.drop_index("ix_halt_events_halt_id", table_name=EVENTS)
    op.drop_table(EVENTS)
    op.drop_index("ix_halts_released_at", table_name="halts")
    op.drop_table("halts")
