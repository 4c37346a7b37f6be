"""Stateful test of the payment chain's settlement under attack, on the real Inbox, Outbox,
PvdSettlement and YuanToken (docs/security.md).

The test plays the business chain's registry and the attesters. The first attester set's
quorum is stolen: the attacker forges TRADE_OUTCOMEs (Delivered, Expired, Rejected) for
holds that exist or are still to be placed, with or without the token paused (so that a
forged payout is parked as verified-but-failed). The operators follow the book in any
order: the guardian pauses at any step, the admin rotates the attester set through the
delayed governance and unpauses; the outbox owner proposes, applies or cancels an app
change through its delay. Honest parties keep going: payers place and announce holds, the
registry's honest outcomes are signed by the current set and delivered, anyone retries
failed messages, time passes and anyone releases expired holds.

Invariants after every step:
  A1   nothing the stolen quorum signed takes effect once its set was rotated out: no
       transaction after the rotation delivers or retries a forged message, and no
       forged Delivered outcome pays after it;
  A2   a pause stops every effect through the inbox: no transaction while paused executes
       or releases a hold through the settlement or consumes a message;
  C2   held ≤ balance for every holder; C4 per payer, Σ of its open holds = heldBalanceOf;
  L1   every open hold at or past its expiry can be released by a stranger now (eth_call);
  X3   each placement of a hold is executed or released at most once (events).
"""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

import brownie
from brownie import chain
from brownie.exceptions import VirtualMachineError
from hypothesis import strategies as st

from pvd.protocol.messages import Message, Outcome, TradeOutcome
from tests.contracts.fixtures.bridge import (
    ATTESTERS,
    BUSINESS_DOMAIN,
    GOVERNANCE_DELAY,
    PAYMENT_DOMAIN,
    REGISTRY,
    sign,
)
from tests.contracts.fixtures.settlement import call_errors
from tests.contracts.fixtures.token import HELD, YUAN, Hold, new_hold

SETTINGS = {"max_examples": 25, "stateful_step_count": 25, "derandomize": True, "database": None}
STOLEN = ATTESTERS[:2]  # a quorum (2 of 3) of the first set
NEW_SET = sorted(ATTESTERS[2:5], key=lambda a: int(a.address, 16))  # none of the stolen keys
PRICE = 50 * YUAN
OUTCOMES = (Outcome.DELIVERED, Outcome.EXPIRED, Outcome.REJECTED)


