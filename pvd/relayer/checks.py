"""An event alone is not proof: before attesting a message, read the sending app's state
at the block of the log and check that it says what the message says (TESTPLAN: "event
relayed without the money moving" — Qubit, Meter).

- PAYMENT_HELD: the token's commitment matches the hold's fields (checkHold), the hold
  is Held, and the settlement contract recorded it as announced;
- TRADE_OUTCOME Delivered / Expired: the registry's trade has that status and that hold;
- TRADE_OUTCOME Rejected: the registry's trade was not funded by that hold;
- PAYMENT_SETTLED Paid / Refunded: the token's hold is Executed / Released.

A check returns None when the state agrees, or the reason it does not.
"""

from __future__ import annotations

from typing import Literal

from web3.contract import Contract
from web3.exceptions import ContractLogicError, Web3RPCError

from pvd.messages import (
    Message,
    Outcome,
    PaymentHeld,
    PaymentSettled,
    SettlementResult,
    TradeOutcome,
)
from pvd.relayer.ends import ChainEnd

BlockRef = int | Literal["latest"]
STATE_GONE = ("outofrange", "missingtrienode", "pruned", "headernotfound", "butrequestedwas")

# Enum values of IHoldableToken.HoldStatus and ITradeRegistry.Status.
HOLD_HELD, HOLD_EXECUTED, HOLD_RELEASED = 1, 2, 3
TRADE_DELIVERED, TRADE_EXPIRED = 5, 7


def source_disagrees(source: ChainEnd, message: Message, block: int) -> str | None:
    """None if the source app's state at `block` backs `message`, else why not.

    A node that no longer keeps the state of `block` (anvil, and any non-archive node,
    keeps only recent blocks) is asked about its latest block instead: every fact checked
    here stays true once true, except a hold being Held — and a PAYMENT_HELD for a hold
    that is no longer held must not be relayed anyway."""
    try:
        return _check(source, message, block)
    except Web3RPCError as exc:
        if not _state_pruned(exc):
            raise
        return _check(source, message, "latest")


def _state_pruned(exc: Web3RPCError) -> bool:
    """The node's way of saying it no longer has that block's state (anvil: "block
    height is N but requested was M" / BlockOutOfRangeError; geth: missing trie node)."""
    text = str(exc).lower().replace(" ", "")
    return any(sign in text for sign in STATE_GONE)


def _check(source: ChainEnd, message: Message, block: BlockRef) -> str | None:
    body = message.decoded_body()
    if isinstance(body, PaymentHeld):
        return _payment_held(source, message, body, block)
    if isinstance(body, TradeOutcome):
        return _trade_outcome(source.app("TradeRegistry"), body, block)
    assert isinstance(body, PaymentSettled)
    return _payment_settled(source.app("YuanToken"), body, block)


def _payment_held(
    source: ChainEnd, message: Message, m: PaymentHeld, block: BlockRef
) -> str | None:
    token, settlement = source.app("YuanToken"), source.app("PvdSettlement")
    if m.token != token.address:
        return f"PAYMENT_HELD names token {m.token}, the payment chain's token is {token.address}"
    hold = (m.payer, m.payee, message.source_app, m.amount, m.expiry, m.trade_id)
    try:
        hold_id, status = token.functions.checkHold(hold).call(block_identifier=block)
    except ContractLogicError as exc:
        return f"the token holds other fields under hold {m.hold_id.hex()}: {exc}"
    if bytes(hold_id) != m.hold_id or status != HOLD_HELD:
        return f"hold {m.hold_id.hex()} is not Held at block {block} (status {status})"
    if not settlement.functions.isAnnounced(m.hold_id).call(block_identifier=block):
        return f"the settlement contract never announced hold {m.hold_id.hex()}"
    return None


def _trade_outcome(registry: Contract, m: TradeOutcome, block: BlockRef) -> str | None:
    status = registry.functions.statusOf(m.trade_id).call(block_identifier=block)
    funded_by = bytes(registry.functions.holdIdOf(m.trade_id).call(block_identifier=block))
    if m.outcome is Outcome.REJECTED:
        if funded_by == m.hold_id:
            return f"trade {m.trade_id.hex()} was funded by hold {m.hold_id.hex()}: not rejected"
        return None
    wanted = TRADE_DELIVERED if m.outcome is Outcome.DELIVERED else TRADE_EXPIRED
    if status != wanted or funded_by != m.hold_id:
        return (
            f"trade {m.trade_id.hex()} has status {status} and hold {funded_by.hex()} at block "
            f"{block}; the message says {m.outcome.name} for hold {m.hold_id.hex()}"
        )
    return None


def _payment_settled(token: Contract, m: PaymentSettled, block: BlockRef) -> str | None:
    status = token.functions.holdStatus(m.hold_id).call(block_identifier=block)
    wanted = HOLD_EXECUTED if m.result is SettlementResult.PAID else HOLD_RELEASED
    if status != wanted:
        return f"hold {m.hold_id.hex()} has status {status} at block {block}, not {m.result.name}"
    return None
