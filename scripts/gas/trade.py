"""Gas of the business chain's trade registry, per operation (receipt gasUsed).

`measure()` deploys a TradeRegistry wired to the test mailbox (TradeTestMailbox plays the
business chain's inbox and outbox) on brownie's active development network and drives
trades through every priced step. Run it with `brownie run scripts/gas/trade.py`.

What each figure includes:
- propose: a buyer's first proposal (its nonce goes 0 -> 1), carrier and arbiter named
  (a later proposal by the same buyer costs less: the nonce slot is no longer zero);
- accept: the seller's acceptance;
- fund: the inbox delivering a matching PAYMENT_HELD (the whole transaction, so the test
  mailbox's own delivery overhead is included; a real inbox adds signature checks);
- every outcome send includes the test mailbox's outbox cost (one stored message id and
  the MessageSent event with the body); the figures are measured after a warm-up trade,
  so no figure pays for the mailbox's first counter writes;
- reject_payment_held: a mismatched PAYMENT_HELD answered with a Rejected outcome;
- ship: shipment including the bill-of-lading mint;
- confirm: the buyer's confirmation including the bill's burn and the outcome send;
- confirm_by_carrier: the same by the carrier with a proof-of-delivery hash;
- expire: anyone expiring a shipped trade after its deadline (bill voided, outcome sent);
- expire_unfunded: expiring an accepted trade that was never funded (no outcome).
"""

from __future__ import annotations

import logging
from typing import Any

from brownie import BillOfLading, TradeRegistry, TradeTestMailbox, accounts, chain, web3
from eth_abi import encode
from eth_utils import keccak, to_checksum_address

log = logging.getLogger(__name__)

BUSINESS_DOMAIN = 2002
PAYMENT_DOMAIN = 1001
SAFETY_WINDOW = 3_600
MAX_HORIZON = 30 * 86_400
PRICE = 12_345_00
PAYMENT_HELD = 1


def _address(label: str) -> str:
    """A fixed address standing for something on the payment chain (no key behind it)."""
    return to_checksum_address(keccak(text=f"pvd gas address: {label}")[-20:])


SETTLEMENT_APP = _address("settlement app")
TOKEN = _address("payment token")
PAYER = _address("payer")
PAYEE = _address("payee")


def _set_next_block_time(timestamp: int) -> None:
    response = web3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])
    if "error" in response:
        raise RuntimeError(f"evm_setNextBlockTimestamp: {response['error']}")


def _terms(seller: Any, carrier: Any, arbiter: Any) -> tuple[Any, ...]:
    deadline = int(chain[-1].timestamp) + 86_400
    return (
        seller.address,
        PAYER,
        PAYEE,
        carrier.address,
        arbiter.address,
        TOKEN,
        PRICE,
        keccak(text="sales contract"),
        deadline,
        deadline + 2 * SAFETY_WINDOW,
        deadline + SAFETY_WINDOW,
    )


def _payment_held(trade_id: Any, terms: tuple[Any, ...], payer: str = PAYER) -> bytes:
    ref = bytes.fromhex(str(trade_id)[2:])
    hold = keccak(encode(["address", "address", "bytes32"], [payer, SETTLEMENT_APP, ref]))
    return encode(
        ["bytes32", "bytes32", "address", "address", "address", "uint256", "uint64"],
        [ref, hold, payer, PAYEE, TOKEN, PRICE, terms[9]],
    )


def measure() -> dict[str, int]:
    """Deploy, drive trades through each step and return gasUsed per operation."""
    deployer, buyer, seller, carrier, arbiter, stranger = (accounts[i] for i in (0, 3, 4, 5, 6, 9))
    mailbox = TradeTestMailbox.deploy(BUSINESS_DOMAIN, {"from": deployer})
    registry = TradeRegistry.deploy(deployer, SAFETY_WINDOW, MAX_HORIZON, {"from": deployer})
    registry.wire(mailbox, mailbox, PAYMENT_DOMAIN, SETTLEMENT_APP, {"from": deployer})
    BillOfLading.at(registry.billOfLading())  # so brownie decodes its ERC-721 events

    def deliver(body: bytes) -> Any:
        return mailbox.deliver(
            registry, PAYMENT_DOMAIN, SETTLEMENT_APP, PAYMENT_HELD, body, {"from": deployer}
        )

    def shipped_trade(proposer: Any = buyer) -> tuple[Any, tuple[Any, ...], dict[str, Any]]:
        terms = _terms(seller, carrier, arbiter)
        receipts = {"propose": registry.propose(terms, {"from": proposer})}
        trade_id = receipts["propose"].return_value
        receipts["accept"] = registry.accept(trade_id, {"from": seller})
        receipts["fund"] = deliver(_payment_held(trade_id, terms))
        receipts["ship"] = registry.ship(trade_id, keccak(text="bill"), {"from": seller})
        return trade_id, terms, receipts

    # Warm-up by another buyer, so that no figure below pays for the test mailbox's first
    # counter writes (its delivery count and outbox nonce go from zero here).
    trade_id, _, _ = shipped_trade(accounts[7])
    registry.confirmDelivery(trade_id, {"from": accounts[7]})

    gas: dict[str, int] = {}
    trade_id, terms, receipts = shipped_trade()
    gas.update({name: int(tx.gas_used) for name, tx in receipts.items()})
    gas["confirm"] = int(registry.confirmDelivery(trade_id, {"from": buyer}).gas_used)

    trade_id, terms, _ = shipped_trade()
    proof = keccak(text="proof of delivery")
    tx = registry.confirmDeliveryByCarrier(trade_id, proof, {"from": carrier})
    gas["confirm_by_carrier"] = int(tx.gas_used)

    terms = _terms(seller, carrier, arbiter)
    trade_id = registry.propose(terms, {"from": buyer}).return_value
    registry.accept(trade_id, {"from": seller})
    tx = deliver(_payment_held(trade_id, terms, payer=_address("somebody else")))
    assert "PaymentHeldRejected" in tx.events
    gas["reject_payment_held"] = int(tx.gas_used)
    _set_next_block_time(terms[8] + 1)
    gas["expire_unfunded"] = int(registry.expire(trade_id, {"from": stranger}).gas_used)

    trade_id, terms, _ = shipped_trade()
    _set_next_block_time(terms[8] + 1)
    tx = registry.expire(trade_id, {"from": stranger})
    assert "BillVoided" in tx.events and "OutcomeSent" in tx.events
    gas["expire"] = int(tx.gas_used)
    return gas


def main() -> dict[str, int]:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    gas = measure()
    for name, used in gas.items():
        log.info("trade %-20s %8d gas", name, used)
    return gas
