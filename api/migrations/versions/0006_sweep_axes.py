"""Sweeps over a grid: the swept parameters, each with its ``set`` and values.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sweeps") as sweeps:
        sweeps.add_column(sa.Column("axes", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sweeps") as sweeps:
        sweeps.drop_column("axes")
