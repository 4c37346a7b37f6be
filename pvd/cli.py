"""The `pvd` command line. Each command is a thin layer over a library function; a
UserError becomes one line on stderr and exit code 2, never a traceback."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from pvd import localchains
from pvd.compiler import PROJECT_ROOT, compile_contracts
from pvd.errors import PvdError, UserError

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
    from pvd.demo import run_demo

    return int(run_demo(chains=args.chains, as_json=args.json))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pvd", description="Programmable payment-versus-delivery across two EVM chains."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="deploy to two chains and settle trades end to end")
    demo.add_argument("--chains", choices=["embedded", "anvil"], default="embedded")
    demo.add_argument("--json", action="store_true", help="machine-readable summary")
    demo.set_defaults(handler=_cmd_demo)

    chains = sub.add_parser("chains", help="start or stop two local anvil chains")
    chains.add_argument("action", choices=["up", "down", "status"])
    chains.add_argument("--state", default=str(PROJECT_ROOT / ".pvd" / "chains.json"))
    chains.set_defaults(handler=_cmd_chains)

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
