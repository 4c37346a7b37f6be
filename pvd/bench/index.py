"""`make bench`'s index figures, on two anvil processes that it starts and stops and a
PostgreSQL cluster it starts in a temporary folder (Debian's postgresql; `make
postgres-deps`) and stops:

- history: trades proposed, accepted, held and announced with batched transactions (signed
  here, sent in JSON-RPC batches, a hundred to a block), funded by an in-process relayer
  (2-of-3), shipped and confirmed the same way, paid and reported by the relayer; built
  up to each size in turn (default 10^3, then 10^4);
- ingest: a fresh index of that history, on SQLite and on PostgreSQL: blocks/s, events/s,
  and the database's size per trade;
- reconcile: `pvd reconcile --full` (everything from the chains) once per size, and the
  incremental reconcile per new block (one new trade proposal on the business chain and
  one transfer on the payment chain, indexed, then reconciled): p50/p99 of the reconcile;
- trades page: the explorer's first page (50 rows, with the total), filtered by status,
  by party, by a trade-id prefix and a page deep by cursor, on the real index and on
  10^6 synthetic rows
  written straight into the trades table, on SQLite and PostgreSQL: p50/p99.

Written as the `index` section of bench/report.json (pvd.bench.report). Figures are what
this machine measured in this run; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import pwd
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from eth_abi.abi import encode
from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine, create_engine, func, select, text
from web3 import Web3
from web3.types import RPCEndpoint

from pvd.bench.premade import sign_eip1559
from pvd.bench.relay import funded, make_relayer
from pvd.bench.report import percentile, write_section
from pvd.chain.connection import Chain
from pvd.chain.ports import free_port
from pvd.cli.demo import Cast, DemoTrade, issue_funds, two_chains
from pvd.client import trade as client
from pvd.deploy.system import System, SystemConfig, deploy_system
from pvd.index.db import open_index, writer_lock
from pvd.index.ingest import Indexer, sources_from_system
from pvd.index.query import trades_page
from pvd.index.schema import events, trades
from pvd.reconcile.incremental import reconcile_incremental
from pvd.reconcile.reconciler import reconcile, views_from_system

SYNTHETIC_ROWS = 1_000_000
PAGE_RUNS = 20
INCREMENTAL_BLOCKS = 40


# --------------------------------------------------------------------------- history


def prepare(system: System, cast: Cast, trades_wanted: int) -> None:
    """Funds for `trades_wanted` trades of 1 yuan, and no wallet cap in the way."""
    chain, token = system.payment.chain, system.payment.token
    issue_funds(system, cast)
    for account in (cast.buyer.address, cast.seller.address):
        client.transact(chain, token.functions.setCapExemption(account, True), cast.admin.address)
    # 1 yuan a trade, and room for the incremental figures' transfers
    extra = max(trades_wanted * 100 + 100_000 - 500_000, 0)
    if extra:
        client.transact(
            chain, token.functions.issue(cast.buyer.address, extra), cast.operator.address
        )


HOUR = 3600
PER_BLOCK = 100  # transactions per mined block while the history is built
CHUNK = 1_000  # trades per round of the history: sent, relayed, delivered, relayed
GAS = 1_500_000  # per transaction: generous, the block gas limit is raised to fit them


class _Sender:
    """Signed transactions of local development accounts (test keys only) sent in JSON-RPC
    batches with anvil's automine off, PER_BLOCK to a mined block, the base fee reset
    before each block (a bench of the index is not one of fees)."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self.chain_id = int(chain.w3.eth.chain_id)
        self.fee = int(chain.w3.eth.gas_price) * 2 + 1
        self.nonces: dict[str, int] = {}
        _rpc(chain, "evm_setBlockGasLimit", hex(GAS * PER_BLOCK * 2))

    def send(self, txs: Sequence[tuple[LocalAccount, str, str]]) -> None:
        """(sender, to, calldata) in order; returns when all are mined and succeeded."""
        w3 = self.chain.w3
        raw: list[str] = []
        for account, to, data in txs:
            if account.address not in self.nonces:
                self.nonces[account.address] = int(
                    w3.eth.get_transaction_count(account.address, "pending")
                )
            nonce = self.nonces[account.address]
            self.nonces[account.address] += 1
            raw.append(sign_eip1559(self.chain_id, account, to, data, nonce, GAS, self.fee))
        _rpc(self.chain, "evm_setAutomine", False)
        hashes: list[str] = []
        try:
            for start in range(0, len(raw), PER_BLOCK):
                block = raw[start : start + PER_BLOCK]
                answers = w3.provider.make_batch_request(  # type: ignore[attr-defined]
                    [(RPCEndpoint("eth_sendRawTransaction"), [tx]) for tx in block]
                )
                errors = [a["error"] for a in answers if a.get("error")]
                if errors:
                    raise RuntimeError(f"bench: {self.chain.name} refused a tx: {errors[0]}")
                hashes += [a["result"] for a in answers]
                _rpc(self.chain, "anvil_setNextBlockBaseFeePerGas", hex(0))
                _rpc(self.chain, "evm_mine")
        finally:
            _rpc(self.chain, "evm_setAutomine", True)
        for start in range(0, len(hashes), 500):
            receipts = w3.provider.make_batch_request(  # type: ignore[attr-defined]
                [(RPCEndpoint("eth_getTransactionReceipt"), [h]) for h in hashes[start:start + 500]]
            )  # fmt: skip
            failed = [r for r in receipts if not r.get("result") or r["result"]["status"] != "0x1"]
            if failed:
                raise RuntimeError(f"bench: a {self.chain.name} transaction failed: {failed[0]}")


