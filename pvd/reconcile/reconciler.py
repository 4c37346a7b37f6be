"""`pvd reconcile`: an independent checker of both chains.

It reads only the chains — never a relayer store — and checks, for every hold and every
trade, X1 to X3, C1 to C4 and C6 of docs/design.md, plus message accounting: every message sent is
delivered, visibly pending (with its age) or failed (verified-but-failed, retryable).
Findings and their invariant ids: docs/reconcile.md.

Library use: build two `ChainView`s — `views_from_system(system)` for an in-process
deployment, `view_from_manifest(...)` for a deployment file and an RPC URL — and call
`reconcile(payment, business) -> Report`. Command line: `reconcile_command(...)` (exit 0
no violation, 1 a violation; a UserError, which `pvd.cli.main` turns into exit 2).

The two chains cannot be read at one instant. The payment chain is read first, then the
business chain: everything the payment chain did in answer to the business chain (a hold
executed on a Delivered outcome) has its cause in the later business reading. The one
race left runs the other way (a payment-chain message sent after the first reading and
delivered before the business reading), so a violation counts only if a second reading
of the payment chain, taken after the business one, shows it too; otherwise it is
reported as pending ("changed while reading").
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

import requests
from web3 import Web3
from web3.contract import Contract

from pvd.chain.connection import Chain, rpc_chain
from pvd.deploy.manifest import Manifest, load_abi, read_manifest
from pvd.deploy.reverts import project_decoder
from pvd.deploy.system import System
from pvd.errors import UserError
from pvd.protocol.statuses import DeliveryStatus, HoldStatus
from pvd.reconcile.checks import Context, Finding, Ids, Severity, run_checks
from pvd.reconcile.state import (
    BUSINESS_CONTRACTS,
    PAYMENT_CONTRACTS,
    BusinessSnapshot,
    ChainHead,
    ChainView,
    PaymentSnapshot,
    abi_entries,
    read_business,
    read_payment,
)

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_VIOLATION = 1

__all__ = [
    "ChainView",
    "Finding",
    "Report",
    "Severity",
    "add_arguments",
    "main",
    "reconcile",
    "reconcile_command",
    "reconcile_system",
    "run",
    "view_from_manifest",
    "views_from_system",
]


# ------------------------------------------------------------------------------ views


def views_from_system(system: System) -> tuple[ChainView, ChainView]:
    """The payment and business views of an in-process deployment (no files)."""
    payment, business = system.payment, system.business
    return (
        ChainView(
            name=payment.chain.name,
            domain_id=system.config.payment_domain,
            w3=payment.chain.w3,
            contracts={
                "YuanToken": payment.token,
                "Outbox": payment.outbox,
                "Inbox": payment.inbox,
                "PvdSettlement": payment.settlement,
            },
        ),
        ChainView(
            name=business.chain.name,
            domain_id=system.config.business_domain,
            w3=business.chain.w3,
            contracts={
                "TradeRegistry": business.registry,
                "Outbox": business.outbox,
                "Inbox": business.inbox,
            },
        ),
    )


_ROLE_CONTRACTS = {"payment": PAYMENT_CONTRACTS, "business": BUSINESS_CONTRACTS}
_ROLE_MARKER = {"payment": "YuanToken", "business": "TradeRegistry"}


def view_from_manifest(role: str, manifest_path: Path, rpc_url: str | None) -> ChainView:
    """The view of one chain from its deployment manifest and an RPC URL (else the
    PVD_<ROLE>_RPC environment variable, as `pvd chains up` writes it). UserError, with a
    one-line fix, for a missing or corrupt manifest, a swapped one, an RPC that does not
    answer, a chain other than the manifest's, or contracts that are not there."""
    manifest = read_manifest(manifest_path)
    _check_role(role, manifest, manifest_path)
    variable = f"PVD_{role.upper()}_RPC"
    url = rpc_url or os.environ.get(variable)
    if not url:
        raise UserError(f"no RPC URL for the {role} chain: pass --{role}-rpc or set {variable}")
    chain = rpc_chain(role, url, manifest.chain.domain_id)
    _check_identity(chain, manifest, manifest_path, url)
    names = _ROLE_CONTRACTS[role]
    return ChainView(
        name=role,
        domain_id=manifest.chain.domain_id,
        w3=chain.w3,
        contracts={name: _deployed(chain, manifest_path, manifest, name) for name in names},
        from_block=min(manifest.contract(name).block for name in names),
    )


