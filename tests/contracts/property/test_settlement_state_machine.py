"""Stateful test of the whole settlement on one chain (docs/design.md: X1, X2, X3, L1,
C1, C2, C4, C5, C7, and "nothing is stuck forever").

YuanToken and PvdSettlement stand on the payment domain (1), TradeRegistry and its bill of
lading on the business domain (2); two MockMailboxes connect them without attesters, and
their `deliverNext()` is the relayer. Random sequences of every party's action: propose and
accept trades with random prices and windows, cancel, place a hold (directly then announce,
or by the buyer's signature through placeHoldAndAnnounce; matching the trade or not), relay
the next message either way or leave the relayer down for a while, ship, confirm delivery
(buyer or carrier), expire, let time pass (past deadlines and hold expiries), release an
expired hold with no relayer, pause the token, freeze the seller or a buyer. A few rules
aim at the interesting interleavings: compliance steps in at payout time (the outcome is
refused, stays queued, and the retry pays), a relayer outage beyond the hold's expiry (the
late Delivered outcome is answered Refunded and flagged), a deadline passing undelivered,
and everyone recovering (afterwards nothing may be open, held, queued or unsettled).

Every transaction runs at a block time the machine chooses (evm_setNextBlockTimestamp), so a
plain Python model predicts each step exactly: the custom error of a refused call, or the
messages (envelope and body, hence their ids), events, balances, hold statuses and trade
records of a passing one.

Invariants after every step, read from the chain in one JSON-RPC batch. hypothesis runs
them in name order: the chain-only ones first, so that a broken property is reported by its
id before the model's own comparison (`invariant_y`) and the liveness check (`invariant_z`):
  C1   total supply = Σ balances of every holder; the settlement holds nothing;
  C2   held ≤ balance for every holder;
  C4   per payer, Σ of its open holds, hold by hold, = heldBalanceOf;
  C5   a refused call changed no storage of any contract (token, settlement, registry,
       bill, both mailboxes);
  C7   Delivered and Expired are terminal and exclusive: a trade's first terminal status
       never changes, and a funded trade sends at most one Delivered-or-Expired outcome,
       matching its status;
  L1   every open hold past its expiry can be released by a stranger right now (eth_call),
       whatever the pause and freeze state, with no relayer;
  X1   a trade is funded only by a hold matching it (payer, payee, amount, expiry); every
       hold executed (on-chain status and HoldExecuted events) is the funding hold of a
       Delivered trade with payer = the trade's payer, payee = its payee, amount = price;
  X2   no Expired or Cancelled trade, and no rejected hold, has paid the seller;
  X3   no placement of a hold was both executed and released (events: an id is executed at
       most once and ends at most once per placement; only a released id is placed again),
       and a trade whose PAYMENT_SETTLED arrived is Paid iff its hold is Executed, Refunded
       iff Released.

The mock mailbox delivers strictly in order and a recipient's revert bubbles (the message
stays queued): a Delivered outcome refused by a paused token or a frozen party is stuck at
the head of the payment chain's queue and retried by the next relay step. The real Inbox
keeps it as verified-but-failed instead and delivers the others (L2: the bridge's tests).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar

from brownie import chain, web3
from brownie.exceptions import TransactionError, VirtualMachineError
from eth_utils import keccak
from hypothesis import strategies as st

from pvd.protocol.messages import (
    Message,
    Outcome,
    PaymentHeld,
    PaymentSettled,
    SettlementResult,
    TradeOutcome,
)
from tests.contracts.fixtures.bridge import BUSINESS_DOMAIN, PAYMENT_DOMAIN
from tests.contracts.fixtures.settlement import (
    MOCK_SAFETY_WINDOW,
    TRADE_FIELDS,
    TRADE_TYPES,
    View,
    call_errors,
    read_views,
    receipt_after_dropped_race,
    sent_messages,
    storage_roots,
)
from tests.contracts.fixtures.token import (
    CLASS_I,
    DEFAULT_CAPS,
    EXECUTED,
    HELD,
    MAX_HOLD_DURATION,
    RELEASED,
    YUAN,
    Hold,
    sign_hold,
    wallet_key,
)
from tests.contracts.fixtures.token import hold_id as token_hold_id
from tests.contracts.fixtures.trade import STATUS, ZERO, err, h32, set_next_block_time

log = logging.getLogger(__name__)

# 60 examples of up to 40 steps: 25-45 s on two shared cores (the first few examples are
# short). derandomize: the same sequences on every run (CI), drawn from a fixed seed.
SETTINGS = {"max_examples": 60, "stateful_step_count": 40, "derandomize": True, "database": None}
MAX_OPEN_TRADES = 3  # at most this many trades not yet terminal
MAX_TRADES = 6  # in all, per example
STATUS_NAME = {value: name for name, value in STATUS.items()}
SETTLEMENT_NAME = {0: "None", 1: "Paid", 2: "Refunded"}
REJECT_REASON = {"UnknownTrade": 1, "NotAccepted": 2, "TermsMismatch": 3, "DeadlinePassed": 4}
IGNORED_REASON = {"UnknownTrade": 1, "HoldMismatch": 2, "AlreadySettled": 3}
OPEN = ("Proposed", "Accepted", "Funded", "Shipped")
TERMINAL = ("Delivered", "Expired", "Cancelled")
AUTHORIZATION_WINDOW = 3_600  # validBefore of a signed hold, from its submission


def _event(tx: Any, name: str) -> Any:
    """The first event `name` of a receipt, or None."""
    return tx.events[name][0] if name in tx.events else None


def _text(trade_id: str, record: dict[str, Any]) -> str:
    """A trade record in a line: id, status/settlement, payer -> payee, price, times."""
    return (
        f"{trade_id[:10]} {STATUS_NAME[record['status']]}/"
        f"{SETTLEMENT_NAME[record['settlement']]} {record['payer'][:8]}->"
        f"{record['payee'][:8]} price {record['price']} deadline {record['deadline']} "
        f"hold expiry {record['holdExpiry']} hold {record['holdId'].hex()[:8]}"
    )


def hexid(value: Any) -> str:
    """A bytes32 (bytes, HexBytes or hex string) as lower-case 0x-hex: the model's trade key."""
    return "0x" + h32(value).hex()


@dataclass
class ModelTrade:
    """What the model expects of one trade (mutable: the machine's running state). The
    trade's payer is its buyer and its payee the seller (one chain: same addresses)."""

    id: str
    buyer: str
    price: int
    deadline: int
    hold_expiry: int
    status: str = "Proposed"
    hold: bytes | None = None  # the funding hold's id, as the registry records it
    funding: Hold | None = None  # the placement that funded it (its id may be placed again)
    funding_placement: int = 0  # which placement of that id funded it (1 = the first)
    settlement: str = "None"

    @property
    def ref(self) -> bytes:
        return h32(self.id)


@dataclass
class ModelHold:
    """A hold placed with the settlement as notary, and what became of it."""

    hold: Hold
    status: int = HELD
    announced: bool = False
    rejected: bool = False  # the registry answered its PAYMENT_HELD with Rejected


@dataclass
class Observed:
    """What the chain did, from the receipts of every passing step, whatever the model said."""

    executed: Counter[bytes] = field(default_factory=Counter)
    released: Counter[bytes] = field(default_factory=Counter)
    payouts: list[tuple[bytes, str, str, int]] = field(default_factory=list)
    final_outcomes: dict[str, list[int]] = field(default_factory=dict)  # trade -> outcomes
    first_terminal: dict[str, str] = field(default_factory=dict)
    flagged: list[str] = field(default_factory=list)  # DeliveredAfterRefund trade ids


