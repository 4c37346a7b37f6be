"""Reading contract logs safely: chunked `eth_getLogs`, only up to a confirmation depth,
and a re-check that the block a log came from is still on the canonical chain.

Everything web3 hands back is decoded here, at the edge, into frozen `ObservedLog`s.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from eth_typing import ChecksumAddress
from hexbytes import HexBytes
from web3 import Web3
from web3.types import FilterParams, LogReceipt

DEFAULT_CHUNK_BLOCKS = 2_000


def rpc_int(value: int | str) -> int:
    """A JSON-RPC quantity: an int as web3 formats it, or 0x-hex as the node sends it."""
    return int(value, 16) if isinstance(value, str) else int(value)


@dataclass(frozen=True)
class ObservedLog:
    """One log as seen on a chain: where it came from and its raw topics and data."""

    address: ChecksumAddress
    block_number: int
    block_hash: HexBytes
    tx_hash: HexBytes
    log_index: int
    topics: tuple[HexBytes, ...]
    data: HexBytes

    @classmethod
    def from_receipt(cls, log: LogReceipt) -> ObservedLog:
        """From a log as web3 formats it, or as the node sent it (numbers in 0x-hex)."""
        return cls(
            address=_checksummed(str(log["address"])),
            block_number=rpc_int(log["blockNumber"]),
            block_hash=HexBytes(log["blockHash"]),
            tx_hash=HexBytes(log["transactionHash"]),
            log_index=rpc_int(log["logIndex"]),
            topics=tuple(HexBytes(t) for t in log["topics"]),
            data=HexBytes(log["data"]),
        )


@functools.lru_cache(maxsize=1024)  # the same few contracts emit every log read
def _checksummed(address: str) -> ChecksumAddress:
    return Web3.to_checksum_address(address)


class LogSource:
    """The logs of one contract with one event signature (topic 0) on one chain."""

    def __init__(
        self,
        w3: Web3,
        address: ChecksumAddress,
        topic0: HexBytes,
        chunk_blocks: int = DEFAULT_CHUNK_BLOCKS,
    ) -> None:
        if chunk_blocks < 1:
            raise ValueError("chunk_blocks must be at least 1")
        self.w3 = w3
        self.address = address
        self.topic0 = topic0
        self.chunk_blocks = chunk_blocks

    def confirmed_head(self, depth: int) -> int:
        """The highest block with `depth` blocks on top of it (-1 if there is none yet)."""
        return int(self.w3.eth.block_number) - depth

    def logs(self, from_block: int, to_block: int) -> Iterator[ObservedLog]:
        """Logs in [from_block, to_block], fetched in chunks, in chain order."""
        start = max(from_block, 0)
        while start <= to_block:
            end = min(start + self.chunk_blocks - 1, to_block)
            params: FilterParams = {
                "address": self.address,
                "topics": [self.topic0.to_0x_hex()],
                "fromBlock": start,
                "toBlock": end,
            }
            found = [ObservedLog.from_receipt(log) for log in self.w3.eth.get_logs(params)]
            yield from sorted(found, key=lambda log: (log.block_number, log.log_index))
            start = end + 1

    def still_canonical(self, log: ObservedLog) -> bool:
        """False if a reorg replaced the block the log was seen in."""
        block = self.w3.eth.get_block(log.block_number)
        return HexBytes(block["hash"]) == log.block_hash


def logs_by_topic1(
    w3: Web3,
    address: ChecksumAddress,
    topics0: Sequence[HexBytes],
    topics1: Sequence[HexBytes],
    from_block: int,
    to_block: int | str,
    chunk_blocks: int = DEFAULT_CHUNK_BLOCKS,
    per_query: int = 100,
) -> list[ObservedLog]:
    """The logs of `address` whose topic 0 is one of `topics0` and topic 1 one of
    `topics1` (e.g. an inbox's delivery events of some message ids), in [from_block,
    to_block], in chain order: chunked by blocks and by at most `per_query` topic-1
    values per eth_getLogs."""
    if not topics1:
        return []
    end = int(w3.eth.block_number) if isinstance(to_block, str) else to_block
    first = [t.to_0x_hex() for t in topics0]
    found: list[ObservedLog] = []
    for at in range(0, len(topics1), per_query):
        second = [t.to_0x_hex() for t in topics1[at : at + per_query]]
        start = max(from_block, 0)
        while start <= end:
            stop = min(start + chunk_blocks - 1, end)
            params: FilterParams = {
                "address": address,
                "topics": [first, second],
                "fromBlock": start,
                "toBlock": stop,
            }
            found += [ObservedLog.from_receipt(log) for log in w3.eth.get_logs(params)]
            start = stop + 1
    return sorted(found, key=lambda log: (log.block_number, log.log_index))
