"""`pvd index` and `pvd trace`: the commands built on the chain index (`pvd reconcile`,
which reads it too, is registered by pvd.cli.reconcile so that neither loads the other).

`add_parser(subparsers)` registers both (pvd.cli.main calls it). The work is in
pvd.index (ingest, query, trace); this module reads options and a config file and prints.

Options may come from a TOML file (`--config`, section `[index]`, keys as the long
options with `_`: db, payment_manifest, business_manifest, payment_rpc, business_rpc,
payment_confirmations, business_confirmations, batch_blocks); the command line wins.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pvd.errors import UserError

log = logging.getLogger(__name__)

_CONFIG_KEYS = {
    "db": str,
    "payment_manifest": str,
    "business_manifest": str,
    "payment_rpc": str,
    "business_rpc": str,
    "payment_confirmations": int,
    "business_confirmations": int,
    "batch_blocks": int,
}


def add_parser(subparsers: Any) -> None:
    """Register `index` and `trace` on pvd's subcommand parser."""
    from pvd.cli.help import HelpFormatter

    index = subparsers.add_parser(
        "index",
        help="index both chains' pvd events into SQLite (default) or PostgreSQL",
        formatter_class=HelpFormatter,
    )
    index.add_argument(
        "action",
        nargs="?",
        choices=["run", "migrate", "status"],
        default="run",
        help="run: index (the default); migrate: bring the schema to this pvd's; "
        "status: checkpoints",
    )
    _chain_options(index)
    index.add_argument("--follow", action="store_true", help="keep indexing new blocks")
    index.add_argument("--poll", type=float, default=1.0, help="seconds between follow steps")
    index.add_argument(
        "--batch-blocks", type=int, help="blocks per batch and transaction; unset: 2000"
    )
    for role in ("payment", "business"):
        index.add_argument(
            f"--{role}-confirmations",
            type=int,
            help=f"blocks to wait on the {role} chain before indexing a block; unset: 0",
        )
    index.add_argument("--json", action="store_true", help="machine-readable output")
    index.set_defaults(handler=run_index)

    trace = subparsers.add_parser(
        "trace",
        help="one trade's timeline across both chains, from the index",
        formatter_class=HelpFormatter,
    )
    trace.add_argument("trade_id", help="the trade id (0x and 64 hex digits)")
    _db_options(trace)
    trace.add_argument("--json", action="store_true", help="machine-readable output")
    trace.set_defaults(handler=run_trace)


def _db_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        help="index database URL: sqlite:///PATH or postgresql://USER@HOST:PORT/DB; "
        "unset: $PVD_INDEX_DB, else sqlite:///.pvd/index.db",
    )
    parser.add_argument("--config", type=Path, help="TOML file with an [index] section")


def _chain_options(parser: argparse.ArgumentParser) -> None:
    _db_options(parser)
    for role in ("payment", "business"):
        parser.add_argument(
            f"--{role}-manifest",
            type=Path,
            help=f"the {role} chain's deployment file; unset: index.{role}_manifest of --config",
        )
        parser.add_argument(
            f"--{role}-rpc", help=f"{role} chain RPC URL; unset: $PVD_{role.upper()}_RPC"
        )


def options(args: argparse.Namespace) -> dict[str, Any]:
    """The command line over the config file's [index] section."""
    merged: dict[str, Any] = {}
    if getattr(args, "config", None) is not None:
        merged.update(_read_config(args.config))
    for key in _CONFIG_KEYS:
        value = getattr(args, key, None)
        if value is not None:
            merged[key] = value
    return merged


def _read_config(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"config file {path} does not exist: fix --config") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"config file {path} is not valid TOML ({exc}): fix it") from None
    section = data.get("index", {})
    if not isinstance(section, dict):
        raise UserError(f"{path}: [index] must be a table")
    found: dict[str, Any] = {}
    for key, value in section.items():
        kind = _CONFIG_KEYS.get(key)
        if kind is None:
            raise UserError(f"{path}: unknown key index.{key}; known: {', '.join(_CONFIG_KEYS)}")
        if not isinstance(value, kind) or isinstance(value, bool):
            noun = "an integer" if kind is int else "a string"
            raise UserError(f"{path}: index.{key} must be {noun}")
        found[key] = value
    return found


def _sources(opts: dict[str, Any]) -> list[Any]:
    from pvd.index.ingest import source_from_manifest

    found = []
    for role in ("payment", "business"):
        manifest = opts.get(f"{role}_manifest")
        if manifest is None:
            raise UserError(
                f"no {role} deployment file: pass --{role}-manifest or set "
                f"index.{role}_manifest in --config"
            )
        variable = f"PVD_{role.upper()}_RPC"
        url = opts.get(f"{role}_rpc") or os.environ.get(variable)
        if not url:
            raise UserError(f"no RPC URL for the {role} chain: pass --{role}-rpc or set {variable}")
        confirmations = int(opts.get(f"{role}_confirmations", 0))
        found.append(source_from_manifest(role, Path(manifest), url, confirmations))
    return found


def run_index(args: argparse.Namespace) -> int:
    from pvd.index import db
    from pvd.index.ingest import DEFAULT_BATCH_BLOCKS, Indexer
    from pvd.index.query import chain_checkpoints

    opts = options(args)
    url = opts.get("db") or db.default_url()
    if args.action == "migrate":
        engine = db.engine_for(url)
        with db.writer_lock(engine):
            before, after = db.migrate(engine)
        print(f"index {db.redacted(url)}: schema {before or 'none'} -> {after}")
        return 0
    if args.action == "status":
        engine = db.open_index(url, create=False)
        checkpoints = chain_checkpoints(engine)
        if args.json:
            print(json.dumps([c.__dict__ for c in checkpoints], indent=2, default=dict))
        for c in checkpoints if not args.json else ():
            print(f"{c.name}: chain id {c.chain_id}, indexed to block {c.indexed_block}")
        return 0
    engine = db.open_index(url)
    sources = _sources(opts)
    batch = int(opts.get("batch_blocks", DEFAULT_BATCH_BLOCKS))
    with db.writer_lock(engine):
        indexer = Indexer(engine, sources, batch)
        if not args.follow:
            _print_stats(indexer.run_once(), args.json)
            return 0
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        log.warning("indexing", extra={"db": db.redacted(url), "follow": True})
        print(f"following both chains into {db.redacted(url)} (Ctrl-C stops)", flush=True)
        indexer.follow(stop, args.poll, on_step=lambda s: _print_stats(s, args.json, quiet=True))
        print("stopped", flush=True)
    return 0


def _print_stats(stats: Sequence[Any], as_json: bool, quiet: bool = False) -> None:
    if as_json:
        print(json.dumps([s.__dict__ for s in stats]), flush=True)
        return
    for s in stats:
        if quiet and not (s.blocks or s.rolled_back):
            continue
        reorg = f", rolled back {s.rolled_back} block(s)" if s.rolled_back else ""
        print(
            f"{s.chain}: indexed to block {s.indexed_block} (head {s.head}): "
            f"{s.blocks} block(s), {s.events} event(s) in {s.seconds:.2f} s{reorg}",
            flush=True,
        )


def run_trace(args: argparse.Namespace) -> int:
    from pvd.index import db
    from pvd.index.trace import trace

    opts = options(args)
    engine = db.open_index(opts.get("db") or db.default_url(), create=False)
    result = trace(engine, args.trade_id)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        sys.stdout.write(result.to_text())
    return 0
