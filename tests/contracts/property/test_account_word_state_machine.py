"""A stateful test of the packed account word (AccountState: balance 64 | held 64 | spent 64 |
day 32 | class 8 | frozen | exempt) at the widths of its fields: random sequences of
issuance to the top of the 64-bit balance field and one fen past it, transfers (to oneself
too), holds of the whole spendable balance, executions into full accounts, releases, class,
exemption and freeze changes and time, against a Python model that predicts every error.

Class IV is uncapped in amount (NO_CAP for all three caps) so that a class IV wallet's day's
spending is tracked over its whole 64-bit field; classes II and III keep their defaults.

Checked after every step, for every account: each field as its view shows it (balance,
held, spendable, the day's spending, class, frozen, exempt) equals the model's, so no
write of one field ever changed another; and the total supply is the model's. A failed call
changes nothing (storage root and watched values, in every failing rule).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import brownie
from hypothesis import strategies as st

from tests.contracts.fixtures.token import (
    CLASS_IV,
    DAY,
    DEFAULT_CAPS,
    NO_CAP,
    Hold,
    batch_call,
    err,
    next_block_at,
    now,
    ref,
    unchanged,
)
from tests.contracts.property.token_model import MAX_BALANCE, TokenModel

SETTINGS = {"max_examples": 30, "stateful_step_count": 25, "derandomize": True}
MAX_UINT256 = 2**256 - 1
CAPS = {**DEFAULT_CAPS, CLASS_IV: (NO_CAP, NO_CAP, NO_CAP)}
HOLD_LIFETIME = 300 * DAY  # far beyond any run: holds are executed or released, never expire
WORD_VIEWS = (
    ("balanceOf", "balance"),
    ("heldBalanceOf", "held"),
    ("spendableBalanceOf", "spendable"),
    ("spentToday", "spent"),
    ("walletClassOf", "class"),
    ("isFrozen", "frozen"),
    ("isCapExempt", "exempt"),
)


@dataclass
class Model(TokenModel):
    """The token's account words as the model predicts them, with the supply and the open
    holds."""

    supply: int = 0
    open_holds: dict[bytes, Hold] = field(default_factory=dict)

    def held(self, account: str) -> int:
        return sum(h.amount for h in self.open_holds.values() if h.payer == account)


class AccountWordMachine:
    """Amounts are drawn as kinds resolved against the model ("the room left in the payee's
    balance field plus one fen", ...), so that each step hits a field's edge whatever the
    state."""

    st_actor = st.integers(min_value=0, max_value=3)
    st_other = st.integers(min_value=0, max_value=2)
    st_issuance = st.sampled_from(["room", "room", "room+1", "half-room", "one", "2**63"])
    st_payment = st.sampled_from(
        ["spendable", "spendable", "half", "one", "spendable+1", "payee-room", "payee-room+1"]
    )
    st_hold = st.sampled_from(["spendable", "spendable", "half", "one", "spendable+1"])
    st_index = st.integers(min_value=0, max_value=15)
    st_class = st.integers(min_value=0, max_value=3)
    st_flag = st.booleans()
    st_sleep = st.sampled_from([3600, 6 * 3600, DAY])

    def __init__(cls, token, actors, operator, notary, compliance, central_bank):
        cls.token = token
        cls.actors = [str(a) for a in actors]
        cls.operator = operator
        cls.notary = str(notary)
        cls.compliance = compliance
        cls.central_bank = central_bank

    def setup(self):
        token = self.token
        self.model = Model(
            t=now() + 1,
            balances={a: token.balanceOf(a) for a in self.actors},
            classes={a: token.walletClassOf(a) for a in self.actors},
            class_caps=CAPS,
            supply=token.totalSupply(),
        )
        self.refs = 0

    # --- helpers ----------------------------------------------------------------------------

    def _send(self, expected_error, call):
        """Run `call` at the model's next second; if an error is expected, assert it and C5."""
        self.model.t += 1
        next_block_at(self.model.t)
        if expected_error is None:
            return call()
        holds = list(self.model.open_holds)
        with unchanged(self.token, self.actors, holds), brownie.reverts(expected_error):
            call()
        return None

    def _amount(self, kind, payer, payee):
        m = self.model
        spendable = m.spendable(payer)
        room = MAX_BALANCE - m.balances[payee]
        return {
            "spendable": spendable,
            "half": spendable // 2,
            "one": 1,
            "spendable+1": spendable + 1,
            "payee-room": min(room, spendable),
            "payee-room+1": room + 1,
            "room": room,
            "room+1": room + 1,
            "half-room": room // 2,
            "2**63": 2**63,
        }[kind]

    def _open_hold(self, index):
        holds = list(self.model.open_holds.values())
        return holds[index % len(holds)] if holds else None

    # --- rules ------------------------------------------------------------------------------

    def rule_issue(self, to="st_actor", kind="st_issuance"):
        m, account = self.model, self.actors[to]
        amount = self._amount(kind, account, account)
        if amount == 0:
            error = err("IssuanceAmountZero")
        elif account in m.frozen:
            error = err("AccountIsFrozen", account)
        else:
            error = m.balance_cap_error(account, amount) or m.overflow_error(account, amount)
        tx = self._send(error, lambda: self.token.issue(account, amount, {"from": self.operator}))
        if tx is not None:
            m.balances[account] += amount
            m.supply += amount

    def rule_transfer(self, sender="st_actor", receiver="st_actor", kind="st_payment"):
        m = self.model
        source, target = self.actors[sender], self.actors[receiver]
        amount = self._amount(kind, source, target)
        error = m.transfer_error(source, target, amount)
        tx = self._send(error, lambda: self.token.transfer(target, amount, {"from": source}))
        if tx is not None:
            m.transfer(source, target, amount)

    def rule_place_hold(self, payer="st_actor", payee="st_other", kind="st_hold"):
        m = self.model
        source = self.actors[payer]
        target = self.actors[(payer + 1 + payee) % len(self.actors)]  # never the payer
        amount = self._amount(kind, source, target)
        self.refs += 1
        hold = Hold(source, target, self.notary, amount, m.t + HOLD_LIFETIME, ref(f"w{self.refs}"))
        error = err("HoldAmountZero") if amount == 0 else m.placement_error(source, target, amount)
        tx = self._send(
            error,
            lambda: self.token.placeHold(
                hold.ref, target, self.notary, amount, hold.expiry, {"from": source}
            ),
        )
        if tx is not None:
            m.charge(source, amount)
            m.open_holds[hold.id()] = hold

    def rule_execute(self, index="st_index"):
        m, hold = self.model, self._open_hold(index)
        if hold is None:
            return
        error = None
        if hold.payer in m.frozen:
            error = err("AccountIsFrozen", hold.payer)
        elif hold.payee in m.frozen:
            error = err("AccountIsFrozen", hold.payee)
        else:
            error = m.overflow_error(hold.payee, hold.amount)
        tx = self._send(error, lambda: self.token.executeHold(hold.tuple(), {"from": self.notary}))
        if tx is not None:
            del m.open_holds[hold.id()]
            m.balances[hold.payer] -= hold.amount
            m.balances[hold.payee] += hold.amount

    def rule_release(self, index="st_index"):
        m, hold = self.model, self._open_hold(index)
        if hold is None:
            return
        self._send(None, lambda: self.token.releaseHold(hold.tuple(), {"from": self.notary}))
        del m.open_holds[hold.id()]

    def rule_set_class(self, who="st_actor", wallet_class="st_class"):
        account = self.actors[who]
        self._send(
            None,
            lambda: self.token.setWalletClass(account, wallet_class, {"from": self.operator}),
        )
        self.model.classes[account] = wallet_class

    def rule_set_exemption(self, who="st_actor", exempt="st_flag"):
        account = self.actors[who]
        self._send(
            None,
            lambda: self.token.setCapExemption(account, exempt, {"from": self.central_bank}),
        )
        if exempt:
            self.model.exempt.add(account)
        else:
            self.model.exempt.discard(account)

    def rule_freeze_or_unfreeze(self, who="st_actor"):
        m, account = self.model, self.actors[who]
        if account in m.frozen:
            self._send(None, lambda: self.token.unfreeze(account, {"from": self.compliance}))
            m.frozen.discard(account)
        else:
            self._send(None, lambda: self.token.freeze(account, {"from": self.compliance}))
            m.frozen.add(account)

    def rule_sleep(self, seconds="st_sleep"):
        self.model.t += seconds

    # --- invariant --------------------------------------------------------------------------

    def invariant_every_field_of_every_word_is_the_models(self):
        m, n = self.model, len(self.actors)
        values = batch_call(
            self.token,
            [("totalSupply", (), ()), ("currentDay", (), ())]
            + [(view, ("address",), (a,)) for view, _ in WORD_VIEWS for a in self.actors],
        )
        supply, day = values[0], values[1]
        assert supply == m.supply
        for k, account in enumerate(self.actors):
            chain = {name: values[2 + v * n + k] for v, (_, name) in enumerate(WORD_VIEWS)}
            expected = {
                "balance": m.balances[account],
                "held": m.held(account),
                "spendable": m.spendable(account),
                "spent": m.spent_on(account, day),
                "class": m.classes[account],
                "frozen": int(account in m.frozen),
                "exempt": int(account in m.exempt),
            }
            assert chain == expected, account


def test_the_account_words_fields_never_bleed_into_each_other(
    interpreted_state_machine,
    yuan,
    wallet_a,
    wallet_b,
    capped_a,
    capped_b,
    operator,
    hold_notary,
    compliance_officer,
    central_bank,
):
    yuan.setMintAllowance(operator, MAX_UINT256, {"from": central_bank})
    yuan.setTierCaps(CLASS_IV, *CAPS[CLASS_IV], {"from": central_bank})
    interpreted_state_machine(
        AccountWordMachine,
        yuan,
        [wallet_a, wallet_b, capped_a, capped_b],
        operator,
        hold_notary,
        compliance_officer,
        central_bank,
        settings=SETTINGS,
    )
