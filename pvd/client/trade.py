"""What the parties of a trade do, from Python: the buyer proposes, the seller accepts,
the buyer signs a hold that anyone submits with its announcement, the seller ships,
the buyer confirms, anyone expires. Also plain views of a trade and of its hold.

Used by the demo, the benchmarks and the integration tests; a dapp or a script would do
the same. Every call waits for its receipt and raises if it reverted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from hexbytes import HexBytes
from web3.contract import Contract
from web3.types import TxReceipt

from pvd.chain.connection import Chain

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
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
SETTLEMENT = ("None", "Paid", "Refunded")
HOLD_STATUS = ("None", "Held", "Executed", "Released")


@dataclass(frozen=True)
class Terms:
    """What the buyer fixes at proposal (ITradeRegistry.Terms). Amounts in fen."""

    seller: ChecksumAddress
    payer: ChecksumAddress
    payee: ChecksumAddress
    token: ChecksumAddress
    price: int
    deadline: int
    hold_expiry: int
    terms_hash: bytes = b"\x00" * 32
    carrier: str = ZERO_ADDRESS
    arbiter: str = ZERO_ADDRESS
    arbitration_deadline: int = 0

    def as_tuple(self) -> tuple[Any, ...]:
        return (
            self.seller,
            self.payer,
            self.payee,
            self.carrier,
            self.arbiter,
            self.token,
            self.price,
            self.terms_hash,
            self.deadline,
            self.hold_expiry,
            self.arbitration_deadline,
        )


@dataclass(frozen=True)
class HoldRequest:
    """IHoldableToken.Hold, as the buyer signs it."""

    payer: ChecksumAddress
    payee: ChecksumAddress
    notary: ChecksumAddress
    amount: int
    expiry: int
    ref: bytes

    def as_tuple(self) -> tuple[Any, ...]:
        return (self.payer, self.payee, self.notary, self.amount, self.expiry, self.ref)


def transact(chain: Chain, call: Any, sender: str) -> TxReceipt:
    """Send a contract call from `sender` (a local account of `chain`) and wait."""
    return chain.wait(call.transact({"from": sender}))


def propose(chain: Chain, registry: Contract, buyer: str, terms: Terms) -> bytes:
    """Propose a trade; its id (known before the call: registry.nextTradeId)."""
    trade_id = bytes(registry.functions.nextTradeId(buyer).call())
    transact(chain, registry.functions.propose(terms.as_tuple()), buyer)
    return trade_id


def hold_for(trade_id: bytes, terms: Terms, settlement: Contract) -> HoldRequest:
    """The hold that funds a trade: payee the seller, notary the settlement contract,
    reference the trade id, expiry the trade's hold expiry."""
    return HoldRequest(
        terms.payer, terms.payee, settlement.address, terms.price, terms.hold_expiry, trade_id
    )


EIP712_DOMAIN_TYPE = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
PLACE_HOLD_TYPE = [
    {"name": "payer", "type": "address"},
    {"name": "payee", "type": "address"},
    {"name": "notary", "type": "address"},
    {"name": "amount", "type": "uint256"},
    {"name": "expiry", "type": "uint64"},
    {"name": "ref", "type": "bytes32"},
    {"name": "validBefore", "type": "uint256"},
]


class HoldFields(Protocol):
    """Anything with a hold's fields (HoldRequest, a test's own Hold)."""

    @property
    def payer(self) -> str: ...
    @property
    def payee(self) -> str: ...
    @property
    def notary(self) -> str: ...
    @property
    def amount(self) -> int: ...
    @property
    def expiry(self) -> int: ...
    @property
    def ref(self) -> bytes: ...


def token_domain(eip712_domain: Sequence[Any]) -> dict[str, Any]:
    """The EIP-712 domain from the token's ERC-5267 `eip712Domain()` answer (the domain id
    is in its name: ADR 0002)."""
    _, name, version, chain_id, verifying_contract, _, _ = eip712_domain
    return {
        "name": name,
        "version": version,
        "chainId": chain_id,
        "verifyingContract": verifying_contract,
    }


def place_hold_message(hold: HoldFields, valid_before: int) -> dict[str, Any]:
    return {
        "payer": hold.payer,
        "payee": hold.payee,
        "notary": hold.notary,
        "amount": hold.amount,
        "expiry": hold.expiry,
        "ref": hold.ref,
        "validBefore": valid_before,
    }


def place_hold_typed_data(
    domain: dict[str, Any], hold: HoldFields, valid_before: int
) -> dict[str, Any]:
    """What a payer signs to let anyone place `hold` for it (YuanHolds' PlaceHold)."""
    return {
        "types": {"EIP712Domain": EIP712_DOMAIN_TYPE, "PlaceHold": PLACE_HOLD_TYPE},
        "primaryType": "PlaceHold",
        "domain": domain,
        "message": place_hold_message(hold, valid_before),
    }


def sign_hold(token: Contract, payer: LocalAccount, hold: HoldRequest, valid_before: int) -> bytes:
    """The payer's EIP-712 PlaceHold signature, as a wallet makes it (docs/token.md)."""
    domain = token_domain(token.functions.eip712Domain().call())
    typed = place_hold_typed_data(domain, hold, valid_before)
    return bytes(payer.sign_typed_data(full_message=typed).signature)


def place_hold_and_announce(
    chain: Chain,
    settlement: Contract,
    hold: HoldRequest,
    valid_before: int,
    signature: bytes,
    submitter: str,
) -> TxReceipt:
    """Anyone submits the buyer's signed hold; the settlement places and announces it."""
    call = settlement.functions.placeHoldAndAnnounce(hold.as_tuple(), valid_before, signature)
    return transact(chain, call, submitter)


def trade_view(registry: Contract, trade_id: bytes) -> dict[str, str]:
    """The trade's status and settlement as words."""
    return {
        "status": TRADE_STATUS[registry.functions.statusOf(trade_id).call()],
        "settlement": SETTLEMENT[registry.functions.settlementOf(trade_id).call()],
    }


def hold_view(token: Contract, hold_id: bytes) -> str:
    return HOLD_STATUS[token.functions.holdStatus(hold_id).call()]


def hold_id(token: Contract, hold: HoldRequest) -> bytes:
    return bytes(HexBytes(token.functions.holdId(hold.payer, hold.notary, hold.ref).call()))
