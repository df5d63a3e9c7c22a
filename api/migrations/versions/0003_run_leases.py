"""Runs as a queue shared by workers: leases, attempts, cancellation, notes; the workers table.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("runs") as runs:
        runs.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        runs.add_column(sa.Column("lease_owner", sa.String(200), nullable=True))
        runs.add_column(sa.Column("lease_expires_at", _TS, nullable=True))
        runs.add_column(
            sa.Column("cancel_requested", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        runs.add_column(sa.Column("cancelled_by", sa.String(200), nullable=True))
        runs.add_column(sa.Column("cancelled_at", _TS, nullable=True))
        runs.add_column(sa.Column("notes", sa.JSON(), nullable=True))
    op.create_table(
        "workers",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("heartbeat_at", _TS, nullable=False),
        sa.Column("stopped_at", _TS, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("workers")
    with op.batch_alter_table("runs") as runs:
        for column in (
            "notes",
            "cancelled_at",
            "cancelled_by",
            "cancel_requested",
            "lease_expires_at",
            "lease_owner",
            "attempts",
        ):
            runs.drop_column(column)
