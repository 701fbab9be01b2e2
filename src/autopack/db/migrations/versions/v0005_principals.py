"""principals: principals, api_keys, insert-only principal_events and
approval_decisions; approvals learn their requester principal and how many
distinct people must approve

Revision ID: 0005_principals
Revises: 0004_halts
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import autopack.db.types

revision: str = "0005_principals"
down_revision: str | None = "0004_halts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INSERT_ONLY = ("principal_events", "approval_decisions")
PG_FUNCTION = """
CREATE FUNCTION autopack_history_insert_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is insert-only', TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END
$$
"""


def _sqlite_triggers(table: str) -> tuple[str, ...]:
    message = f"{table} is insert-only"
    return (
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{message}'); END",
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{message}'); END",
    )


def _pg_triggers(table: str) -> tuple[str, ...]:
    return (
        f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION autopack_history_insert_only()",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION autopack_history_insert_only()",
    )


def upgrade() -> None:
    op.create_table(
        "principals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", autopack.db.types.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("revoked_at", autopack.db.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_principals")),
        sa.UniqueConstraint("name", name=op.f("uq_principals_name")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key_id", sa.String(length=24), nullable=False),
        sa.Column("principal_id", sa.Integer(), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", autopack.db.types.UTCDateTime(), nullable=False),
        sa.Column("last_used_at", autopack.db.types.UTCDateTime(), nullable=True),
        sa.Column("revoked_at", autopack.db.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["principal_id"], ["principals.id"], name=op.f("fk_api_keys_principal_id_principals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_id", name=op.f("uq_api_keys_key_id")),
    )
    op.create_index("ix_api_keys_principal_id", "api_keys", ["principal_id"])
    op.create_table(
        "principal_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("principal_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=24), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("actor_principal_id", sa.Integer(), nullable=True),
        sa.Column("via", sa.String(length=8), nullable=False),
        sa.Column("at", autopack.db.types.UTCDateTime(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["principal_id"],
            ["principals.id"],
            name=op.f("fk_principal_events_principal_id_principals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_principal_events")),
    )
    op.create_index("ix_principal_events_principal_id", "principal_events", ["principal_id", "id"])
    op.create_table(
        "approval_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("approval_id", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=8), nullable=False),
        sa.Column("person", sa.String(length=64), nullable=False),
        sa.Column("principal_id", sa.Integer(), nullable=True),
        sa.Column("via", sa.String(length=8), nullable=False),
        sa.Column("at", autopack.db.types.UTCDateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["approval_id"],
            ["approvals.id"],
            name=op.f("fk_approval_decisions_approval_id_approvals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_decisions")),
    )
    op.create_index(
        "ix_approval_decisions_approval_id", "approval_decisions", ["approval_id", "id"]
    )
    # Plain ADD COLUMN (SQLite accepts a NOT NULL column with a constant default): a
    # batch rebuild would drop and recreate `approvals`, which actions reference.
    op.add_column("approvals", sa.Column("requested_by_principal", sa.Integer(), nullable=True))
    op.add_column(
        "approvals",
        sa.Column("required_approvals", sa.Integer(), server_default=sa.text("1"), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        for table in INSERT_ONLY:
            for statement in _pg_triggers(table):
                op.execute(statement)
    else:
        for table in INSERT_ONLY:
            for statement in _sqlite_triggers(table):
                op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in INSERT_ONLY:
        if postgres:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update_delete ON {table}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS autopack_history_insert_only()")
    op.drop_index("ix_approval_decisions_approval_id", table_name="approval_decisions")
    op.drop_table("approval_decisions")
    # Plain DROP COLUMN (SQLite 3.35+), for the reason given in upgrade().
    op.drop_column("approvals", "required_approvals")
    op.drop_column("approvals", "requested_by_principal")
    op.drop_index("ix_principal_events_principal_id", table_name="principal_events")
    op.drop_table("principal_events")
    op.drop_index("ix_api_keys_principal_id", table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_table("principals")
