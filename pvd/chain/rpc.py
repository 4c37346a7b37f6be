"""Many reads in few round trips: view calls and block hashes sent as raw JSON-RPC batches
where the provider has them (HTTP nodes: anvil, geth, Besu), one by one through web3
where it does not (eth-tester) or when a batch fails, so that a real fault surfaces from
the single read that has it. Used by the reconciler and by the relayer's attest step.

A batch skips web3's per-request middleware: calls are ABI-encoded and their results
decoded here with the contract's ABI (eth-abi, the codec web3 itself uses), and returned
as web3 returns them (one output: the value; several: a list; addresses checksummed).
That is 20-30 times faster than web3's own batch API for hundreds of calls.

It also reads what a node's error means: the node lacks the block asked for
(`block_unavailable`), or does not serve the method at all (`method_unknown`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from typing import Any, Literal

from eth_utils.abi import function_abi_to_4byte_selector, get_abi_input_types, get_abi_output_types
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import BlockNotFound, ContractLogicError

from pvd.errors import UserError

log = logging.getLogger(__name__)

BATCH_SIZE = 500  # requests per JSON-RPC batch
BlockId = int | Literal["latest"]
Request = tuple[str, list[Any]]


def call_many(w3: Web3, calls: Sequence[ContractFunction], block: BlockId) -> list[Any]:
    """The results of `calls` at `block`, in order (see call_many_at)."""
    return call_many_at(w3, [(call, block) for call in calls])


def call_many_at(w3: Web3, calls: Sequence[tuple[ContractFunction, BlockId]]) -> list[Any]:
    """The result of each (view call, block), in order: a value, or the
    ContractLogicError it reverted with. Any other error (a node fault, a block whose
    state the node no longer keeps) is raised from the single call that has it."""
    results: list[Any] = []
    for start in range(0, len(calls), BATCH_SIZE):
        chunk = calls[start : start + BATCH_SIZE]
        answers = raw_batch(w3, [_eth_call(call, block) for call, block in chunk])
        if answers is None:
            results.extend(_single(call, block) for call, block in chunk)
        else:
            pairs = zip(chunk, answers, strict=True)
            results.extend(_result(call, answer) for (call, _), answer in pairs)
    return results


def block_hashes(w3: Web3, numbers: Sequence[int]) -> dict[int, HexBytes]:
    """The canonical hash of each block number the node has now. A number it does not
    have (above its head: the chain got shorter since the number was read) is left out."""
    hashes: dict[int, HexBytes] = {}
    for start in range(0, len(numbers), BATCH_SIZE):
        chunk = numbers[start : start + BATCH_SIZE]
        answers = raw_batch(w3, [("eth_getBlockByNumber", [hex(n), False]) for n in chunk])
        if answers is None:
            answers = [_block_or_none(w3, n) for n in chunk]
        hashes.update(
            (n, HexBytes(block["hash"]))
            for n, block in zip(chunk, answers, strict=True)
            if block is not None
        )
    return hashes


#: How nodes say they do not have a block or its state: anvil "block height is N but
#: requested was M" (BlockOutOfRangeError), geth "header not found" / "missing trie node".
BLOCK_GONE = ("outofrange", "missingtrienode", "pruned", "headernotfound", "butrequestedwas")


def block_unavailable(exc: BaseException) -> bool:
    """True if `exc` is a node saying it does not have the block a read asked for (the
    chain got shorter under the read, or the block's state was pruned)."""
    text = str(exc).lower().replace(" ", "")
    return any(sign in text for sign in BLOCK_GONE)


#: What a node answers for a method it does not serve: JSON-RPC's "method not found" code,
#: or these words in the message (lower case, spaces and underscores removed).
METHOD_UNKNOWN_CODE = -32601
METHOD_UNKNOWN_WORDS = (
    "methodnotfound",
    "unknownmethod",
    "unsupportedmethod",
    "methodnotsupported",
    "doesnotexist",
)


def method_unknown(error: object) -> bool:
    """True if `error` — a JSON-RPC error object, or an exception carrying the node's
    response (Web3RPCError's `rpc_response`) — says the node does not serve the method,
    rather than that this one request failed."""
    if isinstance(error, BaseException):
        response = getattr(error, "rpc_response", None)
        text = str(error)
        error = response.get("error") if isinstance(response, dict) else None
    else:
        text = str(error.get("message", "")) if isinstance(error, dict) else ""
    if isinstance(error, dict) and error.get("code") == METHOD_UNKNOWN_CODE:
        return True
    text = text.lower().replace(" ", "").replace("_", "")
    return any(sign in text for sign in METHOD_UNKNOWN_WORDS)


def _block_or_none(w3: Web3, number: int) -> Any:
    try:
        return w3.eth.get_block(number)
    except BlockNotFound:
        return None


def raw_batch(w3: Web3, requests: Sequence[Request]) -> list[Any] | None:
    """The results of `requests` sent as one JSON-RPC batch, in order, a revert's error
    object kept in place; None if the provider has no batches or any other request
    failed (the caller then reads one by one)."""
    if not requests:
        return None
    try:
        responses = w3.provider.make_batch_request(list(requests))  # type: ignore[attr-defined]
    except Exception as exc:  # no batches here (eth-tester), or the node refused it
        log.debug("batch of %d requests not used: %s", len(requests), type(exc).__name__)
        return None
    if not isinstance(responses, list) or len(responses) != len(requests):
        return None
    results: list[Any] = []
    for response in responses:
        error = response.get("error")
        if error is not None and not _is_revert(error):
            return None
        results.append(error if error is not None else response.get("result"))
    return results


def _is_revert(error: Any) -> bool:
    return isinstance(error, dict) and "revert" in str(error.get("message", "")).lower()


def _eth_call(call: ContractFunction, block: BlockId) -> Request:
    abi = call.abi
    data = function_abi_to_4byte_selector(abi) + call.w3.codec.encode(
        get_abi_input_types(abi), call.args
    )
    tag = block if isinstance(block, str) else hex(block)
    return "eth_call", [{"to": call.address, "data": "0x" + data.hex()}, tag]


def _result(call: ContractFunction, answer: Any) -> Any:
    if isinstance(answer, dict):  # a revert: what web3 would have raised
        data = answer.get("data")
        return ContractLogicError(f"execution reverted: {data}", data=data)
    outputs = call.abi.get("outputs", [])
    decoded = call.w3.codec.decode(get_abi_output_types(call.abi), HexBytes(answer))
    values = [_checksummed(entry, value) for entry, value in zip(outputs, decoded, strict=True)]
    return values[0] if len(values) == 1 else values


def _checksummed(entry: Any, value: Any) -> Any:
    """`value` of ABI `entry` with every address in it checksummed, as web3 returns it."""
    kind: str = entry["type"]
    if kind.endswith("]"):
        element = {**entry, "type": kind[: kind.rindex("[")]}
        return [_checksummed(element, v) for v in value]
    if kind == "address":
        return to_checksum_address(value)
    if kind == "tuple":
        return tuple(_checksummed(c, v) for c, v in zip(entry["components"], value, strict=True))
    return value


@functools.lru_cache(maxsize=64)  # asked once per checked message by the relayer
def struct_fields(contract: Contract, function: str) -> tuple[str, ...]:
    """The field names of the struct `function` of `contract` returns, in ABI order."""
    for entry in contract.abi:
        if entry.get("type") == "function" and entry.get("name") == function:
            return tuple(c["name"] for c in entry["outputs"][0]["components"])  # type: ignore[typeddict-item]
    raise UserError(f"contract {contract.address} has no {function}: redeploy with this pvd")


def _single(call: ContractFunction, block: BlockId) -> Any:
    try:
        return call.call(block_identifier=block)
    except ContractLogicError as exc:
        return exc
