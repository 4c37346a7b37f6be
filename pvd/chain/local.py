"""`pvd chains up|down`: the two local anvil chains (payment, business) that outlive the
command that started them. Their PIDs and ports are kept in a state file, and an
environment file for brownie's `payment-local` / `business-local` networks is written
beside it. `down` stops exactly the processes recorded there.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from pvd.chain.anvil import AnvilNode, process_alive, start_anvil, stop_anvil
from pvd.errors import UserError

# Chain ids of the local anvils; brownie's network-config.yaml declares the same.
LOCAL_CHAINS = (("payment", 7001), ("business", 7002))


def env_file(state: Path) -> Path:
    return state.with_name("chains.env")


def running(state: Path) -> list[AnvilNode]:
    if not state.exists():
        return []
    try:
        return [AnvilNode(**entry) for entry in json.loads(state.read_text())]
    except (json.JSONDecodeError, TypeError) as exc:
        raise UserError(
            f"chain state file {state} is corrupt ({exc}): "
            "stop stray anvils by hand, then delete it"
        ) from None


def up(state: Path) -> list[AnvilNode]:
    if live := [node for node in running(state) if process_alive(node.pid)]:
        raise UserError(
            f"local chains already running (pids {', '.join(str(n.pid) for n in live)}): "
            "`make chains-down` first"
        )
    state.parent.mkdir(parents=True, exist_ok=True)
    nodes: list[AnvilNode] = []
    try:
        for name, chain_id in LOCAL_CHAINS:
            nodes.append(start_anvil(name, chain_id, log_path=state.with_name(f"{name}.log")))
    except BaseException:
        for node in nodes:
            stop_anvil(node)
        raise
    state.write_text(json.dumps([asdict(node) for node in nodes], indent=2))
    env_file(state).write_text(
        "".join(f"export PVD_{node.name.upper()}_RPC={node.url}\n" for node in nodes)
    )
    return nodes


def down(state: Path) -> list[AnvilNode]:
    nodes = running(state)
    for node in nodes:
        stop_anvil(node)
    state.unlink(missing_ok=True)
    env_file(state).unlink(missing_ok=True)
    return nodes
