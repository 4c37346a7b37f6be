"""The reconciler's checks: pure functions from two chain snapshots to findings.

Each finding names the invariant it is about (docs/design.md's ids; docs/reconcile.md lists
them) and the offending ids. Severity says what it means:

- violation: an invariant is broken (the command exits 1);
- failed: a message was verified but its recipient reverted; it is kept on the inbox and
  anyone may retry it (L2) — reported, not a violation;
- pending: something is on its way: a message not delivered yet (with its age), a
  settlement not reported yet ("reported late");
- note: allowed but worth seeing (the residual risk of the timing rule, docs/design.md).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from pvd.protocol.messages import Kind, Message, Outcome, SettlementResult, TradeOutcome
from pvd.protocol.statuses import DeliveryStatus, HoldStatus, TradeStatus
from pvd.reconcile.state import (
    ZERO_ID,
    BusinessSnapshot,
    ChainHead,
    HoldRecord,
    InboxRecord,
    PaymentSnapshot,
    SentMessage,
    TradeRecord,
)

Ids = tuple[tuple[str, str], ...]


class Severity(StrEnum):
    VIOLATION = "violation"
    FAILED = "failed"
    PENDING = "pending"
    NOTE = "note"


@dataclass(frozen=True)
class Finding:
    """One thing the reconciler found. `key` identifies it across two readings."""

    invariant: str
    severity: Severity
    ids: Ids  # (kind, id) pairs: ("hold", "0x…"), ("trade", "0x…"), ("account", "0x…")...
    detail: str
    facts: Mapping[str, object] = field(default_factory=dict, compare=False)

    @property
    def key(self) -> tuple[str, Ids]:
        return (self.invariant, self.ids)


@dataclass(frozen=True)
class Context:
    """What the message checks ask the chains beyond the snapshots."""

    block_time: Callable[[str, int], int]  # (chain name, block) -> timestamp
    explain_error: Callable[[bytes], str]  # revert data -> "ErrorName(args)"


def hex_id(value: bytes) -> str:
    return "0x" + value.hex()


def named(**ids: str) -> Ids:
    """The offending ids of a finding, by kind, in the order given."""
    return tuple(ids.items())


def _violation(invariant: str, ids: Ids, detail: str) -> Finding:
    return Finding(invariant, Severity.VIOLATION, ids, detail)


def run_checks(p: PaymentSnapshot, b: BusinessSnapshot, context: Context) -> list[Finding]:
    """Every check, in a stable order: holds, cross-chain, accounts, messages."""
    return [
        *check_hold_lifecycle(p),
        *check_x1(p, b),
        *check_x2(p, b),
        *check_x3_settlement(p, b),
        *check_accounts(p),
        *check_messages(p, b, context),
    ]


# ------------------------------------------------------------------------ holds (C3, X3)


def check_hold_lifecycle(p: PaymentSnapshot) -> Iterator[Finding]:
    """C3 per hold (placed, its record, ended once, paid the held amount to its payee) and
    the first half of X3 (never both executed and released)."""
    for hold in p.holds.values():
        ids = named(hold=hex_id(hold.hold_id))
        if hold.placed_block < 0:
            yield _violation(
                "C3", ids, "the hold ended (HoldExecuted/HoldReleased) but was never placed"
            )
            continue
        if not hold.commitment_ok:
            yield _violation(
                "C3",
                ids,
                "the token's record does not commit to the HoldPlaced fields (checkHold reverts)",
            )
        if hold.executions and hold.releases:
            yield _violation(
                "X3", ids, f"executed {len(hold.executions)}x and released {len(hold.releases)}x"
            )
        elif problem := _status_problem(hold):
            yield _violation("C3", ids, problem)
        for payee, amount in hold.executions:
            if (payee, amount) != (hold.payee, hold.amount):
                yield _violation(
                    "C3",
                    ids,
                    f"paid {amount} to {payee}; the hold was {hold.amount} for {hold.payee}",
                )
        for amount in hold.releases:
            if amount != hold.amount:
                yield _violation("C3", ids, f"released {amount}; the hold was {hold.amount}")


def _status_problem(hold: HoldRecord) -> str | None:
    ends = len(hold.executions) + len(hold.releases)
    if ends > 1:
        return f"ended {ends} times"
    expected = {
        HoldStatus.HELD: (0, 0),
        HoldStatus.EXECUTED: (1, 0),
        HoldStatus.RELEASED: (0, 1),
    }.get(hold.status)
    seen = (len(hold.executions), len(hold.releases))
    if expected is None:
        return f"placed, but the token's status is {hold.status.name}"
    if seen != expected:
        return (
            f"the token's status is {hold.status.name} but its logs show "
            f"{seen[0]} execution(s) and {seen[1]} release(s)"
        )
    return None


def pvd_holds(p: PaymentSnapshot) -> list[HoldRecord]:
    """Holds notarised by the settlement contract: the holds of trades (ref = trade id)."""
    return [h for h in p.holds.values() if h.notary == p.settlement and h.placed_block >= 0]


# ---------------------------------------------------------------------------- X1, X2, X3


def check_x1(p: PaymentSnapshot, b: BusinessSnapshot) -> Iterator[Finding]:
    """X1: a hold executed to the seller implies a Delivered trade with matching
    payer (the buyer's payment address), payee (the seller's), amount, token and hold."""
    for hold in pvd_holds(p):
        if not hold.executed:
            continue
        problems = _x1_problems(hold, b.trades.get(hold.ref), p)
        if problems:
            yield _violation(
                "X1",
                named(hold=hex_id(hold.hold_id), trade=hex_id(hold.ref)),
                f"hold executed ({hold.amount} to {hold.payee}) but " + "; ".join(problems),
            )


def _x1_problems(hold: HoldRecord, trade: TradeRecord | None, p: PaymentSnapshot) -> list[str]:
    if trade is None:
        return ["no trade has this id on the business chain"]
    problems = (
        [] if trade.status is TradeStatus.DELIVERED else [f"the trade is {trade.status.name}"]
    )
    if trade.hold_id != hold.hold_id:
        funded = (
            "was never funded"
            if trade.hold_id == ZERO_ID
            else f"is funded by {hex_id(trade.hold_id)}"
        )
        problems.append(f"the trade {funded}")
    return problems + _term_mismatches(hold, trade, p)


def _term_mismatches(hold: HoldRecord, trade: TradeRecord, p: PaymentSnapshot) -> list[str]:
    pairs = (
        ("payer", hold.payer, trade.payer),
        ("payee", hold.payee, trade.payee),
        ("amount", hold.amount, trade.price),
        ("token", p.token, trade.token),
        ("payment domain", p.head.domain_id, trade.payment_domain),
    )
    return [
        f"{name} {ours} != the trade's {theirs}" for name, ours, theirs in pairs if ours != theirs
    ]


def check_x2(p: PaymentSnapshot, b: BusinessSnapshot) -> Iterator[Finding]:
    """X2: an expired, rejected or cancelled trade implies no payment to the seller for
    that trade's reference."""
    by_ref: dict[bytes, list[HoldRecord]] = defaultdict(list)
    for hold in pvd_holds(p):
        by_ref[hold.ref].append(hold)
    for trade in b.trades.values():
        if trade.status not in (TradeStatus.EXPIRED, TradeStatus.CANCELLED):
            continue
        for hold in by_ref.get(trade.trade_id, []):
            if hold.executed:
                yield _violation(
                    "X2",
                    named(trade=hex_id(trade.trade_id), hold=hex_id(hold.hold_id)),
                    f"the trade is {trade.status.name} but its hold paid {hold.amount} "
                    f"to {hold.payee}",
                )
    for sent in b.sent.values():
        outcome = _rejection(sent, b.registry)
        hold_or_none = p.holds.get(outcome.hold_id) if outcome else None
        if outcome and hold_or_none and hold_or_none.executed:
            yield _violation(
                "X2",
                named(trade=hex_id(outcome.trade_id), hold=hex_id(outcome.hold_id)),
                f"the registry rejected this hold (message {hex_id(sent.id)}) but it paid "
                f"{hold_or_none.amount} to {hold_or_none.payee}",
            )


