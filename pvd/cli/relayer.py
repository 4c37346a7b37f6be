"""`pvd relay`, `pvd status`, `pvd retry`: one attester's relayer and its store.

- `relay` checks before it starts what would otherwise fail later or quietly: a busy
  metrics or signature port is a one-line error before any file (lock, store) is
  written; an attestation key outside an inbox's attester set is a loud warning (its
  signatures count for nothing there). It logs where its metrics are at start and a
  line when it stops.
- `status` is a table (relayer, chain heads and checkpoints, backlog, dead letters),
  or `--json`.
- `retry` says, for each id, what it did and why not: reopened, unknown, or not dead.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from pvd.chain.ports import port_free
from pvd.cli.help import HelpFormatter
from pvd.errors import UserError

STOP_SIGNALS = ("SIGTERM", "SIGINT")


def add_parser(sub: Any) -> None:
    """Register `pvd relay`, `pvd status` and `pvd retry`."""
    relay = sub.add_parser(
        "relay", help="run one attester's relayer", formatter_class=HelpFormatter
    )
    relay.add_argument("--config", required=True, help="TOML file (config/relay.example.toml)")
    relay.set_defaults(handler=_cmd_relay)

    status = sub.add_parser(
        "status",
        help="a relayer's chain heads, backlog and dead letters",
        formatter_class=HelpFormatter,
    )
    status.add_argument("--config", required=True, help="the relayer's TOML config")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.set_defaults(handler=_cmd_status)

    retry = sub.add_parser(
        "retry", help="take dead messages up again", formatter_class=HelpFormatter
    )
    retry.add_argument("--config", required=True, help="the relayer's TOML config")
    retry.add_argument("ids", nargs="*", help="message ids (none: every dead message)")
    retry.add_argument("--json", action="store_true", help="print one JSON object")
    retry.set_defaults(handler=_cmd_retry)


# -------------------------------------------------------------------------------- relay


def _cmd_relay(args: argparse.Namespace) -> int:
    import signal
    import threading

    from pvd.relayer.config import load_config
    from pvd.relayer.log import configure_logging, relay_logger
    from pvd.relayer.service import run_from_config

    config = load_config(args.config)
    check_ports(config)
    configure_logging(config.log.level, config.log.format)
    log = relay_logger("pvd.relayer.cli", attester=config.name)
    warn_if_not_attester(config, log)
    stop = threading.Event()
    for name in STOP_SIGNALS:
        signal.signal(getattr(signal, name), lambda *_: stop.set())
    try:
        run_from_config(config, stop)
    except UserError:
        raise  # refused at start (or a chain changed): main prints it as the one line
    except BaseException:
        log.info("stopped on an error")
        raise
    log.info("stopped")
    return 0


def check_ports(config: Any) -> None:
    """A port this relayer would serve on must be free now (UserError otherwise)."""
    wanted = (
        ("metrics", "[metrics] port", config.metrics.host, config.metrics.port),
        ("signature", "[quorum] listen_port", config.quorum.listen_host, config.quorum.listen_port),
    )
    for what, field, host, port in wanted:
        if port and not port_free(port, host):
            raise UserError(
                f"{what} port {host}:{port} is in use (another relayer?): stop what uses it, "
                f"or set another {field} in {config.source}"
            )


def warn_if_not_attester(config: Any, log: Any) -> None:
    """Warn loudly for each chain whose inbox does not count this attestation key."""
    from web3 import Web3

    from pvd.chain.connection import rpc_chain
    from pvd.deploy.manifest import load_abi, read_manifest
    from pvd.relayer.keys import load_account

    address = load_account(config.attestation_key).address
    for role in ("payment", "business"):
        chain_config = config.chain(role)
        try:
            manifest = read_manifest(chain_config.manifest)
            deployed = manifest.contract("Inbox")
            chain = rpc_chain(role, chain_config.rpc_urls[0], chain_config.domain_id)
            inbox = chain.w3.eth.contract(
                address=Web3.to_checksum_address(deployed.address),
                abi=load_abi(chain_config.manifest, deployed),
            )
            attesters = {a.lower() for a in inbox.functions.attesters().call()}
        except Exception as exc:  # the relayer's own start-up reports these properly
            log.debug("attester set not read on %s: %s", role, type(exc).__name__)
            continue
        if address.lower() not in attesters:
            log.warning(
                "THIS ATTESTATION KEY %s IS NOT IN THE %s INBOX'S ATTESTER SET: its "
                "signatures count for nothing there; use an attester's key, or rotate it in "
                "(pvd attesters propose)",
                address,
                role.upper(),
                extra={"chain": role},
            )


# ------------------------------------------------------------------------------- status


def _open_store(config_path: str) -> Any:
    from pvd.relayer.config import load_config
    from pvd.relayer.store import Store

    config = load_config(config_path, check_keys=False)
    if not config.store.path.exists():
        raise UserError(f"no relayer store at {config.store.path}: has `pvd relay` run yet?")
    return config, Store(config.store.path)


def status_report(config: Any, store: Any) -> dict[str, Any]:
    from pvd.relayer.config import Route

    heads: dict[str, int | None] = {}
    for role in ("payment", "business"):
        heads[role] = _head(config.chain(role).rpc_urls[0])
    routes = {}
    for route in Route:
        checkpoint = store.checkpoint(route)
        routes[route.value] = {
            "checkpoint": None if checkpoint is None else checkpoint.block,
            "backlog": store.backlog(route),
            "dead": len(store.dead(route)),
        }
    return {
        "relayer": config.name,
        "store": str(config.store.path),
        "heads": heads,
        "routes": routes,
        "backlog": store.backlog(),
        "oldest_pending_seconds": round(store.oldest_pending_age(), 3),
        "statuses": store.status_counts(),
        "dead": [
            {"id": r.message_id, "route": r.route.value, "reason": r.fail_reason}
            for r in store.dead()
        ],
    }


def _head(url: str) -> int | None:
    from web3 import Web3

    try:
        return int(Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 2})).eth.block_number)
    except Exception:  # a dead node is what status reports, not a failure of status
        return None


def _cmd_status(args: argparse.Namespace) -> int:
    config, store = _open_store(args.config)
    try:
        report = status_report(config, store)
    finally:
        store.close()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    heads = report["heads"]
    print(f"relayer  {report['relayer']}  (store {report['store']})")
    print(
        "heads    "
        + "  ".join(f"{c} {'unreachable' if h is None else h}" for c, h in heads.items())
    )
    rows = [("ROUTE", "CHECKPOINT", "BACKLOG", "DEAD")]
    for name, route in report["routes"].items():
        checkpoint = "-" if route["checkpoint"] is None else str(route["checkpoint"])
        rows.append((name, checkpoint, str(route["backlog"]), str(route["dead"])))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    print(f"oldest pending: {report['oldest_pending_seconds']} s")
    for dead in report["dead"]:
        print(f"dead {dead['id']} ({dead['route']}): {dead['reason']}  -> pvd retry {dead['id']}")
    return 0


# -------------------------------------------------------------------------------- retry


def _cmd_retry(args: argparse.Namespace) -> int:
    from pvd.relayer.store import hex32

    try:
        ids = [hex32(i, "message id") for i in args.ids]
    except ValueError as exc:
        raise UserError(f"{exc}: copy the id from pvd status") from None
    config, store = _open_store(args.config)
    try:
        outcome: list[dict[str, str]] = []
        if ids:
            dead: list[str] = []
            for mid in ids:
                record = store.get(mid)
                if record is None:
                    outcome.append({"id": mid, "result": "unknown: not in this relayer's store"})
                elif record.status != "dead":
                    outcome.append(
                        {"id": mid, "result": f"not dead ({record.status}): nothing to do"}
                    )
                else:
                    dead.append(mid)
            reopened = store.reopen_dead(dead) if dead else []
        else:
            reopened = store.reopen_dead(None)
        outcome += [{"id": mid, "result": "reopened"} for mid in reopened]
    finally:
        store.close()
    if args.json:
        print(json.dumps({"relayer": config.name, "messages": outcome}, indent=2))
        return 0
    if not ids and not reopened:
        print("no dead messages: nothing to retry")
    for item in outcome:
        print(f"{item['id']}: {item['result']}")
    if reopened:
        print(f"reopened {len(reopened)}; a running relayer takes them up at its next tick")
    return 0
