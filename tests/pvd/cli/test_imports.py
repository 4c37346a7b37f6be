"""What a party's command loads: every `pvd trade` step and every money command, each run
for real as its own process against a local stack (`pvd up`), imports neither the
database layer (sqlalchemy), the web stack (starlette, jinja2, uvicorn), brownie, nor
pvd's index, explorer or reconciler. These commands start fast because they load only
what they use; this test keeps it so (it reads the interpreter's import list, `-X
importtime`, never a clock). Development keys only (TEST KEYS).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pvd.cli import stack
from pvd.cli.commandserver import DISABLE_ENV
from pvd.cli.main import COMMANDS, build_parser
from pvd.paths import PROJECT_ROOT

FORBIDDEN = (
    "sqlalchemy",
    "starlette",
    "jinja2",
    "uvicorn",
    "brownie",
    "pvd.index",
    "pvd.explorer",
    "pvd.reconcile",
    "pvd.deploy.system",
)
PARTY_MODULES = ("pvd.cli.trade", "pvd.cli.money")
DOCUMENT = "0x" + "ab" * 32


def imported(stderr: str) -> set[str]:
    """The modules a `python -X importtime` process imported, from its stderr."""
    found = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.rsplit("|", 1)[1].strip()
            if name != "package":  # the header line
                found.add(name)
    return found


def forbidden_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules for f in FORBIDDEN if m == f or m.startswith(f + "."))


class Runner:
    """Runs `pvd ARGS --home HOME --json` as its own process, recording its imports."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.loaded: dict[str, set[str]] = {}
        self.options = ("--home", str(home), "--json")

    def __call__(self, *args: str, ok: bool = True) -> dict[str, object]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PVD_")}
        env[DISABLE_ENV] = "1"  # the command's own process, not the stack's command server
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "pvd.cli.main", *args, *self.options],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        modules = imported(done.stderr)
        assert "pvd.cli.context" in modules  # the import list was read
        self.loaded[command_of(args)] = self.loaded.get(command_of(args), set()) | modules
        errors = [line for line in done.stderr.splitlines() if not line.startswith("import time:")]
        assert (done.returncode == 0) == ok, errors
        return dict(json.loads(done.stdout)) if ok else {}


def command_of(args: tuple[str, ...]) -> str:
    """`trade ship`, `issue`, `wallet show`: the command words of a command line."""
    words = [a for a in args[:2] if not a.startswith("-")]
    return " ".join(words[:2] if words[0] in _GROUPS else words[:1])


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def party_commands() -> set[str]:
    """Every command the trade and money modules register (from the parser itself)."""
    names: set[str] = set()
    for command, module in COMMANDS.items():
        if module in PARTY_MODULES:
            steps = subcommands(subcommands(build_parser(command))[command])
            names.update([f"{command} {step}" for step in steps] if steps else [command])
    return names


_GROUPS = {"trade", "bank", "wallet", "token", "role", "attesters"}


@pytest.fixture(scope="module")
def pvd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    home = tmp_path_factory.mktemp("stack")
    try:
        stack.up(home, out=lambda _: None)
        yield Runner(home)
    finally:
        stack.down(home)


def wait_for(pvd: Runner, trade: str, status: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        shown = pvd("trade", "show", trade)
        if shown["business"]["status"] == status:  # type: ignore[index]
            return
        time.sleep(0.2)
    raise AssertionError(f"trade {trade} never reached {status}")


def test_party_commands_load_no_database_web_or_brownie_code(pvd: Runner) -> None:
    cb, bank = ("--as", "central-bank"), ("--as", "bank")
    pvd("bank", "appoint", "bank", "--allowance", "1000000", *cb)
    pvd("bank", "allowance", "bank", "2000000", *cb)
    pvd("bank", "show", "bank")
    pvd("bank", "appoint", "carrier", *cb)
    pvd("bank", "remove", "carrier", *cb)
    pvd("issue", "buyer", "5000", *bank)
    pvd("transfer", "seller", "10", "--as", "buyer")
    pvd("wallet", "class", "seller", "II", *bank)
    pvd("wallet", "freeze", "seller", *cb)
    pvd("wallet", "unfreeze", "seller", *cb)
    pvd("wallet", "approve", "bank", "5", "--as", "seller")
    pvd("wallet", "show", "seller")
    pvd("redeem", "seller", "5", *bank)
    pvd("token", "pause", *cb)
    pvd("token", "unpause", *cb)
    pvd("token", "show")
    pvd("role", "grant", "compliance", "arbiter", *cb)
    pvd("role", "revoke", "compliance", "arbiter", *cb)
    pvd("attesters", "show", "--chain", "payment")
    pvd("attesters", "apply", "--chain", "payment", *cb, ok=False)  # nothing pending: refused
    pvd(
        "attesters",
        "propose",
        "--chain",
        "business",
        "--attesters",
        "attester-1,attester-2,attester-3",
        "--threshold",
        "2",
        *cb,
    )

    def propose(*extra: str) -> str:
        shown = pvd("trade", "propose", "--seller", "seller", "--price", "20", *extra)
        return str(shown["trade_id"])

    trade = propose("--arbiter", "arbiter", "--as", "buyer")
    pvd("trade", "accept", trade, "--as", "seller")
    pvd("trade", "hold", trade, "--as", "buyer")
    wait_for(pvd, trade, "Funded")
    pvd("trade", "ship", trade, "--document-hash", DOCUMENT, "--as", "seller")
    pvd("trade", "dispute", trade, "--as", "buyer")
    pvd("trade", "resolve", trade, "delivered", "--as", "arbiter")

    paid = propose("--as", "buyer")
    pvd("trade", "accept", paid, "--as", "seller")
    pvd("trade", "hold", paid, "--direct", "--as", "buyer")
    wait_for(pvd, paid, "Funded")
    pvd("trade", "ship", paid, "--document-hash", DOCUMENT, "--as", "seller")
    pvd("trade", "confirm", paid, "--as", "buyer")

    called_off = propose("--as", "buyer")
    pvd("trade", "expire", called_off, "--as", "stranger", ok=False)  # not late yet: refused
    pvd("trade", "cancel", called_off, "--as", "seller")

    assert set(pvd.loaded) == party_commands()  # every party command ran
    loaded = {name: forbidden_in(modules) for name, modules in pvd.loaded.items()}
    assert {name: found for name, found in loaded.items() if found} == {}


def test_the_import_list_is_read_as_python_writes_it() -> None:
    """The parser of `-X importtime` sees what a process loads (sqlalchemy, here)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import sqlalchemy"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "sqlalchemy" in forbidden_in(imported(done.stderr))
    assert forbidden_in({"sqlalchemyx", "pvd.indexer", "pvd.cli.index_commands"}) == []


def test_trace_reads_the_index_without_web3_or_the_reconciler(tmp_path: Path) -> None:
    """`pvd trace` of a trade in an index: the command's whole import list holds no web3,
    eth-account or reconciler (a reader of the index needs none of them)."""
    db = f"sqlite:///{tmp_path / 'index.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PVD_")}
    migrate = [sys.executable, "-m", "pvd.cli.main", "index", "migrate", "--db", db]
    subprocess.run(migrate, cwd=PROJECT_ROOT, env=env, check=True, capture_output=True)
    trace = [sys.executable, "-X", "importtime", "-m", "pvd.cli.main", "trace", DOCUMENT]
    done = subprocess.run(
        [*trace, "--db", db], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True
    )
    loaded = imported(done.stderr)
    assert "pvd.index.trace" in loaded, done.stderr[-2000:]
    assert not {"web3", "eth_account", "pvd.reconcile"} & loaded