def _rejection(sent: SentMessage, registry: str) -> TradeOutcome | None:
    message = sent.message
    if message.kind != Kind.TRADE_OUTCOME or message.source_app != registry:
        return None
    body = message.decoded_body()
    if isinstance(body, TradeOutcome) and body.outcome is Outcome.REJECTED:
        return body
    return None


def check_x3_settlement(p: PaymentSnapshot, b: BusinessSnapshot) -> Iterator[Finding]:
    """X3 (second half): a trade's settlement matches its hold — Paid ⇔ executed,
    Refunded ⇔ released, None while the hold is open; a hold that ended but whose
    settlement is not reported yet is pending, not a violation."""
    for trade in b.trades.values():
        yield from _trade_settlement(trade, p)


def _trade_settlement(trade: TradeRecord, p: PaymentSnapshot) -> Iterator[Finding]:
    ids = named(trade=hex_id(trade.trade_id), hold=hex_id(trade.hold_id))
    settlement = SettlementResult(trade.settlement)
    if trade.hold_id == ZERO_ID:
        if settlement is not SettlementResult.NONE:
            yield _violation(
                "X3", ids, f"settlement {settlement.name} but the trade was never funded"
            )
        return
    hold = p.holds.get(trade.hold_id)
    if hold is None or hold.placed_block < 0:
        yield _violation("X3", ids, "the trade is funded by a hold the token never recorded")
        return
    if mismatches := _term_mismatches(hold, trade, p) + _hold_names_trade(hold, trade, p):
        yield _violation(
            "X3", ids, "the funding hold differs from the trade: " + "; ".join(mismatches)
        )
    yield from _settlement_vs_hold(trade, hold, settlement, ids)