def _check_identity(chain: Chain, manifest: Manifest, path: Path, url: str) -> None:
    identity = chain.identity()
    if (identity.chain_id, identity.genesis_hash) != (
        manifest.chain.chain_id,
        manifest.chain.genesis_hash,
    ):
        raise UserError(
            f"{chain.name} chain at {url} is chain id {identity.chain_id} with genesis "
            f"{identity.genesis_hash[:10]}…, but {path} was deployed to chain id "
            f"{manifest.chain.chain_id} with genesis {manifest.chain.genesis_hash[:10]}…: "
            f"point --{chain.name}-rpc at that chain, or redeploy"
        )


def _deployed(chain: Chain, path: Path, manifest: Manifest, name: str) -> Contract:
    entry = manifest.contract(name)
    address = Web3.to_checksum_address(entry.address)
    if not chain.w3.eth.get_code(address):
        raise UserError(
            f"{chain.name} chain has no code at {name} {address} from {path} "
            "(was the chain reset?): redeploy"
        )
    return chain.w3.eth.contract(address=address, abi=load_abi(path, entry))


def _check_role(role: str, manifest: Manifest, path: Path) -> None:
    if _ROLE_MARKER[role] in manifest.contracts:
        return
    other = "business" if role == "payment" else "payment"
    if _ROLE_MARKER[other] in manifest.contracts:
        raise UserError(
            f"{path} is the {other} chain's manifest, not the {role} chain's: "
            "swap --payment-manifest and --business-manifest"
        )
    raise UserError(f"{path} has no {_ROLE_MARKER[role]}: pass the {role} chain's manifest")


# ----------------------------------------------------------------------------- report


@dataclass(frozen=True)
class Report:
    """What `reconcile` found: the two readings, counts, and findings."""

    payment: ChainHead
    business: ChainHead
    counts: Mapping[str, Mapping[str, int]]
    findings: tuple[Finding, ...]

    def of(self, severity: Severity) -> list[Finding]:
        return [f for f in self.findings if f.severity is severity]

    @property
    def ok(self) -> bool:
        return not self.of(Severity.VIOLATION)

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.ok else EXIT_VIOLATION

    def invariants(self, severity: Severity = Severity.VIOLATION) -> set[str]:
        return {f.invariant for f in self.of(severity)}

    @property
    def verdict(self) -> str:
        """One line: OK or VIOLATION with the invariants broken, and what else was found."""
        counts = {s: len(self.of(s)) for s in Severity}
        rest = (
            f"{counts[Severity.FAILED]} failed, {counts[Severity.PENDING]} pending, "
            f"{counts[Severity.NOTE]} notes"
        )
        if self.ok:
            return f"OK: no violation ({rest})"
        names = ", ".join(sorted(self.invariants()))
        return f"VIOLATION: {counts[Severity.VIOLATION]} ({names}); {rest}"

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "payment": _head_json(self.payment),
            "business": _head_json(self.business),
            "counts": {k: dict(v) for k, v in self.counts.items()},
            "verdict": {s.value: len(self.of(s)) for s in Severity},
            "findings": [
                {
                    "invariant": f.invariant,
                    "severity": f.severity.value,
                    "ids": dict(f.ids),
                    "detail": f.detail,
                    **f.facts,
                }
                for f in self.findings
            ],
        }

    def to_text(self) -> str:
        return "\n".join(_text_lines(self)) + "\n"


def _head_json(head: ChainHead) -> dict[str, int | str]:
    return {
        "name": head.name,
        "domain_id": head.domain_id,
        "chain_id": head.chain_id,
        "block": head.block,
        "timestamp": head.timestamp,
    }


def _text_lines(report: Report) -> Iterator[str]:
    for head in (report.payment, report.business):
        yield (
            f"{head.name} chain: domain {head.domain_id}, chain id {head.chain_id}, "
            f"read at block {head.block}"
        )
    holds, trades, accounts = (report.counts[k] for k in ("holds", "trades", "accounts"))
    yield (
        f"holds     {holds['total']}: {holds['held']} held, {holds['executed']} executed, "
        f"{holds['released']} released ({holds['other_notary']} with another notary)"
    )
    by_status = ", ".join(f"{n} {s}" for s, n in trades.items() if s != "total" and n)
    yield f"trades    {trades['total']}" + (f": {by_status}" if by_status else "")
    yield f"accounts  {accounts['checked']} checked (C1, C2, C4)"
    for source, destination in (("payment", "business"), ("business", "payment")):
        m = report.counts[f"{source}_to_{destination}"]
        yield (
            f"messages  {source}→{destination}: {m['sent']} sent, {m['delivered']} delivered, "
            f"{m['failed']} failed, {m['pending']} pending"
        )
    yield f"verdict   {report.verdict}"
    for finding in report.findings:
        yield (
            f"  {finding.severity.value.upper():9} {finding.invariant:4} "
            f"{' '.join(f'{kind} {value}' for kind, value in finding.ids)}: {finding.detail}"
        )


