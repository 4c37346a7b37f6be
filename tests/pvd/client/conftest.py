"""A deployed system on two embedded chains, with the development cast of
pvd.client.roles (TEST KEYS: the well-known development mnemonic)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from eth_account.signers.local import LocalAccount

from pvd.chain.connection import embedded_chain
from pvd.client.roles import dev_account
from pvd.deploy.system import System, SystemConfig, deploy_system


@dataclass(frozen=True)
class Cast:
    central_bank: LocalAccount
    bank: LocalAccount
    buyer: LocalAccount
    seller: LocalAccount
    carrier: LocalAccount
    arbiter: LocalAccount
    stranger: LocalAccount
    attesters: tuple[LocalAccount, ...]


CAST = Cast(
    central_bank=dev_account("central-bank"),
    bank=dev_account("bank"),
    buyer=dev_account("buyer"),
    seller=dev_account("seller"),
    carrier=dev_account("carrier"),
    arbiter=dev_account("arbiter"),
    stranger=dev_account("stranger"),
    attesters=tuple(dev_account(f"attester-{n}") for n in (1, 2, 3)),
)


@pytest.fixture
def system() -> Iterator[System]:
    payment, business = embedded_chain("payment", 1), embedded_chain("business", 2)
    config = SystemConfig(attesters=tuple(a.address for a in CAST.attesters), threshold=2)
    yield deploy_system(payment, business, config)
