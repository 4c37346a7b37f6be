"""Rotate the attesters of the inbox on the connected chain through its delayed
governance: propose a new set (the admin), then, once the governance delay has passed,
apply it (anyone). Run it on each chain: each has its own inbox.

    brownie run scripts/attesters.py propose 0xA...,0xB...,0xC... 2 --network payment-local
    brownie run scripts/attesters.py apply --network payment-local

The signer is the last, optional argument (a development role, local chains only, or
env:NAME). The chores are pvd.client.governance's functions, the ones `pvd` runs.
"""

from pathlib import Path
from typing import Any

from brownie import network
from brownie._config import CONFIG
from brownie.project.main import get_loaded_projects

from pvd.client import governance
from pvd.errors import UserError
from pvd_brownie.operator import connect, require_ready, require_role
from pvd_brownie.script import run

SCRIPT = "scripts/attesters.py"


def _inbox(signer: str) -> tuple[Any, Any, Any]:
    root = Path(get_loaded_projects()[0]._path)
    deployed, account = connect(root, CONFIG.networks, network.show_active(), signer)
    return deployed.chain, deployed.contract("Inbox"), account


def propose(attesters: str = "", threshold: str = "", signer: str = "central-bank") -> None:
    def step() -> None:
        if not attesters or not threshold:
            raise UserError(
                f"missing argument: brownie run {SCRIPT} propose <0x..,0x..> <threshold> "
                "--network <net>"
            )
        try:
            count = int(str(threshold))
        except ValueError:
            raise UserError(f"threshold {threshold!r} is not a whole number") from None
        new = governance.attester_set([a.strip() for a in str(attesters).split(",")], count)
        chain, inbox, account = _inbox(signer)
        require_role(inbox, "admin", account.address, "inbox")
        sent = governance.propose_attester_set(chain, inbox, account.address, new)
        pending = governance.pending_attesters(inbox)
        ready = pending.ready_at if pending else 0
        print(
            f"proposed {len(new.attesters)} attesters, threshold {new.threshold}; ready at "
            f"block time {ready}: transaction {sent.tx_hash}"
        )

    run(SCRIPT, step)


def apply(signer: str = "central-bank") -> None:
    def step() -> None:
        chain, inbox, account = _inbox(signer)
        require_ready(chain, inbox)
        sent = governance.apply_attester_set(chain, inbox, account.address)
        now = governance.current_attesters(inbox)
        print(
            f"applied: {len(now.attesters)} attesters, threshold {now.threshold}: "
            f"transaction {sent.tx_hash}"
        )

    run(SCRIPT, step)