def _rpc(chain: Chain, method: str, *params: Any) -> Any:
    answer = chain.w3.provider.make_request(RPCEndpoint(method), list(params))
    if "error" in answer:
        raise RuntimeError(f"bench: {chain.name}: {method}: {answer['error']}")
    return answer.get("result")


def build_history(system: System, cast: Cast, relayer: Any, count: int) -> int:
    """`count` trades of 1 yuan through to payment, CHUNK at a time: proposed, accepted,
    held and announced with batched transactions, funded by the relayer, shipped and
    confirmed with batched transactions, then paid and reported by the relayer. The
    trades' messages are relayed by an in-process 2-of-3 relayer (pvd.relayer)."""
    pay, biz = system.payment, system.business
    payments, business = _Sender(pay.chain), _Sender(biz.chain)
    registry, settlement, token = biz.registry, pay.settlement, pay.token
    domain = client.token_domain(token.functions.eip712Domain().call())
    business_domain = int(system.config.business_domain)
    chain_id = int(biz.chain.w3.eth.chain_id)
    done = 0
    while done < count:
        n = min(CHUNK, count - done)
        deadline = biz.chain.now() + 24 * HOUR
        terms = client.Terms(
            seller=cast.seller.address, payer=cast.buyer.address, payee=cast.seller.address,
            token=token.address, price=100, deadline=deadline,
            hold_expiry=deadline + system.config.safety_window + HOUR,
        )  # fmt: skip
        first = int(registry.functions.nonceOf(cast.buyer.address).call())
        ids = [
            Web3.keccak(
                encode(
                    ["uint256", "uint32", "address", "address", "uint256"],
                    [chain_id, business_domain, registry.address, cast.buyer.address, first + i],
                )
            )
            for i in range(n)
        ]
        if bytes(ids[0]) != bytes(registry.functions.nextTradeId(cast.buyer.address).call()):
            raise RuntimeError("bench: the trade id derivation differs from the registry's")
        propose = registry.encode_abi("propose", [terms.as_tuple()])
        business.send([(cast.buyer, registry.address, propose)] * n)
        business.send(
            [(cast.seller, registry.address, registry.encode_abi("accept", [i])) for i in ids]
        )
        valid_before = pay.chain.now() + 24 * HOUR
        holds = []
        for trade_id in ids:
            hold = client.hold_for(bytes(trade_id), terms, settlement)
            typed = client.place_hold_typed_data(domain, hold, valid_before)
            signature = bytes(cast.buyer.sign_typed_data(full_message=typed).signature)
            data = settlement.encode_abi(
                "placeHoldAndAnnounce", [hold.as_tuple(), valid_before, signature]
            )
            holds.append((cast.dapp, settlement.address, data))
        payments.send(holds)
        last = DemoTrade(
            "bench", bytes(ids[-1]), client.hold_for(bytes(ids[-1]), terms, settlement)
        )
        if not relayer.run_until(lambda t=last: funded(system, t), timeout=900):
            raise RuntimeError("bench: the relayer did not fund the history's trades")
        business.send(
            [(cast.seller, registry.address, registry.encode_abi("ship", [i, b"\x01" * 32]))
             for i in ids]
        )  # fmt: skip
        business.send(
            [(cast.buyer, registry.address, registry.encode_abi("confirmDelivery", [i]))
             for i in ids]
        )  # fmt: skip
        if not relayer.run_until(lambda t=last: settled(system, t), timeout=900):
            raise RuntimeError("bench: the relayer did not settle the history's trades")
        done += n
    return done


