"""The incremental reconciler's checkpoint and running totals per chain.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reconcile_state",
        sa.Column("chain", sa.String(16), primary_key=True),
        sa.Column("block", sa.BigInteger, nullable=False),
        sa.Column("totals", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("reconcile_state")