def summarize(p: PaymentSnapshot, b: BusinessSnapshot) -> dict[str, dict[str, int]]:
    """Counts for the report's summary lines."""
    statuses = Counter(h.status for h in p.holds.values())
    trades = Counter(t.status.name.lower() for t in b.trades.values())
    return {
        "holds": {
            "total": len(p.holds),
            "held": statuses[HoldStatus.HELD],
            "executed": statuses[HoldStatus.EXECUTED],
            "released": statuses[HoldStatus.RELEASED],
            "other_notary": sum(1 for h in p.holds.values() if h.notary != p.settlement),
        },
        "trades": {"total": len(b.trades), **dict(sorted(trades.items()))},
        "accounts": {"checked": len(p.accounts)},
        "payment_to_business": _route_counts(p, b.head.domain_id, b),
        "business_to_payment": _route_counts(b, p.head.domain_id, p),
    }


def _route_counts(
    source: PaymentSnapshot | BusinessSnapshot,
    destination_domain: int,
    destination: PaymentSnapshot | BusinessSnapshot,
) -> dict[str, int]:
    ids = [i for i, m in source.sent.items() if m.message.destination_domain == destination_domain]
    records = [destination.inbox.get(i) for i in ids]
    return {
        "sent": len(ids),
        "delivered": sum(1 for r in records if r and r.status is DeliveryStatus.DELIVERED),
        "failed": sum(1 for r in records if r and r.status is DeliveryStatus.FAILED),
        "pending": sum(1 for r in records if r is None),
    }


# -------------------------------------------------------------------------- reconcile


def reconcile(payment: ChainView, business: ChainView) -> Report:
    """Read both chains (payment first) and check them; see the module docstring for why
    a violation must show in a second payment-chain reading too."""
    context = _context(payment, business)
    first = read_payment(payment)
    log.info("read payment chain", extra={"chain": payment.name, "block": first.head.block})
    biz = read_business(business)
    log.info("read business chain", extra={"chain": business.name, "block": biz.head.block})
    findings = run_checks(first, biz, context)
    if any(f.severity is Severity.VIOLATION for f in findings):
        second = read_payment(payment)
        confirmed = {
            f.key for f in run_checks(second, biz, context) if f.severity is Severity.VIOLATION
        }
        findings = [_confirmed_or_pending(f, confirmed, second.head.block) for f in findings]
    rank = {severity: i for i, severity in enumerate(Severity)}
    return Report(
        payment=first.head,
        business=biz.head,
        counts=summarize(first, biz),
        findings=tuple(sorted(findings, key=lambda f: rank[f.severity])),
    )


def reconcile_system(system: System) -> Report:
    """`reconcile` of an in-process deployment (the embedded demo)."""
    return reconcile(*views_from_system(system))


def _confirmed_or_pending(finding: Finding, confirmed: set[tuple[str, Ids]], block: int) -> Finding:
    if finding.severity is not Severity.VIOLATION or finding.key in confirmed:
        return finding
    return replace(
        finding,
        severity=Severity.PENDING,
        detail=f"{finding.detail} (gone in a second reading of the payment chain at block "
        f"{block}: it changed while the chains were read)",
    )


def _context(payment: ChainView, business: ChainView) -> Context:
    views = {payment.name: payment, business.name: business}
    times: dict[tuple[str, int], int] = {}

    def block_time(chain: str, block: int) -> int:
        if (chain, block) not in times:
            times[chain, block] = int(views[chain].w3.eth.get_block(block)["timestamp"])
        return times[chain, block]

    return Context(block_time=block_time, explain_error=error_decoder((payment, business)))


def error_decoder(views: Sequence[ChainView]) -> Callable[[bytes], str]:
    """Revert data -> "Name(arg=value, ...)": every error of the compiled contracts
    (pvd.deploy.reverts) plus those of the deployed contracts' own ABIs."""
    decoder = project_decoder().with_abis(
        abi_entries(contract) for view in views for contract in view.contracts.values()
    )
    return decoder.explain


# ------------------------------------------------------------------------ command line


def reconcile_command(
    payment_manifest: Path,
    business_manifest: Path,
    payment_rpc: str | None,
    business_rpc: str | None,
    as_json: bool,
    out: TextIO | None = None,
) -> int:
    """`pvd reconcile`: print the report (text or JSON) and return 0 (no violation) or 1.
    Raises UserError (exit 2 in pvd.cli.main) for a bad manifest or an unreachable chain."""
    with _rpc_failures():
        payment = view_from_manifest("payment", payment_manifest, payment_rpc)
        business = view_from_manifest("business", business_manifest, business_rpc)
        report = reconcile(payment, business)
    stream = out or sys.stdout
    stream.write(json.dumps(report.to_json(), indent=2) + "\n" if as_json else report.to_text())
    return report.exit_code


