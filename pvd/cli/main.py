"""The `pvd` command line. Each command is a thin layer over a library function; a
UserError becomes one line on stderr and exit code 2, never a traceback."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pvd.chain import local as localchains
from pvd.cli import explorer
from pvd.deploy.compiler import compile_contracts
from pvd.errors import PvdError, UserError
from pvd.paths import PROJECT_ROOT

EXIT_USER_ERROR = 2


def _cmd_compile(args: argparse.Namespace) -> int:
    artifacts = compile_contracts()
    print(f"compiled {len(artifacts)} contracts: {', '.join(sorted(artifacts))}")
    return 0


def _cmd_chains(args: argparse.Namespace) -> int:
    state = Path(args.state)
    if args.action == "up":
        nodes = localchains.up(state)
        for node in nodes:
            print(f"{node.name}: anvil pid {node.pid}, chain id {node.chain_id}, {node.url}")
        print(f"environment for brownie: source {localchains.env_file(state)}")
    elif args.action == "down":
        stopped = localchains.down(state)
        print(f"stopped {len(stopped)} anvil process(es)" if stopped else "no chains running")
    else:
        print(json.dumps([node.__dict__ for node in localchains.running(state)], indent=2))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from pvd.cli.demo import run_demo

    return int(run_demo(chains=args.chains, as_json=args.json, explorer=args.explorer))


def _cmd_deploy(args: argparse.Namespace) -> int:
    from pvd.chain.connection import dev_accounts, rpc_chain
    from pvd.deploy.system import SystemConfig, deploy_system
    from pvd.relayer.config import EnvKey
    from pvd.relayer.keys import load_account

    # --dev-key: the well-known development key, for local chains only
    deployer = dev_accounts()[0] if args.dev_key else load_account(EnvKey(args.key_env))
    payment = rpc_chain("payment", args.payment_rpc, args.payment_domain, [deployer])
    business = rpc_chain("business", args.business_rpc, args.business_domain, [deployer])
    attesters = tuple(a.strip() for a in args.attesters.split(",") if a.strip())
    config = SystemConfig(
        attesters=attesters,
        threshold=args.threshold,
        payment_domain=args.payment_domain,
        business_domain=args.business_domain,
        governance_delay=args.governance_delay,
    )
    system = deploy_system(payment, business, config, manifest_folder=Path(args.out))
    for path in system.manifests:
        print(f"wrote {path}")
    return 0


def _cmd_relay(args: argparse.Namespace) -> int:
    import signal
    import threading

    from pvd.relayer.config import load_config
    from pvd.relayer.log import configure_logging
    from pvd.relayer.service import run_from_config

    config = load_config(args.config)
    configure_logging(config.log.level, config.log.format)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    run_from_config(config, stop)
    return 0


def _open_store(args: argparse.Namespace) -> Any:
    from pvd.relayer.config import load_config
    from pvd.relayer.store import Store

    config = load_config(args.config, check_keys=False)
    if not config.store.path.exists():
        raise UserError(f"no relayer store at {config.store.path}: has `pvd relay` run yet?")
    return Store(config.store.path)


def _cmd_status(args: argparse.Namespace) -> int:
    from pvd.relayer.config import Route

    store = _open_store(args)
    report: dict[str, Any] = {"backlog": store.backlog(), "statuses": store.status_counts()}
    report["oldest_pending_seconds"] = round(store.oldest_pending_age(), 3)
    for route in Route:
        checkpoint = store.checkpoint(route)
        report[f"checkpoint {route.value}"] = None if checkpoint is None else checkpoint.block
    report["dead"] = [
        {"id": r.message_id, "route": r.route.value, "reason": r.fail_reason} for r in store.dead()
    ]
    store.close()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for key, value in report.items():
            print(f"{key}: {value}")
    return 0


def _cmd_retry(args: argparse.Namespace) -> int:
    store = _open_store(args)
    reopened = store.reopen_dead(args.ids or None)
    store.close()
    print(f"reopened {len(reopened)} dead message(s); a running relayer takes them up now")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pvd", description="Programmable payment-versus-delivery across two EVM chains."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="deploy to two chains and settle trades end to end")
    demo.add_argument("--chains", choices=["embedded", "anvil"], default="embedded")
    demo.add_argument("--json", action="store_true", help="machine-readable summary")
    demo.add_argument("--explorer", action="store_true", help="then serve the explorer page")
    demo.set_defaults(handler=_cmd_demo)

    chains = sub.add_parser("chains", help="start or stop two local anvil chains")
    chains.add_argument("action", choices=["up", "down", "status"])
    chains.add_argument("--state", default=str(PROJECT_ROOT / ".pvd" / "chains.json"))
    chains.set_defaults(handler=_cmd_chains)

    deploy = sub.add_parser("deploy", help="deploy and wire pvd on two chains, write manifests")
    deploy.add_argument("--payment-rpc", required=True)
    deploy.add_argument("--business-rpc", required=True)
    deploy.add_argument("--payment-domain", type=int, default=1)
    deploy.add_argument("--business-domain", type=int, default=2)
    deploy.add_argument("--attesters", required=True, help="comma-separated addresses")
    deploy.add_argument("--threshold", type=int, required=True)
    deploy.add_argument("--governance-delay", type=int, default=2 * 24 * 3600, help="seconds")
    deploy.add_argument("--out", default=str(PROJECT_ROOT / "deployments"))
    key = deploy.add_mutually_exclusive_group(required=True)
    key.add_argument("--key-env", help="environment variable holding the deployer's hex key")
    key.add_argument("--dev-key", action="store_true", help="the well-known dev key (local only)")
    deploy.set_defaults(handler=_cmd_deploy)

    relay = sub.add_parser("relay", help="run one attester's relayer")
    relay.add_argument("--config", required=True, help="TOML file (config/relay.example.toml)")
    relay.set_defaults(handler=_cmd_relay)

    status = sub.add_parser("status", help="a relayer's backlog, checkpoints and dead letters")
    status.add_argument("--config", required=True)
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=_cmd_status)

    retry = sub.add_parser("retry", help="take dead messages up again")
    retry.add_argument("--config", required=True)
    retry.add_argument("ids", nargs="*", help="message ids (default: every dead message)")
    retry.set_defaults(handler=_cmd_retry)

    from pvd.reconcile import reconciler as reconcile

    checker = sub.add_parser("reconcile", help="check both chains' invariants (reads no store)")
    reconcile.add_arguments(checker)
    checker.set_defaults(handler=reconcile.run)
    explorer.add_parser(sub)

    compile_ = sub.add_parser("compile", help="compile contracts/ with the pinned settings")
    compile_.set_defaults(handler=_cmd_compile)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except UserError as exc:
        print(f"pvd: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except PvdError as exc:
        print(f"pvd: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
