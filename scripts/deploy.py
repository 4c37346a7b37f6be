"""Deploy and wire pvd on a payment chain and a business chain (brownie front end of the
same deployment `pvd deploy` does), writing the manifests to deployments/.

    source .pvd/chains.env
    brownie run scripts/deploy.py main config/deploy.local.toml --network payment-local
    brownie run scripts/deploy.py main config/deploy.local.toml threshold=3 --network ...

Settings come from the TOML file (default config/deploy.local.toml) and `key=value`
arguments after it. A second run on the same chains says the system is deployed and sends
nothing. docs/console.md describes the settings and the checks.
"""

from pathlib import Path

from brownie import network
from brownie._config import CONFIG
from brownie.project.main import get_loaded_projects

from pvd_brownie.deploy import deploy, load_plan
from pvd_brownie.script import run

DEFAULT_CONFIG = "config/deploy.local.toml"


def main(config: str = DEFAULT_CONFIG, *overrides: str) -> None:
    def step() -> None:
        # paths in the config are relative to the brownie project this script runs in
        root = Path(get_loaded_projects()[0]._path)
        plan = load_plan(Path(config), overrides, root)
        result = deploy(plan, CONFIG.networks, network.show_active())
        if result.existing is not None:
            print("pvd is already deployed on these chains with these settings: nothing sent")
        for path in result.manifests:
            print(f"{'manifest' if result.existing else 'wrote'} {path}")

    run("scripts/deploy.py", step)
