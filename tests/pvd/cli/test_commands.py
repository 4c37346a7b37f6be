"""The `pvd` party commands against a real local stack (`pvd up`: two anvils, three
`pvd relay` processes), table-driven: every subcommand with good input, and every wrong
input the CLI must refuse with exit code 2, one line on stderr naming the fix, no
traceback, no file written and no transaction sent. Development keys only (TEST KEYS).
"""

from __future__ import annotations

import json
import re
import socket
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from web3 import Web3

from pvd.chain.connection import dev_accounts
from pvd.chain.local import read_stack, stop
from pvd.cli import stack
from pvd.cli.main import main
from pvd.client.roles import DEV_ACCOUNTS, dev_account

ACCOUNTS = [a.address for a in dev_accounts(DEV_ACCOUNTS)]


@dataclass
class World:
    home: Path
    rpc: dict[str, str]
    manifests: dict[str, str]
    ids: dict[str, str] = field(default_factory=dict)

    def fill(self, argv: list[str]) -> list[str]:
        values = {
            "home": str(self.home),
            "payment_rpc": self.rpc["payment"],
            "business_rpc": self.rpc["business"],
            "payment_manifest": self.manifests["payment"],
            "business_manifest": self.manifests["business"],
            **self.ids,
        }
        return [arg.format(**values) for arg in argv]

    def nonces(self) -> dict[str, tuple[int, ...]]:
        return {
            role: tuple(
                Web3(Web3.HTTPProvider(url)).eth.get_transaction_count(a)  # type: ignore[arg-type]
                for a in ACCOUNTS[:10]
            )
            for role, url in self.rpc.items()
        }

    def files(self) -> set[str]:
        """Files under home other than the relayers' stores and the logs (which live)."""
        return {
            str(p.relative_to(self.home))
            for p in self.home.rglob("*")
            if p.is_file() and p.parts[len(self.home.parts)] not in ("relay", "logs")
        }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("stack")
    try:
        state = stack.up(home, out=lambda _: None)
        yield World(home, dict(state.rpc), dict(state.manifests))
    finally:
        stack.down(home)


