"""The `pvd` command line. Each command is a thin layer over a library function; a
UserError (bad input, a refused transaction, an unreachable chain) becomes one line on
stderr and exit code 2, never a traceback (`-v` shows one). A wrong option is one line
too, naming `--help`.

Command groups live in their own modules under pvd/cli/, each with an
`add_parser(subparsers)` function; `COMMANDS` says which module registers which
command. A run imports only the module of the command it runs (a trade step never loads
the index, the explorer or the deployer), so `pvd` starts fast; `pvd --help` and a
mistyped command load them all.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from pvd.cli.commandserver import forward
from pvd.errors import PvdError, UserError
from pvd.paths import PROJECT_ROOT

EXIT_USER_ERROR = 2
_HERE = "pvd.cli.main"  # the commands registered by this module itself

# Each top-level command and the module whose add_parser registers it.
COMMANDS: dict[str, str] = {
    **dict.fromkeys(("up", "down", "ps"), "pvd.cli.stack"),
    "trade": "pvd.cli.trade",
    **dict.fromkeys(
        ("bank", "issue", "redeem", "transfer", "wallet", "token", "role", "attesters"),
        "pvd.cli.money",
    ),
    **dict.fromkeys(("relay", "status", "retry"), "pvd.cli.relayer"),
    "deploy": "pvd.cli.deploy",
    **dict.fromkeys(("demo", "chains", "compile"), _HERE),
    **dict.fromkeys(("index", "trace"), "pvd.cli.index_commands"),
    "reconcile": "pvd.cli.reconcile",
    "explorer": "pvd.cli.explorer",
    "command-server": "pvd.cli.commandserver",
}


class Parser(argparse.ArgumentParser):
    """argparse with a one-line error (usage only with --help) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pvd")
    except PackageNotFoundError:
        return "unknown (not installed: run make setup)"


def _cmd_compile(args: argparse.Namespace) -> int:
    from pvd.deploy.compiler import compile_contracts

    artifacts = compile_contracts()
    print(f"compiled {len(artifacts)} contracts: {', '.join(sorted(artifacts))}")
    return 0


def _cmd_chains(args: argparse.Namespace) -> int:
    from pvd.chain import local as localchains

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
        report = [
            {**node.__dict__, "url": node.url, "state": _node_state(node.pid, node.url)}
            for node in localchains.running(state)
        ]
        if args.json:
            print(json.dumps(report, indent=2))
        elif not report:
            print(f"no local chains recorded in {state} (pvd chains up starts them)")
        for entry in [] if args.json else report:
            print(f"{entry['name']}: {entry['state']} (pid {entry['pid']}, {entry['url']})")
    return 0


def _node_state(pid: int, url: str) -> str:
    """ "live" (answers), "not answering" (process there, RPC silent) or "dead"."""
    from pvd.chain.anvil import process_alive

    if not process_alive(pid):
        return "dead (process gone)"
    from web3 import Web3

    try:
        Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 2})).eth.block_number  # noqa: B018
    except Exception:  # any failure to answer is what the status reports
        return "not answering (process alive)"
    return "live"


def _cmd_demo(args: argparse.Namespace) -> int:
    from pvd.cli.demo import run_demo

    return int(run_demo(chains=args.chains, as_json=args.json, explorer=args.explorer))


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The `pvd` parser: every command, or (given a known `command`) only the commands of
    the module that registers it."""
    from importlib import import_module

    from pvd.cli.help import HelpFormatter

    parser = Parser(
        prog="pvd",
        description="Programmable payment-versus-delivery across two EVM chains.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="debug logging, tracebacks on errors"
    )
    parser.add_argument("--version", action="version", version=f"pvd {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wanted = [COMMANDS[command]] if command in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    for module in wanted:
        if module == _HERE:
            _add_own_parsers(sub)
        else:
            import_module(module).add_parser(sub)
    return parser


def _add_own_parsers(sub: Any) -> None:
    from pvd.cli.help import HelpFormatter

    demo = sub.add_parser(
        "demo",
        help="deploy to two chains and settle trades end to end",
        formatter_class=HelpFormatter,
    )
    demo.add_argument(
        "--chains", choices=["embedded", "anvil"], default="embedded", help="which nodes to run"
    )
    demo.add_argument("--json", action="store_true", help="machine-readable summary")
    demo.add_argument("--explorer", action="store_true", help="then serve the explorer page")
    demo.set_defaults(handler=_cmd_demo)

    chains = sub.add_parser(
        "chains", help="start or stop two local anvil chains", formatter_class=HelpFormatter
    )
    chains.add_argument("action", choices=["up", "down", "status"], help="what to do")
    chains.add_argument(
        "--state",
        default=str(PROJECT_ROOT / ".pvd" / "chains.json"),
        help="where the chains' PIDs and ports are kept",
    )
    chains.add_argument("--json", action="store_true", help="status as one JSON object")
    chains.set_defaults(handler=_cmd_chains)

    compile_ = sub.add_parser(
        "compile", help="compile contracts/ with the pinned settings", formatter_class=HelpFormatter
    )
    compile_.set_defaults(handler=_cmd_compile)


def _command_of(argv: Sequence[str]) -> str | None:
    """The command word of a command line: its first argument that is not an option
    (pvd's own options take no value)."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def _unreachable(exc: BaseException) -> bool:
    """A connection failure or timeout of the HTTP library web3 uses (only loaded if
    something talked to a node)."""
    requests = sys.modules.get("requests")
    return requests is not None and isinstance(
        exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run `pvd ARGV` (the process's own arguments if None: then a step command whose home
    runs a command server is run there, see pvd.cli.commandserver)."""
    if argv is None:
        argv = sys.argv[1:]
        if (code := forward(argv, COMMANDS.get(_command_of(argv) or ""))) is not None:
            return code
    argv = list(argv)
    args = build_parser(_command_of(argv)).parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except UserError as exc:
        if args.verbose:
            logging.getLogger("pvd").exception("user error")
        print(f"pvd: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except PvdError as exc:
        print(f"pvd: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`pvd ... | head`): nothing to say
        sys.stderr.close()
        return 0
    except Exception as exc:  # a node gone mid-command: one line too; anything else is a bug
        if not _unreachable(exc):
            raise
        if args.verbose:
            logging.getLogger("pvd").exception("node unreachable")
        print(
            f"pvd: error: a chain stopped answering ({type(exc).__name__}): check the node "
            "(pvd ps, pvd chains status) and run the command again",
            file=sys.stderr,
        )
        return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
