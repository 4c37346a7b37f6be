"""Ingesting both chains into the index: from each deployment block, then incrementally
from the checkpoint, in batches of blocks, only up to `confirmations` blocks below the head.

Per chain and step:
1. the chain's genesis hash must be the one the index was built on (else a one-line
   refusal: the chain was reset), and the deployment the same contracts;
2. the stored hash of the checkpoint block must still be the chain's; if not, a reorg
   replaced it: walk down the stored hashes to the common ancestor, roll the index back to
   it (store.rollback_to) and read again from there;
3. one batch: every pvd log of the range (one eth_getLogs over all the chain's contract
   addresses), every block header of the range (hash, parent, time); the headers must chain
   onto the stored checkpoint and each log's block hash must be its header's, else the
   chain moved while we read and the batch is dropped and read again;
4. the batch is written in one database transaction (blocks, events, projections,
   checkpoint): committed whole or not at all.

A reorg deeper than the confirmations is still rolled back (never kept wrong); it is logged
as a warning and counted, since the confirmations were meant to make it impossible.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hexbytes import HexBytes
from sqlalchemy import Connection, Engine, and_, select
from web3 import Web3
from web3.exceptions import BlockNotFound
from web3.types import FilterParams, RPCEndpoint

from pvd.chain.connection import rpc_chain
from pvd.chain.logs import ObservedLog, rpc_int
from pvd.chain.rpc import raw_batch
from pvd.deploy.manifest import load_abi, read_manifest
from pvd.errors import RecoverableError, UserError
from pvd.index.events import ChainEvent, EventDecoder, checksummed
from pvd.index.schema import blocks, chains
from pvd.index.store import BlockRecord, rollback_to, write_batch

log = logging.getLogger(__name__)

DEFAULT_BATCH_BLOCKS = 2_000
PAYMENT_CONTRACTS = ("YuanToken", "Outbox", "Inbox", "PvdSettlement")
BUSINESS_CONTRACTS = ("TradeRegistry", "Outbox", "Inbox", "BillOfLading")
_OPTIONAL = ("BillOfLading",)
_HEADER_BATCH = 500


@dataclass(frozen=True)
class ChainSource:
    """One chain to index: its node, its pvd contracts (name -> (address, ABI)), the first
    block to read and the confirmations to wait for."""

    name: str
    w3: Web3
    domain_id: int
    contracts: Mapping[str, tuple[str, Sequence[Mapping[str, Any]]]]
    start_block: int
    confirmations: int = 0


def source_from_manifest(
    role: str, manifest_path: Path, rpc_url: str, confirmations: int = 0
) -> ChainSource:
    """The source of one chain from its deployment file and RPC URL (UserError for a
    missing file, a dead node, or a node that is another chain than the manifest's)."""
    if confirmations < 0:
        raise UserError(f"--{role}-confirmations {confirmations}: give 0 or more blocks")
    manifest = read_manifest(manifest_path)
    names = PAYMENT_CONTRACTS if role == "payment" else BUSINESS_CONTRACTS
    marker = "YuanToken" if role == "payment" else "TradeRegistry"
    if marker not in manifest.contracts:
        raise UserError(f"{manifest_path} has no {marker}: pass the {role} chain's manifest")
    chain = rpc_chain(role, rpc_url, manifest.chain.domain_id)
    identity = chain.identity()
    if (identity.chain_id, identity.genesis_hash) != (
        manifest.chain.chain_id,
        manifest.chain.genesis_hash,
    ):
        raise UserError(
            f"{role} chain at {rpc_url} is chain id {identity.chain_id} with genesis "
            f"{identity.genesis_hash[:10]}…, not the chain {manifest_path} was deployed to: "
            f"point --{role}-rpc at that chain, or redeploy"
        )
    contracts = {
        name: (manifest.contracts[name].address, load_abi(manifest_path, manifest.contracts[name]))
        for name in names
        if name in manifest.contracts or name not in _OPTIONAL
    }
    start = min(manifest.contracts[name].block for name in contracts)
    return ChainSource(role, chain.w3, manifest.chain.domain_id, contracts, start, confirmations)


def sources_from_system(system: Any, confirmations: int = 0) -> tuple[ChainSource, ChainSource]:
    """The sources of an in-process deployment (pvd.deploy.system.System)."""
    p, b = system.payment, system.business

    def named(contracts: Mapping[str, Any]) -> dict[str, tuple[str, Sequence[Mapping[str, Any]]]]:
        return {n: (c.address, list(c.abi)) for n, c in contracts.items()}

    return (
        ChainSource(
            p.chain.name,
            p.chain.w3,
            system.config.payment_domain,
            named(
                {
                    "YuanToken": p.token,
                    "Outbox": p.outbox,
                    "Inbox": p.inbox,
                    "PvdSettlement": p.settlement,
                }
            ),
            0,
            confirmations,
        ),
        ChainSource(
            b.chain.name,
            b.chain.w3,
            system.config.business_domain,
            named(
                {
                    "TradeRegistry": b.registry,
                    "Outbox": b.outbox,
                    "Inbox": b.inbox,
                    "BillOfLading": b.bill_of_lading,
                }
            ),
            0,
            confirmations,
        ),
    )


def _observed(raw: Mapping[str, Any]) -> ObservedLog:
    """A log as the node sent it (pvd.chain.logs.ObservedLog.from_receipt, with the
    address checksum cached)."""
    return ObservedLog(
        address=checksummed(raw["address"]),  # type: ignore[arg-type]
        block_number=rpc_int(raw["blockNumber"]),
        block_hash=HexBytes(raw["blockHash"]),
        tx_hash=HexBytes(raw["transactionHash"]),
        log_index=rpc_int(raw["logIndex"]),
        topics=tuple(HexBytes(t) for t in raw["topics"]),
        data=HexBytes(raw["data"]),
    )


def _where(engine: Engine) -> str:
    if engine.dialect.name == "sqlite":
        return f"rm {engine.url.database}*"
    return f"drop database {engine.url.database}"


@dataclass(frozen=True)
class Header:
    number: int
    parent: str
    hash: str
    timestamp: int


@dataclass
class IngestStats:
    """What one `step` did on one chain."""

    chain: str
    blocks: int = 0
    events: int = 0
    rolled_back: int = 0  # blocks dropped by reorgs
    deep_reorgs: int = 0  # reorgs deeper than the confirmations
    indexed_block: int = -1
    head: int = -1
    seconds: float = 0.0


@dataclass
class ChainIndexer:
    """Indexes one chain into an engine; the caller holds the writer lock."""

    engine: Engine
    source: ChainSource
    batch_blocks: int = DEFAULT_BATCH_BLOCKS
    decoder: EventDecoder = field(init=False)

    def __post_init__(self) -> None:
        if self.batch_blocks < 1:
            raise UserError(f"batch size {self.batch_blocks}: give at least 1 block")
        self.decoder = EventDecoder(self.source.name, self.source.w3, self.source.contracts)
        self._addresses = sorted(self.decoder.addresses)
        self._identity: tuple[str, int] | None = None  # (genesis hash, chain id) as asked

    # ------------------------------------------------------------------ identity

    def register(self) -> int:
        """Check (or record) the chain's identity and deployment; the checkpoint. Asked
        of the node once per indexer (and again on a reorg: a reset chain is refused,
        not rolled back); later steps only read the checkpoint."""
        if self._identity is None:
            genesis = HexBytes(self.source.w3.eth.get_block(0)["hash"]).to_0x_hex()
            self._identity = (genesis, int(self.source.w3.eth.chain_id))
        genesis, chain_id = self._identity
        src = self.source
        contracts = {n: a for n, (a, _) in sorted(src.contracts.items())}
        with self.engine.begin() as connection:
            row = (
                connection.execute(select(chains).where(chains.c.name == src.name))
                .mappings()
                .first()
            )
            if row is None:
                connection.execute(
                    chains.insert().values(
                        name=src.name,
                        chain_id=chain_id,
                        genesis_hash=genesis,
                        domain_id=src.domain_id,
                        start_block=src.start_block,
                        indexed_block=src.start_block - 1,
                        contracts=json.dumps(contracts, sort_keys=True),
                    )
                )
                return src.start_block - 1
        if (row["genesis_hash"], int(row["chain_id"])) != (genesis, chain_id):
            raise UserError(
                f"the {src.name} chain now has genesis {genesis[:10]}… (chain id {chain_id}) but "
                f"the index was built on {row['genesis_hash'][:10]}… (chain id {row['chain_id']}): "
                f"the chain was reset; delete that index ({_where(self.engine)}) or index into "
                "a new database with --db"
            )
        if json.loads(row["contracts"]) != contracts or int(row["domain_id"]) != src.domain_id:
            raise UserError(
                f"the index holds another {src.name} deployment than this manifest's: "
                "use a new database (--db) for this deployment"
            )
        return int(row["indexed_block"])

    # -------------------------------------------------------------------- a step

    def step(self, max_batches: int | None = None) -> IngestStats:
        """Catch up to the confirmed head (or `max_batches` batches), rolling back a reorg."""
        started = time.perf_counter()
        stats = IngestStats(self.source.name)
        checkpoint = self.register()
        head = int(self.source.w3.eth.block_number) - self.source.confirmations
        stats.head = head
        checkpoint = self._check_reorg(checkpoint, stats)
        batches = 0
        while checkpoint < head and (max_batches is None or batches < max_batches):
            end = min(checkpoint + self.batch_blocks, head)
            written = self._batch(checkpoint, end, stats)
            if written is None:  # the chain moved under us: look for the reorg again
                checkpoint = self._check_reorg(checkpoint, stats)
                continue
            checkpoint = written
            batches += 1
        stats.indexed_block = checkpoint
        stats.seconds = time.perf_counter() - started
        return stats

    def _batch(self, checkpoint: int, end: int, stats: IngestStats) -> int | None:
        """Read and store (checkpoint, end]; None if the chain moved while it was read."""
        start = checkpoint + 1
        headers = self._headers(start, end)
        logs = self._logs(start, end)
        hashes = {h.number: h.hash for h in headers}
        chained = all(b.parent == a.hash for a, b in itertools.pairwise(headers))
        if not chained or any(hashes.get(x.block_number) != x.block_hash.to_0x_hex() for x in logs):
            log.info("chain moved while reading", extra={"chain": self.source.name})
            return None
        decoded: list[ChainEvent] = self.decoder.decode_all(logs)
        with self.engine.begin() as connection:
            parent = self._stored_hash(connection, checkpoint)
            if parent is not None and headers[0].parent != parent:
                log.info("chain moved below the batch", extra={"chain": self.source.name})
                return None
            records = [BlockRecord(h.number, h.hash, h.timestamp) for h in headers]
            write_batch(connection, self.source.name, records, decoded, end)
        stats.blocks += end - checkpoint
        stats.events += len(decoded)
        log.debug(
            "indexed batch",
            extra={"chain": self.source.name, "from": start, "to": end, "events": len(decoded)},
        )
        return end

    def _headers(self, start: int, end: int) -> list[Header]:
        numbers = list(range(start, end + 1))
        found: list[Header] = []
        w3 = self.source.w3
        for i in range(0, len(numbers), _HEADER_BATCH):
            chunk = numbers[i : i + _HEADER_BATCH]
            asked = [("eth_getBlockByNumber", [hex(n), False]) for n in chunk]
            # a batch of one is no batch to raw_batch: ask it twice rather than through
            # web3's per-call formatting (the one-block step of a following indexer)
            answers = raw_batch(w3, asked * 2 if len(asked) == 1 else asked)
            answers = answers[: len(chunk)] if answers is not None else None
            if answers is None:
                try:
                    answers = [w3.eth.get_block(n) for n in chunk]
                except BlockNotFound:
                    raise RecoverableError(f"{self.source.name} got shorter: read again") from None
            for n, block in zip(chunk, answers, strict=True):
                if block is None:
                    raise RecoverableError(f"{self.source.name} block {n} is gone: read again")
                found.append(
                    Header(
                        number=n,
                        parent=HexBytes(block["parentHash"]).to_0x_hex(),
                        hash=HexBytes(block["hash"]).to_0x_hex(),
                        timestamp=rpc_int(block["timestamp"]),
                    )
                )
        return found

    def _logs(self, start: int, end: int) -> list[ObservedLog]:
        """Every log of the chain's pvd contracts in [start, end], in chain order. Asked
        raw: web3's result formatting costs more than the whole decoding."""
        w3 = self.source.w3
        if hasattr(w3.provider, "ethereum_tester"):  # in-process: no raw JSON-RPC
            params: FilterParams = {"address": self._addresses, "fromBlock": start, "toBlock": end}  # type: ignore[typeddict-item]
            raw: list[Any] = [dict(x) for x in w3.eth.get_logs(params)]
        else:
            ask = {"address": self._addresses, "fromBlock": hex(start), "toBlock": hex(end)}
            answer = w3.provider.make_request(RPCEndpoint("eth_getLogs"), [ask])
            if "error" in answer:
                raise RecoverableError(
                    f"{self.source.name} eth_getLogs {start}..{end} failed: {answer['error']}"
                )
            raw = answer["result"]
        found = [_observed(x) for x in raw]
        return sorted(found, key=lambda x: (x.block_number, x.log_index))

    # --------------------------------------------------------------------- reorgs

    def _stored_hash(self, connection: Connection, number: int) -> str | None:
        value = connection.execute(
            select(blocks.c.hash).where(
                and_(blocks.c.chain == self.source.name, blocks.c.number == number)
            )
        ).scalar()
        return None if value is None else str(value)

    def _check_reorg(self, checkpoint: int, stats: IngestStats) -> int:
        """The checkpoint after rolling back a reorg, if the stored tip is no longer the
        chain's block."""
        with self.engine.connect() as connection:
            stored = self._stored_hash(connection, checkpoint)
        if stored is None or self._chain_hash(checkpoint) == stored:
            return checkpoint
        self._identity = None  # a reset chain looks like a reorg: ask its genesis again
        self.register()
        ancestor = self._common_ancestor(checkpoint)
        depth = checkpoint - ancestor
        with self.engine.begin() as connection:
            rollback_to(connection, self.source.name, ancestor)
        stats.rolled_back += depth
        extra = {"chain": self.source.name, "ancestor": ancestor, "depth": depth}
        if depth > self.source.confirmations:
            stats.deep_reorgs += 1
            log.warning("reorg deeper than the confirmations: rolled back", extra=extra)
        else:
            log.info("reorg: rolled back to the common ancestor", extra=extra)
        return ancestor

    def _chain_hash(self, number: int) -> str | None:
        """The chain's hash at `number`; None if the chain is shorter now (a reorg)."""
        try:
            block = self.source.w3.eth.get_block(number)
        except BlockNotFound:
            return None
        return HexBytes(block["hash"]).to_0x_hex()

    def _common_ancestor(self, checkpoint: int) -> int:
        """The highest stored block whose hash the chain still has (stored hashes chain,
        so everything below it matches too); start_block - 1 if none."""
        floor = self.source.start_block - 1
        top = checkpoint
        span = 64
        while top > floor:
            low = max(floor + 1, top - span + 1)
            with self.engine.connect() as connection:
                stored = {
                    int(n): str(h)
                    for n, h in connection.execute(
                        select(blocks.c.number, blocks.c.hash).where(
                            and_(
                                blocks.c.chain == self.source.name,
                                blocks.c.number >= low,
                                blocks.c.number <= top,
                            )
                        )
                    )
                }
            for number in range(top, low - 1, -1):
                if number in stored and self._chain_hash(number) == stored[number]:
                    return number
            top = low - 1
            span *= 2
        return floor


@dataclass
class Indexer:
    """Both chains into one index; holds the writer lock while it runs (db.writer_lock)."""

    engine: Engine
    sources: Sequence[ChainSource]
    batch_blocks: int = DEFAULT_BATCH_BLOCKS
    chains: list[ChainIndexer] = field(init=False)

    def __post_init__(self) -> None:
        self.chains = [ChainIndexer(self.engine, s, self.batch_blocks) for s in self.sources]

    def run_once(self) -> list[IngestStats]:
        return [c.step() for c in self.chains]

    def follow(
        self,
        stop: threading.Event,
        poll_seconds: float = 1.0,
        on_step: Any = None,
    ) -> None:
        """Index, then again every `poll_seconds`, until `stop` is set. A passing RPC fault
        is logged and retried at the next poll."""
        while not stop.is_set():
            try:
                stats = self.run_once()
                if on_step is not None:
                    on_step(stats)
            except RecoverableError as exc:
                log.warning("index step failed, retrying", extra={"error": str(exc)})
            stop.wait(poll_seconds)