class AttackedSettlement:
    st_index = st.integers(min_value=0, max_value=31)
    st_outcome = st.integers(min_value=0, max_value=2)
    st_flag = st.booleans()
    st_sleep = st.sampled_from([10, 600, 4_000])

    def __init__(cls, side, payers, seller, stranger, relayer, guardian, admin, pauser):
        cls.side = side
        cls.payers = list(payers)
        cls.seller = seller
        cls.stranger = stranger
        cls.relayer = relayer
        cls.guardian = guardian
        cls.admin = admin
        cls.pauser = pauser

    def setup(self) -> None:
        self.labels = itertools.count()
        self.nonce = itertools.count(1_000)
        self.holds: list[Hold] = []  # every hold placed
        self.future: list[Hold] = []  # holds the forger named before anyone placed them
        self.placements: Counter[bytes] = Counter()
        self.forged: set[bytes] = set()  # ids of messages the stolen quorum signed
        self.messages: dict[bytes, Message] = {}
        self.rotated = False
        self.inbox_paused = False
        self.token_paused = False
        self.executed: Counter[bytes] = Counter()
        self.released: Counter[bytes] = Counter()
        self.violations: list[str] = []

    # ------------------------------------------------------------------ helpers

    def _outcome(self, hold: Hold, outcome: Outcome) -> Message:
        body = TradeOutcome(
            trade_id=hold.ref,
            hold_id=hold.id(),
            outcome=outcome,
            payer=hold.payer,
            payee=hold.payee,
            amount=hold.amount,
            expiry=hold.expiry,
        )
        message = Message.of(
            BUSINESS_DOMAIN,
            REGISTRY,
            PAYMENT_DOMAIN,
            self.side.settlement.address,
            next(self.nonce),
            body,
        )
        self.messages[message.id] = message
        return message

    def _current_quorum(self) -> list[Any]:
        return NEW_SET[:2] if self.rotated else STOLEN

    def _send(self, call: Any) -> Any:
        """Send; return the receipt, or None if it reverted. Every receipt is checked
        against A1 and A2 and its hold events are counted (X3)."""
        try:
            tx = call()
        except VirtualMachineError:
            return None
        events = tx.events
        consumed = [
            bytes(e["messageId"])
            for name in ("MessageDelivered", "MessageRetried", "MessageFailed")
            if name in events
            for e in events[name]
        ]
        if self.rotated:
            for mid in consumed:
                if mid in self.forged:
                    self.violations.append(f"A1: forged {mid.hex()} took effect after rotation")
        if self.inbox_paused and (consumed or "TradeSettled" in events):
            self.violations.append(f"A2: the paused inbox consumed {consumed}")
        for name, counter in (("HoldExecuted", self.executed), ("HoldReleased", self.released)):
            if name in events:
                for e in events[name]:
                    counter[bytes(e["holdId"])] += 1
        return tx

    def _deliver(self, message: Message, signers: list[Any]) -> Any:
        encoding, signatures = message.encode(), sign(self.side.inbox, message, signers)
        return self._send(
            lambda: self.side.inbox.deliver(encoding, signatures, {"from": self.relayer})
        )

    def _pick(self, index: int) -> Hold | None:
        return self.holds[index % len(self.holds)] if self.holds else None

    # ------------------------------------------------------------------ honest moves

    def rule_payer_places_and_announces(self, st_index, st_flag):
        payer = self.payers[st_index % len(self.payers)]
        hold = new_hold(
            payer,
            self.seller,
            self.side.settlement,
            PRICE,
            chain.time() + 3_000,
            f"attacked-{next(self.labels)}",
        )
        self._place(payer, hold, st_flag)

    def rule_payer_places_the_hold_a_forgery_named(self, st_index, st_flag):
        """The forged outcome came first; the buyer funds afterwards."""
        if not self.future:
            return
        hold = self.future.pop(st_index % len(self.future))
        if hold.expiry > chain.time() + 1:
            payer = next(p for p in self.payers if str(p) == hold.payer)
            self._place(payer, hold, st_flag)

    def _place(self, payer: Any, hold: Hold, announce: bool) -> None:
        placed = self._send(
            lambda: self.side.token.placeHold(
                hold.ref, hold.payee, hold.notary, hold.amount, hold.expiry, {"from": payer}
            )
        )
        if placed is None:
            return
        self.holds.append(hold)
        self.placements[hold.id()] += 1
        if announce:
            self._send(lambda: self.side.settlement.announce(hold.tuple(), {"from": payer}))

    def rule_registry_sends_an_honest_outcome(self, st_index, st_outcome):
        hold = self._pick(st_index)
        if hold is not None:
            self._deliver(self._outcome(hold, OUTCOMES[st_outcome]), self._current_quorum())

    def rule_anyone_retries_a_failed_message(self, st_index):
        failed = [m for mid, m in self.messages.items() if self.side.inbox.failureOf(mid)[0] == 2]
        if failed:
            message = failed[st_index % len(failed)]
            self._send(lambda: self.side.inbox.retry(message.encode(), {"from": self.stranger}))

    def rule_time_passes_and_anyone_releases_expired_holds(self, st_sleep):
        chain.sleep(st_sleep)
        chain.mine()
        for hold in self.holds:
            if self.side.token.holdStatus(hold.id()) == HELD and chain.time() >= hold.expiry:
                self._send(
                    lambda h=hold: self.side.token.releaseHold(h.tuple(), {"from": self.stranger})
                )

    # ------------------------------------------------------------------ the attacker

    def rule_stolen_quorum_forges_an_outcome(self, st_index, st_outcome, st_flag):
        """For a hold that exists, or one a payer will place later (a fresh reference)."""
        hold = self._pick(st_index) if st_flag else None
        if hold is None:
            payer = self.payers[st_index % len(self.payers)]
            hold = new_hold(
                payer,
                self.seller,
                self.side.settlement,
                PRICE,
                chain.time() + 3_000,
                f"future-{next(self.labels)}",
            )
            self.future.append(hold)
        message = self._outcome(hold, OUTCOMES[st_outcome])
        self.forged.add(message.id)
        self._deliver(message, STOLEN)

    def rule_the_forger_replays_a_forgery_with_the_stolen_keys(self, st_index):
        forged = sorted(self.forged)
        if forged:
            self._deliver(self.messages[forged[st_index % len(forged)]], STOLEN)

    # ------------------------------------------------------------------ operators

    def rule_guardian_pauses(self):
        if self._send(lambda: self.side.inbox.pause({"from": self.guardian})) is not None:
            self.inbox_paused = True

    def rule_admin_unpauses(self):
        if self._send(lambda: self.side.inbox.unpause({"from": self.admin})) is not None:
            self.inbox_paused = False

    def rule_admin_rotates_the_attester_set(self):
        if self.rotated:
            return
        members = [a.address for a in NEW_SET]
        self.side.inbox.proposeAttesterSet(members, 2, {"from": self.admin})
        chain.sleep(GOVERNANCE_DELAY + 1)
        self.side.inbox.applyAttesterSet({"from": self.stranger})
        self.rotated = True

    def rule_admin_voids_a_failed_forgery(self, st_index):
        failed = [f for f in sorted(self.forged) if self.side.inbox.failureOf(f)[0] == 2]
        if failed:
            mid = failed[st_index % len(failed)]
            self._send(lambda: self.side.inbox.voidMessage(mid, {"from": self.admin}))

    def rule_pauser_toggles_the_token(self):
        if self.token_paused:
            self.side.token.unpause({"from": self.pauser})
        else:
            self.side.token.pause({"from": self.pauser})
        self.token_paused = not self.token_paused

    def rule_outbox_owner_changes_the_settlement_app(self, st_flag):
        """Propose unregistering (or registering back); it applies only after the delay."""
        outbox, app = self.side.outbox, self.side.settlement
        registered = outbox.isRegisteredApp(app)
        if outbox.pendingApp(app)[1] == 0:
            self._send(lambda: outbox.proposeApp(app, not registered, {"from": self.admin}))
            if outbox.isRegisteredApp(app) != registered:
                self.violations.append("outbox: an app change took effect without its delay")
        elif st_flag:
            chain.sleep(GOVERNANCE_DELAY + 1)
            self._send(lambda: outbox.applyApp(app, {"from": self.stranger}))
        else:
            self._send(lambda: outbox.cancelApp(app, {"from": self.admin}))

    # ------------------------------------------------------------------ invariants

    def invariant_a1_a2_no_forgery_after_rotation_and_no_effect_while_paused(self):
        assert not self.violations, "\n".join(self.violations)

    def invariant_c2_c4_held_is_covered_and_is_the_sum_of_open_holds(self):
        token = self.side.token
        for payer in self.payers:
            held = token.heldBalanceOf(payer)
            assert held <= token.balanceOf(payer), f"C2: {payer}"
            own = {h.id(): h for h in self.holds if h.payer == str(payer)}
            open_sum = sum(h.amount for i, h in own.items() if token.holdStatus(i) == HELD)
            assert held == open_sum, f"C4: {payer} held {held}, open holds {open_sum}"

    def invariant_l1_an_expired_open_hold_can_be_released_by_anyone(self):
        token, now = self.side.token, chain[-1].timestamp
        expired = [h for h in self.holds if h.expiry <= now and token.holdStatus(h.id()) == HELD]
        calls = [
            (token, self.stranger, bytes.fromhex(token.releaseHold.encode_input(h.tuple())[2:]))
            for h in expired
        ]
        assert call_errors(calls) == [None] * len(expired), "L1"

    def invariant_x3_each_placement_ends_at_most_once(self):
        for hold_id in set(self.executed) | set(self.released):
            assert self.executed[hold_id] <= 1, f"X3: {hold_id.hex()} executed twice"
            assert self.executed[hold_id] + self.released[hold_id] <= self.placements[hold_id], (
                f"X3: {hold_id.hex()} placed {self.placements[hold_id]}x, executed "
                f"{self.executed[hold_id]}x, released {self.released[hold_id]}x"
            )


def test_the_settlement_keeps_its_invariants_under_attack(
    interpreted_state_machine,
    payment_side,
    wallet_a,
    wallet_b,
    seller,
    stranger,
    relayer,
    guardian,
    deployer,
    pauser,
):
    payment_side.outbox.closeSetup({"from": deployer})  # app changes wait from here on
    interpreted_state_machine(
        AttackedSettlement,
        payment_side,
        [wallet_a, wallet_b],
        seller,
        stranger,
        relayer,
        guardian,
        deployer,
        pauser,
        settings=SETTINGS,
    )
    assert brownie.network.is_connected()