def settled(system: System, trade: DemoTrade) -> bool:
    return int(system.business.registry.functions.settlementOf(trade.trade_id).call()) == 1


# ---------------------------------------------------------------------- databases


@contextmanager
def postgres() -> Iterator[str | None]:
    """A throw-away cluster (None if PostgreSQL is not installed)."""
    initdb = next(
        iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)), None
    )
    if initdb is None:
        yield None
        return
    bin_dir = initdb.parent
    folder = Path(tempfile.mkdtemp(prefix="pvd-bench-pg-"))
    port = free_port()
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: the package's postgres user runs it
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]

    def run(*args: str) -> None:
        subprocess.run([*prefix, *args], check=True, capture_output=True)

    started = False
    try:
        run(str(bin_dir / "initdb"), "-D", str(folder / "data"), "-U", "pvd", "-A", "trust")
        run(
            str(bin_dir / "pg_ctl"), "-D", str(folder / "data"), "-l", str(folder / "log"),
            "-o", f"-p {port} -k {folder} -c listen_addresses=127.0.0.1", "-w", "start",
        )  # fmt: skip
        started = True
        yield f"postgresql://pvd@127.0.0.1:{port}/postgres"
    finally:
        if started:
            subprocess.run(
                [*prefix, str(bin_dir / "pg_ctl"), "-D", str(folder / "data"), "-m", "fast",
                 "-w", "stop"],
                check=False, capture_output=True,
            )  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)


_databases = iter(range(1_000_000))


def fresh_url(kind: str, folder: Path, cluster: str | None) -> str:
    number = next(_databases)
    if kind == "sqlite":
        return f"sqlite:///{folder / f'index-{number}.db'}"
    assert cluster is not None
    admin = create_engine(cluster.replace("postgresql://", "postgresql+psycopg://"),
                          isolation_level="AUTOCOMMIT")  # fmt: skip
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE bench_{number}"))
    admin.dispose()
    return cluster.rsplit("/", 1)[0] + f"/bench_{number}"


def size_bytes(engine: Engine) -> int:
    if engine.dialect.name == "sqlite":
        engine.dispose()
        path = Path(str(engine.url.database))
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())
    with engine.connect() as connection:
        return int(
            connection.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
        )


# -------------------------------------------------------------------------- figures


