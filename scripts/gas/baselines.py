"""Gas of the baselines pvd is compared with, measured in the same run as pvd's own figures.

- htlc_*: the textbook hashed-timelock escrow of bench/baselines/HashedTimelockERC20.sol,
  compiled here with the project's pinned compiler settings (brownie-config.yaml), on an
  unmodified OpenZeppelin ERC-20 (contracts/mocks/PlainERC20.sol): `lock` (pull the tokens,
  store the agreement) and `claim` (reveal the preimage, pay the receiver). Their sum is
  one settlement, the baseline of pvd's hold-and-announce plus its Delivered outcome.

The plain ERC-20 transfer is measured by scripts/gas/token.py (`plain_erc20_transfer`).
Steady state, as elsewhere: each figure is the second operation of its kind (balances
and allowance already non-zero). Wallets are brownie's development accounts: TEST KEYS ONLY.
"""

from __future__ import annotations

import hashlib
from typing import Any

from brownie import PlainERC20, accounts, chain
from brownie.project.main import TempProject

from pvd.deploy.compiler import load_compiler_settings
from pvd.paths import PROJECT_ROOT

HTLC_SOURCE = PROJECT_ROOT / "bench" / "baselines" / "HashedTimelockERC20.sol"
AMOUNT = 1_234_00


def _htlc_container() -> Any:
    # brownie's compile_source takes no viaIR: a TempProject takes the whole solc setting.
    settings = load_compiler_settings()
    project = TempProject(
        "TempSolcProject",
        {"<stdin>.sol": HTLC_SOURCE.read_text()},
        {
            "evm_version": settings.evm_version,
            "solc": {
                "version": settings.solc_version,
                "optimize": settings.optimizer_runs is not None,
                "runs": settings.optimizer_runs or 200,
                "viaIR": settings.via_ir,
            },
            "vyper": {},
        },
    )
    return project.HashedTimelockERC20


def _require(tx: Any, event: str) -> None:
    if event not in tx.events:
        raise RuntimeError(f"expected a {event} event")


def measure() -> dict[str, int]:
    deployer, sender, receiver = accounts[0], accounts[3], accounts[5]
    token = PlainERC20.deploy(sender, 10**12, {"from": deployer})
    htlc = _htlc_container().deploy({"from": deployer})
    token.approve(htlc, 2**255, {"from": sender})
    token.transfer(receiver, 1, {"from": sender})  # the receiver's balance is non-zero
    gas: dict[str, int] = {}
    for n in range(2):
        preimage = hashlib.sha256(f"pvd htlc baseline {n}".encode()).digest()
        hashlock = hashlib.sha256(preimage).digest()
        timelock = chain.time() + 7 * 86400
        lock = htlc.lock(receiver, hashlock, timelock, token, AMOUNT, {"from": sender})
        _require(lock, "Locked")
        claim = htlc.claim(lock.return_value, preimage, {"from": receiver})
        _require(claim, "Claimed")
    gas["htlc_lock"] = lock.gas_used
    gas["htlc_claim"] = claim.gas_used
    gas["htlc_lock_plus_claim"] = lock.gas_used + claim.gas_used
    return gas


def main() -> None:
    for name, value in measure().items():
        print(f"{name:45} {value:>9,}")
