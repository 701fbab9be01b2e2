"""policy monitor: policy_pages (current state) and insert-only policy_snapshots,
policy_fetches and policy_acks

The history tables get the tamper guards of 0004 and 0006: database triggers
refuse UPDATE, DELETE and TRUNCATE, and on SQLite an INSERT OR REPLACE over an
existing row. Policy pages are current state that is never deleted (removing a
page from the watch list clears a flag), so an unacknowledged change cannot be
wiped by deleting its page.

Revision ID: 0008_policy
Revises: 0007_dispatch_progress
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import autopack.db.types

revision: str = "0008_policy"
down_revision: str | None = "0007_dispatch_progress"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HISTORY = ("policy_snapshots", "policy_fetches", "policy_acks")
NEVER_DELETED = "policy_pages"
PG_FUNCTION = """
CREATE FUNCTION autopack_policy_history_insert_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is insert-only', TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END
$$
"""


def _history_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
    ]


def upgrade() -> None:
    utc = autopack.db.types.UTCDateTime
    op.create_table(
        "policy_pages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("watched", sa.Boolean(), nullable=False),
        sa.Column("added_by", sa.String(length=64), nullable=False),
        sa.Column("added_at", utc(), nullable=False),
        sa.Column("current_hash", sa.String(length=64), nullable=True),
        sa.Column("acknowledged_hash", sa.String(length=64), nullable=True),
        sa.Column("normaliser_version", sa.String(length=32), nullable=True),
        sa.Column("verified_at", utc(), nullable=True),
        sa.Column("etag", sa.String(length=512), nullable=True),
        sa.Column("last_modified", sa.String(length=128), nullable=True),
        sa.Column("last_attempt_at", utc(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_pages")),
        sa.UniqueConstraint("provider", "url", name="uq_policy_pages_provider_url"),
    )
    op.create_table(
        "policy_snapshots",
        *_history_columns(),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("normaliser_version", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("previous_hash", sa.String(length=64), nullable=True),
        sa.Column("diff", sa.Text(), nullable=True),
        sa.Column("fetched_at", utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_snapshots")),
    )
    op.create_table(
        "policy_fetches",
        *_history_columns(),
        sa.Column("at", utc(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("hash", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_fetches")),
    )
    op.create_table(
        "policy_acks",
        *_history_columns(),
        sa.Column("from_hash", sa.String(length=64), nullable=False),
        sa.Column("to_hash", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("principal_id", sa.Integer(), nullable=True),
        sa.Column("via", sa.String(length=8), nullable=False),
        sa.Column("at", utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_acks")),
    )
    for table in HISTORY:
        op.create_index(f"ix_{table}_provider_url", table, ["provider", "url", "id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        for table in HISTORY:
            op.execute(
                f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION autopack_policy_history_insert_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION autopack_policy_history_insert_only()"
            )
        # autopack_never_deleted() comes from 0006_tamper_guards.
        op.execute(
            f"CREATE TRIGGER {NEVER_DELETED}_no_delete BEFORE DELETE ON {NEVER_DELETED} "
            "FOR EACH ROW EXECUTE FUNCTION autopack_never_deleted()"
        )
        op.execute(
            f"CREATE TRIGGER {NEVER_DELETED}_no_truncate BEFORE TRUNCATE ON {NEVER_DELETED} "
            "FOR EACH STATEMENT EXECUTE FUNCTION autopack_never_deleted()"
        )
        return
    for table in HISTORY:
        message = f"{table} is insert-only"
        op.execute(
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "  # noqa: S608 - table names are constants
            f"WHEN EXISTS (SELECT 1 FROM {table} WHERE NEW.id IS NOT NULL AND id = NEW.id) "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
        )
    op.execute(
        f"CREATE TRIGGER {NEVER_DELETED}_no_delete BEFORE DELETE ON {NEVER_DELETED} "
        f"BEGIN SELECT RAISE(ABORT, '{NEVER_DELETED} rows are never deleted'); END"
    )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(f"DROP TRIGGER IF EXISTS {NEVER_DELETED}_no_truncate ON {NEVER_DELETED}")
        op.execute(f"DROP TRIGGER IF EXISTS {NEVER_DELETED}_no_delete ON {NEVER_DELETED}")
        for table in HISTORY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update_delete ON {table}")
        op.execute("DROP FUNCTION IF EXISTS autopack_policy_history_insert_only()")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {NEVER_DELETED}_no_delete")
        for table in HISTORY:
            for suffix in ("no_replace", "no_delete", "no_update"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_{suffix}")
    for table in reversed(HISTORY):
        op.drop_index(f"ix_{table}_provider_url", table_name=table)
        op.drop_table(table)
    op.drop_table("policy_pages")
