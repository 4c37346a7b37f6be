"""Fixtures of the brownie front door's tests: a throw-away copy of the project (its own
build/deployments, so nothing here touches the worktree's), two anvils with the local
chain ids, and `brownie` run as a user runs it: a subprocess without an activated venv.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pvd.chain.anvil import AnvilNode, start_anvil, stop_anvil
from pvd.chain.local import LOCAL_CHAINS

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The project's sources, config and scripts linked into a new folder, with a copy of
    the compiled build (no recompilation) and no deployment records."""
    copy = tmp_path / "project"
    copy.mkdir()
    for name in ("contracts", "node_modules", "scripts", "config"):
        (copy / name).symlink_to(ROOT / name)
    shutil.copy(ROOT / "brownie-config.yaml", copy)
    (copy / "tests" / "contracts").mkdir(parents=True)  # brownie wants its tests folder
    for name in ("contracts", "interfaces"):
        if (ROOT / "build" / name).exists():
            shutil.copytree(ROOT / "build" / name, copy / "build" / name)
    return copy


@pytest.fixture
def chains() -> Iterator[tuple[AnvilNode, AnvilNode]]:
    nodes: list[AnvilNode] = []
    try:
        for name, chain_id in LOCAL_CHAINS:
            nodes.append(start_anvil(name, chain_id))
        yield nodes[0], nodes[1]
    finally:
        for node in nodes:
            stop_anvil(node)


def chain_env(payment: AnvilNode, business: AnvilNode) -> dict[str, str]:
    return {"PVD_PAYMENT_RPC": payment.url, "PVD_BUSINESS_RPC": business.url}


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> Result:
    """`command` as a user runs it from a plain shell: no venv on PATH, no PVD_* but `env`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("PVD_")}
    base["PATH"] = "/usr/bin:/bin"
    base.pop("VIRTUAL_ENV", None)
    done = subprocess.run(
        command,
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def brownie(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Result:
    return run([str(BIN / "brownie"), *args], cwd, env)


def python(code: str, cwd: Path, env: dict[str, str] | None = None) -> Result:
    return run([str(BIN / "python"), "-c", code], cwd, env)
