"""The index's tables, one schema for SQLite and PostgreSQL (SQLAlchemy Core).

Alembic's migrations under pvd/index/migrations/ create and change these tables; this
module is what the code reads and writes through. Conventions:

- ids (trade, hold, message, tx, block hashes) are lower-case 0x-hex strings;
- addresses are checksummed strings;
- amounts are fen (1/100 yuan) in 64-bit integers (the decoder refuses anything larger,
  never stores it wrongly);
- times are the block's unix timestamp (seconds).

`events` holds every decoded pvd event of both chains (the one history); `trades`,
`holds`, `messages` and `accounts` are projections of it, rebuilt from `events` for the
keys a batch or a reorg touched, so they never disagree with it.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

SCHEMA_REVISION = "0004"  # the newest Alembic revision this code reads and writes

metadata = MetaData()

ID = String(66)
ADDRESS = String(42)

chains = Table(
    "index_chains",
    metadata,
    Column("name", String(16), primary_key=True),  # "payment" or "business"
    Column("chain_id", BigInteger, nullable=False),
    Column("genesis_hash", ID, nullable=False),
    Column("domain_id", BigInteger, nullable=False),
    Column("start_block", BigInteger, nullable=False),  # the first deployment block
    Column("indexed_block", BigInteger, nullable=False),  # checkpoint: last indexed block
    Column("contracts", Text, nullable=False),  # JSON {name: address}
)

blocks = Table(
    "index_blocks",
    metadata,
    Column("chain", String(16), nullable=False),
    Column("number", BigInteger, nullable=False),
    Column("hash", ID, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    PrimaryKeyConstraint("chain", "number"),
)

events = Table(
    "events",
    metadata,
    Column("chain", String(16), nullable=False),
    Column("block", BigInteger, nullable=False),
    Column("log_index", Integer, nullable=False),
    Column("tx_hash", ID, nullable=False),
    Column("block_time", BigInteger, nullable=False),
    Column("contract", String(32), nullable=False),
    Column("name", String(48), nullable=False),
    Column("trade_id", ID),
    Column("hold_id", ID),
    Column("message_id", ID),
    Column("args", Text, nullable=False),  # JSON of the decoded arguments
    PrimaryKeyConstraint("chain", "block", "log_index"),
    Index("ix_events_trade", "trade_id"),
    Index("ix_events_hold", "hold_id"),
    Index("ix_events_message", "message_id"),
    Index("ix_events_tx", "tx_hash"),  # 0003: search by transaction hash
)

trades = Table(
    "trades",
    metadata,
    Column("trade_id", ID, primary_key=True),
    Column("buyer", ADDRESS, nullable=False),
    Column("seller", ADDRESS, nullable=False),
    Column("price", BigInteger, nullable=False),
    Column("deadline", BigInteger, nullable=False),
    Column("hold_expiry", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # TradeStatus name, lower case
    Column("settlement", String(16), nullable=False),  # none / paid / refunded
    Column("hold_id", ID),
    Column("proposed_block", BigInteger, nullable=False),
    Column("proposed_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_trades_proposed", "proposed_at", "trade_id"),
    # 0004: each filter of the trades page in the page's order (no sort, no OR scan)
    Index("ix_trades_status_page", "status", "proposed_at", "trade_id"),
    Index("ix_trades_buyer_page", "buyer", "proposed_at", "trade_id"),
    Index("ix_trades_seller_page", "seller", "proposed_at", "trade_id"),
)

holds = Table(
    "holds",
    metadata,
    Column("hold_id", ID, primary_key=True),
    Column("ref", ID, nullable=False),  # the trade id for a settlement's hold
    Column("payer", ADDRESS, nullable=False),
    Column("payee", ADDRESS, nullable=False),
    Column("notary", ADDRESS, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("expiry", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # held / executed / released
    Column("placed_block", BigInteger, nullable=False),
    Column("ended_block", BigInteger),
    Index("ix_holds_ref", "ref"),
    Index("ix_holds_status", "status"),
)

messages = Table(
    "messages",
    metadata,
    Column("message_id", ID, primary_key=True),
    Column("source", String(16), nullable=False),  # chain name
    Column("destination_domain", BigInteger, nullable=False),
    Column("kind", String(24), nullable=False),  # payment_held / trade_outcome / payment_settled
    Column("detail", String(24), nullable=False),  # outcome or result name, "" if none
    Column("trade_id", ID),
    Column("hold_id", ID),
    Column("sent_block", BigInteger, nullable=False),
    Column("sent_at", BigInteger, nullable=False),
    Column("sent_tx", ID, nullable=False),
    Column("status", String(16), nullable=False),  # pending / delivered / failed
    Column("attempts", Integer, nullable=False),  # MessageFailed events
    Column("failure", Text),  # the last MessageFailed's reason, decoded (else 0x data)
    Column("delivered_block", BigInteger),
    Column("delivered_at", BigInteger),
    Column("delivered_tx", ID),
    Column("deliverer", ADDRESS),
    Index("ix_messages_status", "status", "sent_at"),
    Index("ix_messages_trade", "trade_id"),
)

accounts = Table(
    "accounts",
    metadata,
    Column("address", ADDRESS, primary_key=True),
    Column("balance", BigInteger, nullable=False),
    Column("held", BigInteger, nullable=False),
    Index("ix_accounts_balance", "balance"),  # 0003: wallets near their caps
)

reconcile_state = Table(
    "reconcile_state",
    metadata,
    Column("chain", String(16), primary_key=True),
    Column("block", BigInteger, nullable=False),  # last reconciled block
    Column("totals", Text, nullable=False),  # JSON running totals at that block
    Column("block_hash", ID),  # 0004: that block's hash (a reorg under it restarts the totals)
)
