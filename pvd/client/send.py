"""Sending one contract call as one party and waiting for it, with a refusal decoded.

Every state-changing step of `pvd.client` goes through `send`: the node estimates the
gas first, so a call the contract would refuse raises `ContractRevert` (a UserError with
the decoded custom error, pvd.deploy.reverts) before any transaction is sent; a
transaction that still reverts once mined raises the same, its reason replayed.

A sender among the chain's local accounts has its transaction completed here (gas, fees,
nonce, chain id: four requests) and signed locally, instead of web3 asking the node for
each field on its own (ten requests per transaction, the CLI's largest wait after its
imports).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from hexbytes import HexBytes
from web3.types import TxReceipt

from pvd.chain.connection import Chain
from pvd.deploy.reverts import ContractRevert, DecodedError, project_decoder

log = logging.getLogger(__name__)

RECEIPT_TIMEOUT = 60.0
GAS_BUFFER = 100_000  # over the estimate, as web3 adds it, capped at the block gas limit


@dataclass(frozen=True)
class Sent:
    """A mined transaction: where and what it cost."""

    chain: str
    action: str
    tx_hash: str
    block: int
    gas_used: int

    def to_json(self) -> dict[str, Any]:
        return {
            "chain": self.chain,
            "action": self.action,
            "tx_hash": self.tx_hash,
            "block": self.block,
            "gas_used": self.gas_used,
        }


def send(chain: Chain, call: Any, sender: str, action: str | None = None) -> Sent:
    """Send `call` (a web3 contract function call) from `sender`, one of `chain`'s local
    accounts, and wait for it. ContractRevert if the contract refuses it."""
    return sent_of(chain, send_receipt(chain, call, sender, action), action or _name(call))


def send_receipt(chain: Chain, call: Any, sender: str, action: str | None = None) -> TxReceipt:
    """As `send`, returning web3's receipt (for callers that read its logs)."""
    action = action or _name(call)
    try:
        tx_hash = _submit(chain, call, sender)
    except Exception as exc:
        decoded = project_decoder().from_exception(exc)
        if decoded is None:
            raise
        raise ContractRevert(f"{chain.name}: {action}", decoded) from None
    receipt = chain.w3.eth.wait_for_transaction_receipt(
        tx_hash, timeout=RECEIPT_TIMEOUT, poll_latency=0.01
    )
    if receipt["status"] != 1:
        reason = project_decoder().reason_of_transaction(chain.w3, tx_hash)
        raise ContractRevert(
            f"{chain.name}: {action} (transaction {HexBytes(tx_hash).to_0x_hex()})",
            reason or DecodedError("EmptyRevert"),
        )
    log.info(
        "sent",
        extra={"chain": chain.name, "action": action, "tx_hash": HexBytes(tx_hash).to_0x_hex()},
    )
    return receipt


def _submit(chain: Chain, call: Any, sender: str) -> HexBytes:
    """Estimate (a refusal raises here, before anything is sent), complete, sign and send
    `call` from `sender`; web3 fills in the fields for a sender that is not a local
    account, or on a chain without EIP-1559 fees."""
    account = next((a for a in chain.accounts if a.address.lower() == sender.lower()), None)
    if account is None:
        return HexBytes(call.transact({"from": sender}))
    eth = chain.w3.eth
    gas = int(call.estimate_gas({"from": account.address}))
    latest = eth.get_block("latest")
    gas = min(int(latest["gasLimit"]), gas + GAS_BUFFER)
    if "baseFeePerGas" not in latest:
        return HexBytes(call.transact({"from": account.address, "gas": gas}))
    tip = int(eth.max_priority_fee)
    transaction = call.build_transaction(
        {
            "from": account.address,
            "chainId": chain.chain_id,
            "nonce": eth.get_transaction_count(account.address, "pending"),
            "gas": gas,
            "maxPriorityFeePerGas": tip,
            "maxFeePerGas": tip + 2 * int(latest["baseFeePerGas"]),
        }
    )
    signed = account.sign_transaction(transaction)
    return HexBytes(eth.send_raw_transaction(signed.raw_transaction))


def sent_of(chain: Chain, receipt: TxReceipt, action: str) -> Sent:
    return Sent(
        chain=chain.name,
        action=action,
        tx_hash=HexBytes(receipt["transactionHash"]).to_0x_hex(),
        block=int(receipt["blockNumber"]),
        gas_used=int(receipt["gasUsed"]),
    )


def _name(call: Any) -> str:
    return str(getattr(call, "fn_name", "call"))