def timed(action: Callable[[], object], runs: int) -> dict[str, float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return {
        "p50_ms": round(1000 * percentile(samples, 0.5), 2),
        "p99_ms": round(1000 * percentile(samples, 0.99), 2),
        "runs": runs,
    }


def page_figures(engine: Engine) -> dict[str, Any]:
    first = trades_page(engine, limit=50)
    party = first.rows[0].buyer if first.rows else None
    prefix = first.rows[-1].trade_id[:8] if first.rows else None  # 0x and 6 hex digits
    deep = trades_page(engine, limit=500)
    for _ in range(3):
        if deep.next_cursor is None:
            break
        deep = trades_page(engine, limit=500, cursor=deep.next_cursor)
    cursor = deep.next_cursor
    return {
        "rows": first.total,  # counted up to pvd.index.query.TOTAL_CAP
        "rows_capped": first.total_capped,
        "first_page": timed(lambda: trades_page(engine, limit=50), PAGE_RUNS),
        "by_status": timed(lambda: trades_page(engine, status="delivered", limit=50), PAGE_RUNS),
        "by_party": timed(lambda: trades_page(engine, party=party, limit=50), PAGE_RUNS)
        if party
        else None,
        "deep_page": timed(lambda: trades_page(engine, limit=50, cursor=cursor), PAGE_RUNS)
        if cursor
        else None,
        "by_id_prefix": timed(lambda: trades_page(engine, search=prefix, limit=50), PAGE_RUNS)
        if prefix
        else None,
    }


def ingest(system: System, url: str, trades_count: int) -> tuple[Engine, dict[str, Any]]:
    engine = open_index(url)
    started = time.perf_counter()
    with writer_lock(engine):
        stats = Indexer(engine, sources_from_system(system)).run_once()
    seconds = time.perf_counter() - started
    blocks = sum(s.blocks for s in stats)
    count = sum(s.events for s in stats)
    return engine, {
        "blocks": blocks,
        "events": count,
        "seconds": round(seconds, 3),
        "blocks_per_second": round(blocks / seconds, 1),
        "events_per_second": round(count / seconds, 1),
        "bytes_per_trade": round(size_bytes(engine) / trades_count),
    }


def incremental(system: System, cast: Cast, engine: Engine) -> dict[str, Any]:
    payment, business = views_from_system(system)
    first_started = time.perf_counter()
    first = reconcile_incremental(engine, payment, business)
    first_seconds = time.perf_counter() - first_started
    pay, biz = system.payment, system.business
    terms = client.Terms(
        seller=cast.seller.address, payer=cast.buyer.address, payee=cast.seller.address,
        token=pay.token.address, price=100, deadline=biz.chain.now() + 24 * 3600,
        hold_expiry=biz.chain.now() + 48 * 3600,
    )  # fmt: skip
    samples = []
    indexer = Indexer(engine, sources_from_system(system))
    with writer_lock(engine):
        for _ in range(INCREMENTAL_BLOCKS):
            client.propose(biz.chain, biz.registry, cast.buyer.address, terms)
            client.transact(
                pay.chain, pay.token.functions.transfer(cast.seller.address, 1), cast.buyer.address
            )
            indexer.run_once()
            started = time.perf_counter()
            report = reconcile_incremental(engine, payment, business)
            samples.append(time.perf_counter() - started)
            if not report.ok:
                raise RuntimeError("bench: the incremental reconcile found a violation")
    return {
        "first_run_seconds": round(first_seconds, 3),
        "first_run_ok": first.ok,
        "new_blocks": INCREMENTAL_BLOCKS,
        "p50_ms": round(1000 * percentile(samples, 0.5), 2),
        "p99_ms": round(1000 * percentile(samples, 0.99), 2),
        "note": "per step: one new business block (a proposal) and one payment block "
        "(a transfer), indexed, then reconciled; the time of the reconcile",
    }


SYNTHETIC_COLUMNS = (
    "trade_id", "buyer", "seller", "price", "deadline", "hold_expiry", "status",
    "settlement", "hold_id", "proposed_block", "proposed_at", "updated_at",
)  # fmt: skip
SYNTHETIC_CHUNK = 50_000


def synthetic_batches(rows: int) -> Iterator[list[tuple[Any, ...]]]:
    """`rows` trades (SYNTHETIC_COLUMNS, in chunks): random ids, 1,000 parties, every
    status, three seconds apart; the same rows on every run (seeded)."""
    from eth_utils.address import to_checksum_address

    rng = random.Random(7)
    parties = [to_checksum_address(f"0x{rng.getrandbits(160):040x}") for _ in range(1_000)]
    statuses = ("proposed", "accepted", "funded", "shipped", "delivered", "expired", "cancelled")
    for base in range(0, rows, SYNTHETIC_CHUNK):
        batch = []
        for i in range(base, min(base + SYNTHETIC_CHUNK, rows)):
            at = 1_700_000_000 + i * 3
            batch.append(
                (
                    f"0x{rng.getrandbits(256):064x}", parties[i % 1_000],
                    parties[(i * 7 + 3) % 1_000], 100 + i % 10_000, at + 86_400, at + 90_000,
                    statuses[i % len(statuses)], "none", None, i, at, at,
                )
            )  # fmt: skip
        yield batch


def synthetic(url: str, rows: int) -> dict[str, Any]:
    """`rows` trades written straight into the trades table (with its indexes in place,
    as the indexer's inserts find them), then the page figures. Written through the
    driver's own bulk path (SQLite: executemany of tuples in one transaction, with a
    page cache that holds the indexes; PostgreSQL: COPY), not one SQLAlchemy insert per
    batch of dicts: 10^6 rows took 74 s and 81 s that way."""
    engine = open_index(url)
    columns = ", ".join(SYNTHETIC_COLUMNS)
    started = time.perf_counter()
    raw = engine.raw_connection()
    try:
        driver: Any = raw.driver_connection
        if engine.dialect.name == "postgresql":
            with (
                driver.cursor() as cursor,
                cursor.copy(f"COPY trades ({columns}) FROM STDIN") as copy,
            ):
                for batch in synthetic_batches(rows):
                    for row in batch:
                        copy.write_row(row)
        else:
            marks = ", ".join("?" * len(SYNTHETIC_COLUMNS))
            cursor = driver.cursor()
            (cache,) = cursor.execute("PRAGMA cache_size").fetchone()
            cursor.execute("PRAGMA cache_size = -1048576")  # KiB: 1 GiB, while it writes
            for batch in synthetic_batches(rows):
                cursor.executemany(f"INSERT INTO trades ({columns}) VALUES ({marks})", batch)
            raw.commit()
            cursor.execute(f"PRAGMA cache_size = {int(cache)}")  # the pages read as shipped
            cursor.close()
        raw.commit()
    finally:
        raw.close()
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("ANALYZE trades"))
    written = time.perf_counter() - started
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(trades)).scalar_one() == rows
    return {"write_seconds": round(written, 1), **page_figures(engine)}


