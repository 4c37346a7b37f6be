"""Deploy and wire the whole pvd system on a payment chain and a business chain.

Order (docs/messages.md, "Deployment and wiring"): the business chain first (the
settlement contract fixes the registry's address at construction), then the payment
chain, then the wiring while each inbox is still in its setup phase (takes effect at once),
and last each inbox closes its setup, after which every change waits for the governance
delay. The same code deploys to embedded chains, to anvil and to any RPC endpoint.

Each deployment draws a random deployment id (or takes the one configured), which both
inboxes bind into what attesters sign and both manifests record: two deployments never
accept each other's messages, even with the same chain ids, addresses, domain ids and
attester keys. Before deploying anything, a deployment that writes manifests refuses domain
ids that a deployment already recorded in the same folder uses on the same chain.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from pathlib import Path

from eth_typing import ChecksumAddress
from web3.contract import Contract

from pvd.chain.connection import Chain
from pvd.deploy.compiler import Artifact, compile_contracts
from pvd.deploy.contracts import Deployer
from pvd.deploy.manifest import check_domains_unused


@dataclass(frozen=True)
class SystemConfig:
    """What a deployment decides. Times in seconds."""

    attesters: tuple[ChecksumAddress, ...]
    threshold: int
    payment_domain: int = 1
    business_domain: int = 2
    governance_delay: int = 2 * 24 * 3600  # longer than the liveness window
    admin_delay: int = 24 * 3600
    safety_window: int = 3600
    max_horizon: int = 365 * 24 * 3600
    # 32 bytes unique to this deployment; None: a random one is drawn at deployment.
    deployment_id: bytes | None = None


@dataclass(frozen=True)
class PaymentSide:
    chain: Chain
    token: Contract
    outbox: Contract
    inbox: Contract
    settlement: Contract


@dataclass(frozen=True)
class BusinessSide:
    chain: Chain
    registry: Contract
    bill_of_lading: Contract
    outbox: Contract
    inbox: Contract


@dataclass(frozen=True)
class System:
    config: SystemConfig
    payment: PaymentSide
    business: BusinessSide
    manifests: tuple[Path, ...] = ()


def deploy_system(
    payment: Chain,
    business: Chain,
    config: SystemConfig,
    *,
    manifest_folder: Path | None = None,
    artifacts: dict[str, Artifact] | None = None,
) -> System:
    """Deploy everything, wire it, close the inboxes' setup; write manifests if asked.
    The result's config carries the deployment id used."""
    if manifest_folder is not None:
        check_domains_unused(manifest_folder, (payment.identity(), business.identity()))
    if config.deployment_id is None:
        config = replace(config, deployment_id=secrets.token_bytes(32))
    deployment_id = config.deployment_id
    assert deployment_id is not None
    artifacts = artifacts or compile_contracts()
    admin = payment.accounts[0].address
    attesters = sorted(config.attesters, key=lambda a: int(a, 16))

    def inbox(deployer: Deployer, domain: int) -> Contract:
        return deployer.deploy(
            "Inbox",
            domain,
            deployment_id,
            admin,
            admin,  # guardian: the admin in a default deployment; give it its own key in production
            attesters,
            config.threshold,
            config.governance_delay,
            config.admin_delay,
        )

    on_business = Deployer(
        business, artifacts, f"{business.name}-{config.business_domain}", deployment_id
    )
    business_outbox = on_business.deploy(
        "Outbox", config.business_domain, admin, config.governance_delay
    )
    business_inbox = inbox(on_business, config.business_domain)
    registry = on_business.deploy("TradeRegistry", admin, config.safety_window, config.max_horizon)

    on_payment = Deployer(
        payment, artifacts, f"{payment.name}-{config.payment_domain}", deployment_id
    )
    token = on_payment.deploy(
        "YuanToken", "Programmable Yuan", "e-CNY", config.payment_domain, admin, config.admin_delay
    )
    payment_outbox = on_payment.deploy(
        "Outbox", config.payment_domain, admin, config.governance_delay
    )
    payment_inbox = inbox(on_payment, config.payment_domain)
    settlement = on_payment.deploy(
        "PvdSettlement",
        token.address,
        payment_outbox.address,
        payment_inbox.address,
        config.business_domain,
        registry.address,
    )

    def send(chain: Chain, call: object) -> None:
        chain.wait(call.transact({"from": admin}))  # type: ignore[attr-defined]

    send(business, business_outbox.functions.proposeApp(registry.address, True))
    send(payment, payment_outbox.functions.proposeApp(settlement.address, True))
    send(
        business,
        business_inbox.functions.proposePeer(
            config.payment_domain, settlement.address, registry.address
        ),
    )
    send(
        payment,
        payment_inbox.functions.proposePeer(
            config.business_domain, registry.address, settlement.address
        ),
    )
    send(
        business,
        registry.functions.wire(
            business_inbox.address,
            business_outbox.address,
            config.payment_domain,
            settlement.address,
        ),
    )
    send(business, business_inbox.functions.closeSetup())
    send(payment, payment_inbox.functions.closeSetup())
    send(business, business_outbox.functions.closeSetup())
    send(payment, payment_outbox.functions.closeSetup())

    bill = business.w3.eth.contract(
        address=registry.functions.billOfLading().call(), abi=artifacts["BillOfLading"].abi
    )
    on_business.record("BillOfLading", bill.address, on_business.deployed["TradeRegistry"].block)
    manifests: tuple[Path, ...] = ()
    if manifest_folder is not None:
        manifests = (on_payment.write(manifest_folder), on_business.write(manifest_folder))
    return System(
        config=config,
        payment=PaymentSide(payment, token, payment_outbox, payment_inbox, settlement),
        business=BusinessSide(business, registry, bill, business_outbox, business_inbox),
        manifests=manifests,
    )
