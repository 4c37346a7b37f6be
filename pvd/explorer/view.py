"""What the explorer's pages show, as frozen values, and the seam it reads them through.

`ExplorerData` is the one interface between the web server and wherever the data comes
from (the chain index on a real stack, a fake in unit tests). Every method answers from
what has already been read; only `refresh()` reads the chains, and it reads only what is
new since the last call (no rescan per request).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

CHAINS = ("business", "payment")
YUAN = 100  # fen per yuan
WALLET_CLASSES = ("IV", "III", "II", "I")  # the token's WalletClass enum, 0..3


class Chain(StrEnum):
    BUSINESS = "business"
    PAYMENT = "payment"


@dataclass(frozen=True)
class ChainHead:
    """The newest block read from one chain, or why the chain could not be read."""

    chain: Chain
    block: int | None
    timestamp: int | None
    error: str | None = None

    @property
    def reachable(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class TradeRow:
    """One trade as the trades list shows it (amounts in fen, times in unix seconds)."""

    trade_id: str
    buyer: str
    seller: str
    price_fen: int
    status: str  # Proposed, Accepted, Funded, Shipped, Delivered, Cancelled, Expired, ...
    settlement: str  # None, Paid, Refunded
    hold: str  # none, held, executed, released: the hold on the payment chain
    proposed_at: int
    proposed_block: int


@dataclass(frozen=True)
class TradeQuery:
    """One page of the trades list: newest first, optionally one status, optionally the
    trades of one address or a given set of trades (a search already resolved to ids).
    Pages follow each other by cursor (the `next_cursor` of the page before), so a deep
    page costs what the first does."""

    page_size: int = 50
    status: str | None = None
    address: str | None = None
    trade_ids: tuple[str, ...] | None = None
    cursor: str | None = None


@dataclass(frozen=True)
class TradePage:
    rows: tuple[TradeRow, ...]
    total: int  # trades matching the query, all pages (counted up to a cap)
    query: TradeQuery
    next_cursor: str | None = None  # None on the last page
    total_capped: bool = False  # more than `total` match


@dataclass(frozen=True)
class Step:
    """One thing that happened to a trade on one chain."""

    chain: Chain
    what: str  # "Trade proposed", "Hold placed", "Payment held sent", ...
    block: int
    timestamp: int
    tx_hash: str
    message_id: str | None = None  # set when the step sends or receives a message
    detail: str = ""


@dataclass(frozen=True)
class Crossing:
    """One message of a trade: sent on one chain, delivered (or not yet) on the other."""

    message_id: str
    kind: str  # PaymentHeld, TradeOutcome(Delivered), PaymentSettled(Paid), ...
    source: Chain
    sent_block: int
    sent_at: int
    delivered_at: int | None
    delivered_block: int | None
    status: str  # in flight, delivered, failed
    reason: str | None = None  # the recipient's decoded revert when failed

    @property
    def destination(self) -> Chain:
        return Chain.PAYMENT if self.source is Chain.BUSINESS else Chain.BUSINESS

    def seconds_in_flight(self, now: int) -> int:
        """Delivery block time minus send block time (two chains' clocks: never below 0)."""
        end = self.delivered_at if self.delivered_at is not None else now
        return max(0, end - self.sent_at)


@dataclass(frozen=True)
class Timeline:
    """A trade's whole journey across both chains, oldest step first."""

    trade: TradeRow
    steps: tuple[Step, ...]
    crossings: tuple[Crossing, ...]
    stuck: str | None = None  # where it waits and why, when it waits on something


@dataclass(frozen=True)
class MessageRow:
    message_id: str
    kind: str
    source: Chain
    trade_id: str | None
    sent_at: int
    sent_block: int
    status: str  # in flight, delivered, failed
    delivered_at: int | None = None
    reason: str | None = None

    def age(self, now: int) -> int:
        return max(0, now - self.sent_at)

    @property
    def seconds_in_flight(self) -> int | None:
        if self.delivered_at is None:
            return None
        return max(0, self.delivered_at - self.sent_at)


@dataclass(frozen=True)
class BankSupply:
    bank: str
    issued_fen: int  # issued minus redeemed


@dataclass(frozen=True)
class WalletUse:
    """A wallet's balance against its tier's balance cap."""

    address: str
    balance_fen: int
    cap_fen: int
    tier: int

    @property
    def wallet_class(self) -> str:
        return WALLET_CLASSES[self.tier] if 0 <= self.tier < len(WALLET_CLASSES) else str(self.tier)

    @property
    def used(self) -> float:
        return self.balance_fen / self.cap_fen if self.cap_fen else 0.0


@dataclass(frozen=True)
class Money:
    total_supply_fen: int
    by_bank: tuple[BankSupply, ...]
    holds_open: int
    holds_open_fen: int
    near_caps: tuple[WalletUse, ...] = field(default=())


class ExplorerData(Protocol):
    """The explorer's source of data (the chain index, or a fake in tests)."""

    def refresh(self) -> tuple[ChainHead, ...]:
        """Read what is new on each chain; a chain that cannot be read reports its error
        in its head and is tried again next time. Returns the heads."""
        ...

    def heads(self) -> tuple[ChainHead, ...]: ...

    def trades(self, query: TradeQuery) -> TradePage: ...

    def timeline(self, trade_id: str) -> Timeline | None: ...

    def trades_of_tx(self, tx_hash: str) -> tuple[str, ...]:
        """The trades a transaction touched (on either chain)."""
        ...

    def messages(self, limit: int = 200) -> tuple[MessageRow, ...]:
        """In-flight and failed messages first, then the newest delivered."""
        ...

    def money(self, near_cap: float = 0.8) -> Money: ...
