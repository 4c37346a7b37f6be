"""The token's rules as the stateful tests predict them: which custom error a payment,
a credit or a hold's placement raises, and the day's spending a payment charges. Each
state machine's model extends it with its own record of holds (`held`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.contracts.fixtures.token import CLASS_I, CST, DAY, err

MAX_BALANCE = 2**64 - 1  # MAX_ACCOUNT_BALANCE: the width of an account word's balance field


@dataclass
class TokenModel:
    """Balances, classes, flags and spending as the token should hold them. Mutable on
    purpose: a machine's state."""

    t: int
    balances: dict[str, int]
    classes: dict[str, int]
    class_caps: dict[int, tuple[int, int, int]]  # class -> (balance, per payment, daily)
    frozen: set[str] = field(default_factory=set)
    exempt: set[str] = field(default_factory=set)
    paused: bool = False
    spent: dict[str, tuple[int, int]] = field(default_factory=dict)  # account -> (day, fen)

    def held(self, account: str) -> int:
        raise NotImplementedError  # the sum of the account's open holds, from the machine's record

    def day(self) -> int:
        return (self.t + CST) // DAY

    def capped(self, account: str) -> bool:
        return account not in self.exempt and self.classes[account] != CLASS_I

    def caps(self, account: str) -> tuple[int, int, int]:
        return self.class_caps[self.classes[account]]

    def spent_on(self, account: str, day: int) -> int:
        recorded_day, amount = self.spent.get(account, (-1, 0))
        return amount if recorded_day == day else 0

    def spent_today(self, account: str) -> int:
        return self.spent_on(account, self.day())

    def spendable(self, account: str) -> int:
        return self.balances[account] - self.held(account)

    def payment_error(self, payer: str, amount: int) -> str | None:
        """The cap error a payment of `amount` by `payer` raises, if any."""
        if not self.capped(payer):
            return None
        _, payment_cap, daily_cap = self.caps(payer)
        if amount > payment_cap:
            return err("PaymentCapExceeded", payer, payment_cap, amount)
        spent = self.spent_today(payer)
        if spent + amount > daily_cap:
            return err("DailyCapExceeded", payer, daily_cap, spent, amount)
        return None

    def charge(self, payer: str, amount: int) -> None:
        if self.capped(payer):
            self.spent[payer] = (self.day(), self.spent_today(payer) + amount)

    def balance_cap_error(self, payee: str, amount: int) -> str | None:
        if not self.capped(payee):
            return None
        cap, balance = self.caps(payee)[0], self.balances[payee]
        if balance + amount > cap:
            return err("BalanceCapExceeded", payee, cap, balance, amount)
        return None

    def overflow_error(self, payee: str, amount: int) -> str | None:
        balance = self.balances[payee]
        if balance + amount > MAX_BALANCE:
            return err("AccountBalanceOverflow", payee, balance, amount)
        return None

    def transfer_error(self, source: str, target: str, amount: int) -> str | None:
        """The error `transfer(target, amount)` from `source` raises, in the token's order."""
        spendable = self.spendable(source)
        if self.paused:
            return err("EnforcedPause")
        if source in self.frozen:
            return err("AccountIsFrozen", source)
        if self.held(source) and amount > spendable:
            return err("InsufficientSpendableBalance", source, spendable, amount)
        error = self.payment_error(source, amount)
        if error is None and target in self.frozen:
            error = err("AccountIsFrozen", target)
        if error is None:
            error = self.balance_cap_error(target, amount)
        if error is None and amount > self.balances[source]:
            error = err("ERC20InsufficientBalance", source, self.balances[source], amount)
        if error is None and source != target:
            error = self.overflow_error(target, amount)
        return error

    def transfer(self, source: str, target: str, amount: int) -> None:
        self.charge(source, amount)
        self.balances[source] -= amount
        self.balances[target] += amount

    def placement_error(self, payer: str, payee: str, amount: int) -> str | None:
        """The error placing a hold of `amount` from `payer` to `payee` raises once the hold
        itself is well-formed (a non-zero amount, another payee, a new id)."""
        spendable = self.spendable(payer)
        if payer in self.frozen:
            return err("AccountIsFrozen", payer)
        if amount > spendable:
            return err("InsufficientSpendableBalance", payer, spendable, amount)
        if payee in self.frozen:
            return err("AccountIsFrozen", payee)
        return self.balance_cap_error(payee, amount) or self.payment_error(payer, amount)
