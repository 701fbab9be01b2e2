"""tamper guards: no INSERT OR REPLACE over history rows; actions and approvals are
never deleted

SQLite's ``INSERT OR REPLACE`` deletes the row it replaces without firing the
delete trigger (recursive triggers are off), so every insert-only table gets a
BEFORE INSERT trigger that refuses a row colliding with an existing one. Actions
and approvals are current state that the ledger never deletes; a trigger now
refuses DELETE on both backends (PostgreSQL's ``ON CONFLICT DO UPDATE`` already
fires the update trigger).

Revision ID: 0006_tamper_guards
Revises: 0005_principals
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006_tamper_guards"
down_revision: str | None = "0005_principals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Insert-only tables and the columns that identify a row besides its id.
HISTORY: dict[str, tuple[str, ...]] = {
    "external_action_events": ("idempotency_key", "seq"),
    "credential_events": (),
    "halt_events": (),
    "principal_events": (),
    "approval_decisions": (),
}
NEVER_DELETED = ("external_actions", "approvals")


def _sqlite_no_replace(table: str, natural: tuple[str, ...]) -> str:
    same = " OR ".join(
        ["(NEW.id IS NOT NULL AND id = NEW.id)"]
        + (["(" + " AND ".join(f"{c} = NEW.{c}" for c in natural) + ")"] if natural else [])
    )
    return (
        f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "  # noqa: S608 - table names are constants
        f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {same}) "
        f"BEGIN SELECT RAISE(ABORT, '{table} is insert-only'); END"
    )


PG_FUNCTION = """
CREATE FUNCTION autopack_never_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are never deleted', TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END
$$
"""


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(PG_FUNCTION)
        for table in NEVER_DELETED:
            op.execute(
                f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION autopack_never_deleted()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION autopack_never_deleted()"
            )
        return
    for table, natural in HISTORY.items():
        op.execute(_sqlite_no_replace(table, natural))
    for table in NEVER_DELETED:
        op.execute(
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} rows are never deleted'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in NEVER_DELETED:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete ON {table}")
        op.execute("DROP FUNCTION IF EXISTS autopack_never_deleted()")
        return
    for table in NEVER_DELETED:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
    for table in HISTORY:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_replace")
