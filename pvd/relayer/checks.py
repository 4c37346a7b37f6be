"""An event alone is not proof: before attesting a message, read the sending app's state
at the block of the log (the latest block once the node has dropped that block's state:
ADR 0008) and check that it says what the message says (the class "event relayed
without the money moving": Qubit, Meter).

First the envelope, against the configuration (no chain read): the source and
destination domains are this route's, the source app is the one pvd app that sends the
message's kind on the source chain and the destination app the one that receives it on
the destination chain (PAYMENT_HELD: settlement -> registry; TRADE_OUTCOME: registry ->
settlement; PAYMENT_SETTLED: settlement -> registry). A message copied by another app
registered on the same outbox, naming the same trade, is refused here: it never gets a
signature, whatever its body says.

Then every field of the body, against the source state:

- PAYMENT_HELD: the token is the payment chain's; the token's commitment matches every
  field of the hold (checkHold: payer, payee, notary = the settlement, amount, expiry,
  reference = trade id) and its id is the message's hold id; the hold is Held; the
  settlement contract recorded it as announced;
- TRADE_OUTCOME Delivered / Expired: the registry's trade has that status, is funded by
  that hold, and its payer, payee, price (the amount), hold expiry, currency (the
  destination's domain and token) are the message's; the hold id is the one the token
  derives from (payer, settlement, trade id);
- TRADE_OUTCOME Rejected: the registry's trade was not funded by that hold, and the
  hold id is the one the token derives from (payer, settlement, trade id) (the rest
  echoes the refused PAYMENT_HELD; the token releases only a hold whose commitment
  matches every field);
- PAYMENT_SETTLED Paid / Refunded: the token's hold is Executed / Released. (The
  settlement sends it only from a delivered outcome, whose fields were checked when it
  was attested; the registry ignores a settlement whose hold or amount is not the
  trade's.)

A check returns None when the state agrees, or the reason it does not.

Where the source node speaks JSON-RPC over HTTP, the reads are raw JSON-RPC (calldata
from eth-abi with a selector computed once, pvd.relayer.ends), not web3 contract calls:
building a web3 call re-validates the whole ABI, which cost more CPU than everything
else in a backlog's attest step. The reads at one block go out as one `eth_simulateV1`
(each view call in turn on top of that block's state, which is what `eth_call` at the
block reads), SIMULATE_CALLS at a time, all of them in one batch: anvil copies a past
block with all its transactions for every request that reads the block's state, so the
checks of a backlog mined many to a block cost the node a block's copy per read with
`eth_call`, and one per SIMULATE_CALLS reads this way (docs/relayer.md, "A backlog
mined many to a block"). A node that does not know the method
(geth before 1.14.9, some providers) is asked with one `eth_call` per read instead, and
remembered as such. On eth-tester they go through web3.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import encode as abi_encode
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError, Web3RPCError

from pvd.chain.rpc import (
    BlockId,
    block_unavailable,
    call_many_at,
    method_unknown,
    struct_fields,
)
from pvd.protocol.messages import (
    Kind,
    Message,
    Outcome,
    PaymentHeld,
    PaymentSettled,
    SettlementResult,
    TradeOutcome,
)
from pvd.protocol.statuses import HoldStatus, TradeStatus
from pvd.relayer.ends import ChainEnd, decode_output, eth_call, json_rpc, rpc_batch

ZERO_ADDRESS = Web3.to_checksum_address("0x" + "00" * 20)
SIMULATE_CALLS = 100  # view calls per eth_simulateV1 (a simulated block's gas is bounded)
_NO_SIMULATE: set[str] = set()  # endpoints that answered eth_simulateV1 as unknown

#: Which app sends each kind (on the source chain) and which receives it (destination).
APPS_OF_KIND: dict[int, tuple[str, str]] = {
    Kind.PAYMENT_HELD: ("PvdSettlement", "TradeRegistry"),
    Kind.TRADE_OUTCOME: ("TradeRegistry", "PvdSettlement"),
    Kind.PAYMENT_SETTLED: ("PvdSettlement", "TradeRegistry"),
}


@dataclass(frozen=True)
class Read:
    """One view call: `contract.function(*args)`."""

    contract: Contract
    function: str
    args: tuple[Any, ...]


@dataclass(frozen=True)
class SourceCheck:
    """The view calls that prove one message, and the verdict on their results (None
    when the state agrees, else why not) at the block they were read at."""

    calls: tuple[Read, ...]
    verdict: Callable[[Sequence[Any], BlockId], str | None]


def read_many_at(w3: Web3, reads: Sequence[tuple[Read, BlockId]]) -> list[Any]:
    """The result of each (read, block), in order, as web3 would give it (one output:
    the value; several: a list), or the ContractLogicError it reverted with. Raw
    JSON-RPC batches where the node speaks HTTP, else web3 (pvd.chain.rpc.call_many_at).
    Any other error (a block whose state the node no longer keeps) raises Web3RPCError."""
    if not reads:
        return []
    if json_rpc(w3) is None:
        return call_many_at(
            w3, [(getattr(r.contract.functions, r.function)(*r.args), at) for r, at in reads]
        )
    answers = _simulated(w3, reads)
    if answers is None:
        answers = rpc_batch(
            w3,
            [
                eth_call(r.contract, r.function, r.args, at if isinstance(at, str) else hex(at))
                for r, at in reads
            ],
        )
    results: list[Any] = []
    for (read, _), answer in zip(reads, answers, strict=True):
        if isinstance(answer, dict):  # a revert: what web3 would have raised
            data = answer.get("data")
            results.append(ContractLogicError(f"execution reverted: {data}", data=data))
            continue
        values = decode_output(read.contract, read.function, bytes.fromhex(answer[2:]))
        results.append(values[0] if len(values) == 1 else list(values))
    return results


def _simulated(w3: Web3, reads: Sequence[tuple[Read, BlockId]]) -> list[Any] | None:
    """The answer of each read as rpc_batch gives an eth_call's (its return data in hex,
    or for a revert a dict with "message" and "data"), read with one eth_simulateV1 per
    block (SIMULATE_CALLS calls at most each), all in one JSON-RPC batch; None where the
    node does not serve eth_simulateV1 (then remembered: the caller uses eth_call). Any
    other error (a block whose state the node no longer keeps) raises Web3RPCError."""
    transport = json_rpc(w3)
    if transport is None or transport.url in _NO_SIMULATE:
        return None
    at_block: dict[str, list[int]] = {}  # block tag -> indices of its reads, in order
    for index, (_, at) in enumerate(reads):
        at_block.setdefault(at if isinstance(at, str) else hex(at), []).append(index)
    requests_: list[tuple[str, list[Any]]] = []
    chunks: list[list[int]] = []
    for tag, indices in at_block.items():
        for start in range(0, len(indices), SIMULATE_CALLS):
            chunk = indices[start : start + SIMULATE_CALLS]
            calls = [_call_object(reads[i][0]) for i in chunk]
            requests_.append(("eth_simulateV1", [{"blockStateCalls": [{"calls": calls}]}, tag]))
            chunks.append(chunk)
    try:
        blocks = rpc_batch(w3, requests_)
    except Web3RPCError as exc:
        if not method_unknown(exc):
            raise
        _NO_SIMULATE.add(transport.url)
        return None
    answers: list[Any] = [None] * len(reads)
    for chunk, simulated in zip(chunks, blocks, strict=True):
        results = simulated[0]["calls"] if isinstance(simulated, list) and simulated else None
        if not isinstance(results, list) or len(results) != len(chunk):
            raise Web3RPCError(
                f"eth_simulateV1: an answer without one result per call: {simulated}"
            )
        for index, result in zip(chunk, results, strict=True):
            answers[index] = _call_answer(result)
    return answers


def _call_object(read: Read) -> dict[str, str]:
    (_, params) = eth_call(read.contract, read.function, read.args)
    call: dict[str, str] = params[0]
    return call


def _call_answer(result: dict[str, Any]) -> Any:
    """One simulated call's result as rpc_batch gives an eth_call's: the return data, or
    for a revert its error object with the revert data. A revert is a failure the node
    calls one (geth: code 3, "execution reverted") or that returned data (anvil: "execution
    failed" with the revert data); any other failure (out of gas, an invalid opcode)
    raises Web3RPCError, as such an eth_call's does."""
    if int(str(result.get("status", "0x1")), 16) == 1:
        return result["returnData"]
    error = result.get("error") or {}
    message = str(error.get("message", ""))
    data = error.get("data") or result.get("returnData") or "0x"
    if "revert" not in message.lower() and error.get("code") != 3 and data in ("0x", ""):
        raise Web3RPCError(f"eth_simulateV1: a call failed: {error}")
    return {"message": message or "execution reverted", "data": data}


def source_disagreements(
    source: ChainEnd, destination: ChainEnd, items: Sequence[tuple[Message, int]]
) -> list[str | None]:
    """For each (message, block of its log): None if its envelope names this route's
    domains and apps and the source app's state at that block backs every field of its
    body, else why not. All reads go out in JSON-RPC batches (pvd.chain.rpc).

    A node that no longer keeps the state of a block (a non-archive node keeps only the
    recent ones: geth 128, anvil as pvd starts it about 500) is asked about its latest
    block instead: every fact checked here stays true once true, except a hold being
    Held — and a PAYMENT_HELD for a hold that is no longer held must not be relayed
    anyway. Which blocks it still keeps is found by bisection (it keeps a suffix)."""
    w3 = source.chain.w3
    checks = [(_source_check(source, destination, message), block) for message, block in items]
    oldest = oldest_kept_state(w3, sorted({block for _, block in checks}))
    read_at: list[tuple[SourceCheck, BlockId]] = [
        (check, block if oldest is not None and block >= oldest else "latest")
        for check, block in checks
    ]
    try:
        results = read_many_at(w3, [(call, at) for check, at in read_at for call in check.calls])
    except Web3RPCError as exc:  # the node dropped a state between the probe and the reads
        if not block_unavailable(exc):
            raise
        return [_alone(source, check, block) for check, block in checks]
    each = iter(results)
    return [check.verdict([next(each) for _ in check.calls], at) for check, at in read_at]


def oldest_kept_state(w3: Web3, blocks: Sequence[int]) -> int | None:
    """The lowest of `blocks` (ascending) whose state the node still keeps, or None if it
    keeps none of them: one cheap state read per probe, at most 1 + log2(len) probes."""
    if not blocks or _state_kept(w3, blocks[0]):
        return blocks[0] if blocks else None
    low, high = 1, len(blocks)  # blocks[low - 1] is gone; is blocks[high - 1] kept?
    while low < high:
        middle = (low + high) // 2
        if _state_kept(w3, blocks[middle]):
            high = middle
        else:
            low = middle + 1
    return blocks[low] if low < len(blocks) else None


def _state_kept(w3: Web3, block: int) -> bool:
    try:
        if (transport := json_rpc(w3)) is not None:  # raw: web3's call costs milliseconds
            response = transport.request("eth_getBalance", [ZERO_ADDRESS, hex(block)])
            if (error := response.get("error")) is not None:
                raise Web3RPCError(f"eth_getBalance: {error}")
        else:
            w3.eth.get_balance(ZERO_ADDRESS, block)
    except Web3RPCError as exc:
        if block_unavailable(exc):
            return False
        raise
    return True


def _alone(source: ChainEnd, check: SourceCheck, block: int) -> str | None:
    """One message's check read on its own, at its block or, if pruned, at the latest."""
    w3 = source.chain.w3
    try:
        return check.verdict(read_many_at(w3, [(c, block) for c in check.calls]), block)
    except Web3RPCError as exc:
        if not block_unavailable(exc):
            raise
        latest = read_many_at(w3, [(c, "latest") for c in check.calls])
        return check.verdict(latest, "latest")


def _refused(reason: str) -> SourceCheck:
    """A check that needs no read: the message is refused for `reason`."""
    return SourceCheck((), lambda _results, _block: reason)


def envelope_disagreement(source: ChainEnd, destination: ChainEnd, message: Message) -> str | None:
    """None if the message's domains and apps are this route's for its kind (from the
    configuration: the manifests' addresses), else why not."""
    if message.source_domain != source.domain:
        return (
            f"source domain {message.source_domain} is not the {source.name} chain's "
            f"{source.domain}"
        )
    if message.destination_domain != destination.domain:
        return (
            f"destination domain {message.destination_domain} is not the {destination.name} "
            f"chain's {destination.domain}"
        )
    sender, recipient = APPS_OF_KIND.get(message.kind, ("", ""))
    if sender not in source.apps or recipient not in destination.apps:
        return f"kind {message.kind} is not sent from the {source.name} chain by any pvd app"
    expected_source = source.app(sender).address
    if message.source_app.lower() != expected_source.lower():
        return (
            f"source app {message.source_app} is not the {source.name} chain's {sender} "
            f"{expected_source}: another app sent it"
        )
    expected_destination = destination.app(recipient).address
    if message.destination_app.lower() != expected_destination.lower():
        return (
            f"destination app {message.destination_app} is not the {destination.name} "
            f"chain's {recipient} {expected_destination}"
        )
    return None


def _source_check(source: ChainEnd, destination: ChainEnd, message: Message) -> SourceCheck:
    if reason := envelope_disagreement(source, destination, message):
        return _refused(reason)
    body = message.decoded_body()
    if isinstance(body, PaymentHeld):
        return _payment_held(source, message, body)
    if isinstance(body, TradeOutcome):
        return _trade_outcome(source.app("TradeRegistry"), destination, body)
    assert isinstance(body, PaymentSettled)
    return _payment_settled(source.app("YuanToken"), body)


def hold_id_of(payer: str, notary: str, trade_id: bytes) -> bytes:
    """The id the token gives a hold: keccak256(abi.encode(payer, notary, reference))."""
    return bytes(
        Web3.keccak(abi_encode(["address", "address", "bytes32"], [payer, notary, trade_id]))
    )


def _reverted(results: Sequence[Any]) -> str | None:
    for result in results:
        if isinstance(result, ContractLogicError):
            return f"reading the source state reverted: {result}"
    return None


def _payment_held(source: ChainEnd, message: Message, m: PaymentHeld) -> SourceCheck:
    token, settlement = source.app("YuanToken"), source.app("PvdSettlement")
    if m.token != token.address:
        return _refused(
            f"PAYMENT_HELD names token {m.token}, the payment chain's token is {token.address}"
        )
    hold = (m.payer, m.payee, message.source_app, m.amount, m.expiry, m.trade_id)

    def verdict(results: Sequence[Any], block: BlockId) -> str | None:
        checked, announced = results
        if isinstance(checked, ContractLogicError):
            return f"the token holds other fields under hold {m.hold_id.hex()}: {checked}"
        if reverted := _reverted([announced]):
            return reverted
        hold_id, status = checked
        if bytes(hold_id) != m.hold_id or status != HoldStatus.HELD:
            shown = HoldStatus(status).name
            return f"hold {m.hold_id.hex()} is not Held at block {block} ({shown})"
        if not announced:
            return f"the settlement contract never announced hold {m.hold_id.hex()}"
        return None

    calls = (Read(token, "checkHold", (hold,)), Read(settlement, "isAnnounced", (m.hold_id,)))
    return SourceCheck(calls, verdict)


def _trade_outcome(registry: Contract, destination: ChainEnd, m: TradeOutcome) -> SourceCheck:
    fields = struct_fields(registry, "getTrade")
    settlement = destination.app("PvdSettlement").address
    token = destination.app("YuanToken").address
    if m.hold_id != hold_id_of(m.payer, settlement, m.trade_id):
        return _refused(
            f"hold {m.hold_id.hex()} is not the token's id of a hold by payer {m.payer} for "
            f"trade {m.trade_id.hex()} with the settlement as notary"
        )

    def verdict(results: Sequence[Any], block: BlockId) -> str | None:
        if reverted := _reverted(results):
            return reverted
        # one getTrade read (not statusOf + holdIdOf): historical eth_calls are the costly
        # part on some nodes. All zero for an unknown trade.
        trade = dict(zip(fields, results[0], strict=True))
        status, funded_by = TradeStatus(trade["status"]), bytes(trade["holdId"])
        if m.outcome is Outcome.REJECTED:
            if funded_by == m.hold_id:
                return f"trade {m.trade_id.hex()} was funded by hold {m.hold_id.hex()}: no Rejected"
            return None
        wanted = TradeStatus.DELIVERED if m.outcome is Outcome.DELIVERED else TradeStatus.EXPIRED
        if status is not wanted or funded_by != m.hold_id:
            return (
                f"trade {m.trade_id.hex()} is {status.name} with hold {funded_by.hex()} at "
                f"block {block}; the message says {m.outcome.name} for hold {m.hold_id.hex()}"
            )
        stated = {
            "payer": (m.payer, trade["payer"]),
            "payee": (m.payee, trade["payee"]),
            "amount": (m.amount, trade["price"]),
            "expiry": (m.expiry, trade["holdExpiry"]),
            "token": (token, trade["token"]),
            "payment domain": (destination.domain, trade["paymentDomain"]),
        }
        for name, (said, stored) in stated.items():
            if isinstance(said, str):
                said, stored = said.lower(), str(stored).lower()
            if said != stored:
                return (
                    f"trade {m.trade_id.hex()} has {name} {stored} at block {block}; the "
                    f"{m.outcome.name} outcome says {said}"
                )
        return None

    return SourceCheck((Read(registry, "getTrade", (m.trade_id,)),), verdict)


def _payment_settled(token: Contract, m: PaymentSettled) -> SourceCheck:
    def verdict(results: Sequence[Any], block: BlockId) -> str | None:
        if reverted := _reverted(results):
            return reverted
        (status,) = results
        wanted = HoldStatus.EXECUTED if m.result is SettlementResult.PAID else HoldStatus.RELEASED
        if status != wanted:
            return (
                f"hold {m.hold_id.hex()} has status {status} at block {block}, not {m.result.name}"
            )
        return None

    return SourceCheck((Read(token, "holdStatus", (m.hold_id,)),), verdict)
