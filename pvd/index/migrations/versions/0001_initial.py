"""The index's first schema: chains, blocks, events and the trade/hold/message/account
projections.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.String(66)
ADDRESS = sa.String(42)


def upgrade() -> None:
    op.create_table(
        "index_chains",
        sa.Column("name", sa.String(16), primary_key=True),
        sa.Column("chain_id", sa.BigInteger, nullable=False),
        sa.Column("genesis_hash", ID, nullable=False),
        sa.Column("domain_id", sa.BigInteger, nullable=False),
        sa.Column("start_block", sa.BigInteger, nullable=False),
        sa.Column("indexed_block", sa.BigInteger, nullable=False),
        sa.Column("contracts", sa.Text, nullable=False),
    )
    op.create_table(
        "index_blocks",
        sa.Column("chain", sa.String(16), nullable=False),
        sa.Column("number", sa.BigInteger, nullable=False),
        sa.Column("hash", ID, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("chain", "number"),
    )
    op.create_table(
        "events",
        sa.Column("chain", sa.String(16), nullable=False),
        sa.Column("block", sa.BigInteger, nullable=False),
        sa.Column("log_index", sa.Integer, nullable=False),
        sa.Column("tx_hash", ID, nullable=False),
        sa.Column("block_time", sa.BigInteger, nullable=False),
        sa.Column("contract", sa.String(32), nullable=False),
        sa.Column("name", sa.String(48), nullable=False),
        sa.Column("trade_id", ID),
        sa.Column("hold_id", ID),
        sa.Column("message_id", ID),
        sa.Column("args", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("chain", "block", "log_index"),
    )
    op.create_index("ix_events_trade", "events", ["trade_id"])
    op.create_index("ix_events_hold", "events", ["hold_id"])
    op.create_index("ix_events_message", "events", ["message_id"])
    op.create_table(
        "trades",
        sa.Column("trade_id", ID, primary_key=True),
        sa.Column("buyer", ADDRESS, nullable=False),
        sa.Column("seller", ADDRESS, nullable=False),
        sa.Column("price", sa.BigInteger, nullable=False),
        sa.Column("deadline", sa.BigInteger, nullable=False),
        sa.Column("hold_expiry", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("settlement", sa.String(16), nullable=False),
        sa.Column("hold_id", ID),
        sa.Column("proposed_block", sa.BigInteger, nullable=False),
        sa.Column("proposed_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_trades_proposed", "trades", ["proposed_at", "trade_id"])
    op.create_index("ix_trades_status", "trades", ["status", "proposed_at"])
    op.create_index("ix_trades_buyer", "trades", ["buyer", "proposed_at"])
    op.create_index("ix_trades_seller", "trades", ["seller", "proposed_at"])
    op.create_table(
        "holds",
        sa.Column("hold_id", ID, primary_key=True),
        sa.Column("ref", ID, nullable=False),
        sa.Column("payer", ADDRESS, nullable=False),
        sa.Column("payee", ADDRESS, nullable=False),
        sa.Column("notary", ADDRESS, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("expiry", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("placed_block", sa.BigInteger, nullable=False),
        sa.Column("ended_block", sa.BigInteger),
    )
    op.create_index("ix_holds_ref", "holds", ["ref"])
    op.create_index("ix_holds_status", "holds", ["status"])
    op.create_table(
        "messages",
        sa.Column("message_id", ID, primary_key=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("destination_domain", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("detail", sa.String(24), nullable=False),
        sa.Column("trade_id", ID),
        sa.Column("hold_id", ID),
        sa.Column("sent_block", sa.BigInteger, nullable=False),
        sa.Column("sent_at", sa.BigInteger, nullable=False),
        sa.Column("sent_tx", ID, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("failure", sa.Text),
        sa.Column("delivered_block", sa.BigInteger),
        sa.Column("delivered_at", sa.BigInteger),
        sa.Column("delivered_tx", ID),
        sa.Column("deliverer", ADDRESS),
    )
    op.create_index("ix_messages_status", "messages", ["status", "sent_at"])
    op.create_index("ix_messages_trade", "messages", ["trade_id"])
    op.create_table(
        "accounts",
        sa.Column("address", ADDRESS, primary_key=True),
        sa.Column("balance", sa.BigInteger, nullable=False),
        sa.Column("held", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in ("accounts", "messages", "holds", "trades", "events", "index_blocks"):
        op.drop_table(table)
    op.drop_table("index_chains")
