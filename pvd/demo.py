"""`pvd demo`: two chains, the pvd contracts on each, and the story of what happened.

Today it compiles, starts the two chains (embedded eth-tester by default, or two anvil
processes it starts and stops) and deploys the contracts that exist so far. The trade
settlement story joins it as the contracts and the relayer land (see the issues).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from pvd.anvil import start_anvil, stop_anvil
from pvd.chains import Chain, dev_accounts, embedded_chain, rpc_chain
from pvd.compiler import compile_contracts
from pvd.localchains import LOCAL_CHAINS

PAYMENT_DOMAIN = 1
BUSINESS_DOMAIN = 2


@contextmanager
def two_chains(kind: str) -> Iterator[tuple[Chain, Chain]]:
    """The payment and business chains, stopped again on exit if pvd started them."""
    if kind == "embedded":
        yield embedded_chain("payment", PAYMENT_DOMAIN), embedded_chain("business", BUSINESS_DOMAIN)
        return
    nodes = []
    try:
        for name, chain_id in LOCAL_CHAINS:
            nodes.append(start_anvil(name, chain_id))
        payment, business = (
            rpc_chain(node.name, node.url, domain, dev_accounts())
            for node, domain in zip(nodes, (PAYMENT_DOMAIN, BUSINESS_DOMAIN), strict=True)
        )
        yield payment, business
    finally:
        for node in nodes:
            stop_anvil(node)


def run_demo(chains: str = "embedded", as_json: bool = False) -> int:
    artifacts = compile_contracts()
    summary: dict[str, object] = {"chains": chains, "compiled": sorted(artifacts), "trades": []}
    with two_chains(chains) as (payment, business):
        for chain in (payment, business):
            identity = chain.identity()
            summary[chain.name] = {
                "chain_id": identity.chain_id,
                "genesis_hash": identity.genesis_hash,
                "domain_id": identity.domain_id,
                "head": chain.w3.eth.block_number,
            }
    if as_json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"compiled {len(artifacts)} contracts with the pinned solc")
    for name in ("payment", "business"):
        info = summary[name]
        assert isinstance(info, dict)
        print(
            f"{name} chain ({chains}): chain id {info['chain_id']}, domain {info['domain_id']}, "
            f"genesis {info['genesis_hash'][:18]}..."
        )
    print(
        "no settlement yet: the token, trade registry, messaging contracts and relayer are "
        "still being built (open issues 3-6); nothing was deployed."
    )
    return 0
