"""The money steps of the payment chain's token, from Python: the central bank appoints
banks (operators) and sets their mint allowances; banks issue, redeem and assign wallet
classes; compliance freezes and unfreezes accounts; the pauser pauses the token; anyone
transfers. Plus plain views of a wallet, a bank and the token.

Amounts are fen (pvd.client.amounts parses and shows yuan). Every step waits for its
receipt and raises ContractRevert (a UserError, the contract's error decoded) if the
contract refuses it, before anything is sent (pvd.client.send).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from eth_utils.crypto import keccak
from web3.contract import Contract

from pvd.chain.connection import Chain
from pvd.client.amounts import format_yuan
from pvd.client.send import Sent, send
from pvd.errors import UserError

DEFAULT_ADMIN_ROLE = b"\x00" * 32
OPERATOR_ROLE = bytes(keccak(text="OPERATOR_ROLE"))
COMPLIANCE_ROLE = bytes(keccak(text="COMPLIANCE_ROLE"))
PAUSER_ROLE = bytes(keccak(text="PAUSER_ROLE"))
ROLES = {
    "admin": DEFAULT_ADMIN_ROLE,
    "operator": OPERATOR_ROLE,
    "compliance": COMPLIANCE_ROLE,
    "pauser": PAUSER_ROLE,
}
NO_CAP = 2**64 - 1


class WalletClass(IntEnum):
    """The token's WalletClass (YuanAccounts.sol): class IV is anonymous, class I fully
    verified (no caps)."""

    IV = 0
    III = 1
    II = 2
    I = 3  # noqa: E741 - the e-CNY class's own name

    @classmethod
    def parse(cls, text: str) -> WalletClass:
        """`IV`, `iv`, `class-iv`, `ClassIV` or `4` -> WalletClass.IV."""
        word = text.strip().upper().removeprefix("CLASS").strip("-_ ")
        by_digit = {"4": "IV", "3": "III", "2": "II", "1": "I"}
        word = by_digit.get(word, word)
        try:
            return cls[word]
        except KeyError:
            raise UserError(
                f"wallet class {text!r} is unknown: use one of I, II, III, IV (or 1..4)"
            ) from None


# ----------------------------------------------------------------------------- steps


def grant_role(chain: Chain, token: Contract, admin: str, role: bytes, account: str) -> Sent:
    """The central bank grants `role` (e.g. COMPLIANCE_ROLE, PAUSER_ROLE) to `account`."""
    return send(chain, token.functions.grantRole(role, account), admin)


def appoint_bank(chain: Chain, token: Contract, central_bank: str, bank: str) -> Sent:
    """The central bank makes `bank` an operator (OPERATOR_ROLE): it may issue within
    its mint allowance, redeem and assign wallet classes."""
    return send(chain, token.functions.grantRole(OPERATOR_ROLE, bank), central_bank, "appoint bank")


def remove_bank(chain: Chain, token: Contract, central_bank: str, bank: str) -> Sent:
    """The central bank revokes a bank's OPERATOR_ROLE (its mint allowance drops to 0)."""
    return send(chain, token.functions.revokeRole(OPERATOR_ROLE, bank), central_bank, "remove bank")


def set_mint_allowance(
    chain: Chain, token: Contract, central_bank: str, bank: str, fen: int
) -> Sent:
    """The central bank sets how much `bank` may still issue (replaces the old value)."""
    return send(chain, token.functions.setMintAllowance(bank, fen), central_bank)


def issue(chain: Chain, token: Contract, bank: str, to: str, fen: int) -> Sent:
    """A bank issues (mints) `fen` to a wallet, spending its mint allowance."""
    return send(chain, token.functions.issue(to, fen), bank)


def approve(chain: Chain, token: Contract, owner: str, spender: str, fen: int) -> Sent:
    """`owner` lets `spender` take up to `fen` (ERC-20 approve)."""
    return send(chain, token.functions.approve(spender, fen), owner)


def redeem(chain: Chain, token: Contract, bank: str, wallet: str, fen: int) -> Sent:
    """A bank redeems (burns) `fen` from a wallet that approved it for that much."""
    return send(chain, token.functions.redeem(wallet, fen), bank)


