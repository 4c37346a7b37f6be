"""The command server (pvd.cli.commandserver): a step command whose home runs one is run
there, on the caller's own streams, folder and environment, with the exit code it would
have had in its own process; anything else, or a server that cannot serve, leaves the
command to run in its own process with the same result. Success on real chains is
tests/pvd/cli/test_full_trade.py (every step there goes through `pvd up`'s server)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pvd.chain.connection import ChainIdentity
from pvd.cli.commandserver import DISABLE_ENV, connect, socket_path
from pvd.deploy.compiler import load_compiler_settings
from pvd.deploy.manifest import DeployedContract, Manifest, write_manifest
from pvd.paths import PROJECT_ROOT

BAD_ID = "pvd: error: trade id '0xbad' is not 0x and 64 hex digits: copy it from pvd trade propose"


def pvd(
    home: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`pvd ARGS --home HOME` as a user runs it: its own process, not the test's PVD_ vars."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PVD_")}
    return subprocess.run(
        [sys.executable, "-m", "pvd.cli.main", *args, "--home", str(home)],
        cwd=PROJECT_ROOT,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def start_server(home: Path, code: str | None = None) -> subprocess.Popen[bytes]:
    """`pvd command-server --home HOME` (or the Python `code` in its place), once its
    socket answers."""
    command = ["-m", "pvd.cli.main", "command-server", "--home", str(home)]
    log = open(home / "server.log", "ab")  # noqa: SIM115 (the server's, closed with it)
    server = subprocess.Popen(
        [sys.executable, *(command if code is None else ["-c", code])],
        cwd=PROJECT_ROOT,
        stdout=log,
        stderr=log,
    )
    log.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            connect(socket_path(home)).close()
            return server
        except OSError:
            assert server.poll() is None, (home / "server.log").read_text()
            time.sleep(0.05)
    server.kill()
    raise AssertionError("the command server never answered")


def served(home: Path, log: str = "server.log") -> list[str]:
    """The commands the server says (in its log under `home`) it ran."""
    return [
        line.split(": ", 1)[1].rsplit(" in pid ", 1)[0]
        for line in (home / log).read_text().splitlines()
        if " in pid " in line
    ]


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    server = start_server(tmp_path)
    try:
        yield tmp_path
    finally:
        server.terminate()
        assert server.wait(timeout=10) == 0
        assert not socket_path(tmp_path).exists()


def test_a_step_runs_in_the_server_with_its_own_output_and_exit_code(home: Path) -> None:
    refused = pvd(home, "trade", "show", "0xbad")
    helped = pvd(home, "trade", "show", "--help")
    wrong = pvd(home, "wallet", "show", "buyer", "--no-such-option")

    assert (refused.returncode, refused.stdout, refused.stderr) == (2, "", BAD_ID + "\n")
    assert helped.returncode == 0
    assert helped.stdout.startswith("usage: pvd trade show")
    assert "(default: " in helped.stdout
    assert wrong.returncode == 2
    assert wrong.stderr.count("\n") == 1
    assert "unrecognized arguments: --no-such-option" in wrong.stderr
    assert served(home) == ["pvd trade show", "pvd trade show", "pvd wallet show"]


def test_the_same_commands_without_a_server_answer_the_same(home: Path, tmp_path: Path) -> None:
    by_server = pvd(home, "trade", "show", "0xbad")
    switched_off = pvd(home, "trade", "show", "0xbad", env={DISABLE_ENV: "1"})
    no_server = pvd(tmp_path / "elsewhere", "trade", "show", "0xbad")

    for done in (by_server, switched_off, no_server):
        assert (done.returncode, done.stdout, done.stderr) == (2, "", BAD_ID + "\n")
    assert served(home) == ["pvd trade show"]


def test_only_step_commands_go_to_the_server(home: Path) -> None:
    listed = pvd(home, "ps")

    assert listed.returncode == 0
    assert served(home) == []


def test_the_child_works_in_the_callers_folder_and_environment(home: Path) -> None:
    """A keystore path relative to the caller's folder and a password variable only the
    caller has are what the child reads: it gets as far as opening the keystore."""
    elsewhere = home / "caller"
    elsewhere.mkdir()
    (elsewhere / "k.json").write_text("{}")
    argv = ["issue", "buyer", "1", "--keystore", "k.json", "--password-env", "ONLY_HERE"]
    done = subprocess.run(
        [sys.executable, "-m", "pvd.cli.main", *argv, "--home", str(home)],
        cwd=elsewhere,
        env={**os.environ, "ONLY_HERE": "x"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert (done.returncode, done.stderr) == (
        2,
        "pvd: error: keystore k.json is not a valid keystore; re-export it\n",
    )
    assert served(home) == ["pvd issue buyer"]


def test_a_bad_request_is_dropped_and_the_server_goes_on(home: Path) -> None:
    with connect(socket_path(home)) as conn:
        conn.sendall(b"not a request at all")
    done = pvd(home, "trade", "show", "0xbad")

    assert (done.returncode, done.stderr) == (2, BAD_ID + "\n")
    assert served(home) == ["pvd trade show"]
    assert "bad request: no length or no standard streams" in (home / "server.log").read_text()


def test_a_server_whose_code_changed_refuses_and_exits(tmp_path: Path) -> None:
    """The server watches a copy of the code here (not the repository's own files)."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "module.py").write_text("VALUE = 1\n")
    server = start_server(
        tmp_path,
        "import pathlib, sys\n"
        "import pvd.cli.commandserver as served\n"
        f"served._CODE_ROOTS = (pathlib.Path({str(code)!r}),)\n"
        f"sys.exit(served.serve(pathlib.Path({str(tmp_path)!r})))\n",
    )
    try:
        before = pvd(tmp_path, "trade", "show", "0xbad")
        later = time.time() + 5
        os.utime(code / "module.py", (later, later))
        after = pvd(tmp_path, "trade", "show", "0xbad")

        assert server.wait(timeout=10) == 0
    finally:
        if server.poll() is None:
            server.kill()
    for done in (before, after):
        assert (done.returncode, done.stderr) == (2, BAD_ID + "\n")
    assert served(tmp_path) == ["pvd trade show"]
    assert "pvd's code changed; exiting" in (tmp_path / "server.log").read_text()
    assert not socket_path(tmp_path).exists()


def test_ctrl_c_reaches_the_command_in_the_server(home: Path) -> None:
    """A command waiting on a node that never answers stops at Ctrl-C, as in its own
    process: exit 130."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    manifest = write_manifest(
        home / "deployment",
        Manifest(
            network="silent",
            chain=ChainIdentity(chain_id=31337, genesis_hash="0x" + "ab" * 32, domain_id=1),
            compiler=load_compiler_settings(),
            contracts={
                "YuanToken": DeployedContract(address="0x" + "12" * 20, block=1, abi="abi/Y.json")
            },
        ),
        {"YuanToken": []},
    )
    client = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pvd.cli.main",
            *("wallet", "show", "0x" + "34" * 20),
            *("--payment-rpc", f"http://127.0.0.1:{silent.getsockname()[1]}"),
            *("--payment-manifest", str(manifest), "--home", str(home)),
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        waiting, _ = silent.accept()  # the child's request reached the node
        client.send_signal(signal.SIGINT)
        _, err = client.communicate(timeout=8)
    finally:
        if client.poll() is None:
            client.kill()
        silent.close()

    assert client.returncode == 130
    assert "Traceback" not in err
    assert served(home) == ["pvd wallet show"]
    waiting.close()