class WholeSettlement:
    """Rules take small integers (an index, a role, seconds) resolved against the model, so
    that a step stays meaningful whatever the state, including when hypothesis shrinks."""

    st_index = st.integers(min_value=0, max_value=63)
    st_buyer = st.integers(min_value=0, max_value=1)
    st_step = st.integers(min_value=1, max_value=8)  # seconds from one transaction to the next
    st_window = st.integers(min_value=30, max_value=600)  # deadline - proposal time
    st_gap = st.integers(min_value=0, max_value=300)  # hold expiry - deadline - safety window
    st_price = st.integers(min_value=1, max_value=60_000 * YUAN)
    st_variant = st.sampled_from(["match", "match", "match", "amount", "payee", "expiry", "payer"])
    st_flag = st.booleans()
    st_role = st.integers(min_value=0, max_value=2)
    st_who = st.integers(min_value=0, max_value=2)
    st_sleep = st.sampled_from([2, 10, 30, 60, 120, 400])
    st_outage = st.sampled_from([30, 120, 600])
    st_toggle = st.sampled_from([True, True, True, False])  # False: repeat the state (refused)

    reached: ClassVar[Counter[str]] = Counter()

    def __init__(
        cls, pvd, buyers, keys, seller, carrier, stranger, relayer, pauser, compliance, holders
    ):
        cls.pvd = pvd
        cls.token = pvd.token
        cls.settlement = pvd.settlement
        cls.registry = pvd.registry
        cls.buyers = [str(b) for b in buyers]
        cls.buyer_accounts = {str(b): b for b in buyers}
        cls.keys = keys  # buyer address -> private key (test keys)
        cls.seller = seller
        cls.carrier = carrier
        cls.stranger = stranger
        cls.relayer = relayer
        cls.pauser = pauser
        cls.compliance = compliance
        cls.holders = [str(h) for h in holders]
        cls.freezable = [str(seller), *cls.buyers]
        cls.initial_balances = {h: int(pvd.token.balanceOf(h)) for h in cls.holders}
        cls.classes = {h: int(pvd.token.walletClassOf(h)) for h in cls.holders}
        cls.initial_nonces = {
            PAYMENT_DOMAIN: int(pvd.payment_mailbox.nextNonce()),
            BUSINESS_DOMAIN: int(pvd.business_mailbox.nextNonce()),
        }
        cls.contracts = pvd.contracts()

    def setup(self) -> None:
        self.now = int(chain[-1].timestamp)
        self.trades: dict[str, ModelTrade] = {}
        self.order: list[str] = []
        self.holds: dict[bytes, ModelHold] = {}  # the latest placement under each id
        self.placements: Counter[bytes] = Counter()  # a released id can be placed again
        self.balances = dict(self.initial_balances)
        self.paused = False
        self.frozen: set[str] = set()
        self.to_business: list[Message] = []  # queued at the business mailbox, oldest first
        self.to_payment: list[Message] = []
        self.nonces = dict(self.initial_nonces)
        self.relayer_down_until = 0
        self.observed = Observed()
        self.expected_flags: list[str] = []  # trades the model expects DeliveredAfterRefund for
        self.disagreements: list[str] = []
        self.changed_by_refusal: list[str] = []
        self.recovered = False
        self.refused_deliveries: set[bytes] = set()
        self._cache: dict[str, Any] | None = None

    # ------------------------------------------------------------------ model helpers

    def _trade(self, index: int) -> ModelTrade:
        return self.trades[self.order[index % len(self.order)]]

    def _hold_at(self, index: int) -> ModelHold | None:
        """An open hold for index < 48 if any is open, else any hold placed."""
        held = [h for h in self.holds.values() if h.status == HELD]
        if held and index < 48:
            return held[index % len(held)]
        every = list(self.holds.values())
        return every[index % len(every)] if every else None

    def _held(self, account: str) -> int:
        return sum(
            h.hold.amount
            for h in self.holds.values()
            if h.hold.payer == account and h.status == HELD
        )

    def _at(self, step: int) -> int:
        """The next transaction's block time: `step` seconds after the last one."""
        self.now += step
        set_next_block_time(self.now)
        self._cache = None
        return self.now

    def _message(self, source_domain: int, body: Any) -> Message:
        """The message the `source_domain` side's mailbox sends next (nonce from the model)."""
        if source_domain == PAYMENT_DOMAIN:
            source, destination = self.settlement.address, self.registry.address
            destination_domain = BUSINESS_DOMAIN
        else:
            source, destination = self.registry.address, self.settlement.address
            destination_domain = PAYMENT_DOMAIN
        return Message.of(
            source_domain,
            source,
            destination_domain,
            destination,
            self.nonces[source_domain],
            body,
        )

    def _check(self, ok: bool, message: str) -> None:
        """Record a disagreement between the chain and the model. It fails the step in
        `invariant_y`, after the chain-only invariants (C*, L1, X*) have judged the chain."""
        if not ok:
            self.disagreements.append(f"{message} [at {self.now}; {self._state()}]")

    def _send(
        self, what: str, error: str | None, call: Any, messages: list[Message] | None = None
    ) -> Any:
        """Send `call` (at the block time already set). The model expects `error`, or success
        and exactly `messages` sent. Returns the receipt if the call passed as expected, else
        None (the model is then not moved on). A refused call must change no contract's
        storage (C5); any other surprise is a disagreement (see `_check`)."""
        before = storage_roots(self.contracts) if error is not None else None
        refused = None
        try:
            tx = call()
        except VirtualMachineError as exc:
            refused = exc.revert_msg
        except TransactionError as exc:
            tx = receipt_after_dropped_race(exc)
            if tx.status == 0:
                refused = tx.revert_msg
        if refused is not None:
            self._check(
                error is not None,
                f"{what}: refused with {refused!r}, the model expected it to pass",
            )
            if error is not None:
                self._check(
                    refused == error,
                    f"{what}: refused with {refused!r}, the model expected {error!r}",
                )
                if storage_roots(self.contracts) != before:
                    self.changed_by_refusal.append(f"{what} at {self.now} ({error})")
                self.reached["refused: " + error.split(":")[0]] += 1
            return None
        # Whatever the model said, the queues follow what the chain sent.
        sent = sent_messages(tx)
        for message in sent:
            self.nonces[message.source_domain] += 1
            queue = (
                self.to_payment
                if message.destination_domain == PAYMENT_DOMAIN
                else self.to_business
            )
            queue.append(message)
        self._observe(tx)
        if error is not None:
            self._check(False, f"{what}: went through, the model expected {error!r}")
            return None
        expected = messages or []
        self._check(sent == expected, f"{what}: sent {sent}, the model expected {expected}")
        return tx

    def _observe(self, tx: Any) -> None:
        """Record what the receipt shows, independently of the model (X1, X3, C7)."""
        events = tx.events
        if "HoldExecuted" in events:
            for e in events["HoldExecuted"]:
                hold = h32(e["holdId"])
                self.observed.executed[hold] += 1
                self.observed.payouts.append(
                    (hold, str(e["payer"]), str(e["payee"]), int(e["amount"]))
                )
        if "HoldReleased" in events:
            for e in events["HoldReleased"]:
                self.observed.released[h32(e["holdId"])] += 1
        if "OutcomeSent" in events:
            for e in events["OutcomeSent"]:
                if int(e["outcome"]) in (Outcome.DELIVERED, Outcome.EXPIRED):
                    trade = hexid(e["tradeId"])
                    self.observed.final_outcomes.setdefault(trade, []).append(int(e["outcome"]))
        if "DeliveredAfterRefund" in events:
            for e in events["DeliveredAfterRefund"]:
                self.observed.flagged.append(hexid(e["tradeId"]))

    def _state(self) -> str:
        trades = ", ".join(
            f"{t.id[:10]} {t.status}/{t.settlement} deadline {t.deadline} expiry {t.hold_expiry}"
            for t in self.trades.values()
        )
        return f"paused={self.paused} frozen={sorted(self.frozen)} trades: {trades}"

    # ------------------------------------------------------------------ actions

    def _propose(self, buyer_index: int, window: int, gap: int, price: int, step: int) -> None:
        open_trades = sum(1 for t in self.trades.values() if t.status in OPEN)
        if len(self.order) >= MAX_TRADES or open_trades >= MAX_OPEN_TRADES:
            return
        buyer = self.buyers[buyer_index]
        t = self._at(step)
        deadline = t + window
        hold_expiry = deadline + MOCK_SAFETY_WINDOW + gap
        terms = (
            self.seller.address,  # seller
            buyer,  # payer: the buyer's own address on the payment chain
            self.seller.address,  # payee
            self.carrier.address,
            ZERO,  # no arbiter: disputes are the trade machine's
            self.token.address,
            price,
            keccak(text="terms of trade"),
            deadline,
            hold_expiry,
            0,
        )
        tx = self._send(
            "propose",
            None,
            lambda: self.registry.propose(terms, {"from": self.buyer_accounts[buyer]}, silent=True),
        )
        if tx is None:
            return
        event = tx.events["TradeProposed"]
        self._check(
            (event["buyer"], event["price"], event["deadline"], event["holdExpiry"])
            == (buyer, price, deadline, hold_expiry),
            f"propose: TradeProposed {event}",
        )
        trade = ModelTrade(hexid(event["tradeId"]), buyer, price, deadline, hold_expiry)
        self.trades[trade.id] = trade
        self.order.append(trade.id)

    def _accept(self, trade: ModelTrade, caller: Any, step: int) -> None:
        t = self._at(step)
        error = None
        if caller != self.seller:
            error = err("TradeCallerNotSeller", trade.id, caller)
        elif trade.status != "Proposed":
            error = err("TradeWrongStatus", trade.id, STATUS[trade.status])
        elif t > trade.deadline:
            error = err("TradeDeadlinePassed", trade.id, trade.deadline, t)
        call = lambda: self.registry.accept(trade.id, {"from": caller}, silent=True)  # noqa: E731
        if self._send("accept", error, call) is not None:
            trade.status = "Accepted"

    def _cancel(self, trade: ModelTrade, caller: Any, step: int) -> None:
        self._at(step)
        error = None
        if str(caller) not in (trade.buyer, self.seller.address):
            error = err("TradeCallerNotParty", trade.id, caller)
        elif trade.status not in ("Proposed", "Accepted"):
            error = err("TradeWrongStatus", trade.id, STATUS[trade.status])
        call = lambda: self.registry.cancel(trade.id, {"from": caller}, silent=True)  # noqa: E731
        if self._send("cancel", error, call) is not None:
            trade.status = "Cancelled"

    def _place_error(self, hold: Hold, t: int) -> str | None:
        """The token's error for placing `hold` at `t` (YuanHolds._placeHold's order)."""
        existing = self.holds.get(hold.id())
        spendable = self.balances[hold.payer] - self._held(hold.payer)
        if self.paused:
            return err("EnforcedPause")
        if hold.expiry <= t or hold.expiry > t + MAX_HOLD_DURATION:
            return err("HoldExpiryOutOfRange", hold.expiry, t + 1, t + MAX_HOLD_DURATION)
        if existing is not None and existing.status != RELEASED:
            return err("HoldAlreadyExists", hold.id(), existing.status)
        if hold.payer in self.frozen:
            return err("AccountIsFrozen", hold.payer)
        if hold.amount > spendable:
            return err("InsufficientSpendableBalance", hold.payer, spendable, hold.amount)
        if hold.payee in self.frozen:
            return err("AccountIsFrozen", hold.payee)
        if self.classes[hold.payee] != CLASS_I:
            cap, balance = DEFAULT_CAPS[self.classes[hold.payee]][0], self.balances[hold.payee]
            if balance + hold.amount > cap:
                return err("BalanceCapExceeded", hold.payee, cap, balance, hold.amount)
        return None

    def _place(self, trade: ModelTrade, variant: str, by_signature: bool, step: int) -> None:
        """The trade's buyer places its hold (`variant` "match"), or a hold that does not match
        the trade: another amount, payee or expiry, or the other buyer as payer."""
        payer = trade.buyer
        if variant == "payer":
            payer = next(b for b in self.buyers if b != trade.buyer)
        amount = trade.price
        if variant == "amount":
            amount = trade.price - 1 if trade.price > 1 else trade.price + 1
        hold = Hold(
            payer=payer,
            payee=self.carrier.address if variant == "payee" else self.seller.address,
            notary=self.settlement.address,
            amount=amount,
            expiry=trade.hold_expiry + (1 if variant == "expiry" else 0),
            ref=trade.ref,
        )
        t = self._at(step)
        error = self._place_error(hold, t)
        existing = self.holds.get(hold.id())
        # The same hold already open and not announced (placed directly, or by a front-runner
        # with the signature): hold-and-announce announces it instead of failing.
        announces_existing = (
            by_signature
            and error is not None
            and existing is not None
            and existing.status == HELD
            and not existing.announced
            and existing.hold == hold
        )
        if announces_existing:
            error = None
        messages = []
        if by_signature:
            valid_before = t + AUTHORIZATION_WINDOW
            signature = sign_hold(self.token, self.keys[payer], hold, valid_before)
            call = lambda: self.settlement.placeHoldAndAnnounce(  # noqa: E731
                hold.tuple(), valid_before, signature, {"from": self.relayer}, silent=True
            )
            messages = [self._held_message(hold)]
        else:
            call = lambda: self.token.placeHold(  # noqa: E731
                hold.ref,
                hold.payee,
                hold.notary,
                hold.amount,
                hold.expiry,
                {"from": self.buyer_accounts[payer]},
                silent=True,
            )
        tx = self._send(f"place hold ({variant}, signed={by_signature})", error, call, messages)
        if tx is not None and announces_existing:
            assert existing is not None
            self._check("HoldPlaced" not in tx.events, f"front-run: placed {hold} again")
            self._check("HoldAnnounced" in tx.events, f"front-run: no HoldAnnounced for {hold}")
            existing.announced = True
            self.reached["hold-and-announce of an existing hold"] += 1
        elif tx is not None:
            self._check("HoldPlaced" in tx.events, f"place hold: no HoldPlaced for {hold}")
            if by_signature:
                self._check("HoldAnnounced" in tx.events, f"no HoldAnnounced for {hold}")
            if existing is not None:
                self.reached["released hold id placed again"] += 1
            self.holds[hold.id()] = ModelHold(hold, HELD, announced=by_signature)
            self.placements[hold.id()] += 1

    def _held_message(self, hold: Hold) -> Message:
        body = PaymentHeld(
            trade_id=hold.ref,
            hold_id=hold.id(),
            payer=hold.payer,
            payee=hold.payee,
            token=self.token.address,
            amount=hold.amount,
            expiry=hold.expiry,
        )
        return self._message(PAYMENT_DOMAIN, body)

    def _announce(self, held: ModelHold, step: int) -> None:
        """The payer announces a hold it placed directly on the token (a stranger cannot:
        tests/contracts/unit/security/test_announce.py)."""
        self._at(step)
        hold = held.hold
        error = None
        if held.status != HELD:
            error = err("SettlementHoldNotHeld", hold.id(), held.status)
        elif held.announced:
            error = err("SettlementAlreadyAnnounced", hold.id())
        messages = [self._held_message(hold)] if error is None else []
        payer = self.buyer_accounts[hold.payer]
        call = lambda: self.settlement.announce(hold.tuple(), {"from": payer}, silent=True)  # noqa: E731
        tx = self._send("announce", error, call, messages)
        if tx is not None:
            self._check("HoldAnnounced" in tx.events, f"announce: no HoldAnnounced for {hold}")
            held.announced = True

    def _relay(self, to_payment: bool, step: int) -> None:
        """The relayer delivers the oldest message waiting on one side (no-op while down)."""
        if self.now < self.relayer_down_until:
            return
        queue = self.to_payment if to_payment else self.to_business
        if not queue:
            return
        if to_payment:
            self._deliver_to_payment(step)
        else:
            self._deliver_to_business(step)

    def _deliver_to_business(self, step: int) -> None:
        """The registry receives PAYMENT_HELD or PAYMENT_SETTLED: never refused."""
        head = self.to_business[0]
        body = head.decoded_body()
        trade = self.trades.get(hexid(body.trade_id))
        t = self._at(step)
        replies: list[Message] = []
        if isinstance(body, PaymentHeld):
            held = self.holds[body.hold_id]
            reason = None
            if trade is not None and trade.hold == body.hold_id and trade.status != "Expired":
                event = "PaymentHeldDuplicate"
            else:
                if trade is None:
                    reason = "UnknownTrade"
                elif trade.status != "Accepted":
                    reason = "NotAccepted"
                elif (body.payer, body.payee, body.token, body.amount, body.expiry) != (
                    trade.buyer,
                    self.seller.address,
                    self.token.address,
                    trade.price,
                    trade.hold_expiry,
                ):
                    reason = "TermsMismatch"
                elif t > trade.deadline:
                    reason = "DeadlinePassed"
                event = "PaymentHeldRejected" if reason else "TradeFunded"
                if reason:
                    outcome = TradeOutcome(
                        trade_id=body.trade_id,
                        hold_id=body.hold_id,
                        outcome=Outcome.REJECTED,
                        payer=body.payer,
                        payee=body.payee,
                        amount=body.amount,
                        expiry=body.expiry,
                    )
                    replies = [self._message(BUSINESS_DOMAIN, outcome)]
        else:
            assert isinstance(body, PaymentSettled)
            reason = None
            if trade is None:
                reason = "UnknownTrade"
            elif trade.hold is None or body.hold_id != trade.hold or body.amount != trade.price:
                reason = "HoldMismatch"
            elif trade.settlement != "None":
                reason = "AlreadySettled"
            event = "PaymentSettledIgnored" if reason else "TradeSettled"
        call = lambda: self.pvd.business_mailbox.deliverNext({"from": self.relayer}, silent=True)  # noqa: E731
        what = f"relay {body.__class__.__name__} to the registry"
        tx = self._send(what, None, call, replies)
        if tx is None:
            return
        self.to_business.pop(0)
        delivered = _event(tx, "MessageDelivered")
        self._check(delivered is not None and h32(delivered["messageId"]) == head.id, what)
        seen = _event(tx, event)
        self._check(seen is not None, f"{what}: expected {event}, got {list(tx.events.keys())}")
        if event == "PaymentHeldRejected":
            self._check(seen is None or seen["reason"] == REJECT_REASON[reason], f"{what}: {seen}")
            # The placement the message announced (not a later one under the same id).
            if (held.hold.amount, held.hold.payee, held.hold.expiry) == (
                body.amount,
                body.payee,
                body.expiry,
            ):
                held.rejected = True
            self.reached[f"hold rejected: {reason}"] += 1
        elif event == "TradeFunded":
            trade.status, trade.hold, trade.funding = "Funded", body.hold_id, held.hold
            trade.funding_placement = self.placements[body.hold_id]
        elif event == "PaymentSettledIgnored":
            self._check(seen is None or seen["reason"] == IGNORED_REASON[reason], f"{what}: {seen}")
        elif event == "TradeSettled":
            trade.settlement = SETTLEMENT_NAME[int(body.result)]
            self.reached["settled " + trade.settlement + " " + trade.status] += 1

    def _deliver_to_payment(self, step: int) -> None:
        """The settlement receives a TRADE_OUTCOME: Delivered executes the hold (a passing
        fault — pause, freeze — refuses it and it stays queued for a retry; past expiry the
        hold is released instead and the case flagged), Expired and Rejected release it;
        PAYMENT_SETTLED goes back."""
        head = self.to_payment[0]
        body = head.decoded_body()
        assert isinstance(body, TradeOutcome)
        held = self.holds[body.hold_id]
        hold = held.hold
        t = self._at(step)
        error, result, new_status, flag = None, SettlementResult.REFUNDED, held.status, False
        named = (body.payer, body.payee, body.amount, body.expiry, body.trade_id)
        no_hold = named != (hold.payer, hold.payee, hold.amount, hold.expiry, hold.ref)
        if no_hold:
            # Not the hold placed under that id (a Rejected answer to an earlier placement
            # whose id was placed again with other fields): a terminal, flagged no-op.
            pass
        elif body.outcome == Outcome.DELIVERED:
            if held.status == HELD and t < hold.expiry:
                if self.paused:
                    error = err("EnforcedPause")
                elif hold.payer in self.frozen:
                    error = err("AccountIsFrozen", hold.payer)
                elif hold.payee in self.frozen:
                    error = err("AccountIsFrozen", hold.payee)
                result, new_status = SettlementResult.PAID, EXECUTED
            elif held.status == HELD:  # past expiry: released here, flagged
                new_status, flag = RELEASED, True
            elif held.status == RELEASED:
                flag = True
            else:
                result = SettlementResult.PAID
        else:
            if held.status == HELD:
                new_status = RELEASED
            elif held.status == EXECUTED:
                result = SettlementResult.PAID
        reply = PaymentSettled(body.trade_id, body.hold_id, result, body.amount)
        messages = [self._message(PAYMENT_DOMAIN, reply)] if error is None and not no_hold else []
        call = lambda: self.pvd.payment_mailbox.deliverNext({"from": self.relayer}, silent=True)  # noqa: E731
        tx = self._send(
            f"relay {body.outcome.name} outcome to the settlement", error, call, messages
        )
        if tx is None:
            self.reached["delivery refused, kept for retry"] += 1
            self.refused_deliveries.add(head.id)
            return
        self.to_payment.pop(0)
        if head.id in self.refused_deliveries:
            self.reached[f"retried after a refusal: {result.name}"] += 1
        what = f"relay {body.outcome.name} outcome to the settlement"
        delivered = _event(tx, "MessageDelivered")
        self._check(delivered is not None and h32(delivered["messageId"]) == head.id, what)
        if no_hold:
            flagged = _event(tx, "OutcomeWithoutHold")
            self._check(flagged is not None and "TradeSettled" not in tx.events, f"{what}: no-op")
            self.reached["outcome without a matching hold (flagged no-op)"] += 1
            return
        settled = _event(tx, "TradeSettled")  # the settlement's (the registry is not called)
        self._check(settled is not None and int(settled["result"]) == result, f"{what}: {settled}")
        # Hold statuses, balances and flags are compared in the invariants.
        released = _event(tx, "HoldReleased")
        if released is not None:
            self._check(released["releasedBy"] == self.settlement, f"{what}: {released}")
        if new_status == EXECUTED and held.status == HELD:
            self.balances[hold.payer] -= hold.amount
            self.balances[hold.payee] += hold.amount
        if flag:
            self.expected_flags.append(hexid(body.trade_id))
            self.reached["delivered after refund (flagged)"] += 1
        held.status = new_status
        if result == SettlementResult.REFUNDED:
            held.announced = False  # released: its payer may place and announce it again

    def _ship(self, trade: ModelTrade, caller: Any, step: int) -> None:
        t = self._at(step)
        error = None
        if caller != self.seller:
            error = err("TradeCallerNotSeller", trade.id, caller)
        elif trade.status != "Funded":
            error = err("TradeWrongStatus", trade.id, STATUS[trade.status])
        elif t > trade.deadline:
            error = err("TradeDeadlinePassed", trade.id, trade.deadline, t)
        document = keccak(text="bill of lading document")
        call = lambda: self.registry.ship(trade.id, document, {"from": caller}, silent=True)  # noqa: E731
        if self._send("ship", error, call) is not None:
            trade.status = "Shipped"

    def _outcome(self, trade: ModelTrade, outcome: Outcome) -> Message:
        assert trade.hold is not None
        body = TradeOutcome(
            trade_id=trade.ref,
            hold_id=trade.hold,
            outcome=outcome,
            payer=trade.buyer,
            payee=self.seller.address,
            amount=trade.price,
            expiry=trade.hold_expiry,
        )
        return self._message(BUSINESS_DOMAIN, body)

    def _confirm(self, trade: ModelTrade, role: int, step: int) -> None:
        """The buyer (role 0) confirms receipt, the carrier (1) records a proof of delivery;
        the seller (2) may not confirm."""
        t = self._at(step)
        caller = (self.buyer_accounts[trade.buyer], self.carrier, self.seller)[role]
        error = None
        if role == 1 and caller != self.carrier:
            error = err("TradeCallerNotCarrier", trade.id, caller)
        elif role != 1 and str(caller) != trade.buyer:
            error = err("TradeCallerNotBuyer", trade.id, caller)
        elif trade.status != "Shipped":
            error = err("TradeWrongStatus", trade.id, STATUS[trade.status])
        elif t > trade.deadline:
            error = err("TradeDeadlinePassed", trade.id, trade.deadline, t)
        messages = [self._outcome(trade, Outcome.DELIVERED)] if error is None else []
        if role == 1:
            proof = keccak(text="proof of delivery")
            call = lambda: self.registry.confirmDeliveryByCarrier(  # noqa: E731
                trade.id, proof, {"from": caller}, silent=True
            )
        else:
            call = lambda: self.registry.confirmDelivery(trade.id, {"from": caller}, silent=True)  # noqa: E731
        if self._send("confirm delivery", error, call, messages) is not None:
            trade.status = "Delivered"

    def _expire(self, trade: ModelTrade, step: int) -> None:
        t = self._at(step)
        error = None
        if trade.status not in OPEN:
            error = err("TradeWrongStatus", trade.id, STATUS[trade.status])
        elif t <= trade.deadline:
            error = err("TradeDeadlineNotPassed", trade.id, trade.deadline, t)
        messages = []
        if error is None and trade.hold is not None:
            messages = [self._outcome(trade, Outcome.EXPIRED)]
        call = lambda: self.registry.expire(trade.id, {"from": self.stranger}, silent=True)  # noqa: E731
        if self._send("expire", error, call, messages) is not None:
            trade.status = "Expired"

    def _release(self, held: ModelHold, by_payer: bool, step: int) -> None:
        """L1: the payer or a stranger releases a hold from its expiry on, no relayer."""
        t = self._at(step)
        hold = held.hold
        caller = self.buyer_accounts[hold.payer] if by_payer else self.stranger
        error = None
        if held.status != HELD:
            error = err("HoldNotOpen", hold.id(), held.status)
        elif t < hold.expiry:
            error = err("HoldReleaseTooEarly", hold.id(), caller, hold.expiry)
        call = lambda: self.token.releaseHold(hold.tuple(), {"from": caller}, silent=True)  # noqa: E731
        tx = self._send("release after expiry", error, call)
        if tx is not None:
            released = _event(tx, "HoldReleased")
            self._check(released is not None and released["releasedBy"] == caller, str(released))
            held.status = RELEASED
            held.announced = False  # a release clears the mark, whoever releases
            self.reached["released at expiry, no relayer"] += 1

    # ------------------------------------------------------------------ rules

    def initialize_trade(
        self, buyer="st_buyer", window="st_window", gap="st_gap", price="st_price"
    ):
        """Every example starts with one proposed trade."""
        self._propose(buyer, window, gap, price, 1)

    def rule_propose(
        self, buyer="st_buyer", window="st_window", gap="st_gap", price="st_price", step="st_step"
    ):
        """A buyer proposes a trade (random price, deadline, hold expiry), up to
        MAX_OPEN_TRADES open at once and MAX_TRADES in all."""
        self._propose(buyer, window, gap, price, step)

    def rule_accept(self, index="st_index", role="st_role", step="st_step"):
        """The seller (roles 0, 1) or a stranger (2) accepts."""
        caller = self.stranger if role == 2 else self.seller
        self._accept(self._trade(index), caller, step)

    def rule_cancel(self, index="st_index", role="st_role", step="st_step"):
        """The buyer (0) or a stranger (1, 2: refused) cancels (the seller's cancel is the
        trade machine's; fewer cancels let more trades reach settlement)."""
        trade = self._trade(index)
        caller = self.buyer_accounts[trade.buyer] if role == 0 else self.stranger
        self._cancel(trade, caller, step)

    def rule_place_hold(
        self, index="st_index", variant="st_variant", by_signature="st_flag", step="st_step"
    ):
        """A hold for the trade, matching it or not, placed directly (announced later) or by
        the payer's signature through placeHoldAndAnnounce (announced at once)."""
        self._place(self._trade(index), variant, by_signature, step)

    def rule_announce(self, index="st_index", step="st_step"):
        """A stranger announces a hold (placed directly, or already announced: refused)."""
        held = self._hold_at(index)
        if held is not None:
            self._announce(held, step)

    def rule_relay(self, to_payment="st_flag", step="st_step"):
        """Relayer step: deliver the next message to the payment chain (to_payment) or to the
        business chain; the other way if that queue is empty."""
        if not (self.to_payment if to_payment else self.to_business):
            to_payment = not to_payment
        self._relay(to_payment, step)

    def rule_relayer_goes_down(self, outage="st_outage"):
        """The relayer is down for `outage` seconds of block time: nothing is delivered."""
        self.relayer_down_until = self.now + outage
        self.reached["relayer outage"] += 1

    def rule_ship(self, index="st_index", role="st_role", step="st_step"):
        """The seller (0, 1) or the buyer (2, refused) ships."""
        trade = self._trade(index)
        caller = self.buyer_accounts[trade.buyer] if role == 2 else self.seller
        self._ship(trade, caller, step)

    def rule_confirm(self, index="st_index", role="st_role", step="st_step"):
        """The buyer (0) or the carrier (1) confirms delivery; the seller (2) may not."""
        self._confirm(self._trade(index), role, step)

    def rule_expire(self, index="st_index", step="st_step"):
        """A stranger expires the trade (only after its deadline)."""
        self._expire(self._trade(index), step)

    def rule_time_passes(self, seconds="st_sleep"):
        """A block `seconds` later: crosses deadlines and hold expiries."""
        self.now += seconds
        set_next_block_time(self.now)
        web3.provider.make_request("evm_mine", [])
        self._cache = None

    def rule_release_after_expiry(self, index="st_index", by_payer="st_flag", step="st_step"):
        """L1: the payer or a stranger releases a hold itself, with no relayer (refused
        before expiry)."""
        held = self._hold_at(index)
        if held is not None:
            self._release(held, by_payer, step)

    def rule_pause_or_unpause(self, toggle="st_toggle", step="st_step"):
        """The pauser pauses an unpaused token or unpauses a paused one (toggle), or repeats
        the current state (refused). While paused, a Delivered outcome is refused at payout
        and kept for a retry."""
        pause = not self.paused if toggle else self.paused
        self._at(step)
        if pause:
            error, call = (err("EnforcedPause") if self.paused else None), self.token.pause
        else:
            error, call = (None if self.paused else err("ExpectedPause")), self.token.unpause
        tx = self._send(
            "pause" if pause else "unpause", error, lambda: call({"from": self.pauser}, silent=True)
        )
        if tx is not None:
            self.paused = pause

    def rule_freeze_or_unfreeze(self, who="st_who", toggle="st_toggle", step="st_step"):
        """The compliance officer freezes or unfreezes (toggle) the seller (0) or a buyer (1,
        2), or repeats its state (refused). A frozen payer or payee blocks placing and paying
        a hold, never its release."""
        account = self.freezable[who]
        freeze = (account not in self.frozen) if toggle else (account in self.frozen)
        self._at(step)
        if freeze:
            error = err("AccountAlreadyFrozen", account) if account in self.frozen else None
            call = self.token.freeze
        else:
            error = None if account in self.frozen else err("AccountNotFrozen", account)
            call = self.token.unfreeze
        what = "freeze" if freeze else "unfreeze"
        if (
            self._send(what, error, lambda: call(account, {"from": self.compliance}, silent=True))
            is not None
        ):
            if freeze:
                self.frozen.add(account)
            else:
                self.frozen.discard(account)

    def rule_the_deadline_passes_undelivered(self, index="st_index", step="st_step"):
        """The other ending (docs/design.md): a funded or shipped trade is not delivered in time;
        time passes beyond its deadline, anyone expires it and the relayer delivers the next
        message for the payment chain (its Expired outcome, unless others wait before it)."""
        funded = [
            self.trades[i] for i in self.order if self.trades[i].status in ("Funded", "Shipped")
        ]
        if not funded:
            return
        trade = funded[index % len(funded)]
        if self.now + step <= trade.deadline:
            self.rule_time_passes(trade.deadline + 1 - self.now)
        self._expire(trade, step)
        self._relay(True, step)

    def rule_compliance_steps_in_at_payout(self, who="st_who", step="st_step"):
        """At payout time (a Delivered outcome next in the payment chain's queue), the pauser
        pauses the token (who 0) or the compliance officer freezes the seller (1) or the
        buyer (2); the relayer delivers and the token refuses the payout: the outcome stays
        queued. The measure is lifted and the relayer retries: the seller is paid (or, past
        the hold's expiry, the buyer refunded and the case flagged)."""
        if not self.to_payment:
            return
        outcome = self.to_payment[0].decoded_body()
        if outcome.outcome != Outcome.DELIVERED:
            return
        target = None if who == 0 else (outcome.payee if who == 1 else outcome.payer)
        if target is None and not self.paused:
            self.rule_pause_or_unpause(True, step)
        elif target is not None and target not in self.frozen:
            self.rule_freeze_or_unfreeze(self.freezable.index(target), True, step)
        self.relayer_down_until = 0
        self._relay(True, step)
        if target is None:
            self.rule_pause_or_unpause(True, step)
        else:
            self.rule_freeze_or_unfreeze(self.freezable.index(target), True, step)
        self._relay(True, step)

    def rule_relayer_outage_beyond_the_hold_expiry(self, by_stranger="st_flag", step="st_step"):
        """The residual risk (docs/design.md): the relayer is down longer than the liveness window.
        With an outcome next in the payment chain's queue, time passes beyond its hold's
        expiry; a stranger may release the hold first (L1, by_stranger); then the relayer
        delivers: a Delivered outcome is answered Refunded and flagged (DeliveredAfterRefund),
        an Expired or Rejected one Refunded."""
        if not self.to_payment:
            return
        outcome = self.to_payment[0].decoded_body()
        if self.now + step < outcome.expiry:
            self.rule_time_passes(outcome.expiry - self.now)
        held = self.holds[outcome.hold_id]
        if by_stranger and held.status == HELD:
            self._release(held, False, step)
        self.relayer_down_until = 0
        self._relay(True, step)

    def rule_everyone_recovers(self, index="st_index", step="st_step"):
        """(One call in four, so that examples also run long.) Nothing is stuck forever
        (pass criterion, L1): the token is unpaused, every account unfrozen, the
        relayer back, and it delivers everything queued. Then, trade by trade, time passes
        beyond its deadline, anyone expires it, and the relayer delivers its outcome (before
        the hold expiry). Last, time passes beyond every hold expiry and a stranger releases
        whatever hold is still open (never announced, or announced too late). After that no
        hold is open, nothing is held or queued, and every funded trade is settled (checked
        on the chain by invariant_z)."""
        if index % 4:
            return
        if self.paused:
            self.rule_pause_or_unpause(True, step)
        for who, account in enumerate(self.freezable):
            if account in self.frozen:
                self.rule_freeze_or_unfreeze(who, True, step)
        self.relayer_down_until = 0
        self._drain(step)
        open_trades = [self.trades[i] for i in self.order if self.trades[i].status in OPEN]
        for trade in sorted(open_trades, key=lambda t: t.deadline):
            if self.now + step <= trade.deadline:
                self.rule_time_passes(trade.deadline + 1 - self.now)
            self._expire(trade, step)
            self._drain(step)
        still_held = [h for h in self.holds.values() if h.status == HELD]
        horizon = max([h.hold.expiry for h in still_held] + [self.now])
        self.rule_time_passes(horizon + 1 - self.now)
        for held in still_held:
            self._release(held, False, step)
        self.recovered = True  # checked on the chain by invariant_z
        self.reached["everyone recovered"] += 1

    def _drain(self, step: int) -> None:
        """The relayer delivers every queued message, both ways, until nothing is left."""
        while self.to_payment or self.to_business:
            left = (len(self.to_payment), len(self.to_business))
            self._relay(bool(self.to_payment), step)
            if (len(self.to_payment), len(self.to_business)) == left:
                break  # refused against the model's word: a disagreement, reported

    def rule_advance(self, index="st_index", flag="st_flag", step="st_step"):
        """The next happy-path step by the right actor, so that examples reach delivery and
        settlement: one step of an open trade (anyone expires it once its deadline passed),
        or (one time in three, or when no trade is open) the relayer delivers the next
        message. Still checked against the model (the
        step may come too late, or while the relayer is down)."""
        unfinished = [self.trades[i] for i in self.order if self.trades[i].status in OPEN]
        if (self.to_payment or self.to_business) and (not unfinished or index % 3 == 0):
            self._relay(bool(self.to_payment), step)
            return
        if not unfinished:
            return
        # Mostly the trade furthest along, so that some reach settlement within the steps.
        unfinished.sort(key=lambda t: OPEN.index(t.status), reverse=True)
        trade = unfinished[0 if index < 40 else index % len(unfinished)]
        if self.now + step > trade.deadline:
            self._expire(trade, step)
        elif trade.status == "Proposed":
            self._accept(trade, self.seller, step)
        elif trade.status == "Accepted":
            own = self.holds.get(token_hold_id(trade.buyer, self.settlement.address, trade.ref))
            if own is None:
                # One time in four the buyer gets it wrong: amount, payee or expiry.
                wrong = ("amount", "payee", "expiry")[index // 4 % 3]
                variant = wrong if index % 4 == 3 else "match"
                self._place(trade, variant, flag, step)
            elif not own.announced and own.status == HELD:
                self._announce(own, step)
            else:
                self._relay(not self.to_business, step)
        elif trade.status == "Funded":
            self._ship(trade, self.seller, step)
        else:
            self._confirm(trade, 0 if flag else 1, step)

    # hypothesis has no rule weights: four more copies make the guided step five times as
    # likely as any other rule.
    def rule_advance_again(self, index="st_index", flag="st_flag", step="st_step"):
        self.rule_advance(index, flag, step)

    def rule_advance_once_more(self, index="st_index", flag="st_flag", step="st_step"):
        self.rule_advance(index, flag, step)

    def rule_advance_yet_again(self, index="st_index", flag="st_flag", step="st_step"):
        self.rule_advance(index, flag, step)

    def rule_advance_and_again(self, index="st_index", flag="st_flag", step="st_step"):
        self.rule_advance(index, flag, step)

    # ------------------------------------------------------------------ invariants

    def _chain(self) -> dict[str, Any]:
        """Every value the invariants compare, read in one JSON-RPC batch once per step."""
        if self._cache is None:
            token, holders = self.token, self.holders
            hold_ids = list(self.holds)
            views = (
                [View(token, "totalSupply")]
                + [View(token, "balanceOf", ("address",), (h,)) for h in holders]
                + [View(token, "heldBalanceOf", ("address",), (h,)) for h in holders]
                + [View(token, "holdStatus", ("bytes32",), (i,), ("uint8",)) for i in hold_ids]
                + [
                    View(self.registry, "getTrade", ("bytes32",), (t,), TRADE_TYPES)
                    for t in self.order
                ]
                + [
                    View(self.pvd.payment_mailbox, "pendingInboundCount"),
                    View(self.pvd.business_mailbox, "pendingInboundCount"),
                    View(self.pvd.payment_mailbox, "nextNonce", result_types=("uint64",)),
                    View(self.pvd.business_mailbox, "nextNonce", result_types=("uint64",)),
                    View(token, "paused", result_types=("bool",)),
                ]
                + [
                    View(self.settlement, "isAnnounced", ("bytes32",), (i,), ("bool",))
                    for i in hold_ids
                ]
            )
            values = [v[0] if len(v) == 1 else v for v in read_views(views)]
            n, k, m = len(holders), len(hold_ids), len(self.order)
            trades = values[1 + 2 * n + k : 1 + 2 * n + k + m]
            self._cache = {
                "supply": values[0],
                "balances": dict(zip(holders, values[1 : 1 + n], strict=True)),
                "held": dict(zip(holders, values[1 + n : 1 + 2 * n], strict=True)),
                "holds": dict(zip(hold_ids, values[1 + 2 * n : 1 + 2 * n + k], strict=True)),
                "trades": {
                    tid: dict(zip(TRADE_FIELDS, record, strict=True))
                    for tid, record in zip(self.order, trades, strict=True)
                },
                "mailboxes": tuple(values[1 + 2 * n + k + m : 5 + 2 * n + k + m]),
                "paused": values[5 + 2 * n + k + m],
                "announced": dict(zip(hold_ids, values[6 + 2 * n + k + m :], strict=True)),
            }
        return self._cache

    def invariant_c1_supply_is_the_sum_of_balances(self):
        """C1: total supply = Σ balances of every holder (the settlement holds nothing)."""
        chain_ = self._chain()
        assert chain_["supply"] == sum(chain_["balances"].values())
        assert chain_["balances"][self.settlement.address] == 0

    def invariant_c2_c4_held_is_covered_and_is_the_sum_of_open_holds(self):
        """C2: held ≤ balance for every holder. C4: per payer, the sum of its open holds,
        hold by hold (on-chain status of each), is its held total."""
        chain_ = self._chain()
        for holder in self.holders:
            assert chain_["held"][holder] <= chain_["balances"][holder], holder
            open_sum = sum(
                h.hold.amount
                for i, h in self.holds.items()
                if h.hold.payer == holder and chain_["holds"][i] == HELD
            )
            assert chain_["held"][holder] == open_sum, f"{holder}: held != Σ open holds"

    def invariant_c5_a_refused_call_changes_nothing(self):
        """C5: every call refused in the step left the storage of every contract (token,
        settlement, registry, bill, both mailboxes) as it was."""
        assert not self.changed_by_refusal, f"C5: refused but changed: {self.changed_by_refusal}"

    def invariant_c7_delivered_and_expired_are_terminal_and_exclusive(self):
        """C7: a trade's first terminal status never changes; a trade sends at most one
        Delivered-or-Expired outcome, matching its status, and a funded one exactly one."""
        chain_ = self._chain()
        for tid in self.order:
            record = chain_["trades"][tid]
            status = STATUS_NAME[record["status"]]
            first = self.observed.first_terminal.get(tid)
            if first is not None:
                assert status == first, f"{tid}: left terminal {first} for {status}"
            elif status in TERMINAL:
                self.observed.first_terminal[tid] = status
            outcomes = self.observed.final_outcomes.get(tid, [])
            assert len(outcomes) <= 1, f"{tid}: outcomes {outcomes}"
            if outcomes:
                assert status == ("Delivered" if outcomes[0] == Outcome.DELIVERED else "Expired")
            funded = record["holdId"] != b"\x00" * 32
            if funded and status in ("Delivered", "Expired"):
                assert len(outcomes) == 1, f"{tid}: {status} without its outcome"

    def invariant_l1_an_expired_open_hold_can_be_released_by_anyone(self):
        """L1: every open hold at or past its expiry can be released by a stranger now, with
        no relayer, paused or frozen (eth_call at the latest block)."""
        chain_ = self._chain()
        due = [
            h.hold
            for i, h in self.holds.items()
            if chain_["holds"][i] == HELD and h.hold.expiry <= self.now
        ]
        calls = [
            (
                self.token,
                self.stranger,
                bytes.fromhex(self.token.releaseHold.encode_input(h.tuple())[2:]),
            )
            for h in due
        ]
        for hold, error in zip(due, call_errors(calls), strict=True):
            assert error is None, f"L1: {hold} cannot be released at {self.now}: {error}"

    def invariant_x1_an_executed_hold_belongs_to_a_delivered_trade(self):
        """X1: every hold executed (status, and each HoldExecuted event) is the funding hold of
        a Delivered trade with the same payer, payee (the seller) and amount (the price).
        And its precondition: a trade is funded only by a hold that matches it (payer, payee,
        amount = price, expiry = hold expiry), the one its Delivered outcome can pay."""
        chain_ = self._chain()
        for tid, record in chain_["trades"].items():
            if record["holdId"] == b"\x00" * 32:
                continue
            held = self.holds.get(record["holdId"])
            assert held is not None, f"X1: {tid[:10]} funded by unknown hold"
            # The placement that funded it: once released, its id may be placed again.
            funding = self.trades[tid].funding if tid in self.trades else None
            hold = funding or held.hold
            assert (hold.payer, hold.payee, hold.amount, hold.expiry, hexid(hold.ref)) == (
                record["payer"],
                record["payee"],
                record["price"],
                record["holdExpiry"],
                tid,
            ), f"X1: trade {_text(tid, record)} funded by {hold}"
        executed = {i for i, status in chain_["holds"].items() if status == EXECUTED}
        executed |= set(self.observed.executed)
        payouts = {
            hold: (payer, payee, amount) for hold, payer, payee, amount in self.observed.payouts
        }
        for hold_id in executed:
            hold = self.holds[hold_id].hold if hold_id in self.holds else None
            assert hold is not None, f"X1: unknown hold {hold_id.hex()} executed"
            record = chain_["trades"].get(hexid(hold.ref))
            assert record is not None, f"X1: hold {hold_id.hex()} of no trade executed"
            trade = _text(hexid(hold.ref), record)
            assert STATUS_NAME[record["status"]] == "Delivered", f"X1: {hold} paid, trade {trade}"
            assert record["holdId"] == hold_id, (
                f"X1: {hold} paid, funding hold of {trade} is another"
            )
            assert (hold.payer, hold.payee, hold.amount) == (
                record["payer"],
                record["payee"],
                record["price"],
            ), f"X1: {hold} paid for trade {trade}"
            if hold_id in payouts:
                assert payouts[hold_id] == (record["payer"], record["payee"], record["price"])

    def invariant_x2_no_expired_cancelled_or_rejected_trade_pays_the_seller(self):
        """X2: no hold referring to an Expired or Cancelled trade, and no hold the registry
        rejected, is executed."""
        chain_ = self._chain()
        for hold_id, held in self.holds.items():
            paid = chain_["holds"][hold_id] == EXECUTED or self.observed.executed[hold_id] > 0
            record = chain_["trades"].get(hexid(held.hold.ref))
            status = STATUS_NAME[record["status"]] if record else "None"
            assert not (paid and status in ("Expired", "Cancelled")), (
                f"X2: {held.hold} paid, {status}"
            )
            assert not (paid and held.rejected), f"X2: rejected {held.hold} paid"

    def invariant_x3_no_hold_both_executed_and_released_settlement_matches(self):
        """X3: each hold executed or released at most once and never both (events); a trade
        whose PAYMENT_SETTLED arrived is Paid iff its hold is Executed, Refunded iff
        Released."""
        chain_ = self._chain()
        executed, released = self.observed.executed, self.observed.released
        for hold_id in set(executed) | set(released):
            # Each placement ends at most once; only a released id is placed again, so an
            # executed one is its id's last placement.
            assert executed[hold_id] <= 1, f"X3: hold {hold_id.hex()} executed twice"
            assert executed[hold_id] + released[hold_id] <= self.placements[hold_id], (
                f"X3: hold {hold_id.hex()} placed {self.placements[hold_id]}x, executed "
                f"{executed[hold_id]}x, released {released[hold_id]}x"
            )
        for tid in self.order:
            record = chain_["trades"][tid]
            settlement = SETTLEMENT_NAME[record["settlement"]]
            if settlement == "None":
                continue
            status = chain_["holds"].get(record["holdId"])
            expected = EXECUTED if settlement == "Paid" else RELEASED
            trade = self.trades.get(tid)
            held = self.holds.get(record["holdId"])
            placed_again = trade and self.placements[record["holdId"]] > trade.funding_placement
            if trade and trade.funding and held and placed_again:
                # The funding placement was released and its id placed again since: its end
                # is in the events (a later placement's status is not the trade's).
                ended = executed if settlement == "Paid" else released
                assert ended[record["holdId"]] >= 1, f"X3: trade {tid} {settlement}, no event"
                continue
            assert status == expected, f"X3: trade {tid} {settlement}, hold {status}"

    def invariant_y_the_chain_is_where_the_model_says(self):
        """Balances, hold statuses, trade records, queues and pause agree with the model;
        every DeliveredAfterRefund flag is a Delivered trade settled Refunded."""
        assert not self.disagreements, "the chain and the model disagree:\n" + "\n".join(
            self.disagreements
        )
        chain_ = self._chain()
        assert chain_["balances"] == self.balances
        assert {i: s for i, s in chain_["holds"].items()} == {
            i: h.status for i, h in self.holds.items()
        }
        for tid in self.order:
            record, trade = chain_["trades"][tid], self.trades[tid]
            assert STATUS_NAME[record["status"]] == trade.status, f"{tid}: {record} vs {trade}"
            assert SETTLEMENT_NAME[record["settlement"]] == trade.settlement, f"{tid}: {record}"
            assert record["holdId"] == (trade.hold or b"\x00" * 32)
        assert chain_["mailboxes"] == (
            len(self.to_payment),
            len(self.to_business),
            self.nonces[PAYMENT_DOMAIN],
            self.nonces[BUSINESS_DOMAIN],
        )
        assert chain_["paused"] == self.paused
        assert chain_["announced"] == {i: h.announced for i, h in self.holds.items()}
        assert self.observed.flagged == self.expected_flags, "DeliveredAfterRefund flags"

    def invariant_z_nothing_is_stuck_after_recovery(self):
        """After `rule_everyone_recovers` (pass criterion: nothing is stuck forever;
        L1): no hold is open, nothing is held, no message is queued, and every funded trade
        is settled. Runs last, so that an invariant with an id reports a cause first."""
        if not self.recovered:
            return
        self.recovered = False
        chain_ = self._chain()
        still_held = [i.hex() for i, status in chain_["holds"].items() if status == HELD]
        assert not still_held, f"holds still open after recovery: {still_held}"
        assert not any(chain_["held"].values()), f"still held after recovery: {chain_['held']}"
        assert chain_["mailboxes"][:2] == (0, 0), "messages still queued after recovery"
        for tid, record in chain_["trades"].items():
            funded = record["holdId"] != b"\x00" * 32
            assert not funded or record["settlement"] != 0, f"{_text(tid, record)} never settled"

    def teardown(self) -> None:
        for trade in self.trades.values():
            self.reached[f"{trade.status}/{trade.settlement}"] += 1

    def teardown_final(cls) -> None:
        log.info("where the examples went: %s", dict(sorted(cls.reached.items())))


def test_the_whole_settlement_keeps_its_invariants(
    interpreted_state_machine,
    mocked_pvd,
    wallet_a,
    wallet_b,
    buyer,
    seller,
    carrier,
    stranger,
    capped_a,
    capped_b,
    relayer,
    operator,
    pauser,
    compliance_officer,
):
    # Two keyed class I buyers with 100,000 yuan each (wallet_b has 1,000 from the fixture).
    mocked_pvd.token.issue(wallet_b, 99_000 * YUAN, {"from": operator})
    holders = [buyer, seller, wallet_a, wallet_b, capped_a, capped_b, carrier, stranger]
    interpreted_state_machine(
        WholeSettlement,
        mocked_pvd,
        [wallet_a, wallet_b],
        {wallet_a.address: wallet_key("a"), wallet_b.address: wallet_key("b")},
        seller,
        carrier,
        stranger,
        relayer,
        pauser,
        compliance_officer,
        [*holders, mocked_pvd.settlement],
        settings=SETTINGS,
    )
