"""The reconcile check every integration test ends with: `assert_reconciles(dep)`.

It runs `pvd.reconcile` (the independent checker of issue 6 item 8) when this tree has
it, and always runs its own read of both chains, which knows nothing of any relayer
store: every hold (token HoldPlaced logs) and every trade (registry TradeProposed logs)
is checked against TESTPLAN.md's cross-chain invariants —

- X1 a hold executed to the seller => a Delivered trade funded by that hold, with the
  same payer (buyer), payee (seller) and amount (price);
- X2 an Expired or Cancelled trade, or a hold the registry Rejected => no payment;
- X3 no hold both executed and released (one terminal log at most, matching its status);
  a trade's settlement matches its hold (Paid => Executed, Refunded => Released);
- C2 held <= balance, and C4 the open holds of each payer sum to its held balance;
- messages: every message an inbox consumed was sent by the other chain's outbox (no
  forged message took effect), and none took effect twice.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from tests.integration.harness import Deployment
from tests.integration.trades import events

TRADE_STATUS = (
    "None",
    "Proposed",
    "Accepted",
    "Funded",
    "Shipped",
    "Delivered",
    "Cancelled",
    "Expired",
    "Disputed",
)
HOLD_STATUS = ("None", "Held", "Executed", "Released")
SETTLEMENT = ("None", "Paid", "Refunded")


@dataclass(frozen=True)
class Hold:
    hold_id: bytes
    payer: str
    payee: str
    notary: str
    amount: int
    ref: bytes
    status: str
    executed: int  # HoldExecuted logs
    released: int  # HoldReleased logs


@dataclass(frozen=True)
class TradeRecord:
    trade_id: bytes
    status: str
    settlement: str
    payer: str
    payee: str
    price: int
    hold_id: bytes


def _holds(dep: Deployment) -> dict[bytes, Hold]:
    token = dep.system.payment.token
    executed = Counter(bytes(e["args"]["holdId"]) for e in events(token.events.HoldExecuted))
    released = Counter(bytes(e["args"]["holdId"]) for e in events(token.events.HoldReleased))
    holds = {}
    for placed in events(token.events.HoldPlaced):
        a = placed["args"]
        hid = bytes(a["holdId"])
        holds[hid] = Hold(
            hid,
            a["payer"],
            a["payee"],
            a["notary"],
            int(a["amount"]),
            bytes(a["ref"]),
            HOLD_STATUS[token.functions.holdStatus(hid).call()],
            executed[hid],
            released[hid],
        )
    return holds


def _trades(dep: Deployment) -> dict[bytes, TradeRecord]:
    registry = dep.system.business.registry
    trades = {}
    for proposed in events(registry.events.TradeProposed):
        tid = bytes(proposed["args"]["tradeId"])
        t = registry.functions.getTrade(tid).call()
        # ITradeRegistry.Trade: buyer, deadline, paymentDomain, seller, holdExpiry, status,
        # settlement, payer, arbitrationDeadline, payee, shippedAt, carrier, arbiter,
        # token, price, termsHash, holdId, proofOfDelivery
        trades[tid] = TradeRecord(
            tid, TRADE_STATUS[t[5]], SETTLEMENT[t[6]], t[7], t[9], int(t[14]), bytes(t[16])
        )
    return trades


def _message_violations(dep: Deployment) -> list[str]:
    problems = []
    pairs = (
        (dep.system.business.outbox, dep.system.payment.inbox, "payment"),
        (dep.system.payment.outbox, dep.system.business.inbox, "business"),
    )
    for outbox, inbox, where in pairs:
        sent = {bytes(e["args"]["messageId"]) for e in events(outbox.events.MessageSent)}
        consumed: Counter[bytes] = Counter()
        for name in ("MessageDelivered", "MessageFailed"):
            for e in events(getattr(inbox.events, name)):
                consumed[bytes(e["args"]["messageId"])] += 1
        took_effect: Counter[bytes] = Counter()
        for name in ("MessageDelivered", "MessageRetried"):
            for e in events(getattr(inbox.events, name)):
                took_effect[bytes(e["args"]["messageId"])] += 1
        for mid, count in consumed.items():
            if mid not in sent:
                problems.append(f"{where} inbox consumed 0x{mid.hex()}, never sent by an outbox")
            if count > 1:
                problems.append(f"{where} inbox consumed 0x{mid.hex()} {count} times")
        for mid, count in took_effect.items():
            if count > 1:
                problems.append(f"{where} inbox: 0x{mid.hex()} took effect {count} times")
    return problems


def chain_violations(dep: Deployment) -> list[str]:
    """Every violation of X1-X3, C2, C4 and message accounting found on the chains."""
    token, registry = dep.system.payment.token, dep.system.business.registry
    holds, trades = _holds(dep), _trades(dep)
    problems = _message_violations(dep)
    rejected = {bytes(e["args"]["holdId"]) for e in events(registry.events.PaymentHeldRejected)}
    for h in holds.values():
        name = f"hold 0x{h.hold_id.hex()[:12]}"
        if h.executed + h.released > 1:  # X3
            problems.append(f"X3: {name} executed {h.executed}x and released {h.released}x")
        expected = {"Executed": (1, 0), "Released": (0, 1), "Held": (0, 0)}.get(h.status)
        if expected is not None and (h.executed, h.released) != expected:
            problems.append(f"X3: {name} is {h.status} but has {h.executed}/{h.released} logs")
        if h.status == "Executed":  # X1
            trade = trades.get(h.ref)
            if trade is None or trade.status != "Delivered" or trade.hold_id != h.hold_id:
                problems.append(
                    f"X1: {name} was executed but trade 0x{h.ref.hex()[:12]} "
                    "is not Delivered with it"
                )
            elif (trade.payer, trade.payee, trade.price) != (h.payer, h.payee, h.amount):
                problems.append(
                    f"X1: {name} paid {h.payee} {h.amount}, "
                    f"the trade says {trade.payee} {trade.price}"
                )
            if h.hold_id in rejected:  # X2
                problems.append(f"X2: {name} was rejected by the registry but executed")
    for t in trades.values():
        name = f"trade 0x{t.trade_id.hex()[:12]}"
        funding = holds.get(t.hold_id)
        if t.status in ("Expired", "Cancelled"):  # X2
            paid = [h for h in holds.values() if h.ref == t.trade_id and h.status == "Executed"]
            if paid:
                problems.append(f"X2: {name} is {t.status} but hold(s) paid the seller")
        wanted = {"Paid": "Executed", "Refunded": "Released"}.get(t.settlement)
        if wanted is not None and (funding is None or funding.status != wanted):  # X3
            got = funding.status if funding else "missing"
            problems.append(f"X3: {name} settlement {t.settlement} but its hold is {got}")
    open_by_payer: defaultdict[str, int] = defaultdict(int)
    accounts = {dep.cast.buyer.address, dep.cast.seller.address}
    for h in holds.values():
        accounts |= {h.payer, h.payee}
        if h.status == "Held":
            open_by_payer[h.payer] += h.amount
    for account in sorted(accounts):
        held = token.functions.heldBalanceOf(account).call()
        balance = token.functions.balanceOf(account).call()
        if held > balance:  # C2
            problems.append(f"C2: {account} holds {held} of a balance of {balance}")
        if held != open_by_payer.get(account, 0):  # C4
            problems.append(
                f"C4: {account} held {held}, its open holds sum to {open_by_payer[account]}"
            )
    return problems


def pvd_reconcile_report(dep: Deployment) -> Any:
    """pvd.reconcile's report on this deployment, or None while this tree has no
    pvd.reconcile (it is being written in parallel; the chain check stands in)."""
    try:
        from pvd import reconcile  # type: ignore[attr-defined]
    except ImportError:
        return None
    return reconcile.reconcile(*reconcile.views_from_system(dep.system))


def assert_reconciles(dep: Deployment) -> None:
    """Both chains agree with each other: pvd.reconcile finds no violation (when this
    tree has it) and neither does the chain check of this module."""
    problems = chain_violations(dep)
    report = pvd_reconcile_report(dep)
    if report is not None and not report.ok:
        problems.append("pvd reconcile:\n" + report.to_text())
    assert not problems, "reconcile failed:\n" + "\n".join(problems)
