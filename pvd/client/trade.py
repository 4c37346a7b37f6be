"""What the parties of a trade do, from Python: the buyer proposes, the seller accepts,
either cancels before funding, the buyer signs a hold that anyone submits with its
announcement (or places the hold itself and announces it), the seller ships, the buyer
(or the carrier, with a proof of delivery) confirms, a party opens a dispute and the
arbiter resolves it, anyone expires. Also views of a trade on both chains.

Used by the CLI, the demo, the benchmarks and the integration tests; a dapp or a script
would do the same. Every call waits for its receipt; a call the contract refuses raises
ContractRevert (the error decoded, pvd.deploy.reverts) before anything is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from hexbytes import HexBytes
from web3.contract import Contract
from web3.types import TxReceipt

from pvd.chain.connection import Chain
from pvd.client.send import Sent, send, send_receipt
from pvd.errors import UserError

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

    def but(self, **changes: Any) -> Terms:
        """The same terms with some fields changed."""
        return replace(self, **changes)


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
    """Send a contract call from `sender` (a local account of `chain`) and wait;
    ContractRevert if the contract refuses it."""
    return send_receipt(chain, call, sender)


def propose(chain: Chain, registry: Contract, buyer: str, terms: Terms) -> bytes:
    """Propose a trade; its id (known before the call: registry.nextTradeId)."""
    return propose_sent(chain, registry, buyer, terms)[0]


def propose_sent(chain: Chain, registry: Contract, buyer: str, terms: Terms) -> tuple[bytes, Sent]:
    """Propose a trade: its id and the transaction."""
    trade_id = bytes(registry.functions.nextTradeId(buyer).call())
    return trade_id, send(chain, registry.functions.propose(terms.as_tuple()), buyer, "propose")


def accept(chain: Chain, registry: Contract, seller: str, trade_id: bytes) -> Sent:
    """The seller accepts a proposed trade (before its deadline)."""
    return send(chain, registry.functions.accept(trade_id), seller)


def cancel(chain: Chain, registry: Contract, party: str, trade_id: bytes) -> Sent:
    """The buyer or the seller calls off a trade that is not funded yet."""
    return send(chain, registry.functions.cancel(trade_id), party)


def ship(
    chain: Chain, registry: Contract, seller: str, trade_id: bytes, document_hash: bytes
) -> Sent:
    """The seller ships a funded trade; the registry mints the bill of lading to the buyer
    for the shipping document whose hash is `document_hash`."""
    return send(chain, registry.functions.ship(trade_id, document_hash), seller)


def confirm(chain: Chain, registry: Contract, buyer: str, trade_id: bytes) -> Sent:
    """The buyer confirms delivery: the registry tells the payment chain to pay."""
    return send(chain, registry.functions.confirmDelivery(trade_id), buyer, "confirmDelivery")


def confirm_by_carrier(
    chain: Chain, registry: Contract, carrier: str, trade_id: bytes, proof: bytes
) -> Sent:
    """The trade's carrier confirms delivery with a proof-of-delivery hash."""
    call = registry.functions.confirmDeliveryByCarrier(trade_id, proof)
    return send(chain, call, carrier, "confirmDeliveryByCarrier")


def expire(chain: Chain, registry: Contract, sender: str, trade_id: bytes) -> Sent:
    """Anyone ends a trade past its deadline (or a dispute past its arbitration deadline);
    a funded one is refunded."""
    return send(chain, registry.functions.expire(trade_id), sender)


def dispute(chain: Chain, registry: Contract, party: str, trade_id: bytes) -> Sent:
    """The buyer or the seller opens a dispute on a funded or shipped trade with an arbiter."""
    return send(chain, registry.functions.openDispute(trade_id), party, "openDispute")


RULINGS = {"delivered": 1, "expired": 2}


def resolve(chain: Chain, registry: Contract, arbiter: str, trade_id: bytes, ruling: str) -> Sent:
    """The arbiter rules a dispute `delivered` (the seller is paid) or `expired` (the
    buyer is refunded)."""
    try:
        code = RULINGS[ruling]
    except KeyError:
        raise UserError(f"ruling {ruling!r} is unknown: rule delivered or expired") from None
    return send(chain, registry.functions.resolveDispute(trade_id, code), arbiter, "resolveDispute")


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


