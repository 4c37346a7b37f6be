"""The incremental reconciler's running totals are tied to the hash of the block they were
reconciled at (so a reorg under them is seen), and the trades page's filters get indexes
in the page's own order (filter, proposal time, trade id), so a page is one index range
scan with no sort, on SQLite and PostgreSQL.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_PAGE_INDEXES = (
    ("ix_trades_status", "ix_trades_status_page", "status"),
    ("ix_trades_buyer", "ix_trades_buyer_page", "buyer"),
    ("ix_trades_seller", "ix_trades_seller_page", "seller"),
)


def upgrade() -> None:
    op.add_column("reconcile_state", sa.Column("block_hash", sa.String(66), nullable=True))
    for old, new, column in _PAGE_INDEXES:
        op.drop_index(old, table_name="trades")
        op.create_index(new, "trades", [column, "proposed_at", "trade_id"])


def downgrade() -> None:
    for old, new, column in _PAGE_INDEXES:
        op.drop_index(new, table_name="trades")
        op.create_index(old, "trades", [column, "proposed_at"])
    with op.batch_alter_table("reconcile_state") as batch:
        batch.drop_column("block_hash")