def set_wallet_class(
    chain: Chain, token: Contract, bank: str, wallet: str, wallet_class: WalletClass
) -> Sent:
    """A bank assigns a wallet its class (after KYC); the class sets the wallet's caps."""
    return send(chain, token.functions.setWalletClass(wallet, int(wallet_class)), bank)


def freeze(chain: Chain, token: Contract, compliance: str, account: str) -> Sent:
    return send(chain, token.functions.freeze(account), compliance)


def unfreeze(chain: Chain, token: Contract, compliance: str, account: str) -> Sent:
    return send(chain, token.functions.unfreeze(account), compliance)


def pause(chain: Chain, token: Contract, pauser: str) -> Sent:
    """Stop every transfer, hold and issue of the token (PAUSER_ROLE)."""
    return send(chain, token.functions.pause(), pauser)


def unpause(chain: Chain, token: Contract, pauser: str) -> Sent:
    return send(chain, token.functions.unpause(), pauser)


def transfer(chain: Chain, token: Contract, sender: str, to: str, fen: int) -> Sent:
    """Pay `fen` from `sender`'s spendable balance to `to`."""
    return send(chain, token.functions.transfer(to, fen), sender)


# ----------------------------------------------------------------------------- views


@dataclass(frozen=True)
class WalletState:
    """A wallet as the token sees it. Amounts in fen; caps None when uncapped."""

    address: str
    balance: int
    held: int
    spendable: int
    wallet_class: WalletClass
    frozen: bool
    cap_exempt: bool
    spent_today: int
    balance_cap: int | None
    payment_cap: int | None
    daily_cap: int | None

    def to_json(self) -> dict[str, Any]:
        def yuan(fen: int | None) -> str | None:
            return None if fen is None else format_yuan(fen)

        return {
            "address": self.address,
            "balance": yuan(self.balance),
            "held": yuan(self.held),
            "spendable": yuan(self.spendable),
            "class": self.wallet_class.name,
            "frozen": self.frozen,
            "cap_exempt": self.cap_exempt,
            "spent_today": yuan(self.spent_today),
            "caps": {
                "balance": yuan(self.balance_cap),
                "payment": yuan(self.payment_cap),
                "daily": yuan(self.daily_cap),
            },
        }


def wallet_state(token: Contract, account: str) -> WalletState:
    f = token.functions
    wallet_class = WalletClass(f.walletClassOf(account).call())
    caps = f.tierCaps(int(wallet_class)).call()
    exempt = bool(f.isCapExempt(account).call())
    balance_cap, payment_cap, daily_cap = (
        (None, None, None) if exempt else tuple(None if c == NO_CAP else int(c) for c in caps)
    )
    return WalletState(
        address=account,
        balance=int(f.balanceOf(account).call()),
        held=int(f.heldBalanceOf(account).call()),
        spendable=int(f.spendableBalanceOf(account).call()),
        wallet_class=wallet_class,
        frozen=bool(f.isFrozen(account).call()),
        cap_exempt=exempt,
        spent_today=int(f.spentToday(account).call()),
        balance_cap=balance_cap,
        payment_cap=payment_cap,
        daily_cap=daily_cap,
    )


@dataclass(frozen=True)
class BankState:
    address: str
    operator: bool
    mint_allowance: int

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "operator": self.operator,
            "mint_allowance": format_yuan(self.mint_allowance),
        }


def bank_state(token: Contract, bank: str) -> BankState:
    return BankState(
        address=bank,
        operator=bool(token.functions.hasRole(OPERATOR_ROLE, bank).call()),
        mint_allowance=int(token.functions.mintAllowance(bank).call()),
    )


@dataclass(frozen=True)
class TokenState:
    address: str
    paused: bool
    total_supply: int

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "paused": self.paused,
            "total_supply": format_yuan(self.total_supply),
        }


def token_state(token: Contract) -> TokenState:
    return TokenState(
        address=token.address,
        paused=bool(token.functions.paused().call()),
        total_supply=int(token.functions.totalSupply().call()),
    )


def has_role(token: Contract, role: bytes, account: str) -> bool:
    return bool(token.functions.hasRole(role, account).call())
