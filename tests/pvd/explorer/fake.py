"""An in-memory ExplorerData for the explorer's unit tests: trades, steps and messages
set by the test, chains that can be made unreachable, and a count of refreshes."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace

from pvd.explorer.view import (
    BankSupply,
    Chain,
    ChainHead,
    Crossing,
    MessageRow,
    Money,
    Step,
    Timeline,
    TradePage,
    TradeQuery,
    TradeRow,
    WalletUse,
)

T0 = 1_780_000_000
BUYER = "0x" + "b1" * 20
SELLER = "0x" + "5e" * 20


def trade_id(n: int) -> str:
    return "0x" + f"{n:064x}"


def tx_hash(n: int) -> str:
    return "0x" + f"{0xFEED0000 + n:064x}"


def row(n: int, status: str = "Proposed", buyer: str = BUYER) -> TradeRow:
    return TradeRow(
        trade_id=trade_id(n),
        buyer=buyer,
        seller=SELLER,
        price_fen=150_000 + n,
        status=status,
        settlement="None",
        hold="none",
        proposed_at=T0 + n,
        proposed_block=n,
    )


@dataclass
class FakeData:
    rows: dict[str, TradeRow] = field(default_factory=dict)
    steps: dict[str, list[Step]] = field(default_factory=dict)
    crossings: dict[str, list[Crossing]] = field(default_factory=dict)
    message_rows: list[MessageRow] = field(default_factory=list)
    blocks: dict[Chain, int] = field(default_factory=lambda: {Chain.BUSINESS: 1, Chain.PAYMENT: 1})
    down: dict[Chain, str] = field(default_factory=dict)
    refreshes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    fail_pages: bool = False

    def add(self, trade: TradeRow) -> None:
        self.rows[trade.trade_id] = trade

    def update(self, trade_id_: str, **changes: str) -> None:
        self.rows[trade_id_] = replace(self.rows[trade_id_], **changes)

    def mine(self, chain: Chain) -> None:
        self.blocks[chain] += 1

    def refresh(self) -> tuple[ChainHead, ...]:
        self.refreshes += 1
        return self.heads()

    def heads(self) -> tuple[ChainHead, ...]:
        return tuple(
            ChainHead(chain, None, None, self.down[chain])
            if chain in self.down
            else ChainHead(chain, self.blocks[chain], T0 + self.blocks[chain])
            for chain in (Chain.BUSINESS, Chain.PAYMENT)
        )

    def trades(self, query: TradeQuery) -> TradePage:
        if self.fail_pages:
            raise RuntimeError("secret internal detail 0xdeadbeef")
        rows = sorted(self.rows.values(), key=lambda r: r.proposed_block, reverse=True)
        if query.status:
            rows = [r for r in rows if r.status == query.status]
        if query.address:
            rows = [r for r in rows if query.address in (r.buyer, r.seller)]
        if query.trade_ids is not None:
            rows = [r for r in rows if r.trade_id in query.trade_ids]
        total = len(rows)
        if query.cursor:
            at = int(query.cursor.split(":")[0])
            rows = [r for r in rows if r.proposed_block < at]
        shown = rows[: query.page_size]
        more = len(rows) > query.page_size
        cursor = f"{shown[-1].proposed_block}:{shown[-1].trade_id}" if more else None
        return TradePage(tuple(shown), total, query, cursor)

    def timeline(self, trade_id_: str) -> Timeline | None:
        trade = self.rows.get(trade_id_)
        if trade is None:
            return None
        crossings = tuple(self.crossings.get(trade_id_, ()))
        waiting = [c for c in crossings if c.status != "delivered"]
        stuck = f"{waiting[0].kind} is {waiting[0].status}" if waiting else None
        return Timeline(trade, tuple(self.steps.get(trade_id_, ())), crossings, stuck)

    def trades_of_tx(self, tx: str) -> tuple[str, ...]:
        return tuple(
            sorted(t for t, steps in self.steps.items() if any(s.tx_hash == tx for s in steps))
        )

    def messages(self, limit: int = 200) -> tuple[MessageRow, ...]:
        return tuple(self.message_rows[:limit])

    def money(self, near_cap: float = 0.8) -> Money:
        wallets = (WalletUse(BUYER, 950_000, 1_000_000, 1), WalletUse(SELLER, 10_000, 1_000_000, 1))
        return Money(
            total_supply_fen=2_000_000,
            by_bank=(BankSupply("0x" + "ba" * 20, 2_000_000),),
            holds_open=1,
            holds_open_fen=150_000,
            near_caps=tuple(w for w in wallets if w.used >= near_cap),
        )
