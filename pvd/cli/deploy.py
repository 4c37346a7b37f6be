"""`pvd deploy`: deploy and wire pvd on two chains and write their manifests, after
checking everything that can be checked before the first transaction
(pvd.deploy.contracts.check_plan/check_chains/check_funds). A deployment that fails
midway names the contracts it had created and what to do about them; no manifest is
written for it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pvd.cli.context import LOCAL_CHAIN_IDS, HelpFormatter
from pvd.errors import UserError
from pvd.paths import PROJECT_ROOT


def add_parser(sub: Any) -> None:
    """Register `pvd deploy`."""
    deploy = sub.add_parser(
        "deploy",
        help="deploy and wire pvd on two chains, write manifests",
        formatter_class=HelpFormatter,
    )
    deploy.add_argument("--payment-rpc", required=True, help="payment chain RPC URL")
    deploy.add_argument("--business-rpc", required=True, help="business chain RPC URL")
    deploy.add_argument(
        "--payment-domain", type=int, default=1, help="the payment chain's protocol domain id"
    )
    deploy.add_argument(
        "--business-domain", type=int, default=2, help="the business chain's protocol domain id"
    )
    deploy.add_argument("--attesters", required=True, help="comma-separated addresses")
    deploy.add_argument("--threshold", type=int, required=True, help="signatures needed (1..n)")
    deploy.add_argument(
        "--governance-delay", type=int, default=2 * 24 * 3600, help="inbox changes wait (s)"
    )
    deploy.add_argument(
        "--out", type=Path, default=PROJECT_ROOT / "deployments", help="folder for the manifests"
    )
    key = deploy.add_mutually_exclusive_group(required=True)
    key.add_argument(
        "--key-env", default=None, help="environment variable holding the deployer's hex key"
    )
    key.add_argument(
        "--dev-key", action="store_true", help="the well-known development key (local only)"
    )
    deploy.set_defaults(handler=_cmd_deploy)


def _cmd_deploy(args: argparse.Namespace) -> int:
    from pvd.chain.connection import dev_accounts, rpc_chain
    from pvd.deploy.compiler import compile_contracts
    from pvd.deploy.contracts import (
        BUSINESS_CONTRACTS,
        PAYMENT_CONTRACTS,
        WIRING_TRANSACTIONS,
        Plan,
        check_chains,
        check_funds,
        check_plan,
        created_since,
        deployment_gas,
    )
    from pvd.deploy.system import SystemConfig, deploy_system
    from pvd.relayer.config import EnvKey
    from pvd.relayer.keys import load_account

    plan = Plan(
        attesters=tuple(a.strip() for a in args.attesters.split(",") if a.strip()),
        threshold=args.threshold,
        payment_domain=args.payment_domain,
        business_domain=args.business_domain,
        out=Path(args.out),
    )
    attesters = check_plan(plan)
    # --dev-key: the well-known development key (TEST KEY), for local chains only
    deployer = dev_accounts()[0] if args.dev_key else load_account(EnvKey(args.key_env))
    payment = rpc_chain("payment", args.payment_rpc, args.payment_domain, [deployer])
    business = rpc_chain("business", args.business_rpc, args.business_domain, [deployer])
    check_chains(payment, business)
    if args.dev_key:
        for chain in (payment, business):
            if chain.w3.eth.chain_id not in LOCAL_CHAIN_IDS:
                raise UserError(
                    f"--dev-key is a public development key, for local chains only; the "
                    f"{chain.name} chain is chain id {chain.w3.eth.chain_id}: use --key-env"
                )
    artifacts = compile_contracts()
    for chain, names in ((payment, PAYMENT_CONTRACTS), (business, BUSINESS_CONTRACTS)):
        gas = deployment_gas(artifacts, names, WIRING_TRANSACTIONS[chain.name])
        check_funds(chain, deployer.address, gas)
    start = {
        c.name: int(c.w3.eth.get_transaction_count(deployer.address)) for c in (payment, business)
    }
    config = SystemConfig(
        attesters=attesters,
        threshold=args.threshold,
        payment_domain=args.payment_domain,
        business_domain=args.business_domain,
        governance_delay=args.governance_delay,
    )
    try:
        system = deploy_system(
            payment, business, config, manifest_folder=Path(args.out), artifacts=artifacts
        )
    except Exception as exc:
        made = [
            f"{chain.name} {address} (nonce {nonce})"
            for chain in (business, payment)
            for nonce, address in created_since(chain, deployer.address, start[chain.name])
        ]
        created = "; ".join(made) if made else "nothing"
        raise UserError(
            f"deployment failed midway ({type(exc).__name__}: {exc}); created before the "
            f"failure: {created}. No manifest was written and these contracts are not "
            "wired to anything (they hold no funds and can be left alone): fix the cause and "
            "run pvd deploy again for a fresh, complete deployment"
        ) from exc
    for path in system.manifests:
        print(f"wrote {path}")
    return 0
