"""Incremental reconciliation on the index: only what changed since the last reconciled
block, checked against the chains themselves, so a corrupted index is caught, not trusted.

One `reconcile_incremental(engine, payment, business)`:
1. pins each chain at the index's checkpoint (the newest indexed block);
2. takes from the index what the events in (last reconciled, pinned] touched: holds,
   trades, messages, accounts;
3. re-reads those from the chains at the pinned blocks (holdStatus, getTrade,
   balanceOf/heldBalanceOf, the destination inbox's failureOf and delivery events) and
   compares them with the
   index's rows: a difference is an INDEX violation (rebuild the index);
4. checks the invariants on the touched set with the chain's values: C2 (held <= balance),
   X1 (an executed hold's trade is Delivered), X2 (an expired or cancelled trade's hold is
   never executed), X3 (Paid <=> executed, Refunded <=> released);
5. keeps running totals, moved by the window's events only (never a scan of every account
   or message): the sum of balances (mints minus burns) and of held balances, and per
   route sent = delivered + failed + in flight (each touched message's status before and
   after the window); checked against the chain: C1 (totalSupply at the pinned block =
   the running sum of balances) and each outbox's nextNonce of the chain's sending app
   (= messages it ever sent);
6. stores the pinned blocks, their hashes and the totals as the new reconciled checkpoint.
   A run whose last reconciled block is no longer the index's (a reorg rolled the index
   back under it) starts the totals again from the deployment blocks.

`pvd reconcile --full` re-derives everything from the chains alone (reconciler.py).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from eth_utils.abi import event_abi_to_log_topic
from hexbytes import HexBytes
from sqlalchemy import Connection, Engine, and_, false, or_, select

from pvd.chain.logs import logs_by_topic1
from pvd.chain.rpc import call_many, struct_fields
from pvd.errors import UserError
from pvd.index.query import chain_checkpoints
from pvd.index.schema import accounts, events, holds, messages, reconcile_state, trades
from pvd.index.schema import blocks as index_blocks
from pvd.index.store import ZERO_ADDRESS, account_deltas, events_of, message_row, stored_event
from pvd.protocol.statuses import DeliveryStatus, HoldStatus, TradeStatus
from pvd.reconcile.checks import Finding, Severity, named
from pvd.reconcile.state import ChainView

log = logging.getLogger(__name__)

_HOLD_NAMES = {
    HoldStatus.HELD: "held",
    HoldStatus.EXECUTED: "executed",
    HoldStatus.RELEASED: "released",
}
_DELIVERY_NAMES = {
    DeliveryStatus.NONE: "pending",
    DeliveryStatus.DELIVERED: "delivered",
    DeliveryStatus.FAILED: "failed",
}
_SETTLEMENT = {0: "none", 1: "paid", 2: "refunded"}


@dataclass(frozen=True)
class IncrementalReport:
    blocks: Mapping[str, tuple[int, int]]  # chain -> (from, to] reconciled now
    touched: Mapping[str, int]  # holds, trades, messages, accounts re-read
    totals: Mapping[str, Any]
    findings: tuple[Finding, ...]
    seconds: float
    restarted: str | None = None  # why the running totals started again from deployment

    @property
    def ok(self) -> bool:
        return not any(f.severity is Severity.VIOLATION for f in self.findings)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "blocks": {c: {"from": a, "to": b} for c, (a, b) in self.blocks.items()},
            "touched": dict(self.touched),
            "totals": dict(self.totals),
            "findings": [
                {
                    "invariant": f.invariant,
                    "severity": f.severity.value,
                    "ids": dict(f.ids),
                    "detail": f.detail,
                }
                for f in self.findings
            ],
            "seconds": round(self.seconds, 4),
            "restarted": self.restarted,
        }

    def to_text(self) -> str:
        lines = [
            f"{c} chain: blocks {a + 1}..{b} reconciled" if b > a else f"{c} chain: up to date"
            for c, (a, b) in self.blocks.items()
        ]
        if self.restarted:
            lines.append(f"restarted from the deployment blocks: {self.restarted}")
        lines.append("re-read   " + ", ".join(f"{n} {k}" for k, n in self.touched.items()))
        t = self.totals
        lines.append(
            f"totals    supply {t['supply']} = balances {t['balances']} (C1), {t['held']} held"
        )
        for route, m in t["routes"].items():
            lines.append(
                f"messages  {route}: {m['sent']} sent = {m['delivered']} delivered + "
                f"{m['failed']} failed + {m['pending']} in flight"
            )
        verdict = "OK: no violation" if self.ok else "VIOLATION"
        lines.append(f"verdict   {verdict} ({len(self.findings)} finding(s))")
        for f in self.findings:
            ids = " ".join(f"{k} {v}" for k, v in f.ids)
            lines.append(f"  {f.severity.value.upper():9} {f.invariant:5} {ids}: {f.detail}")
        return "\n".join(lines) + "\n"


_ROUTES = {"payment": "payment→business", "business": "business→payment"}
# The one app that sends through each chain's outbox (its nonces count its messages).
_SENDERS = {"payment": "PvdSettlement", "business": "TradeRegistry"}
_STATUSES = ("delivered", "failed", "pending")


@dataclass(frozen=True)
class _Start:
    """Where this run starts: per chain the last reconciled block, the running totals
    reconciled there (None: start from the deployment blocks), and why it restarted."""

    blocks: Mapping[str, int]
    totals: Mapping[str, Any] | None
    restarted: str | None


def _start(db: Connection, pinned: Mapping[str, Any]) -> _Start:
    """The last reconciled block of each chain and its running totals, if they still hold:
    both chains reconciled, with the totals' shape of this code, and the reconciled block
    still the index's (a reorg that rolled the index back under it, or an index rebuilt
    since, restarts the totals from the deployment blocks)."""
    fresh = {name: int(c.start_block) - 1 for name, c in pinned.items()}
    rows = {r["chain"]: r for r in db.execute(select(reconcile_state)).mappings()}
    if not rows:
        return _Start(fresh, None, None)
    problem = None
    for name, checkpoint in pinned.items():
        row = rows.get(name)
        started = row is not None and int(row["block"]) >= int(checkpoint.start_block)
        if row is None or (started and row["block_hash"] is None):
            problem = "no running totals of this pvd yet"
            break
        block = int(row["block"])
        if block > checkpoint.indexed_block:
            problem = f"the {name} index was rolled back below block {block}"
            break
        stored = db.execute(
            select(index_blocks.c.hash).where(
                and_(index_blocks.c.chain == name, index_blocks.c.number == block)
            )
        ).scalar()
        if block >= int(checkpoint.start_block) and stored != row["block_hash"]:
            problem = f"the {name} chain's block {block} is no longer the one reconciled"
            break
    totals = json.loads(rows["payment"]["totals"]) if problem is None else None
    if totals is not None and not {"balances", "held", "routes"} <= set(totals):
        problem, totals = "no running totals of this pvd yet", None
    if problem is not None:
        log.info("running totals restart from the deployment", extra={"reason": problem})
        return _Start(fresh, None, problem)
    return _Start({name: int(rows[name]["block"]) for name in pinned}, totals, None)


def reconcile_incremental(
    engine: Engine, payment: ChainView, business: ChainView
) -> IncrementalReport:
    """Reconcile what the index added since the last run; see the module docstring."""
    started = time.perf_counter()
    pinned = {c.name: c for c in chain_checkpoints(engine)}
    if set(pinned) != {"payment", "business"}:
        raise UserError("the index has not read both chains yet: run `pvd index` first")
    findings: list[Finding] = []
    with engine.connect() as db:  # one connection for every read of the index
        start = _start(db, pinned)
        window = {name: (start.blocks[name], c.indexed_block) for name, c in pinned.items()}
        hashes = _block_hashes(db, window)
        changed = _window(db, window)
        touched = changed.touched(db)
        # every chain read of this run goes in one JSON-RPC batch per chain
        reads = {
            "payment": _Reads(payment, window["payment"][1]),
            "business": _Reads(business, window["business"][1]),
        }
        checks = [
            _holds(db, reads["payment"], touched["holds"]),
            _trades(db, reads["business"], touched["trades"]),
            _accounts(db, reads["payment"], touched["accounts"]),
            _messages(db, reads, touched["messages"]),
        ]
        totals_check = _totals(db, reads, window, start.totals, changed)
    for batch in reads.values():
        batch.run()
    for check in checks:
        findings += check()
    totals, total_findings = totals_check()
    findings += total_findings
    with engine.begin() as writer:
        for chain, (_, block) in window.items():
            writer.execute(reconcile_state.delete().where(reconcile_state.c.chain == chain))
            writer.execute(
                reconcile_state.insert().values(
                    chain=chain,
                    block=block,
                    block_hash=hashes.get(chain),
                    totals=json.dumps(totals, sort_keys=True),
                )
            )
    return IncrementalReport(
        blocks=window,
        touched={k: len(v) for k, v in touched.items()},
        totals=totals,
        findings=tuple(findings),
        seconds=time.perf_counter() - started,
        restarted=start.restarted,
    )


def _block_hashes(db: Connection, window: Mapping[str, tuple[int, int]]) -> dict[str, str]:
    """The index's hash of each chain's pinned block (none before the first block)."""
    found = {}
    for chain, (_, block) in window.items():
        value = db.execute(
            select(index_blocks.c.hash).where(
                and_(index_blocks.c.chain == chain, index_blocks.c.number == block)
            )
        ).scalar()
        if value is not None:
            found[chain] = str(value)
    return found


@dataclass
class _Changes:
    """What the events of the window touched, and their effect on the running totals."""

    holds: set[str]
    trades: set[str]
    messages: set[str]
    accounts: set[str]
    balances: int = 0  # sum of balances: minted minus burned in the window
    held: int = 0  # sum of held balances: placed minus executed and released

    def touched(self, db: Connection) -> dict[str, set[str]]:
        """The touched keys the projections know (an account is re-read even without a
        row: the index then says 0)."""
        return {
            "holds": _known(db, holds.c.hold_id, self.holds),
            "trades": _known(db, trades.c.trade_id, self.trades),
            "messages": _known(db, messages.c.message_id, self.messages),
            "accounts": set(self.accounts),
        }


def _window(db: Connection, window: Mapping[str, tuple[int, int]]) -> _Changes:
    """The events of blocks (low, high] of each chain: the keys they touched and their
    balance and held deltas (pvd.index.store.account_deltas, the indexer's own)."""
    found = _Changes(set(), set(), set(), set())
    in_window = or_(
        *(
            and_(events.c.chain == chain, events.c.block > low, events.c.block <= high)
            for chain, (low, high) in window.items()
            if high > low
        ),
        false(),
    )
    for row in db.execute(select(events).where(in_window)).mappings():
        event, _ = stored_event(row)
        if event.trade_id and event.contract != "YuanToken":
            found.trades.add(event.trade_id)
        if event.hold_id:
            found.holds.add(event.hold_id)
        if event.message_id:
            found.messages.add(event.message_id)
        for address, balance, held in account_deltas(event):
            if address == ZERO_ADDRESS:
                found.balances -= balance  # the zero address's side of a mint or burn
            else:
                found.held += held
                found.accounts.add(address)
    return found


def _known(db: Connection, column: Any, keys: Iterable[str]) -> set[str]:
    keys = sorted(keys)
    known: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        known.update(r[0] for r in db.execute(select(column).where(column.in_(chunk))))
    return known


def _rows(db: Connection, table: Any, key: Any, keys: Iterable[str]) -> dict[str, Any]:
    keys = sorted(keys)
    rows: dict[str, Any] = {}
    for start in range(0, len(keys), 500):
        query = select(table).where(key.in_(keys[start : start + 500]))
        rows.update((r[key.name], r) for r in db.execute(query).mappings())
    return rows


def _read(view: ChainView, calls: list[Any], block: int) -> list[Any]:
    """View calls at `block` in one JSON-RPC batch (pvd.chain.rpc.call_many). A batch of
    one would go through web3's per-call path, ten times slower: it is sent twice."""
    if not calls:
        return []
    if len(calls) == 1:
        return call_many(view.w3, [calls[0], calls[0]], block)[:1]
    return call_many(view.w3, calls, block)


class _Reads:
    """The view calls of one run on one chain at its pinned block, sent together: each
    checker adds its calls and reads its slice of the answers after `run`."""

    def __init__(self, view: ChainView, block: int) -> None:
        self.view = view
        self.block = block
        self._calls: list[Any] = []
        self._values: list[Any] = []

    def add(self, calls: list[Any]) -> slice:
        start = len(self._calls)
        self._calls += calls
        return slice(start, len(self._calls))

    def run(self) -> None:
        self._values = _read(self.view, self._calls, self.block)

    def __getitem__(self, part: slice) -> list[Any]:
        return self._values[part]


Check = Callable[[], list[Finding]]


def _index_differs(kind: str, key: str, what: str, ours: Any, theirs: Any, block: int) -> Finding:
    return Finding(
        "INDEX",
        Severity.VIOLATION,
        named(**{kind: key}),
        f"the index says {what} {ours}, the chain says {theirs} at block {block}: the index "
        "is wrong; rebuild it (pvd index into a new --db)",
    )


def _holds(db: Connection, reads: _Reads, keys: set[str]) -> Check:
    rows = _rows(db, holds, holds.c.hold_id, keys)
    token = reads.view.contract("YuanToken")
    ids = sorted(rows)
    part = reads.add([token.functions.holdStatus(bytes.fromhex(i[2:])) for i in ids])
    return lambda: _check_holds(rows, ids, reads[part], reads.block)


def _check_holds(
    rows: Mapping[str, Any], ids: list[str], found: list[Any], block: int
) -> list[Finding]:
    findings = []
    for hold_id, status in zip(ids, found, strict=True):
        chain = _HOLD_NAMES.get(HoldStatus(int(status)), HoldStatus(int(status)).name.lower())
        if chain != rows[hold_id]["status"]:
            findings.append(
                _index_differs("hold", hold_id, "status", rows[hold_id]["status"], chain, block)
            )
    return findings


def _trades(db: Connection, reads: _Reads, keys: set[str]) -> Check:
    rows = _rows(db, trades, trades.c.trade_id, keys)
    registry = reads.view.contract("TradeRegistry")
    ids = sorted(rows)
    part = reads.add([registry.functions.getTrade(bytes.fromhex(i[2:])) for i in ids])
    hold_rows = _rows(
        db, holds, holds.c.hold_id, {r["hold_id"] for r in rows.values() if r["hold_id"]}
    )
    fields = struct_fields(registry, "getTrade")
    return lambda: _check_trades(rows, hold_rows, ids, fields, reads[part], reads.block)


def _check_trades(
    rows: Mapping[str, Any],
    hold_rows: Mapping[str, Any],
    ids: list[str],
    fields: tuple[str, ...],
    raw: list[Any],
    block: int,
) -> list[Finding]:
    findings: list[Finding] = []
    for trade_id, values in zip(ids, raw, strict=True):
        t = dict(zip(fields, values, strict=True))
        row = rows[trade_id]
        status = TradeStatus(int(t["status"])).name.lower()
        settlement = _SETTLEMENT.get(int(t["settlement"]), "unknown")
        for what, ours, theirs in (
            ("status", row["status"], status),
            ("settlement", row["settlement"], settlement),
            ("price", row["price"], int(t["price"])),
        ):
            if ours != theirs:
                findings.append(_index_differs("trade", trade_id, what, ours, theirs, block))
        hold = hold_rows.get(row["hold_id"] or "")
        if hold is None:
            continue
        ids_ = named(trade=trade_id, hold=hold["hold_id"])
        executed, released = hold["status"] == "executed", hold["status"] == "released"
        if executed and status != "delivered":
            findings.append(
                Finding("X1", Severity.VIOLATION, ids_, f"hold executed but the trade is {status}")
            )
        if executed and status in ("expired", "cancelled"):
            findings.append(
                Finding("X2", Severity.VIOLATION, ids_, f"the trade is {status} but its hold paid")
            )
        if (settlement == "paid" and not executed) or (settlement == "refunded" and not released):
            findings.append(
                Finding(
                    "X3",
                    Severity.VIOLATION,
                    ids_,
                    f"settlement {settlement} but the hold is {hold['status']}",
                )
            )
    return findings


def _accounts(db: Connection, reads: _Reads, keys: set[str]) -> Check:
    rows = _rows(db, accounts, accounts.c.address, keys)
    token = reads.view.contract("YuanToken")
    addresses = sorted(keys)
    calls = [token.functions.balanceOf(a) for a in addresses]
    calls += [token.functions.heldBalanceOf(a) for a in addresses]
    part = reads.add(calls)
    return lambda: _check_accounts(rows, addresses, reads[part], reads.block)


def _check_accounts(
    rows: Mapping[str, Any], addresses: list[str], found: list[Any], block: int
) -> list[Finding]:
    values = [int(v) for v in found]
    n = len(addresses)
    findings: list[Finding] = []
    for i, address in enumerate(addresses):
        balance, held = values[i], values[n + i]
        row = rows.get(address)
        ours = (int(row["balance"]), int(row["held"])) if row else (0, 0)
        if ours != (balance, held):
            findings.append(
                _index_differs("account", address, "balance/held", ours, (balance, held), block)
            )
        if held > balance:
            findings.append(
                Finding(
                    "C2",
                    Severity.VIOLATION,
                    named(account=address),
                    f"held {held} > balance {balance}",
                )
            )
    return findings


def _messages(db: Connection, reads: Mapping[str, _Reads], keys: set[str]) -> Check:
    rows = _rows(db, messages, messages.c.message_id, keys)
    by_domain = {r.view.domain_id: r for r in reads.values()}
    asked: list[tuple[_Reads, list[str], slice]] = []
    for batch in reads.values():
        ids = sorted(
            i for i, r in rows.items() if by_domain.get(int(r["destination_domain"])) is batch
        )
        if not ids:
            continue
        inbox = batch.view.contract("Inbox")
        part = batch.add([inbox.functions.failureOf(bytes.fromhex(i[2:])) for i in ids])
        asked.append((batch, ids, part))
    return lambda: _check_messages(rows, asked)


def _took_effect(batch: _Reads, ids: list[str]) -> set[str]:
    """The ids with a MessageDelivered or MessageRetried on the batch's inbox up to its
    pinned block (the inbox keeps only a consumed bit per nonce, not a record per id)."""
    inbox = batch.view.contract("Inbox")
    topics = [
        HexBytes(event_abi_to_log_topic(getattr(inbox.events, name).abi))
        for name in ("MessageDelivered", "MessageRetried")
    ]
    logs = logs_by_topic1(
        batch.view.w3,
        inbox.address,
        topics,
        [HexBytes(i) for i in ids],
        batch.view.from_block,
        batch.block,
    )
    return {entry.topics[1].to_0x_hex() for entry in logs}


def _check_messages(
    rows: Mapping[str, Any], asked: list[tuple[_Reads, list[str], slice]]
) -> list[Finding]:
    findings: list[Finding] = []
    for batch, ids, part in asked:
        block = batch.block
        effective = _took_effect(batch, ids)
        for message_id, record in zip(ids, batch[part], strict=True):
            # the failure record (Failed, Voided) if any, else Delivered once it took effect
            status = DeliveryStatus(int(record[0]))
            if status is DeliveryStatus.NONE and message_id in effective:
                status = DeliveryStatus.DELIVERED
            chain = _DELIVERY_NAMES[status]
            if chain != rows[message_id]["status"]:
                findings.append(
                    _index_differs(
                        "message", message_id, "status", rows[message_id]["status"], chain, block
                    )
                )
    return findings


def _totals(
    db: Connection,
    reads: Mapping[str, _Reads],
    window: Mapping[str, tuple[int, int]],
    previous: Mapping[str, Any] | None,
    changed: _Changes,
) -> Callable[[], tuple[dict[str, Any], list[Finding]]]:
    """The running totals moved by the window's events: the sum of balances and of held
    balances, and per route the messages sent, delivered, failed and in flight (each
    touched message's status before the window and after it, from its events). Checked
    against the chain: totalSupply (C1) and each outbox's nextNonce of the chain's one
    sending app (the settlement, the registry), which counts the messages it ever sent."""
    payment = reads["payment"]
    token = payment.view.contract("YuanToken")
    supply = payment.add([token.functions.totalSupply()])
    nonces = {
        name: batch.add(
            [
                batch.view.contract("Outbox").functions.nextNonce(
                    batch.view.contract(_SENDERS[name]).address
                )
            ]
        )
        for name, batch in reads.items()
    }
    balances = int(previous["balances"] if previous else 0) + changed.balances
    held = int(previous["held"] if previous else 0) + changed.held
    routes = _routes(db, window, previous, changed.messages)
    outboxes = {name: reads[name].view.contract("Outbox").address for name in reads}

    def check() -> tuple[dict[str, Any], list[Finding]]:
        sent = {name: int(reads[name][part][0]) for name, part in nonces.items()}
        totals = {
            "supply": int(payment[supply][0]),
            "balances": balances,
            "held": held,
            "routes": routes,
        }
        blocks = {n: r.block for n, r in reads.items()}
        findings = _check_totals(totals, sent, token.address, outboxes, blocks)
        return totals, findings

    return check


def _routes(
    db: Connection,
    window: Mapping[str, tuple[int, int]],
    previous: Mapping[str, Any] | None,
    touched: set[str],
) -> dict[str, dict[str, int]]:
    routes: dict[str, dict[str, int]] = {
        route: {k: int(v) for k, v in (previous or {}).get("routes", {}).get(route, {}).items()}
        for route in _ROUTES.values()
    }
    for counts in routes.values():
        for key in ("sent", *_STATUSES):
            counts.setdefault(key, 0)
    histories = events_of(db, "message_id", touched)
    for message_id, history in histories.items():
        for edge, sign in ((0, -1), (1, 1)):  # its status before the window, then after it
            upto = [(e, t) for e, t in history if e.block <= window[e.chain][edge]]
            row = message_row(message_id, upto)
            if row is None:
                continue
            counts = routes[_ROUTES[row["source"]]]
            counts["sent"] += sign
            counts[row["status"]] += sign
    return routes


def _check_totals(
    totals: Mapping[str, Any],
    sent: Mapping[str, int],
    token: str,
    outboxes: Mapping[str, str],
    blocks: Mapping[str, int],
) -> list[Finding]:
    findings = []
    supply, balances = totals["supply"], totals["balances"]
    if supply != balances:
        detail = (
            f"totalSupply {supply} at block {blocks['payment']} != the index's running sum of "
            f"balances {balances}"
        )
        findings.append(Finding("C1", Severity.VIOLATION, named(token=token), detail))
    for chain, count in sent.items():
        route = _ROUTES[chain]
        ours = totals["routes"][route]["sent"]
        if ours != count:
            findings.append(
                Finding(
                    "INDEX",
                    Severity.VIOLATION,
                    named(outbox=outboxes[chain]),
                    f"the index counts {ours} messages sent {route}, the {chain} outbox's "
                    f"nextNonce is {count} at block {blocks[chain]}: the index is wrong; "
                    "rebuild it (pvd index into a new --db)",
                )
            )
    return findings


# ------------------------------------------------------------------ follow + metrics


class ReconcileMetrics:
    """Prometheus metrics of `pvd reconcile --follow` (docs/reconcile.md lists them)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.last_block = Gauge(
            "pvd_reconcile_last_block",
            "last reconciled block per chain",
            ["chain"],
            registry=self.registry,
        )
        self.lag = Gauge(
            "pvd_reconcile_lag_blocks",
            "chain head minus the last reconciled block",
            ["chain"],
            registry=self.registry,
        )
        self.findings = Gauge(
            "pvd_reconcile_findings",
            "findings of the last reconcile step by invariant and severity",
            ["invariant", "severity"],
            registry=self.registry,
        )
        self.seconds = Histogram(
            "pvd_reconcile_step_seconds",
            "time of one incremental reconcile step",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.runs = Gauge(
            "pvd_reconcile_last_run_timestamp_seconds",
            "unix time of the last finished reconcile step",
            registry=self.registry,
        )

    def record(self, report: IncrementalReport, heads: Mapping[str, int]) -> None:
        for chain, (_, block) in report.blocks.items():
            self.last_block.labels(chain).set(block)
            self.lag.labels(chain).set(max(heads.get(chain, block) - block, 0))
        self.findings.clear()
        counts: dict[tuple[str, str], int] = {}
        for f in report.findings:
            key = (f.invariant, f.severity.value)
            counts[key] = counts.get(key, 0) + 1
        for (invariant, severity), n in counts.items():
            self.findings.labels(invariant, severity).set(n)
        self.seconds.observe(report.seconds)
        self.runs.set(time.time())

    def serve(self, port: int, host: str = "127.0.0.1") -> Any:
        """Serve /metrics; UserError (one line) if the port is taken."""
        from prometheus_client import start_http_server

        try:
            server, _thread = start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise UserError(
                f"cannot serve reconcile metrics on {host}:{port} ({exc.strerror}): "
                "pick a free --metrics-port"
            ) from None
        return server
