"""docs/console.md's hand-driven trade, run exactly as written: the documented deploy
command in a copy of the project, three relayers started by the function `make relayers`
runs, and every `pycon` block typed, in order, into the console it names (a payment and a
business console, each a brownie process on its network). The docs cannot rot: a block
whose output differs fails here."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pvd.chain.anvil import AnvilNode
from pvd_brownie import relayers
from tests.pvd_brownie.conftest import BIN, ROOT, brownie, chain_env

DOC = ROOT / "docs" / "console.md"
SESSION = DOC.read_text().split("## A trade by hand across two consoles", 1)[1].split("\n## ")[0]
BLOCK = re.compile(r"```(sh|pycon (?:payment|business))\n(.*?)```", re.S)
MARK = "@@result@@ "
SETUP = [  # after `make chains` (the `chains` fixture here)
    "source .pvd/chains.env",
    ".venv/bin/brownie run scripts/deploy.py main config/deploy.local.toml --network payment-local",
    "make relayers",
]


class Console:
    def __init__(self, network: str, cwd: Path, env: dict[str, str]) -> None:
        self.network = network
        self.process = subprocess.Popen(
            [str(BIN / "python"), str(Path(__file__).with_name("console_driver.py")), network],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.answer()  # ready

    def answer(self) -> dict[str, object]:
        assert self.process.stdout is not None
        seen = []
        for line in self.process.stdout:
            if line.startswith(MARK):
                result: dict[str, object] = json.loads(line[len(MARK) :])
                return result
            seen.append(line)
        raise AssertionError(f"{self.network} console exited:\n{''.join(seen)[-3000:]}")

    def type(self, block: str) -> dict[str, object]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(block) + "\n")
        self.process.stdin.flush()
        return self.answer()

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def local_relayers(
    project: Path, chains: tuple[AnvilNode, AnvilNode], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    for key, value in chain_env(*chains).items():
        monkeypatch.setenv(key, value)
    deploy = SETUP[1].split()
    result = brownie(*deploy[1:], cwd=project, env=chain_env(*chains))
    assert result.code == 0, result.output
    relayers.up(project)
    try:
        yield project
    finally:
        relayers.down(project)


def test_the_documented_setup_is_what_this_test_runs() -> None:
    shell = [m.group(2) for m in BLOCK.finditer(SESSION) if m.group(1) == "sh"]
    assert shell[0].strip().splitlines() == SETUP


def test_the_documented_session_settles_two_trades(
    local_relayers: Path, chains: tuple[AnvilNode, AnvilNode]
) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("PVD_")}
    env.update(chain_env(*chains))
    env["PATH"] = "/usr/bin:/bin"
    blocks = [
        (m.group(1).split()[1], m.group(2)) for m in BLOCK.finditer(SESSION) if m.group(1) != "sh"
    ]
    assert len(blocks) >= 8
    consoles = {
        name: Console(f"{name}-local", local_relayers, env) for name in ("payment", "business")
    }
    try:
        for number, (name, block) in enumerate(blocks):
            result = consoles[name].type(block)
            assert result["failed"] == 0, f"block {number} ({name}):\n{result['report']}"
    finally:
        for console in consoles.values():
            console.close()


if __name__ == "__main__":
    sys.exit(pytest.main([__file__]))