def run(sizes: list[int], synthetic_rows: int) -> dict[str, Any]:
    results: dict[str, Any] = {"sizes": {}, "load_before": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp, postgres() as cluster:
        folder = Path(tmp)
        if sizes:
            results["sizes"] = history_figures(sizes, folder, cluster)
        if synthetic_rows:
            results["synthetic"] = {
                "rows": synthetic_rows,
                "sqlite": synthetic(fresh_url("sqlite", folder, None), synthetic_rows),
                "postgresql": synthetic(fresh_url("postgresql", folder, cluster), synthetic_rows)
                if cluster
                else "skipped: PostgreSQL is not installed",
            }
    results["load_after"] = os.getloadavg()
    return results


def history_figures(sizes: list[int], folder: Path, cluster: str | None) -> dict[str, Any]:
    """Per history size: ingest, page, incremental and full reconcile figures."""
    found: dict[str, Any] = {}
    with two_chains("anvil") as (payment, business):
        cast = Cast.from_accounts(payment.accounts)
        config = SystemConfig(attesters=tuple(a.address for a in cast.attesters), threshold=2)
        system = deploy_system(payment, business, config)
        prepare(system, cast, max(sizes))
        relayer = make_relayer(system, cast, folder / "relayer.sqlite")
        built = 0
        for size in sorted(sizes):
            started = time.perf_counter()
            build_history(system, cast, relayer, size - built)
            built = size
            figures: dict[str, Any] = {
                "history_build_seconds": round(time.perf_counter() - started, 1)
            }
            views = views_from_system(system)
            started = time.perf_counter()
            full = reconcile(*views)
            figures["full_reconcile"] = {
                "seconds": round(time.perf_counter() - started, 3), "ok": full.ok
            }  # fmt: skip
            for kind in ("sqlite", "postgresql"):
                if kind == "postgresql" and cluster is None:
                    figures[kind] = "skipped: PostgreSQL is not installed (make postgres-deps)"
                    continue
                engine, ingested = ingest(system, fresh_url(kind, folder, cluster), size)
                with engine.connect() as connection:
                    ingested["events_total"] = connection.execute(
                        select(func.count()).select_from(events)
                    ).scalar_one()
                figures[kind] = {
                    "ingest": ingested,
                    "trades_page": page_figures(engine),
                    "incremental_reconcile": incremental(system, cast, engine),
                }
                engine.dispose()
            found[str(size)] = figures
            print(f"{size:>6} trades: {figures}", flush=True)
        relayer.close()
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pvd.bench.index", description=__doc__)
    parser.add_argument(
        "--sizes",
        default="1000,10000",
        help="trades of history, comma-separated (default: 1000,10000)",
    )
    parser.add_argument(
        "--synthetic-rows",
        type=int,
        default=SYNTHETIC_ROWS,
        help=f"rows written straight into trades for the page figures (default "
        f"{SYNTHETIC_ROWS}; 0: none)",
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip() and int(s) > 0]
    results = run(sizes, args.synthetic_rows)
    path = write_section("index", results)
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
