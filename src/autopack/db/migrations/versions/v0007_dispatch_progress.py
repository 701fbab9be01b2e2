"""dispatch progress: the last checkpoint of a multi-request dispatch

A resumable upload's session URI, or the id of a draft created by the first of
several requests, is written here before anything that depends on it is sent,
so a worker that dies mid-dispatch is resumed instead of starting over.

Revision ID: 0007_dispatch_progress
Revises: 0006_tamper_guards
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_dispatch_progress"
down_revision: str | None = "0006_tamper_guards"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain add_column (no batch mode): SQLite's batch mode would rebuild the
    # table and drop the tamper-guard triggers (DBG-015).
    op.add_column("external_actions", sa.Column("progress", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("external_actions", "progress")