def _hold_names_trade(hold: HoldRecord, trade: TradeRecord, p: PaymentSnapshot) -> list[str]:
    problems = [] if hold.ref == trade.trade_id else [f"the hold's ref is {hex_id(hold.ref)}"]
    if hold.notary != p.settlement:
        problems.append(f"the hold's notary {hold.notary} is not the settlement {p.settlement}")
    return problems


def _settlement_vs_hold(
    trade: TradeRecord, hold: HoldRecord, settlement: SettlementResult, ids: Ids
) -> Iterator[Finding]:
    state = "executed" if hold.executed else "released" if hold.released else hold.status.name
    if settlement is SettlementResult.NONE:
        if hold.executed or hold.released:
            yield Finding(
                "X3", Severity.PENDING, ids, f"hold {state}; the settlement is not reported yet"
            )
    elif settlement is SettlementResult.PAID and (not hold.executed or hold.released):
        yield _violation("X3", ids, f"settlement Paid but the hold is {state}")
    elif settlement is SettlementResult.REFUNDED and (not hold.released or hold.executed):
        yield _violation("X3", ids, f"settlement Refunded but the hold is {state}")
    if trade.status is TradeStatus.DELIVERED and hold.released and not hold.executed:
        yield Finding(
            "RISK",
            Severity.NOTE,
            ids,
            "delivered but refunded: the hold was released (at or after its expiry) before the "
            "Delivered outcome could execute it — the residual risk of the timing rule "
            "(docs/design.md)",
        )


# ------------------------------------------------------------------ accounts (C1, C2, C4)


def check_accounts(p: PaymentSnapshot) -> Iterator[Finding]:
    """C2 held ≤ balance for every account that appears; C4 per payer the open holds
    (HoldPlaced amounts of holds the token says are Held) sum to heldBalanceOf; C1 the
    balances of every account that ever appeared sum to totalSupply."""
    open_holds: dict[str, list[HoldRecord]] = defaultdict(list)
    for hold in p.holds.values():
        if hold.status is HoldStatus.HELD and hold.placed_block >= 0:
            open_holds[hold.payer].append(hold)
    for account in p.accounts.values():
        if account.held > account.balance:
            yield _violation(
                "C2",
                named(account=account.address),
                f"held {account.held} > balance {account.balance}",
            )
        holds = open_holds.get(account.address, [])
        expected = sum(h.amount for h in holds)
        if account.held != expected:
            yield Finding(
                "C4",
                Severity.VIOLATION,
                named(account=account.address),
                f"heldBalanceOf is {account.held} but its {len(holds)} open hold(s) "
                f"sum to {expected}",
                {"open_holds": [hex_id(h.hold_id) for h in holds]},
            )
    total = sum(a.balance for a in p.accounts.values())
    if total != p.total_supply:
        yield _violation(
            "C1",
            named(token=p.token),
            f"totalSupply {p.total_supply} != the sum of balances {total}",
        )


