"""A stateful test of the programmable yuan: random sequences of issue, transfer, hold,
execute, release, freeze, pause and time, against a Python model that predicts every
outcome — the exact custom error of a failing call, or the exact effect of a passing one.

Invariants checked after every step (ids of docs/design.md):
  C1 supply = sum of balances (and equals the model's);
  C2 held <= balance and spendable = balance - held, for every account;
  C3 per hold: the on-chain status is the model's; Executed absorbs, and Released does until
     the same id is placed again (a new hold: a refused payer funds the same reference); the
     payee is paid
     exactly the amount only on execution (balances match the model), the notary executes
     only before expiry and others release only from expiry on (predicted errors);
  C4 per payer: the sum of its open holds, hold by hold, equals heldBalanceOf;
  C5 a failed call changes nothing (storage root and watched values, in every failing rule).

Every transaction runs at a timestamp the model chose (evm_setNextBlockTimestamp), so the
calendar day of the daily caps and the hold windows are predicted exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import brownie
from hypothesis import strategies as st

from tests.contracts.fixtures.token import (
    DAY,
    DEFAULT_CAPS,
    EXECUTED,
    HELD,
    RELEASED,
    YUAN,
    Hold,
    batch_call,
    err,
    next_block_at,
    now,
    ref,
    unchanged,
)
from tests.contracts.property.token_model import TokenModel

# max_examples above 10: hypothesis spends its first 10 examples on minimal (short) runs.
# derandomize: the same sequences on every run (CI), chosen by hypothesis from a fixed seed.
SETTINGS = {"max_examples": 40, "stateful_step_count": 25, "derandomize": True}
VIEWS = ("balanceOf", "heldBalanceOf", "spendableBalanceOf")


@dataclass
class Model(TokenModel):
    """What the token should hold, with every hold it has seen and its status."""

    holds: dict[bytes, tuple[Hold, int]] = field(default_factory=dict)  # id -> (hold, status)

    def held(self, account: str) -> int:
        return sum(h.amount for h, s in self.holds.values() if h.payer == account and s == HELD)


class TokenMachine:
    """Rules draw amounts as kinds ("half the spendable balance", "the per-payment cap plus
    one fen", ...) resolved against the model, so that a step stays meaningful whatever the
    state, including when hypothesis repeats a step."""

    st_actor = st.integers(min_value=0, max_value=5)
    st_other = st.integers(min_value=0, max_value=4)
    st_payment = st.sampled_from(["zero", "one", "half", "all", "all+1", "cap", "cap+1", "big"])
    st_issuance = st.sampled_from(["zero", "one", "some", "to-cap", "over-cap"])
    st_ref = st.integers(min_value=0, max_value=5)
    st_duration = st.sampled_from([1, 2, 60, 3600, 3600, DAY, DAY])
    st_index = st.integers(min_value=0, max_value=63)
    st_sleep = st.sampled_from([1, 59, 3600, 6 * 3600, DAY])
    st_caller = st.sampled_from(["notary", "notary", "notary", "payer", "stranger"])
    st_switch_on = st.sampled_from([True, False, False])  # pause/freeze less often than lift

    def __init__(cls, token, actors, operator, notary, stranger, compliance, pauser):
        cls.token = token
        cls.actors = [str(a) for a in actors]
        cls.operator = operator
        cls.notary = str(notary)
        cls.stranger = str(stranger)
        cls.compliance = compliance
        cls.pauser = pauser

    def setup(self):
        token = self.token
        self.model = Model(
            t=now() + 1,
            balances={a: token.balanceOf(a) for a in self.actors},
            classes={a: token.walletClassOf(a) for a in self.actors},
            class_caps=DEFAULT_CAPS,
        )
        self._cache = None

    # --- helpers ----------------------------------------------------------------------------

    def _send(self, expected_error, call):
        """Run `call` at the model's next second; if an error is expected, assert it and C5."""
        self._cache = None
        self.model.t += 1
        next_block_at(self.model.t)
        if expected_error is None:
            return call()
        with (
            unchanged(self.token, self.actors, list(self.model.holds)),
            brownie.reverts(expected_error),
        ):
            call()
        return None

    def _payment(self, kind, payer):
        """A payment amount of `kind` for `payer`, from the model's state."""
        m = self.model
        spendable = m.balances[payer] - m.held(payer)
        cap = m.caps(payer)[1] if m.capped(payer) else spendable
        return {
            "zero": 0,
            "one": 1,
            "half": spendable // 2,
            "all": spendable,
            "all+1": spendable + 1,
            "cap": cap,
            "cap+1": cap + 1,
            "big": 300_000 * YUAN,
        }[kind]

    def _issuance(self, kind, to):
        m = self.model
        room = m.caps(to)[0] - m.balances[to] if m.capped(to) else 1_000_000 * YUAN
        return {"zero": 0, "one": 1, "some": 1_000 * YUAN, "to-cap": room, "over-cap": room + 1}[
            kind
        ]

    def _hold_at(self, index):
        """A hold placed earlier: an open one for index < 48 if any is open, else any."""
        ids = list(self.model.holds)
        open_ids = [i for i in ids if self.model.holds[i][1] == HELD]
        if open_ids and index < 48:
            return open_ids[index % len(open_ids)]
        return ids[index % len(ids)] if ids else None

    # --- rules ------------------------------------------------------------------------------

    def rule_issue(self, to="st_actor", kind="st_issuance"):
        m, account = self.model, self.actors[to]
        amount = self._issuance(kind, account)
        if amount == 0:
            error = err("IssuanceAmountZero")
        elif m.paused:
            error = err("EnforcedPause")
        elif account in m.frozen:
            error = err("AccountIsFrozen", account)
        else:
            error = m.balance_cap_error(account, amount)
        tx = self._send(error, lambda: self.token.issue(account, amount, {"from": self.operator}))
        if tx is not None:
            assert tx.events["Issued"]["amount"] == amount
            m.balances[account] += amount

    def rule_transfer(self, sender="st_actor", receiver="st_actor", kind="st_payment"):
        m = self.model
        source, target = self.actors[sender], self.actors[receiver]
        amount = self._payment(kind, source)
        error = m.transfer_error(source, target, amount)
        tx = self._send(error, lambda: self.token.transfer(target, amount, {"from": source}))
        if tx is not None:
            assert tx.events["Transfer"]["value"] == amount
            m.transfer(source, target, amount)

    def rule_place_hold(
        self,
        payer="st_actor",
        payee="st_other",
        kind="st_payment",
        label="st_ref",
        duration="st_duration",
    ):
        m = self.model
        # Never the payer itself (HoldPayeeInvalid is a unit test): the next actors in turn.
        source = self.actors[payer]
        target = self.actors[(payer + 1 + payee) % len(self.actors)]
        amount = self._payment(kind, source)
        expiry = m.t + 1 + duration
        hold = Hold(source, target, self.notary, amount, expiry, ref(f"trade-{label}"))
        existing = m.holds.get(hold.id())
        if m.paused:
            error = err("EnforcedPause")
        elif source == target:
            error = err("HoldPayeeInvalid", target)
        elif amount == 0:
            error = err("HoldAmountZero")
        elif existing is not None and existing[1] != RELEASED:
            error = err("HoldAlreadyExists", hold.id(), existing[1])
        else:
            error = m.placement_error(source, target, amount)
        tx = self._send(
            error,
            lambda: self.token.placeHold(
                hold.ref, target, self.notary, amount, expiry, {"from": source}
            ),
        )
        if tx is not None:
            assert tx.events["HoldPlaced"]["holdId"] == "0x" + hold.id().hex()
            checked_id, checked_status = self.token.checkHold(hold.tuple())
            assert (checked_id, checked_status) == ("0x" + hold.id().hex(), HELD)
            m.charge(source, amount)
            m.holds[hold.id()] = (hold, HELD)

    def rule_execute(self, index="st_index", caller="st_caller"):
        m = self.model
        hold_id = self._hold_at(index)
        if hold_id is None:
            return
        hold, status = m.holds[hold_id]
        account = {"notary": hold.notary, "payer": hold.payer, "stranger": self.stranger}[caller]
        at = m.t + 1
        error = None
        if status != HELD:
            error = err("HoldNotOpen", hold_id, status)
        elif account != hold.notary:
            error = err("HoldCallerNotNotary", hold_id, account)
        elif at >= hold.expiry:
            error = err("HoldExpired", hold_id, hold.expiry)
        elif m.paused:
            error = err("EnforcedPause")
        elif hold.payer in m.frozen:
            error = err("AccountIsFrozen", hold.payer)
        elif hold.payee in m.frozen:
            error = err("AccountIsFrozen", hold.payee)
        tx = self._send(error, lambda: self.token.executeHold(hold.tuple(), {"from": account}))
        if tx is not None:
            assert tx.events["HoldExecuted"]["amount"] == hold.amount
            m.holds[hold_id] = (hold, EXECUTED)
            m.balances[hold.payer] -= hold.amount
            m.balances[hold.payee] += hold.amount

    def rule_release(self, index="st_index", caller="st_caller"):
        m = self.model
        hold_id = self._hold_at(index)
        if hold_id is None:
            return
        hold, status = m.holds[hold_id]
        account = {"notary": hold.notary, "payer": hold.payer, "stranger": self.stranger}[caller]
        at = m.t + 1
        error = None
        if status != HELD:
            error = err("HoldNotOpen", hold_id, status)
        elif account != hold.notary and at < hold.expiry:
            error = err("HoldReleaseTooEarly", hold_id, account, hold.expiry)
        tx = self._send(error, lambda: self.token.releaseHold(hold.tuple(), {"from": account}))
        if tx is not None:
            assert tx.events["HoldReleased"]["releasedBy"] == account
            m.holds[hold_id] = (hold, RELEASED)

    def rule_freeze_or_unfreeze(self, who="st_actor", freeze="st_switch_on"):
        m, account = self.model, self.actors[who]
        if freeze:
            error = err("AccountAlreadyFrozen", account) if account in m.frozen else None
            call = self.token.freeze
        else:
            error = None if account in m.frozen else err("AccountNotFrozen", account)
            call = self.token.unfreeze
        if self._send(error, lambda: call(account, {"from": self.compliance})) is not None:
            if freeze:
                m.frozen.add(account)
            else:
                m.frozen.discard(account)

    def rule_pause_or_unpause(self, pause="st_switch_on"):
        m = self.model
        if pause:
            error, call = (err("EnforcedPause") if m.paused else None), self.token.pause
        else:
            error, call = (None if m.paused else err("ExpectedPause")), self.token.unpause
        if self._send(error, lambda: call({"from": self.pauser})) is not None:
            m.paused = pause

    def rule_sleep(self, seconds="st_sleep"):
        self.model.t += seconds
        self._cache = None

    # --- invariants -------------------------------------------------------------------------

    def _chain(self):
        """Every value the invariants compare, read in one JSON-RPC batch once per step."""
        if self._cache is None:
            n, ids = len(self.actors), list(self.model.holds)
            values = batch_call(
                self.token,
                [("totalSupply", (), ())]
                + [(view, ("address",), (a,)) for view in VIEWS for a in self.actors]
                + [("holdStatus", ("bytes32",), (i,)) for i in ids],
            )
            rows = [values[1 + k * n : 1 + (k + 1) * n] for k in range(len(VIEWS))]
            self._cache = {
                "supply": values[0],
                **dict(zip(VIEWS, rows, strict=True)),
                "statuses": dict(zip(ids, values[1 + len(VIEWS) * n :], strict=True)),
            }
        return self._cache

    def invariant_c1_supply_is_the_sum_of_balances(self):
        """C1: total supply = sum of balances = the model's."""
        chain = self._chain()
        assert chain["balanceOf"] == [self.model.balances[a] for a in self.actors]
        assert chain["supply"] == sum(chain["balanceOf"])

    def invariant_c2_held_is_covered_by_the_balance(self):
        """C2: held <= balance and spendable = balance - held, for every account."""
        chain = self._chain()
        for b, h, s in zip(
            chain["balanceOf"], chain["heldBalanceOf"], chain["spendableBalanceOf"], strict=True
        ):
            assert h <= b
            assert s == b - h

    def invariant_c3_c4_every_hold_is_where_the_model_says(self):
        """C3: each hold's on-chain status is the model's (Executed absorbs; a Released id
        changes only by a new placement, which the model predicts). C4: per payer, the sum of its
        open holds, hold by hold, is its held total."""
        chain = self._chain()
        assert chain["statuses"] == {i: status for i, (_, status) in self.model.holds.items()}
        assert chain["heldBalanceOf"] == [self.model.held(a) for a in self.actors]


def test_the_token_keeps_its_invariants_under_random_operations(
    interpreted_state_machine,
    yuan,
    buyer,
    seller,
    wallet_a,
    wallet_b,
    capped_a,
    capped_b,
    operator,
    hold_notary,
    stranger,
    compliance_officer,
    pauser,
):
    actors = [buyer, seller, wallet_a, wallet_b, capped_a, capped_b]  # every holder
    interpreted_state_machine(
        TokenMachine,
        yuan,
        actors,
        operator,
        hold_notary,
        stranger,
        compliance_officer,
        pauser,
        settings=SETTINGS,
    )
