"""Archived scenarios and runs: hidden from the default lists, never deleted.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    for table in ("scenarios", "runs"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("archived_at", _TS, nullable=True))


def downgrade() -> None:
    for table in ("runs", "scenarios"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("archived_at")
