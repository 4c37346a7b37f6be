"""Stateful test of the trade lifecycle (C7, with C5 for every refused call).

Random sequences of every registry action — propose, accept, cancel, PAYMENT_HELD (matching
or not), ship, confirm (buyer or carrier), dispute, arbiter ruling, expire, PAYMENT_SETTLED,
calls by a stranger, and waiting — each at an exact block time the machine chooses
(deadlines 1..60 s ahead, 0..5 s between calls, waits of up to 240 s, so boundary seconds
are hit). `rule_advance` (weighted three times) takes a trade one step along the happy path
so that examples reach shipment and delivery. A plain Python model predicts whether each
call must succeed and what it leaves behind; a refused call must change nothing.
Independently of the model, the invariants check C7 on what the chain did:

- Delivered and Expired are terminal and exclusive: the first terminal status seen never
  changes, and a funded trade sends at most one Delivered-or-Expired outcome, matching it;
- the parties confirmed delivery only up to the deadline, the arbiter only up to the
  arbitration deadline (timestamps of the transactions that delivered);
- the settlement (Paid | Refunded) is set once;
- the bill of lading is outstanding exactly while a shipped trade is open.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar

from brownie import chain, web3
from brownie.exceptions import VirtualMachineError
from brownie.test import strategy
from eth_utils import keccak

from tests.contracts.fixtures.trade import (
    OUTCOME,
    PAYMENT_DOMAIN,
    PAYMENT_HELD,
    PAYMENT_SETTLED,
    PRICE,
    SAFETY_WINDOW,
    SETTLEMENT,
    SETTLEMENT_APP,
    STATUS,
    ZERO,
    Terms,
    h32,
    hold_id,
    labelled_address,
    payment_held_body,
    payment_settled_body,
    set_next_block_time,
)

log = logging.getLogger(__name__)

# Enough for a planted bug (the buyer may confirm after the deadline) to be found from a
# fresh start (no example database) in each of the runs recorded in docs/trade.md "Testing".
SETTINGS = {"max_examples": 60, "stateful_step_count": 40, "database": None}
MAX_TRADES = 3
OPEN = {"Proposed", "Accepted", "Funded", "Shipped", "Disputed"}
TERMINAL = {"Delivered", "Expired", "Cancelled"}
NAMES = {value: name for name, value in STATUS.items()}
OTHER_PAYER = labelled_address("a payer the trade does not name")


@dataclass
class ModelTrade:
    """What the model expects of one trade (mutable: it is the model's running state)."""

    id: str
    terms: Terms
    status: str = "Proposed"
    hold: str | None = None
    shipped: bool = False
    settlement: str = "None"

    @property
    def has_arbiter(self) -> bool:
        return self.terms.arbiter != ZERO


@dataclass
class Observed:
    """What the chain did, recorded from receipts whatever the model predicted."""

    deliveries: list[tuple[int, str]] = field(default_factory=list)  # (timestamp, by)
    final_outcomes: list[int] = field(default_factory=list)  # Delivered / Expired sent
    first_terminal: str | None = None
    first_settlement: int = 0


class TradeLifecycle:
    st_step = strategy("uint8", max_value=5)
    st_wait = strategy("uint16", max_value=240)
    st_index = strategy("uint8")
    st_window = strategy("uint8", min_value=1, max_value=60)
    st_gap = strategy("uint8", max_value=60)
    st_flag = strategy("bool")
    st_role = strategy("uint8", max_value=2)
    st_action = strategy("uint8", max_value=6)

    reached: ClassVar[Counter[str]] = Counter()

    def __init__(cls, registry, mailbox, bill, deployer, buyer, seller, carrier, arbiter, stranger):
        cls.registry = registry
        cls.mailbox = mailbox
        cls.bill = bill
        cls.deployer = deployer
        cls.buyer = buyer
        cls.seller = seller
        cls.carrier = carrier
        cls.arbiter = arbiter
        cls.stranger = stranger

    def setup(self) -> None:
        self.trades: list[ModelTrade] = []
        self.observed: dict[str, Observed] = {}
        self.now = int(chain[-1].timestamp)

    # ------------------------------------------------------------------ helpers

    def _pick(self, index: int) -> ModelTrade:
        return self.trades[index % len(self.trades)]

    def _at(self, step: int) -> int:
        self.now += step
        set_next_block_time(self.now)
        return self.now

    def _attempt(self, call: Any, *args: Any) -> Any:
        """Send a transaction; return its receipt, or None if it reverted (a reverted
        transaction is mined on anvil, at the block time set for it)."""
        try:
            return call(*args)
        except VirtualMachineError:
            return None

    def _record(self, trade: ModelTrade, tx: Any) -> None:
        sent = tx.events["OutcomeSent"] if "OutcomeSent" in tx.events else []  # noqa: SIM401 (brownie EventDict)
        for event in sent:
            final = event["outcome"] in (OUTCOME["Delivered"], OUTCOME["Expired"])
            if final and str(event["tradeId"]) == trade.id:
                self.observed[trade.id].final_outcomes.append(int(event["outcome"]))
        if "TradeDelivered" in tx.events:
            by = str(tx.events["TradeDelivered"]["confirmedBy"])
            self.observed[trade.id].deliveries.append((int(tx.timestamp), by))

    def _expect(
        self, trade: ModelTrade, ok: bool, tx: Any, before: tuple[Any, ...], what: str
    ) -> None:
        """The call succeeded iff the model allows it; a refused call changed nothing (C5)."""
        if ok:
            assert tx is not None, f"{what} at {self.now} refused, model allows it: {trade}"
            self._record(trade, tx)
        else:
            assert tx is None, f"{what} at {self.now} went through, model forbids it: {trade}"
            assert tuple(self.registry.getTrade(trade.id)) == before, f"{what}: refused but changed"

    def _snapshot(self, trade: ModelTrade) -> tuple[Any, ...]:
        return tuple(self.registry.getTrade(trade.id))

    def _deliver_message(self, kind: int, body: bytes) -> Any:
        return self.mailbox.deliver(
            self.registry, PAYMENT_DOMAIN, SETTLEMENT_APP, kind, body, {"from": self.deployer}
        )

    # ------------------------------------------------------------------ actions
    # Each sends one call at now + step, predicts from the model whether it must succeed,
    # checks that (a refused call changed nothing) and moves the model on.

    def _propose(self, window: int, gap: int, with_arbiter: bool, step: int) -> None:
        t = self._at(step)
        deadline = t + window
        terms = Terms(
            seller=self.seller.address,
            payer=labelled_address("buyer on the payment chain"),
            payee=labelled_address("seller on the payment chain"),
            carrier=self.carrier.address,
            arbiter=self.arbiter.address if with_arbiter else ZERO,
            token=labelled_address("payment token"),
            price=PRICE,
            terms_hash=keccak(text="terms"),
            deadline=deadline,
            hold_expiry=deadline + SAFETY_WINDOW + gap,
            arbitration_deadline=deadline + gap if with_arbiter else 0,
        )
        tx = self.registry.propose(terms.as_tuple(), {"from": self.buyer})
        trade = ModelTrade(id=str(tx.return_value), terms=terms)
        self.trades.append(trade)
        self.observed[trade.id] = Observed()

    def _accept(self, trade: ModelTrade, caller: Any, step: int) -> None:
        before = self._snapshot(trade)
        t = self._at(step)
        ok = caller == self.seller and trade.status == "Proposed" and t <= trade.terms.deadline
        tx = self._attempt(self.registry.accept, trade.id, {"from": caller})
        self._expect(trade, ok, tx, before, "accept")
        if ok:
            trade.status = "Accepted"

    def _cancel(self, trade: ModelTrade, caller: Any, step: int) -> None:
        before = self._snapshot(trade)
        self._at(step)
        ok = caller != self.stranger and trade.status in ("Proposed", "Accepted")
        tx = self._attempt(self.registry.cancel, trade.id, {"from": caller})
        self._expect(trade, ok, tx, before, "cancel")
        if ok:
            trade.status = "Cancelled"

    def _payment_held(self, trade: ModelTrade, matching: bool, step: int) -> None:
        payer = trade.terms.payer if matching else OTHER_PAYER
        hold = hold_id(payer, SETTLEMENT_APP, h32(trade.id))
        before = self._snapshot(trade)
        sent = self.mailbox.sentCount()
        t = self._at(step)
        tx = self._deliver_message(
            PAYMENT_HELD, payment_held_body(trade.id, trade.terms, payer=payer)
        )
        # Never refused: funded, answered Rejected, or (the funding hold again) ignored. An
        # Expired trade's funding hold was released by its outcome: the same id announced
        # again is a new placement, answered Rejected.
        if hold == trade.hold and trade.status != "Expired":
            assert "PaymentHeldDuplicate" in tx.events
            assert self.mailbox.sentCount() == sent
            assert self._snapshot(trade) == before
        elif matching and trade.status == "Accepted" and t <= trade.terms.deadline:
            assert "TradeFunded" in tx.events, f"matching hold at {t} not funded: {trade}"
            trade.status, trade.hold = "Funded", hold
        else:
            assert "PaymentHeldRejected" in tx.events, f"hold at {t} not rejected: {trade}"
            assert tx.events["OutcomeSent"]["outcome"] == OUTCOME["Rejected"]
            assert self.mailbox.sentCount() == sent + 1
            assert self._snapshot(trade) == before

    def _ship(self, trade: ModelTrade, caller: Any, step: int) -> None:
        before = self._snapshot(trade)
        t = self._at(step)
        ok = caller == self.seller and trade.status == "Funded" and t <= trade.terms.deadline
        tx = self._attempt(self.registry.ship, trade.id, keccak(text="bill"), {"from": caller})
        self._expect(trade, ok, tx, before, "ship")
        if ok:
            trade.status, trade.shipped = "Shipped", True

    def _confirm(self, trade: ModelTrade, by_buyer: bool, step: int) -> None:
        before = self._snapshot(trade)
        t = self._at(step)
        ok = trade.status == "Shipped" and t <= trade.terms.deadline
        if by_buyer:
            tx = self._attempt(self.registry.confirmDelivery, trade.id, {"from": self.buyer})
        else:
            proof = keccak(text="proof of delivery")
            tx = self._attempt(
                self.registry.confirmDeliveryByCarrier, trade.id, proof, {"from": self.carrier}
            )
        self._expect(trade, ok, tx, before, "confirm")
        if ok:
            trade.status = "Delivered"

    def _dispute(self, trade: ModelTrade, caller: Any, step: int) -> None:
        before = self._snapshot(trade)
        t = self._at(step)
        ok = (
            trade.status in ("Funded", "Shipped")
            and t <= trade.terms.deadline
            and trade.has_arbiter
        )
        tx = self._attempt(self.registry.openDispute, trade.id, {"from": caller})
        self._expect(trade, ok, tx, before, "dispute")
        if ok:
            trade.status = "Disputed"

    def _resolve(self, trade: ModelTrade, delivered: bool, step: int) -> None:
        ruling = OUTCOME["Delivered"] if delivered else OUTCOME["Expired"]
        before = self._snapshot(trade)
        t = self._at(step)
        ok = trade.status == "Disputed" and t <= trade.terms.arbitration_deadline
        tx = self._attempt(self.registry.resolveDispute, trade.id, ruling, {"from": self.arbiter})
        self._expect(trade, ok, tx, before, "resolve")
        if ok:
            trade.status = "Delivered" if delivered else "Expired"

    def _expire(self, trade: ModelTrade, step: int) -> None:
        before = self._snapshot(trade)
        t = self._at(step)
        if trade.status == "Disputed":
            ok = t > trade.terms.arbitration_deadline
        else:
            ok = trade.status in OPEN and t > trade.terms.deadline
        tx = self._attempt(self.registry.expire, trade.id, {"from": self.stranger})
        self._expect(trade, ok, tx, before, "expire")
        if ok:
            trade.status = "Expired"

    def _payment_settled(
        self, trade: ModelTrade, paid: bool, funding_hold: bool, step: int
    ) -> None:
        hold = trade.hold if (trade.hold and funding_hold) else "0x" + "ab" * 32
        result = "Paid" if paid else "Refunded"
        self._at(step)
        body = payment_settled_body(trade.id, hold, SETTLEMENT[result], PRICE)
        tx = self._deliver_message(PAYMENT_SETTLED, body)
        if hold == trade.hold and trade.settlement == "None":
            assert "TradeSettled" in tx.events
            trade.settlement = result
        else:
            assert "PaymentSettledIgnored" in tx.events
            assert "TradeSettled" not in tx.events

    # ------------------------------------------------------------------ rules

    def initialize_trade(self, st_window, st_gap, st_flag) -> None:
        """Every example starts with one proposed trade."""
        self._propose(st_window, st_gap, st_flag, 0)

    def rule_propose(self, st_window, st_gap, st_flag, st_step) -> None:
        if len(self.trades) < MAX_TRADES:
            self._propose(st_window, st_gap, st_flag, st_step)

    def rule_advance(self, st_index, st_step) -> None:
        """The next happy-path step by the right actor, so examples reach deep states; it is
        still checked against the model (it may come too late)."""
        trade = self._pick(st_index)
        if trade.status == "Proposed":
            self._accept(trade, self.seller, st_step)
        elif trade.status == "Accepted":
            self._payment_held(trade, True, st_step)
        elif trade.status == "Funded":
            self._ship(trade, self.seller, st_step)
        elif trade.status == "Shipped":
            self._confirm(trade, True, st_step)
        elif trade.status == "Disputed":
            self._resolve(trade, True, st_step)
        else:
            self._payment_settled(trade, trade.status == "Delivered", True, st_step)

    # hypothesis has no rule weights: two more copies make the guided step three times as
    # likely as any other rule.
    def rule_advance_again(self, st_index, st_step) -> None:
        self.rule_advance(st_index, st_step)

    def rule_advance_once_more(self, st_index, st_step) -> None:
        self.rule_advance(st_index, st_step)

    def rule_unauthorised(self, st_index, st_step, st_action) -> None:
        """A stranger tries a party's, the carrier's or the arbiter's call: always refused."""
        trade = self._pick(st_index)
        before = self._snapshot(trade)
        self._at(st_step)
        call, args = [
            (self.registry.accept, ()),
            (self.registry.ship, (keccak(text="bill"),)),
            (self.registry.confirmDelivery, ()),
            (self.registry.confirmDeliveryByCarrier, (keccak(text="proof"),)),
            (self.registry.openDispute, ()),
            (self.registry.resolveDispute, (OUTCOME["Delivered"],)),
            (self.registry.cancel, ()),
        ][st_action]
        tx = self._attempt(call, trade.id, *args, {"from": self.stranger})
        self._expect(trade, False, tx, before, f"{call.abi['name']} by a stranger")

    def rule_cancel(self, st_index, st_step, st_role) -> None:
        caller = (self.buyer, self.seller, self.stranger)[st_role]
        self._cancel(self._pick(st_index), caller, st_step)

    def rule_payment_held(self, st_index, st_step, st_flag) -> None:
        """A matching hold (st_flag) or one by a payer the trade does not name."""
        self._payment_held(self._pick(st_index), st_flag, st_step)

    def rule_confirm(self, st_index, st_step, st_flag) -> None:
        """The buyer confirms receipt (st_flag) or the carrier records a proof."""
        self._confirm(self._pick(st_index), st_flag, st_step)

    def rule_dispute(self, st_index, st_step, st_flag) -> None:
        """The buyer (st_flag) or the seller opens a dispute."""
        self._dispute(self._pick(st_index), self.buyer if st_flag else self.seller, st_step)

    def rule_resolve(self, st_index, st_step, st_flag) -> None:
        """The arbiter rules Delivered (st_flag) or Expired."""
        self._resolve(self._pick(st_index), st_flag, st_step)

    def rule_expire(self, st_index, st_step) -> None:
        self._expire(self._pick(st_index), st_step)

    def rule_payment_settled(self, st_index, st_step, st_flag, st_role) -> None:
        """Paid (st_flag) or Refunded, for the funding hold or (st_role == 0) another one."""
        self._payment_settled(self._pick(st_index), st_flag, st_role != 0, st_step)

    def rule_wait(self, st_wait) -> None:
        """Let time pass (a block at now + st_wait): crosses deadlines."""
        self.now += st_wait
        set_next_block_time(self.now)
        web3.provider.make_request("evm_mine", [])

    # ------------------------------------------------------------------ invariants

    def invariant_c7(self) -> None:
        """C7 on what the chain did; and the chain agrees with the model."""
        for trade in self.trades:
            record = self.registry.getTrade(trade.id)
            status = NAMES[int(record[5])]
            settlement = int(record[6])
            seen = self.observed[trade.id]

            # The model (every transition and refusal) agrees with the chain.
            assert status == trade.status, f"{trade.id}: chain {status}, model {trade.status}"
            assert settlement == SETTLEMENT[trade.settlement]
            assert str(record[16]) == (trade.hold or "0x" + "00" * 32)

            # Delivered and Expired (and Cancelled) are terminal; Delivered/Expired exclusive.
            if seen.first_terminal is not None:
                assert status == seen.first_terminal, (
                    f"{trade.id}: left terminal {seen.first_terminal}"
                )
            elif status in TERMINAL:
                seen.first_terminal = status
            assert len(seen.final_outcomes) <= 1, f"{trade.id}: outcomes {seen.final_outcomes}"
            if seen.final_outcomes:
                assert status == (
                    "Delivered" if seen.final_outcomes[0] == OUTCOME["Delivered"] else "Expired"
                )
            if trade.hold and status in ("Delivered", "Expired"):
                assert len(seen.final_outcomes) == 1
            assert len(seen.deliveries) == (1 if status == "Delivered" else 0)

            # Parties confirm up to the deadline, the arbiter up to the arbitration deadline.
            for timestamp, by in seen.deliveries:
                if by == self.arbiter.address:
                    assert timestamp <= trade.terms.arbitration_deadline
                else:
                    deadline = trade.terms.deadline
                    assert timestamp <= deadline, f"{trade.id}: delivered by {by} at {timestamp}"

            # Settlement is set once.
            if seen.first_settlement:
                assert settlement == seen.first_settlement
            seen.first_settlement = settlement

            # The bill is outstanding exactly while a shipped trade is open.
            outstanding = self.bill.isOutstanding(trade.id)
            assert outstanding == (trade.shipped and status in ("Shipped", "Disputed"))

    def teardown(self) -> None:
        for trade in self.trades:
            type(self).reached[trade.status] += 1
            type(self).reached["settled " + trade.settlement] += 1

    def teardown_final(cls) -> None:
        log.info("trade statuses at the end of the examples: %s", dict(cls.reached))


def test_trade_lifecycle(
    interpreted_state_machine,
    registry,
    mailbox,
    bill,
    deployer,
    buyer,
    seller,
    carrier,
    arbiter,
    stranger,
):
    interpreted_state_machine(
        TradeLifecycle,
        registry,
        mailbox,
        bill,
        deployer,
        buyer,
        seller,
        carrier,
        arbiter,
        stranger,
        settings=SETTINGS,
    )