@contextmanager
def _rpc_failures() -> Iterator[None]:
    try:
        yield
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
        raise UserError(
            f"a chain stopped answering while being read ({type(exc).__name__}): "
            "check the node and run pvd reconcile again"
        ) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `pvd reconcile` (for pvd.cli.main's subcommand)."""
    parser.add_argument(
        "--payment-manifest", type=Path, required=True, help="the payment chain's deployment file"
    )
    parser.add_argument(
        "--business-manifest", type=Path, required=True, help="the business chain's deployment file"
    )
    parser.add_argument("--payment-rpc", help="payment chain RPC URL; unset: $PVD_PAYMENT_RPC")
    parser.add_argument("--business-rpc", help="business chain RPC URL; unset: $PVD_BUSINESS_RPC")
    parser.add_argument("--json", action="store_true", help="machine-readable report")
    parser.add_argument(
        "--full",
        action="store_true",
        help="re-derive everything from the chains alone, without the index",
    )
    parser.add_argument(
        "--db",
        help="index database URL; unset: $PVD_INDEX_DB, else sqlite:///.pvd/index.db",
    )
    parser.add_argument(
        "--follow", action="store_true", help="reconcile every new indexed block, with metrics"
    )
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between follow steps")
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=9465,
        help="Prometheus /metrics port of --follow on 127.0.0.1",
    )


def run(args: argparse.Namespace) -> int:
    """Handler for a parser set up by `add_arguments`."""
    if not getattr(args, "full", True):
        return incremental_command(args)
    return reconcile_command(
        args.payment_manifest,
        args.business_manifest,
        args.payment_rpc,
        args.business_rpc,
        args.json,
    )


def incremental_command(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """`pvd reconcile` on the index: catch the index up (unless another `pvd index` is
    writing it), then reconcile the new blocks; `--follow` repeats with metrics."""
    import signal
    import threading

    from pvd.index import db
    from pvd.index.ingest import source_from_manifest
    from pvd.reconcile.incremental import ReconcileMetrics, reconcile_incremental

    stream = out or sys.stdout
    with _rpc_failures():
        payment = view_from_manifest("payment", args.payment_manifest, args.payment_rpc)
        business = view_from_manifest("business", args.business_manifest, args.business_rpc)
        engine = db.open_index(args.db or db.default_url())
        urls = {
            "payment": args.payment_rpc or os.environ["PVD_PAYMENT_RPC"],
            "business": args.business_rpc or os.environ["PVD_BUSINESS_RPC"],
        }
        sources = [
            source_from_manifest("payment", args.payment_manifest, urls["payment"]),
            source_from_manifest("business", args.business_manifest, urls["business"]),
        ]
        metrics = ReconcileMetrics() if args.follow else None
        if metrics is not None:
            metrics.serve(args.metrics_port)
            stream.write(f"reconcile metrics on http://127.0.0.1:{args.metrics_port}/metrics\n")
            stream.flush()
        stop = threading.Event()
        if args.follow:
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: stop.set())
        code = EXIT_OK
        while True:
            _catch_up(engine, sources)
            report = reconcile_incremental(engine, payment, business)
            code = max(code, report.exit_code)
            if metrics is not None:
                heads = {v.name: int(v.w3.eth.block_number) for v in (payment, business)}
                metrics.record(report, heads)
            if args.json:
                stream.write(json.dumps(report.to_json()) + "\n")
            elif not args.follow or report.findings or report.touched.get("trades"):
                stream.write(report.to_text())
            stream.flush()
            if not args.follow or stop.wait(args.interval):
                return code


def _catch_up(engine: Any, sources: Sequence[Any]) -> None:
    """Index the new blocks unless another indexer holds the writer lock (then reconcile
    up to where it has got)."""
    from pvd.index import db
    from pvd.index.ingest import Indexer

    try:
        with db.writer_lock(engine):
            Indexer(engine, sources).run_once()
    except db.IndexBusy:
        log.info("another indexer is writing: reconciling up to its checkpoint")


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m pvd.reconcile.reconciler`: as `pvd reconcile`; a UserError is one line, exit 2."""
    parser = argparse.ArgumentParser(prog="pvd reconcile", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        return run(args)
    except UserError as exc:
        print(f"pvd: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
