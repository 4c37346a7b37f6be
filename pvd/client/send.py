"""Sending one contract call as one party and waiting for it, with a refusal decoded.

Every state-changing step of `pvd.client` goes through `send`: the node estimates the
gas first, so a call the contract would refuse raises `ContractRevert` (a UserError with
the decoded custom error, pvd.deploy.reverts) before any transaction is sent; a
transaction that still reverts once mined raises the same, its reason replayed.
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
        tx_hash = call.transact({"from": sender})
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
