"""Indexes for what the read API filters on: events by transaction hash (the explorer's
search by tx hash) and accounts by balance (wallets near their caps).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_events_tx", "events", ["tx_hash"])
    op.create_index("ix_accounts_balance", "accounts", ["balance"])


def downgrade() -> None:
    op.drop_index("ix_accounts_balance", table_name="accounts")
    op.drop_index("ix_events_tx", table_name="events")
