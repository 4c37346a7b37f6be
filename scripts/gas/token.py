"""Gas of the programmable yuan's operations: receipt gasUsed per named operation.

Run inside brownie on the development network (`brownie run scripts/gas/token.py`); `make
bench` calls `measure()`. Every figure is a real receipt of this run: the module deploys a
plain OpenZeppelin ERC-20 (the baseline) and a YuanToken, sets up wallets in the state each
operation is measured in, and sends one transaction per operation.

The states are chosen to compare like with like: every transfer goes to a recipient that
already holds a balance and leaves the sender a balance (no slot goes from zero to
non-zero), and a capped payer has already paid once that day (its tier slot is warm in the
steady state; the first payment of a never-used class IV wallet is reported separately).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from brownie import PlainERC20, YuanToken, accounts, chain
from eth_account import Account
from eth_account.messages import encode_typed_data

from pvd.client.trade import place_hold_typed_data, token_domain

log = logging.getLogger(__name__)

DOMAIN_ID = 1
CLASS_I = 3  # YuanAccounts.WalletClass.ClassI
YUAN = 100  # fen per yuan
DAY = 86_400


@dataclass(frozen=True)
class Hold:
    """The fields of IHoldableToken.Hold, in ABI order."""

    payer: str
    payee: str
    notary: str
    amount: int
    expiry: int
    ref: bytes

    def as_tuple(self) -> tuple[str, str, str, int, int, bytes]:
        return (self.payer, self.payee, self.notary, self.amount, self.expiry, self.ref)


def _ref(n: int) -> bytes:
    return n.to_bytes(32, "big")


def _signed_hold(token: Any, key: bytes, hold: Hold, valid_before: int) -> bytes:
    """The payer's EIP-712 signature over PlaceHold, built from the token's ERC-5267 domain."""
    typed = place_hold_typed_data(token_domain(token.eip712Domain()), hold, valid_before)
    signed = Account.sign_message(encode_typed_data(full_message=typed), key)
    return bytes(signed.signature)


def _signed_permit(
    token: Any, key: bytes, owner: str, spender: str, value: int, deadline: int
) -> Any:
    _, name, version, chain_id, verifying_contract, _, _ = token.eip712Domain()
    typed = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Permit": [
                {"name": "owner", "type": "address"},
                {"name": "spender", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"},
            ],
        },
        "primaryType": "Permit",
        "domain": {
            "name": name,
            "version": version,
            "chainId": chain_id,
            "verifyingContract": verifying_contract,
        },
        "message": {
            "owner": owner,
            "spender": spender,
            "value": value,
            "nonce": token.nonces(owner),
            "deadline": deadline,
        },
    }
    return Account.sign_message(encode_typed_data(full_message=typed), key)


def measure() -> dict[str, int]:
    """Deploy, set up and send one transaction per operation; return gasUsed by name."""
    deployer, bank, operator, notary, stranger = (accounts[i] for i in (0, 1, 2, 6, 9))
    # Wallets with private keys (fresh, random) so that they can sign EIP-712 messages.
    payer, payee, capped_payer, capped_payee, fresh_capped = (accounts.add() for _ in range(5))
    for wallet in (payer, payee, capped_payer, capped_payee, fresh_capped):
        deployer.transfer(wallet, "1 ether")
    gas: dict[str, int] = {}

    plain = PlainERC20.deploy(payer, 1_000_000 * YUAN, {"from": deployer})
    plain.transfer(payee, 1 * YUAN, {"from": payer})
    gas["plain_erc20_transfer"] = plain.transfer(payee, 100 * YUAN, {"from": payer}).gas_used

    token = YuanToken.deploy(
        "Programmable Yuan", "eCNY", DOMAIN_ID, bank, 3 * DAY, {"from": deployer}
    )
    token.grantRole(token.OPERATOR_ROLE(), operator, {"from": bank})
    token.setMintAllowance(operator, 10**15, {"from": bank})
    for wallet in (payer, payee):
        token.setWalletClass(wallet, CLASS_I, {"from": operator})
    token.issue(payer, 500_000 * YUAN, {"from": operator})
    gas["issue"] = token.issue(payer, 100_000 * YUAN, {"from": operator}).gas_used
    token.issue(payee, 1 * YUAN, {"from": operator})
    token.issue(capped_payer, 9_000 * YUAN, {"from": operator})
    token.issue(capped_payee, 1 * YUAN, {"from": operator})
    token.issue(fresh_capped, 1_000 * YUAN, {"from": operator})

    gas["transfer_uncapped"] = token.transfer(payee, 100 * YUAN, {"from": payer}).gas_used
    gas["transfer_capped_first_payment"] = token.transfer(
        capped_payee, 10 * YUAN, {"from": fresh_capped}
    ).gas_used
    token.transfer(capped_payee, 1 * YUAN, {"from": capped_payer})
    gas["transfer_capped"] = token.transfer(
        capped_payee, 100 * YUAN, {"from": capped_payer}
    ).gas_used

    expiry = chain.time() + 7 * DAY
    gas["place_hold_uncapped"] = token.placeHold(
        _ref(1), payee, notary, 1_000 * YUAN, expiry, {"from": payer}
    ).gas_used
    gas["place_hold_capped"] = token.placeHold(
        _ref(2), capped_payee, notary, 100 * YUAN, expiry, {"from": capped_payer}
    ).gas_used
    signed = Hold(payer.address, payee.address, notary.address, 1_000 * YUAN, expiry, _ref(3))
    valid_before = chain.time() + DAY  # once: the signature covers it
    signature = _signed_hold(token, payer.private_key, signed, valid_before)
    gas["place_hold_with_authorization"] = token.placeHoldWithAuthorization(
        signed.as_tuple(), valid_before, signature, {"from": stranger}
    ).gas_used

    gas["execute_hold"] = token.executeHold(
        Hold(
            payer.address, payee.address, notary.address, 1_000 * YUAN, expiry, _ref(1)
        ).as_tuple(),
        {"from": notary},
    ).gas_used
    gas["release_hold_by_notary"] = token.releaseHold(signed.as_tuple(), {"from": notary}).gas_used
    chain.sleep(7 * DAY + 1)
    chain.mine()
    gas["release_hold_after_expiry"] = token.releaseHold(
        Hold(
            capped_payer.address, capped_payee.address, notary.address, 100 * YUAN, expiry, _ref(2)
        ).as_tuple(),
        {"from": stranger},
    ).gas_used

    deadline = chain.time() + DAY
    permit = _signed_permit(
        token, payer.private_key, payer.address, stranger.address, 5 * YUAN, deadline
    )
    gas["permit"] = token.permit(
        payer, stranger, 5 * YUAN, deadline, permit.v, permit.r, permit.s, {"from": stranger}
    ).gas_used
    return gas


def main() -> dict[str, int]:
    """`brownie run scripts/gas/token.py`: measure and log the table."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    gas = measure()
    for name, used in gas.items():
        log.info("%-32s %8d", name, used)
    log.info(
        "%-32s %+8d",
        "transfer_uncapped - plain",
        gas["transfer_uncapped"] - gas["plain_erc20_transfer"],
    )
    return gas
