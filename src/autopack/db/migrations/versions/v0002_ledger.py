"""external-action ledger: approvals, external_actions, insert-only external_action_events

Revision ID: 0002_ledger
Revises: 0001_runs
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import autopack.db.types

revision: str = "0002_ledger"
down_revision: str | None = "0001_runs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EVENTS = "external_action_events"
INSERT_ONLY_MESSAGE = "external_action_events is insert-only"

SQLITE_TRIGGERS = (
    f"CREATE TRIGGER {EVENTS}_no_update BEFORE UPDATE ON {EVENTS} "
    f"BEGIN SELECT RAISE(ABORT, '{INSERT_ONLY_MESSAGE}'); END",
    f"CREATE TRIGGER {EVENTS}_no_delete BEFORE DELETE ON {EVENTS} "
    f"BEGIN SELECT RAISE(ABORT, '{INSERT_ONLY_MESSAGE}'); END",
)
PG_FUNCTION = f"""
CREATE FUNCTION autopack_events_insert_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{INSERT_ONLY_MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
END
$$
"""
PG_TRIGGERS = (
    f"CREATE TRIGGER {EVENTS}_no_update_delete BEFORE UPDATE OR DELETE ON {EVENTS} "
    "FOR EACH ROW EXECUTE FUNCTION autopack_events_insert_only()",
    f"CREATE TRIGGER {EVENTS}_no_truncate BEFORE TRUNCATE ON {EVENTS} "
    "FOR EACH STATEMENT EXECUTE FUNCTION autopack_events_insert_only()",
)


def upgrade() -> None:
    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject_hash", sa.String(length=64), nullable=False),
        sa.Column("hashes", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("project", sa.String(length=64), nullable=True),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", autopack.db.types.UTCDateTime(), nullable=False),
        sa.Column("expires_at", autopack.db.types.UTCDateTime(), nullable=False),
        sa.Column("decided_at", autopack.db.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approvals")),
    )
    op.create_index("ix_approvals_status_created", "approvals", ["status", "created_at"])
    op.create_table(
        "external_actions",
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("project", sa.String(length=64), nullable=True),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("payload_hash", sa.String(length=64), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("approval_id", sa.Integer(), nullable=True),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("created_at", autopack.db.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", autopack.db.types.UTCDateTime(), nullable=False),
        sa.Column("started_at", autopack.db.types.UTCDateTime(), nullable=True),
        sa.Column("completed_at", autopack.db.types.UTCDateTime(), nullable=True),
        sa.Column("next_attempt_at", autopack.db.types.UTCDateTime(), nullable=True),
        sa.Column("attempt_count", sa.Integer(), nullable=False),
        sa.Column("retry_count", sa.Integer(), nullable=False),
        sa.Column("redispatch_count", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("fencing", sa.Integer(), nullable=False),
        sa.Column("lease_expires_at", autopack.db.types.UTCDateTime(), nullable=True),
        sa.Column("provider_object_id", sa.String(length=256), nullable=True),
        sa.Column("response_summary", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("last_event_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["approval_id"],
            ["approvals.id"],
            name=op.f("fk_external_actions_approval_id_approvals"),
        ),
        sa.PrimaryKeyConstraint("idempotency_key", name=op.f("pk_external_actions")),
    )
    op.create_index("ix_external_actions_approval", "external_actions", ["approval_id"])
    op.create_index(
        "ix_external_actions_run",
        "external_actions",
        ["run_id"],
        sqlite_where=sa.text("run_id IS NOT NULL"),
        postgresql_where=sa.text("run_id IS NOT NULL"),
    )
    op.create_index(
        "ix_external_actions_status_next", "external_actions", ["status", "next_attempt_at"]
    )
    op.create_table(
        EVENTS,
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=24), nullable=True),
        sa.Column("to_status", sa.String(length=24), nullable=False),
        sa.Column("fencing", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("at", autopack.db.types.UTCDateTime(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["idempotency_key"],
            ["external_actions.idempotency_key"],
            name=op.f("fk_external_action_events_idempotency_key_external_actions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_external_action_events")),
        sa.UniqueConstraint("idempotency_key", "seq", name="uq_external_action_events_key_seq"),
    )
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
        op.execute("DROP FUNCTION IF EXISTS autopack_events_insert_only()")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {EVENTS}_no_delete")
        op.execute(f"DROP TRIGGER IF EXISTS {EVENTS}_no_update")
    op.drop_table(EVENTS)
    op.drop_index("ix_external_actions_status_next", table_name="external_actions")
    op.drop_index("ix_external_actions_run", table_name="external_actions")
    op.drop_index("ix_external_actions_approval", table_name="external_actions")
    op.drop_table("external_actions")
    op.drop_index("ix_approvals_status_created", table_name="approvals")
    op.drop_table("approvals")