def hold_by_signature(
    chain: Chain,
    token: Contract,
    settlement: Contract,
    payer: LocalAccount,
    hold: HoldRequest,
    valid_before: int,
    submitter: str,
) -> Sent:
    """The payer signs the PlaceHold authorization and `submitter` (anyone: the payer, a
    relayer, the seller) sends it through the settlement: hold and announcement in one
    transaction."""
    signature = sign_hold(token, payer, hold, valid_before)
    call = settlement.functions.placeHoldAndAnnounce(hold.as_tuple(), valid_before, signature)
    return send(chain, call, submitter, "placeHoldAndAnnounce")


def hold_directly(
    chain: Chain, token: Contract, settlement: Contract, payer: str, hold: HoldRequest
) -> tuple[Sent, Sent]:
    """The payer places the hold itself, then announces it through the settlement (two
    transactions; the announcement tells the business chain the trade is funded)."""
    placed = send(
        chain,
        token.functions.placeHold(hold.ref, hold.payee, hold.notary, hold.amount, hold.expiry),
        payer,
        "placeHold",
    )
    announced = send(chain, settlement.functions.announce(hold.as_tuple()), payer, "announce")
    return placed, announced


@dataclass(frozen=True)
class TradeRecord:
    """ITradeRegistry.Trade as the business chain keeps it (amounts in fen)."""

    trade_id: bytes
    buyer: str
    seller: str
    payer: str
    payee: str
    carrier: str
    arbiter: str
    token: str
    price: int
    status: str
    settlement: str
    deadline: int
    hold_expiry: int
    arbitration_deadline: int
    shipped_at: int
    payment_domain: int
    terms_hash: bytes
    hold_id: bytes
    proof_of_delivery: bytes

    def terms(self) -> Terms:
        return Terms(
            seller=self.seller,  # type: ignore[arg-type]
            payer=self.payer,  # type: ignore[arg-type]
            payee=self.payee,  # type: ignore[arg-type]
            token=self.token,  # type: ignore[arg-type]
            price=self.price,
            deadline=self.deadline,
            hold_expiry=self.hold_expiry,
            terms_hash=self.terms_hash,
            carrier=self.carrier,
            arbiter=self.arbiter,
            arbitration_deadline=self.arbitration_deadline,
        )


def trade_record(registry: Contract, trade_id: bytes) -> TradeRecord:
    """The trade as stored; UserError if the registry has no such trade."""
    t = registry.functions.getTrade(trade_id).call()
    (
        buyer,
        deadline,
        payment_domain,
        seller,
        hold_expiry,
        status,
        settlement,
        payer,
        arbitration_deadline,
        payee,
        shipped_at,
        carrier,
        arbiter,
        token,
        price,
        terms_hash,
        hold_id_,
        proof,
    ) = t
    if status == 0:
        raise UserError(
            f"no trade 0x{trade_id.hex()} on the business chain's registry: "
            "check the id (pvd trade propose prints it) and the deployment"
        )
    return TradeRecord(
        trade_id=trade_id,
        buyer=buyer,
        seller=seller,
        payer=payer,
        payee=payee,
        carrier=carrier,
        arbiter=arbiter,
        token=token,
        price=int(price),
        status=TRADE_STATUS[status],
        settlement=SETTLEMENT[settlement],
        deadline=int(deadline),
        hold_expiry=int(hold_expiry),
        arbitration_deadline=int(arbitration_deadline),
        shipped_at=int(shipped_at),
        payment_domain=int(payment_domain),
        terms_hash=bytes(terms_hash),
        hold_id=bytes(hold_id_),
        proof_of_delivery=bytes(proof),
    )


@dataclass(frozen=True)
class PaymentSideOfTrade:
    """What the payment chain knows of a trade's hold."""

    hold_id: bytes
    hold_status: str
    announced: bool


def payment_side(token: Contract, settlement: Contract, trade: TradeRecord) -> PaymentSideOfTrade:
    """The trade's hold on the payment chain (its id is derived from the payer, the
    settlement as notary and the trade id, so it is known before the hold exists)."""
    hid = bytes(token.functions.holdId(trade.payer, settlement.address, trade.trade_id).call())
    return PaymentSideOfTrade(
        hold_id=hid,
        hold_status=HOLD_STATUS[token.functions.holdStatus(hid).call()],
        announced=bool(settlement.functions.isAnnounced(hid).call()),
    )


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