def run(world: World, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(world.fill(argv))
    except SystemExit as exited:  # argparse's own refusals
        code = int(exited.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


H = ["--home", "{home}"]

# ------------------------------------------------------------------- good input, in order

GOOD: list[tuple[str, list[str], str]] = [
    (
        "bank appoint",
        ["bank", "appoint", "bank", "--allowance", "1000000", "--as", "central-bank"],
        "mint_allowance: 1000000.00",
    ),
    (
        "bank allowance",
        ["bank", "allowance", "bank", "2000000", "--as", "central-bank"],
        "mint_allowance: 2000000.00",
    ),
    ("bank show", ["bank", "show", "bank"], "operator: yes"),
    ("issue", ["issue", "buyer", "5000", "--as", "bank"], "balance: 5000.00"),
    ("transfer", ["transfer", "seller", "10.25", "--as", "buyer"], "balance: 4989.75"),
    ("wallet show", ["wallet", "show", "seller"], "balance: 10.25"),
    ("wallet class", ["wallet", "class", "seller", "II", "--as", "bank"], "class: II"),
    ("wallet freeze", ["wallet", "freeze", "seller", "--as", "central-bank"], "frozen: yes"),
    ("wallet unfreeze", ["wallet", "unfreeze", "seller", "--as", "central-bank"], "frozen: no"),
    ("wallet approve", ["wallet", "approve", "bank", "5", "--as", "seller"], "amount: 5.00"),
    ("redeem", ["redeem", "seller", "5", "--as", "bank"], "balance: 5.25"),
    ("token pause", ["token", "pause", "--as", "central-bank"], "paused: yes"),
    ("token unpause", ["token", "unpause", "--as", "central-bank"], "paused: no"),
    ("token show", ["token", "show"], "total_supply: 4995.00"),
    ("role grant", ["role", "grant", "compliance", "arbiter", "--as", "central-bank"], "held: yes"),
    (
        "role revoke",
        ["role", "revoke", "compliance", "arbiter", "--as", "central-bank"],
        "held: no",
    ),
    ("attesters show", ["attesters", "show", "--chain", "payment"], "threshold: 2"),
    (
        "trade propose",
        [
            "trade",
            "propose",
            "--seller",
            "seller",
            "--price",
            "1500.25",
            "--carrier",
            "carrier",
            "--arbiter",
            "arbiter",
            "--as",
            "buyer",
        ],
        "status: Proposed",
    ),
    ("trade show", ["trade", "show", "{trade}"], "price: 1500.25"),
    ("trade accept", ["trade", "accept", "{trade}", "--as", "seller"], "status: Accepted"),
    ("trade hold", ["trade", "hold", "{trade}", "--as", "buyer"], "hold: Held"),
    (
        "trade propose (to cancel)",
        ["trade", "propose", "--seller", "seller", "--price", "1", "--as", "buyer"],
        "status: Proposed",
    ),
    ("trade cancel", ["trade", "cancel", "{trade}", "--as", "seller"], "status: Cancelled"),
    (
        "trade propose (to expire)",
        [
            "trade",
            "propose",
            "--seller",
            "seller",
            "--price",
            "1",
            "--deadline",
            "60s",
            "--as",
            "buyer",
        ],
        "status: Proposed",
    ),
    (
        "attesters propose",
        [
            "attesters",
            "propose",
            "--chain",
            "business",
            "--attesters",
            "attester-1,attester-2,attester-3",
            "--threshold",
            "2",
            "--as",
            "central-bank",
        ],
        "pending:",
    ),
]


@pytest.mark.parametrize(("name", "argv", "expected"), GOOD, ids=[g[0] for g in GOOD])
def test_good_input(
    world: World, capsys: pytest.CaptureFixture[str], name: str, argv: list[str], expected: str
) -> None:
    if name.startswith("trade propose"):
        code, out, err = run(world, [*argv, *H, "--json"], capsys)
        assert code == 0, err
        data = json.loads(out)
        world.ids["trade"] = data["trade_id"]
        assert data["sent"][0]["tx_hash"].startswith("0x")
        assert data["business"]["status"] == "Proposed"
        return
    code, out, err = run(world, [*argv, *H], capsys)
    assert code == 0, err
    assert expected in out
    if "--as" in argv:
        assert re.search(r"^(payment|business): \w+ tx 0x[0-9a-f]{64} \(block \d+", out, re.M)


def test_json_output_is_one_object(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(world, ["wallet", "show", "buyer", "--json", *H], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["sent"] == [] and data["wallet"]["address"] == ACCOUNTS[2]


# -------------------------------------------------------------------------- wrong input

UNKNOWN_TRADE = "0x" + "42" * 32
BAD_CHECKSUM = ACCOUNTS[3][:2] + ACCOUNTS[3][2:].swapcase()

BAD: list[tuple[str, list[str], str]] = [
    (
        "bad amount: 3 decimals",
        ["issue", "buyer", "1.001", "--as", "bank", *H],
        "more than 2 decimals",
    ),
    ("bad amount: negative", ["issue", "buyer", "-5", "--as", "bank", *H], "not a number of yuan"),
    (
        "bad amount: words",
        ["transfer", "seller", "ten", "--as", "buyer", *H],
        "not a number of yuan",
    ),
    ("bad amount: zero", ["transfer", "seller", "0", "--as", "buyer", *H], "is zero"),
    ("bad address", ["issue", "0x1234", "5", "--as", "bank", *H], "is not an address"),
    ("bad checksum", ["issue", BAD_CHECKSUM, "5", "--as", "bank", *H], "bad checksum"),
    (
        "bad trade id",
        ["trade", "accept", "0x12", "--as", "seller", *H],
        "trade id '0x12' is not 0x and 64 hex",
    ),
    (
        "unknown trade id",
        ["trade", "accept", UNKNOWN_TRADE, "--as", "seller", *H],
        "no trade 0x4242",
    ),
    (
        "unknown role",
        ["issue", "buyer", "5", "--as", "king", *H],
        "no development account plays 'king'",
    ),
    (
        "missing role",
        ["issue", "buyer", "5", "--as", "stranger", *H],
        r"issue reverted: AccessControlUnauthorizedAccount\(account=0x[0-9a-fA-F]{40}, "
        r"neededRole=OPERATOR_ROLE\)",
    ),
    (
        "unfunded key",
        ["transfer", "seller", "1", "--key-env", "PVD_TEST_EMPTY_KEY", *H],
        "has no ether on the payment chain",
    ),
    (
        "key env unset",
        ["transfer", "seller", "1", "--key-env", "PVD_TEST_NOT_SET", *H],
        "env var PVD_TEST_NOT_SET is not set",
    ),
    (
        "allowance for a non-bank",
        ["bank", "allowance", "stranger", "5", "--as", "central-bank", *H],
        "is not a bank",
    ),
    ("redeem without approval", ["redeem", "buyer", "5", "--as", "bank", *H], "approves first"),
    (
        "wrong class",
        ["wallet", "class", "buyer", "V", "--as", "bank", *H],
        "wallet class 'V' is unknown",
    ),
    ("unknown trade to show", ["trade", "show", UNKNOWN_TRADE, *H], "no trade 0x4242"),
    (
        "ship without document",
        ["trade", "ship", UNKNOWN_TRADE, "--document", "/nonexistent/doc", "--as", "seller", *H],
        "cannot read /nonexistent/doc",
    ),
    (
        "bad duration",
        [
            "trade",
            "propose",
            "--seller",
            "seller",
            "--price",
            "1",
            "--deadline",
            "3x",
            "--as",
            "buyer",
            *H,
        ],
        "is not a duration",
    ),
    ("missing option", ["issue", "buyer", *H], "the following arguments are required"),
    (
        "unreachable rpc",
        ["wallet", "show", "buyer", "--payment-rpc", "http://127.0.0.1:9", *H],
        "no answer from http://127.0.0.1:9",
    ),
    (
        "wrong chain",
        ["wallet", "show", "buyer", "--payment-rpc", "{business_rpc}", *H],
        "is not the one",
    ),
    (
        "missing manifest",
        ["wallet", "show", "buyer", "--payment-manifest", "/nonexistent.json", *H],
        "deployment file /nonexistent.json does not exist",
    ),
    (
        "no stack",
        ["wallet", "show", "buyer", "--home", "/nonexistent-home"],
        "no payment chain: start a local stack",
    ),
    (
        "propose: self as seller",
        ["trade", "propose", "--seller", "buyer", "--price", "1", "--as", "buyer", *H],
        "TradeBuyerIsSeller",
    ),
    (
        "attesters: threshold 0",
        [
            "attesters",
            "propose",
            "--chain",
            "payment",
            "--attesters",
            "attester-1",
            "--threshold",
            "0",
            "--as",
            "central-bank",
            *H,
        ],
        "threshold 0 is outside 1..1",
    ),
    (
        "attesters: duplicate",
        [
            "attesters",
            "propose",
            "--chain",
            "payment",
            "--attesters",
            "{a1},{a1}",
            "--threshold",
            "1",
            "--as",
            "central-bank",
            *H,
        ],
        "listed twice",
    ),
    (
        "attesters: nothing pending",
        ["attesters", "apply", "--chain", "payment", "--as", "stranger", *H],
        "no pending attester set",
    ),
    ("status: missing config", ["status", "--config", "/nonexistent.toml"], "/nonexistent.toml"),
    (
        "retry: bad id",
        ["retry", "--config", "{home}/relay/attester-1.toml", "0x12"],
        "message id must be 32 bytes",
    ),
    (
        "deploy: threshold 0",
        [
            "deploy",
            "--payment-rpc",
            "{payment_rpc}",
            "--business-rpc",
            "{business_rpc}",
            "--attesters",
            "{a1},{a2}",
            "--threshold",
            "0",
            "--dev-key",
            "--out",
            "{home}/new",
        ],
        "threshold 0 is outside 1..2",
    ),
    (
        "deploy: threshold > n",
        [
            "deploy",
            "--payment-rpc",
            "{payment_rpc}",
            "--business-rpc",
            "{business_rpc}",
            "--attesters",
            "{a1},{a2}",
            "--threshold",
            "3",
            "--dev-key",
            "--out",
            "{home}/new",
        ],
        "threshold 3 is outside 1..2",
    ),
    (
        "deploy: duplicate attester",
        [
            "deploy",
            "--payment-rpc",
            "{payment_rpc}",
            "--business-rpc",
            "{business_rpc}",
            "--attesters",
            "{a1},{a1_lower}",
            "--threshold",
            "1",
            "--dev-key",
            "--out",
            "{home}/new",
        ],
        "listed twice",
    ),
    (
        "deploy: bad checksum",
        [
            "deploy",
            "--payment-rpc",
            "{payment_rpc}",
            "--business-rpc",
            "{business_rpc}",
            "--attesters",
            BAD_CHECKSUM,
            "--threshold",
            "1",
            "--dev-key",
            "--out",
            "{home}/new",
        ],
        "bad checksum",
    ),
    (
        "deploy: same domains",
        [
            "deploy",
            "--payment-rpc",
            "{payment_rpc}",
            "--business-rpc",
            "{business_rpc}",
            "--attesters",
            "{a1}",
            "--threshold",
            "1",
            "--payment-domain",
            "7",
            "--business-domain",
            "7",
            "--dev-key",
            "--out",
            "{home}/new",
        ],
        "both 7",
    ),
    (
        "deploy: same chain twice",
        [
            "deploy",
            "--payment-rpc",
            "{payment_rpc}",
            "--business-rpc",
            "{payment_rpc}",
            "--attesters",
            "{a1}",
            "--threshold",
            "1",
            "--dev-key",
            "--out",
            "{home}/new",
        ],
        "reach the same chain",
    ),
    (
        "deploy: unfunded deployer",
        [
            "deploy",
            "--payment-rpc",
            "{payment_rpc}",
            "--business-rpc",
            "{business_rpc}",
            "--attesters",
            "{a1}",
            "--threshold",
            "1",
            "--key-env",
            "PVD_TEST_EMPTY_KEY",
            "--out",
            "{home}/new",
        ],
        "the deployment needs about",
    ),
    (
        "deploy: unwritable out",
        [
            "deploy",
            "--payment-rpc",
            "{payment_rpc}",
            "--business-rpc",
            "{business_rpc}",
            "--attesters",
            "{a1}",
            "--threshold",
            "1",
            "--dev-key",
            "--out",
            "/proc/pvd-out",
        ],
        "cannot write deployment files to /proc/pvd-out",
    ),
    ("up: unwritable home", ["up", "--home", "/proc/pvd-home"], "cannot write to /proc/pvd-home"),
]


@pytest.mark.parametrize(("name", "argv", "message"), BAD, ids=[b[0] for b in BAD])
def test_wrong_input_is_one_line_exit_2_and_changes_nothing(
    world: World,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.setenv("PVD_TEST_EMPTY_KEY", "0x" + "77" * 32)  # a key with no ether
    monkeypatch.delenv("PVD_TEST_NOT_SET", raising=False)
    world.ids.update(
        a1=ACCOUNTS[5], a1_lower=ACCOUNTS[5].lower(), a2=ACCOUNTS[6], trade=UNKNOWN_TRADE
    )
    nonces, files = world.nonces(), world.files()
    try:
        code = main(world.fill(argv))
    except SystemExit as exited:  # argparse's own refusals
        code = int(exited.code or 0)
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert re.search(message, err), err
    assert world.nonces() == nonces, "a transaction was sent"
    assert world.files() == files, "a file was written"
    assert not (world.home / "new").exists()


def test_dev_roles_are_refused_on_a_chain_that_is_not_local(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pvd.cli.context as context

    monkeypatch.setattr(context, "LOCAL_CHAIN_IDS", frozenset({1}))
    nonces = world.nonces()
    code, _, err = run(world, ["transfer", "seller", "1", "--as", "buyer", *H], capsys)
    assert code == 2 and "signs with a public development key" in err and "--key-env" in err
    code, _, err = run(world, ["wallet", "show", "seller", *H], capsys)
    assert code == 2 and "development role name, usable only on local chains" in err
    assert world.nonces() == nonces


def test_relay_refuses_a_busy_metrics_port_before_writing_anything(
    world: World,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable, role in (("PVD_ATTESTATION_KEY", "attester-1"), ("PVD_GAS_KEY", "relayer-1")):
        monkeypatch.setenv(variable, "0x" + bytes(dev_account(role).key).hex())  # TEST KEYS
    config = (world.home / "relay" / "attester-1.toml").read_text()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        store = tmp_path / "new.sqlite"
        config = re.sub(r"(?m)^port = \d+", f"port = {port}", config)
        config = re.sub(r"(?m)^path = .*", f"path = '{store}'", config)
        path = tmp_path / "relay.toml"
        path.write_text(config)
        code = main(["relay", "--config", str(path)])
    _, err = capsys.readouterr()
    assert code == 2
    assert f"metrics port 127.0.0.1:{port} is in use" in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["relay.toml"]


def test_status_is_a_table_and_json(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(world.home / "relay" / "attester-2.toml")
    assert main(["status", "--config", config]) == 0
    out = capsys.readouterr().out
    assert out.startswith("relayer  attester-2")
    assert re.search(r"^heads    payment \d+  business \d+$", out, re.M)
    assert re.search(r"^ROUTE\s+CHECKPOINT\s+BACKLOG\s+DEAD$", out, re.M)
    assert main(["status", "--config", config, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["relayer"] == "attester-2" and data["dead"] == []


def test_retry_explains_unknown_ids(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(world.home / "relay" / "attester-1.toml")
    assert main(["retry", "--config", config, UNKNOWN_TRADE]) == 0
    assert "unknown: not in this relayer's store" in capsys.readouterr().out
    assert main(["retry", "--config", config]) == 0
    assert "no dead messages: nothing to retry" in capsys.readouterr().out


def test_ps_lists_what_up_started(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ps", "--home", str(world.home), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    names = [(p["name"], p["state"]) for p in report["processes"]]
    assert names == [
        ("anvil-payment", "running"),
        ("anvil-business", "running"),
        ("relay-attester-1", "running"),
        ("relay-attester-2", "running"),
        ("relay-attester-3", "running"),
        ("index", "running"),
        ("explorer", "running"),
        ("commands", "running"),
    ]
    assert report["index_db"] == f"sqlite:///{world.home.resolve() / 'index.db'}"
    explorer = next(p for p in report["processes"] if p["kind"] == "explorer")
    assert report["explorer"] == explorer["url"]


def test_a_trade_on_the_stack_shows_on_its_explorer_and_in_trace(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """What the stack's indexer reads from the chains reaches the explorer's trades page
    and `pvd trace`, with no command run but the proposal."""
    for argv in (
        ["bank", "appoint", "bank", "--allowance", "1000", "--as", "central-bank"],
        ["issue", "buyer", "100", "--as", "bank"],
    ):
        code, _, err = run(world, [*argv, *H], capsys)
        assert code == 0, err
    code, out, err = run(
        world,
        ["trade", "propose", "--seller", "seller", "--price", "12.5", "--as", "buyer", *J, *H],
        capsys,
    )
    assert code == 0, err
    trade = json.loads(out)["trade_id"]
    report = stack.describe(read_stack(world.home))
    deadline = time.monotonic() + 30
    while f'data-trade="{trade}"' not in _page(f"{report['explorer']}trades"):
        assert time.monotonic() < deadline, "the explorer never showed the proposed trade"
        time.sleep(0.2)
    assert main(["trace", trade, "--db", report["index_db"], "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["trade"]["status"], shown["trade"]["price"]) == ("proposed", 1250)
    assert [e["name"] for e in shown["events"]] == ["TradeProposed"]
    assert main(["trace", trade, "--db", report["index_db"]]) == 0
    assert trade in capsys.readouterr().out


J = ["--json"]


def _page(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return str(answer.read().decode())


def test_up_again_reuses_what_runs(world: World) -> None:
    before = read_stack(world.home)
    lines: list[str] = []
    after = stack.up(world.home, out=lines.append)
    assert before is not None
    assert [p.pid for p in after.processes] == [p.pid for p in before.processes]
    assert after.manifests == before.manifests
    assert "reusing the deployment on these chains" in lines


def test_the_stack_explorer_reads_the_relayers_metrics(world: World) -> None:
    """The explorer `up` started was given each relayer's metrics endpoint, and finds
    all three up."""
    report = stack.describe(read_stack(world.home))
    metrics = sorted(p["url"] for p in report["processes"] if p["kind"] == "relay")
    deadline = time.monotonic() + 30
    while (shown := _page(f"{report['explorer']}messages")).count('<tr class="up">') != 3:
        assert time.monotonic() < deadline, "the explorer never read three relayers as up"
        time.sleep(0.5)
    assert sorted(re.findall(r"http://127\.0\.0\.1:\d+/metrics", shown)) == metrics


def test_up_again_restarts_only_what_died(world: World) -> None:
    """The explorer stopped behind `up`'s back: the next `up` starts it again (reading
    the index the running indexer writes) and keeps every other process."""
    before = read_stack(world.home)
    assert before is not None
    explorer = next(p for p in before.processes if p.kind == "explorer")
    assert stop(explorer) == "stopped"
    after = stack.up(world.home, out=lambda _: None)
    pids = {p.name: p.pid for p in after.processes}
    assert {n: p for n, p in pids.items() if n != "explorer"} == {
        p.name: p.pid for p in before.processes if p.name != "explorer"
    }
    assert pids["explorer"] != explorer.pid
    restarted = next(p for p in after.processes if p.kind == "explorer")
    assert restarted.state() == "running" and restarted.url is not None
    assert "<h1>Trades" in _page(f"{restarted.url}trades")


def test_help_shows_every_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["trade", "propose", "--help"])
    out = capsys.readouterr().out
    assert "time from now to deliver (default: 24h)" in out
    assert "(default: unset)" in out and "(required)" in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert re.match(r"pvd \d+\.\d+\.\d+", capsys.readouterr().out)


def test_dispute_resolve_and_expire(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """Last in this module: it moves the business chain's clock past a deadline."""
    for argv in (
        ["bank", "appoint", "bank", "--allowance", "1000", "--as", "central-bank"],
        ["issue", "buyer", "100", "--as", "bank"],
    ):
        code, _, err = run(world, [*argv, *H], capsys)
        assert code == 0, err
    code, out, err = run(
        world,
        [
            "trade",
            "propose",
            "--seller",
            "seller",
            "--price",
            "20",
            "--arbiter",
            "arbiter",
            "--as",
            "buyer",
            "--json",
            *H,
        ],
        capsys,
    )
    assert code == 0, err
    trade = json.loads(out)["trade_id"]
    for argv in (["accept", trade, "--as", "seller"], ["hold", trade, "--as", "buyer"]):
        code, _, err = run(world, ["trade", *argv, *H], capsys)
        assert code == 0, err
    _wait_status(world, capsys, trade, "Funded")
    code, out, err = run(world, ["trade", "dispute", trade, "--as", "seller", *H], capsys)
    assert code == 0 and "status: Disputed" in out, err
    code, _, err = run(world, ["trade", "resolve", trade, "maybe", "--as", "arbiter", *H], capsys)
    assert code == 2 and "invalid choice: 'maybe'" in err and err.count("\n") == 1
    code, out, err = run(
        world, ["trade", "resolve", trade, "delivered", "--as", "arbiter", *H], capsys
    )
    assert code == 0 and "status: Delivered" in out, err
    _wait_status(world, capsys, trade, "Delivered", settlement="Paid")

    code, out, err = run(
        world,
        ["trade", "propose", "--seller", "seller", "--price", "1", "--as", "buyer", "--json", *H],
        capsys,
    )
    late = json.loads(out)["trade_id"]
    code, _, err = run(world, ["trade", "expire", late, "--as", "stranger", *H], capsys)
    assert code == 2 and "TradeDeadlineNotPassed" in err
    w3 = Web3(Web3.HTTPProvider(world.rpc["business"]))
    w3.provider.make_request("evm_increaseTime", [2 * 24 * 3600])  # type: ignore[arg-type]
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    code, out, err = run(world, ["trade", "expire", late, "--as", "stranger", *H], capsys)
    assert code == 0 and "status: Expired" in out, err


def _wait_status(
    world: World,
    capsys: pytest.CaptureFixture[str],
    trade: str,
    status: str,
    settlement: str | None = None,
) -> None:
    """Until the relayers have carried the trade to `status` (polls; no fixed sleep)."""
    import time

    deadline = time.monotonic() + 30
    last = None
    while time.monotonic() < deadline:
        _, out, _ = run(world, ["trade", "show", trade, "--json", *H], capsys)
        last = json.loads(out)["business"]
        if last["status"] == status and settlement in (None, last["settlement"]):
            return
        time.sleep(0.2)
    raise AssertionError(f"trade {trade} never reached {status}/{settlement}: {last}")


def test_a_keystore_signs(
    world: World,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from eth_account import Account

    keystore = tmp_path / "buyer.json"
    keystore.write_text(json.dumps(Account.encrypt(dev_account("buyer").key, "test password")))
    monkeypatch.setenv("PVD_TEST_PASSWORD", "test password")
    code, out, err = run(
        world,
        [
            "transfer",
            "seller",
            "0.01",
            "--keystore",
            str(keystore),
            "--password-env",
            "PVD_TEST_PASSWORD",
            "--json",
            *H,
        ],
        capsys,
    )
    assert code == 0, err
    assert json.loads(out)["from"]["address"] == ACCOUNTS[2]
    monkeypatch.setenv("PVD_TEST_PASSWORD", "wrong")
    code, _, err = run(
        world,
        [
            "transfer",
            "seller",
            "0.01",
            "--keystore",
            str(keystore),
            "--password-env",
            "PVD_TEST_PASSWORD",
            *H,
        ],
        capsys,
    )
    assert code == 2 and "does not open with the password in PVD_TEST_PASSWORD" in err


def test_deploy_with_good_input_writes_both_manifests(
    world: World, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out_folder = tmp_path / "deployments"
    argv = [
        "deploy",
        "--payment-rpc",
        "{payment_rpc}",
        "--business-rpc",
        "{business_rpc}",
        "--attesters",
        "{a1},{a2},{a3}",
        "--threshold",
        "2",
        "--dev-key",
        "--out",
        str(out_folder),
    ]
    world.ids.update(a1=ACCOUNTS[5], a2=ACCOUNTS[6], a3=ACCOUNTS[7])
    code, out, err = run(world, argv, capsys)
    assert code == 0, err
    assert sorted(p.name for p in out_folder.glob("*.json")) == [
        "business-2.json",
        "payment-1.json",
    ]
    business = json.loads((out_folder / "business-2.json").read_text())
    assert {"TradeRegistry", "BillOfLading", "Inbox", "Outbox"} <= set(business["contracts"])
    assert f"wrote {out_folder / 'payment-1.json'}" in out
