"""credential store: credential_keys, credentials, insert-only credential_events

Revision ID: 0003_credentials
Revises: 0002_ledger
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import autopack.db.types

revision: str = "0003_credentials"
down_revision: str | None = "0002_ledger"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EVENTS = "credential_events"
INSERT_ONLY_MESSAGE = "credential_events is insert-only"

SQLITE_TRIGGERS = (
    f"CREATE TRIGGER {EVENTS}_no_update BEFORE UPDATE ON {EVENTS} "
    f"BEGIN SELECT RAISE(ABORT, '{INSERT_ONLY_MESSAGE}'); END",
    f"CREATE TRIGGER {EVENTS}_no_delete BEFORE DELETE ON {EVENTS} "
    f"BEGIN SELECT RAISE(ABORT, '{INSERT_ONLY_MESSAGE}'); END",
)
PG_FUNCTION = f"""
CREATE FUNCTION autopack_credential_events_insert_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{INSERT_ONLY_MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
END
$$
"""
PG_TRIGGERS = (
    f"CREATE TRIGGER {EVENTS}_no_update_delete BEFORE UPDATE OR DELETE ON {EVENTS} "
    "FOR EACH ROW EXECUTE FUNCTION autopack_credential_events_insert_only()",
    f"CREATE TRIGGER {EVENTS}_no_truncate BEFORE TRUNCATE ON {EVENTS} "
    "FOR EACH STATEMENT EXECUTE FUNCTION autopack_credential_events_insert_only()",
)


def upgrade() -> None:
    op.create_table(
        "credential_keys",
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("salt", sa.String(length=64), nullable=False),
        sa.Column("active_slot", sa.Integer(), nullable=True),
        sa.Column("created_at", autopack.db.types.UTCDateTime(), nullable=False),
        sa.Column("retired_at", autopack.db.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_credential_keys")),
        sa.UniqueConstraint("active_slot", name=op.f("uq_credential_keys_active_slot")),
    )
    op.create_table(
        "credentials",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("pause_code", sa.String(length=64), nullable=True),
        sa.Column("expires_at", autopack.db.types.UTCDateTime(), nullable=True),
        sa.Column("refresh_issued_at", autopack.db.types.UTCDateTime(), nullable=True),
        sa.Column("has_refresh_token", sa.Boolean(), nullable=False),
        sa.Column("key_hint", sa.String(length=8), nullable=True),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("secret_ciphertext", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_expires_at", autopack.db.types.UTCDateTime(), nullable=True),
        sa.Column("refresh_count", sa.Integer(), nullable=False),
        sa.Column("failure_count", sa.Integer(), nullable=False),
        sa.Column("total_failures", sa.Integer(), nullable=False),
        sa.Column("last_success_at", autopack.db.types.UTCDateTime(), nullable=True),
        sa.Column("last_failure_at", autopack.db.types.UTCDateTime(), nullable=True),
        sa.Column("last_error_class", sa.String(length=24), nullable=True),
        sa.Column("last_error_code", sa.String(length=64), nullable=True),
        sa.Column("reauth_task", sa.Text(), nullable=True),
        sa.Column("created_at", autopack.db.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", autopack.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["credential_keys.key_id"],
            name=op.f("fk_credentials_key_id_credential_keys"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credentials")),
        sa.UniqueConstraint("provider", "account", name="uq_credentials_provider_account"),
    )
    op.create_table(
        EVENTS,
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("at", autopack.db.types.UTCDateTime(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credential_events")),
    )
    op.create_index("ix_credential_events_provider_account", EVENTS, ["provider", "account", "id"])
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
        op.execute("DROP FUNCTION IF EXISTS autopack_credential_events_insert_only()")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {EVENTS}_no_delete")
        op.execute(f"DROP TRIGGER IF EXISTS {EVENTS}_no_update")
    op.drop_index("ix_credential_events_provider_account", table_name=EVENTS)
    op.drop_table(EVENTS)
    op.drop_table("credentials")
    op.drop_table("credential_keys")
