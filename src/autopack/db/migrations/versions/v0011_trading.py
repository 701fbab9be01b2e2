"""trading: accounts (state, last broker read), strategies, insert-only limit
versions, change requests and their insert-only approvals, promotions,
reservations and the insert-only trading_events history

The history tables get the tamper guards of 0004, 0006 and 0008: triggers refuse
UPDATE, DELETE and TRUNCATE, and on SQLite an INSERT OR REPLACE over a row.

Revision ID: 0011_trading
Revises: 0010_console_sessions
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import autopack.db.types

revision: str = "0011_trading"
down_revision: str | None = "0010_console_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "trading_accounts",
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=True),
        sa.Column("state_by", sa.String(length=64), nullable=False),
        sa.Column("state_at", autopack.db.types.UTCDateTime(), nullable=False),
        sa.Column("state_version", sa.Integer(), nullable=False),
        sa.Column("equity", sa.String(length=40), nullable=True),
        sa.Column("last_equity", sa.String(length=40), nullable=True),
        sa.Column("high_water", sa.String(length=40), nullable=True),
        sa.Column("read_at", autopack.db.types.UTCDateTime(), nullable=True),
        sa.Column("positions", sa.Text(), nullable=True),
        sa.Column("read_error", sa.Text(), nullable=True),
        sa.Column("read_error_at", autopack.db.types.UTCDateTime(), nullable=True),
        sa.Column("sync_started_at", autopack.db.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("account", name=op.f("pk_trading_accounts")),
    )
    op.create_table(
        "trading_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("principal_id", sa.Integer(), nullable=True),
        sa.Column("via", sa.String(length=8), nullable=False),
        sa.Column("at", autopack.db.types.UTCDateTime(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trading_events")),
    )
    with op.batch_alter_table("trading_events", schema=None) as batch_op:
        batch_op.create_index("ix_trading_events_account", ["account", "id"], unique=False)

    op.create_table(
        "trading_limits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("strategy", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("limits", sa.Text(), nullable=False),
        sa.Column("limits_hash", sa.String(length=64), nullable=False),
        sa.Column("set_by", sa.String(length=64), nullable=False),
        sa.Column("set_at", autopack.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trading_limits")),
        sa.UniqueConstraint("account", "strategy", "version", name="uq_trading_limits_version"),
    )
    op.create_table(
        "trading_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("strategy", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("payload_hash", sa.String(length=64), nullable=False),
        sa.Column("required_approvals", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("requested_by_principal", sa.Integer(), nullable=True),
        sa.Column("requested_at", autopack.db.types.UTCDateTime(), nullable=False),
        sa.Column("expires_at", autopack.db.types.UTCDateTime(), nullable=False),
        sa.Column("decided_at", autopack.db.types.UTCDateTime(), nullable=True),
        sa.Column("decision", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trading_requests")),
    )
    with op.batch_alter_table("trading_requests", schema=None) as batch_op:
        batch_op.create_index("ix_trading_requests_status", ["status", "id"], unique=False)

    op.create_table(
        "trading_strategies",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("registered_by", sa.String(length=64), nullable=False),
        sa.Column("registered_at", autopack.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_trading_strategies")),
    )
    op.create_table(
        "trading_approvals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("payload_hash", sa.String(length=64), nullable=False),
        sa.Column("approver", sa.String(length=64), nullable=False),
        sa.Column("principal_id", sa.Integer(), nullable=True),
        sa.Column("via", sa.String(length=8), nullable=False),
        sa.Column("at", autopack.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["trading_requests.id"],
            name=op.f("fk_trading_approvals_request_id_trading_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trading_approvals")),
        sa.UniqueConstraint("request_id", "approver", name="uq_trading_approvals_request_approver"),
    )
    op.create_table(
        "trading_promotions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("strategy", sa.String(length=64), nullable=False),
        sa.Column("strategy_hash", sa.String(length=64), nullable=False),
        sa.Column("limits", sa.Text(), nullable=False),
        sa.Column("limits_hash", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", autopack.db.types.UTCDateTime(), nullable=False),
        sa.Column("expires_at", autopack.db.types.UTCDateTime(), nullable=False),
        sa.Column("ended_at", autopack.db.types.UTCDateTime(), nullable=True),
        sa.Column("end_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["trading_requests.id"],
            name=op.f("fk_trading_promotions_request_id_trading_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trading_promotions")),
    )
    with op.batch_alter_table("trading_promotions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_trading_promotions_account", ["account", "strategy", "status"], unique=False
        )

    op.create_table(
        "trading_reservations",
        sa.Column("action_key", sa.String(length=200), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("strategy", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=24), nullable=False),
        sa.Column("client_order_id", sa.String(length=128), nullable=True),
        sa.Column("qty_nanos", sa.BigInteger(), nullable=True),
        sa.Column("notional_cents", sa.BigInteger(), nullable=True),
        sa.Column("open_qty_nanos", sa.BigInteger(), nullable=True),
        sa.Column("open_notional_cents", sa.BigInteger(), nullable=True),
        sa.Column("filled_qty_nanos", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", autopack.db.types.UTCDateTime(), nullable=False),
        sa.Column("settled_at", autopack.db.types.UTCDateTime(), nullable=True),
        sa.Column("settle_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["action_key"],
            ["external_actions.idempotency_key"],
            name=op.f("fk_trading_reservations_action_key_external_actions"),
        ),
        sa.PrimaryKeyConstraint("action_key", name=op.f("pk_trading_reservations")),
    )
    with op.batch_alter_table("trading_reservations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_trading_reservations_account_created",
            ["account", "created_at", "strategy", "action_key"],
            unique=False,
        )
        batch_op.create_index(
            "ix_trading_reservations_account_status", ["account", "status"], unique=False
        )

    _guard_history()


def downgrade() -> None:
    _unguard_history()
    with op.batch_alter_table("trading_reservations", schema=None) as batch_op:
        batch_op.drop_index("ix_trading_reservations_account_status")
        batch_op.drop_index("ix_trading_reservations_account_created")

    op.drop_table("trading_reservations")
    with op.batch_alter_table("trading_promotions", schema=None) as batch_op:
        batch_op.drop_index("ix_trading_promotions_account")

    op.drop_table("trading_promotions")
    op.drop_table("trading_approvals")
    op.drop_table("trading_strategies")
    with op.batch_alter_table("trading_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_trading_requests_status")

    op.drop_table("trading_requests")
    op.drop_table("trading_limits")
    with op.batch_alter_table("trading_events", schema=None) as batch_op:
        batch_op.drop_index("ix_trading_events_account")

    op.drop_table("trading_events")
    op.drop_table("trading_accounts")


HISTORY = ("trading_limits", "trading_approvals", "trading_events")
PG_FUNCTION = """
CREATE FUNCTION autopack_trading_history_insert_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is insert-only', TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END
$$
"""


def _guard_history() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        for table in HISTORY:
            op.execute(
                f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION autopack_trading_history_insert_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION autopack_trading_history_insert_only()"
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


def _unguard_history() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in HISTORY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update_delete ON {table}")
        op.execute("DROP FUNCTION IF EXISTS autopack_trading_history_insert_only()")
        return
    for table in HISTORY:
        for suffix in ("no_replace", "no_delete", "no_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_{suffix}")
