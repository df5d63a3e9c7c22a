"""Tokens: an optional expiry and the time each was last used.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("tokens") as tokens:
        tokens.add_column(sa.Column("expires_at", _TS, nullable=True))
        tokens.add_column(sa.Column("last_used_at", _TS, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tokens") as tokens:
        tokens.drop_column("last_used_at")
        tokens.drop_column("expires_at")
