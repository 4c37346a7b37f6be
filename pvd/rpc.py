"""Many reads in few round trips: view calls and block headers sent as JSON-RPC batches
where the provider has them (HTTP nodes: anvil, geth, Besu), one by one where it does not
(eth-tester) or when a batch fails, so that a real fault surfaces from the single read
that has it. Used by the reconciler and by the relayer's attest step.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Literal

from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError

log = logging.getLogger(__name__)

BATCH_SIZE = 200  # requests per JSON-RPC batch
BlockId = int | Literal["latest"]
Read = Callable[[], Any]  # one web3 read; inside `w3.batch_requests()` it is queued


def call_many(w3: Web3, calls: Sequence[ContractFunction], block: BlockId) -> list[Any]:
    """The results of `calls` at `block`, in order (see call_many_at)."""
    return call_many_at(w3, [(call, block) for call in calls])


def call_many_at(w3: Web3, calls: Sequence[tuple[ContractFunction, BlockId]]) -> list[Any]:
    """The result of each (view call, block), in order: a value, or the
    ContractLogicError it reverted with. Any other error (a node fault, a block whose
    state the node no longer keeps) is raised from the single call that has it."""

    def read(call: ContractFunction, block: BlockId) -> Read:
        return lambda: call.call(block_identifier=block)

    def single(call: ContractFunction, block: BlockId) -> Any:
        try:
            return call.call(block_identifier=block)
        except ContractLogicError as exc:
            return exc

    reads = [read(call, block) for call, block in calls]
    singles = [lambda c=call, b=block: single(c, b) for call, block in calls]
    return read_many(w3, reads, singles)


def block_hashes(w3: Web3, numbers: Sequence[int]) -> dict[int, HexBytes]:
    """The canonical hash of each block number the node has now."""
    reads = [lambda n=number: w3.eth.get_block(n) for number in numbers]
    blocks = read_many(w3, reads, reads)
    return {n: HexBytes(b["hash"]) for n, b in zip(numbers, blocks, strict=True)}


def read_many(w3: Web3, reads: Sequence[Read], singles: Sequence[Read]) -> list[Any]:
    """Run `reads` in batches of BATCH_SIZE; a chunk whose batch fails (or a provider
    without batches) runs its `singles` instead, one by one."""
    results: list[Any] = []
    for start in range(0, len(reads), BATCH_SIZE):
        chunk = reads[start : start + BATCH_SIZE]
        batched = _batch(w3, chunk)
        if batched is None:
            batched = [single() for single in singles[start : start + BATCH_SIZE]]
        results.extend(batched)
    return results


def _batch(w3: Web3, reads: Sequence[Read]) -> list[Any] | None:
    if len(reads) < 2:
        return None
    try:
        with w3.batch_requests() as batch:
            for read in reads:
                batch.add(read())
            return list(batch.execute())
    except Exception as exc:  # unsupported, or one read failed: the single reads tell
        log.debug("batch of %d reads not used: %s", len(reads), type(exc).__name__)
        return None
