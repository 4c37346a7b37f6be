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
5. keeps running totals: C1 (totalSupply at the pinned block = the index's sum of balances)
   and, per route, sent = delivered + failed + in flight;
6. stores the pinned blocks and totals as the new reconciled checkpoint.

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
from sqlalchemy import Connection, Engine, and_, func, or_, select

from pvd.chain.logs import logs_by_topic1
from pvd.chain.rpc import call_many, struct_fields
from pvd.errors import UserError
from pvd.index.query import chain_checkpoints
from pvd.index.schema import accounts, events, holds, messages, reconcile_state, trades
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
        }

    def to_text(self) -> str:
        lines = [
            f"{c} chain: blocks {a + 1}..{b} reconciled" if b > a else f"{c} chain: up to date"
            for c, (a, b) in self.blocks.items()
        ]
        lines.append("re-read   " + ", ".join(f"{n} {k}" for k, n in self.touched.items()))
        t = self.totals
        lines.append(f"totals    supply {t['supply']} = balances {t['balances']} (C1)")
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


def _checkpoint(db: Connection, chain: str, default: int) -> int:
    value = db.execute(
        select(reconcile_state.c.block).where(reconcile_state.c.chain == chain)
    ).scalar()
    return default if value is None else int(value)


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
        window = {
            name: (_checkpoint(db, name, c.start_block - 1), c.indexed_block)
            for name, c in pinned.items()
        }
        touched = _touched(db, window)
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
        totals_check = _totals(db, reads["payment"])
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
                    chain=chain, block=block, totals=json.dumps(totals, sort_keys=True)
                )
            )
    return IncrementalReport(
        blocks=window,
        touched={k: len(v) for k, v in touched.items()},
        totals=totals,
        findings=tuple(findings),
        seconds=time.perf_counter() - started,
    )


def _touched(db: Connection, window: Mapping[str, tuple[int, int]]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {
        "holds": set(),
        "trades": set(),
        "messages": set(),
        "accounts": set(),
    }
    in_window = or_(
        *(
            and_(events.c.chain == chain, events.c.block > low, events.c.block <= high)
            for chain, (low, high) in window.items()
        )
    )
    query = select(
        events.c.contract, events.c.trade_id, events.c.hold_id, events.c.message_id, events.c.args
    ).where(in_window)
    for contract, trade_id, hold_id, message_id, args in db.execute(query):
        if trade_id and contract != "YuanToken":
            found["trades"].add(trade_id)
        if hold_id:
            found["holds"].add(hold_id)
        if message_id:
            found["messages"].add(message_id)
        if contract == "YuanToken":
            values = json.loads(args)
            for key in ("from", "to", "payer", "payee"):
                if isinstance(values.get(key), str) and int(values[key], 16) != 0:
                    found["accounts"].add(values[key])
    # keep only keys the projections know
    found["holds"] = _known(db, holds.c.hold_id, found["holds"])
    found["trades"] = _known(db, trades.c.trade_id, found["trades"])
    found["messages"] = _known(db, messages.c.message_id, found["messages"])
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


def _totals(db: Connection, reads: _Reads) -> Callable[[], tuple[dict[str, Any], list[Finding]]]:
    token = reads.view.contract("YuanToken")
    part = reads.add([token.functions.totalSupply()])
    balances = int(db.execute(select(func.coalesce(func.sum(accounts.c.balance), 0))).scalar_one())
    routes: dict[str, dict[str, int]] = {}
    for source, status, count in db.execute(
        select(messages.c.source, messages.c.status, func.count()).group_by(
            messages.c.source, messages.c.status
        )
    ):
        route = "payment→business" if source == "payment" else "business→payment"
        entry = routes.setdefault(route, {"sent": 0, "delivered": 0, "failed": 0, "pending": 0})
        entry[str(status)] += int(count)
        entry["sent"] += int(count)
    return lambda: _check_totals(int(reads[part][0]), balances, routes, token.address, reads.block)


def _check_totals(
    supply: int, balances: int, routes: dict[str, Any], token: str, block: int
) -> tuple[dict[str, Any], list[Finding]]:
    findings = []
    if supply != balances:
        detail = f"totalSupply {supply} at block {block} != the index's sum of balances {balances}"
        findings.append(Finding("C1", Severity.VIOLATION, named(token=token), detail))
    return {"supply": supply, "balances": balances, "routes": routes}, findings


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
