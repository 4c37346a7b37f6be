"""pvd.deploy.existing.find_deployment: the check that makes a deployment idempotent."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from pvd.chain.connection import embedded_chain
from pvd.deploy.existing import find_deployment
from pvd.deploy.system import SystemConfig, deploy_system
from pvd.errors import UserError

ATTESTERS = (
    "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
    "0x976EA74026E726554dB657fA54763abd0C3a0aa9",
    "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955",
)
CONFIG = SystemConfig(attesters=ATTESTERS, threshold=2)


def test_a_deployment_is_found_only_on_its_own_chains_with_its_settings(tmp_path: Path) -> None:
    payment, business = embedded_chain("payment", 1), embedded_chain("business", 2)
    assert find_deployment(payment, business, CONFIG, tmp_path) is None

    deploy_system(payment, business, CONFIG, manifest_folder=tmp_path)
    found = find_deployment(payment, business, CONFIG, tmp_path)
    assert found is not None
    assert (found.payment, found.business) == (
        tmp_path / "payment-1.json",
        tmp_path / "business-2.json",
    )

    with pytest.raises(UserError, match="with threshold 2, not 3: deploy with its settings"):
        find_deployment(payment, business, replace(CONFIG, threshold=3), tmp_path)
    with pytest.raises(UserError, match="with governance delay 172800, not 60"):
        find_deployment(payment, business, replace(CONFIG, governance_delay=60), tmp_path)

    # the same chains started afresh (same id and genesis, no code): not deployed there
    fresh = embedded_chain("payment", 1), embedded_chain("business", 2)
    assert find_deployment(*fresh, CONFIG, tmp_path) is None