# ----------------------------------------------------------------- messages (M1, L2, C6)


def check_messages(p: PaymentSnapshot, b: BusinessSnapshot, context: Context) -> Iterator[Finding]:
    """Every message sent is delivered, visibly pending (M1, with its age) or failed (L2);
    every id an inbox consumed was sent by the other chain's outbox and stays consumed (C6)."""
    yield from _direction(p.head, p.sent, b.head, b.inbox, context)
    yield from _direction(b.head, b.sent, p.head, p.inbox, context)
    yield from _consumed_unsent(b.head, b.inbox, p.head, p.sent)
    yield from _consumed_unsent(p.head, p.inbox, b.head, b.sent)


def _direction(
    source: ChainHead,
    sent: Mapping[bytes, SentMessage],
    destination: ChainHead,
    inbox: Mapping[bytes, InboxRecord],
    context: Context,
) -> Iterator[Finding]:
    route = f"{source.name}→{destination.name}"
    for message in sent.values():
        ids = named(message=hex_id(message.id))
        what = describe(message.message)
        if message.message.destination_domain != destination.domain_id:
            yield Finding(
                "M1",
                Severity.NOTE,
                ids,
                f"{what} sent to domain {message.message.destination_domain}, neither chain here",
            )
            continue
        record = inbox.get(message.id)
        if record is None:
            yield _pending(route, message, what, source, destination, context)
        elif record.status is DeliveryStatus.FAILED:
            reasons = (
                ", ".join(context.explain_error(r) for r in record.failures) or "no reason kept"
            )
            yield Finding(
                "L2",
                Severity.FAILED,
                ids,
                f"{route} {what}: verified but failed on the {destination.name} inbox ({reasons}); "
                "anyone may retry it",
                {"failed_block": record.block, "attempts": len(record.failures)},
            )


def _pending(
    route: str,
    message: SentMessage,
    what: str,
    source: ChainHead,
    destination: ChainHead,
    context: Context,
) -> Finding:
    age = source.timestamp - context.block_time(source.name, message.block)
    detail = f"{route} {what}: sent {age} s ago (block {message.block}), not delivered yet"
    body = message.message.decoded_body()
    if (
        isinstance(body, TradeOutcome)
        and body.outcome is Outcome.DELIVERED
        and body.expiry <= destination.timestamp
    ):
        detail += "; the hold has expired, so it will be refunded (residual risk: docs/design.md)"
    return Finding(
        "M1",
        Severity.PENDING,
        named(message=hex_id(message.id)),
        detail,
        {
            "sent_block": message.block,
            "age_seconds": age,
            "age_blocks": source.block - message.block,
        },
    )


def _consumed_unsent(
    inbox_head: ChainHead,
    inbox: Mapping[bytes, InboxRecord],
    outbox_head: ChainHead,
    sent: Mapping[bytes, SentMessage],
) -> Iterator[Finding]:
    for record in inbox.values():
        ids = named(message=hex_id(record.message_id))
        if record.message_id not in sent:
            yield _violation(
                "C6",
                ids,
                f"the {inbox_head.name} inbox consumed a message ({record.status.name}) that the "
                f"{outbox_head.name} outbox never sent: a forged or foreign quorum-signed message",
            )
        if record.status is DeliveryStatus.NONE:
            yield _violation(
                "C6",
                ids,
                f"the {inbox_head.name} inbox logged a delivery of this id but its record is None: "
                "it could be delivered again",
            )


def describe(message: Message) -> str:
    """A short human description: kind, outcome/result and trade id."""
    try:
        body = message.decoded_body()
    except ValueError:
        return f"kind {int(message.kind)} message"
    detail = ""
    if isinstance(body, TradeOutcome):
        detail = f" {body.outcome.name.title()}"
    elif hasattr(body, "result"):
        detail = f" {body.result.name.title()}"
    return f"{Kind(message.kind).name}{detail} for trade {hex_id(body.trade_id)}"
