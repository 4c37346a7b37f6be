"""`pvd explorer`: the live web page of a deployment's trades, messages and money
(pvd/explorer), served until Ctrl-C. docs/operations.md describes it."""

from __future__ import annotations

import argparse
import os
import signal
import threading
from pathlib import Path
from typing import Any

from pvd.cli.help import HelpFormatter
from pvd.errors import UserError


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "explorer",
        help="a live web page of trades, messages and money on both chains",
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--payment-manifest", type=Path, required=True, help="the payment chain's deployment file"
    )
    parser.add_argument(
        "--business-manifest", type=Path, required=True, help="the business chain's deployment file"
    )
    parser.add_argument("--payment-rpc", help="payment chain RPC URL; unset: $PVD_PAYMENT_RPC")
    parser.add_argument("--business-rpc", help="business chain RPC URL; unset: $PVD_BUSINESS_RPC")
    parser.add_argument(
        "--db", help="the chain index's database URL; unset: the index's own (docs/index.md)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8700, help="port (0: any free port)")
    parser.add_argument(
        "--relayer-metrics",
        action="append",
        default=[],
        metavar="URL",
        help="a relayer's metrics endpoint (http://HOST:PORT/metrics); repeat for each",
    )
    parser.add_argument(
        "--confirmations", type=int, default=0, help="blocks below the head to read up to"
    )
    parser.set_defaults(handler=run)


def _rpc(value: str | None, env: str, flag: str) -> str:
    url = value or os.environ.get(env)
    if not url:
        raise UserError(f"no RPC URL for {flag}: pass {flag} URL or set ${env}")
    return url


def run(args: argparse.Namespace) -> int:
    from pvd.explorer.launch import explore_deployment

    server = explore_deployment(
        args.payment_manifest,
        _rpc(args.payment_rpc, "PVD_PAYMENT_RPC", "--payment-rpc"),
        args.business_manifest,
        _rpc(args.business_rpc, "PVD_BUSINESS_RPC", "--business-rpc"),
        db_url=args.db,
        host=args.host,
        port=args.port,
        relayer_urls=args.relayer_metrics,
        confirmations=args.confirmations,
    )
    print(f"pvd explorer: {server.url} (Ctrl-C stops it)", flush=True)
    wait_for_stop()
    server.close()
    return 0


def wait_for_stop() -> None:
    """Block until SIGINT or SIGTERM."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(1.0):
        pass
