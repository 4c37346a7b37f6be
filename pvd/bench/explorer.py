"""`make bench`'s explorer figures: how fast the explorer's pages answer with many trades
on chain. Two anvil processes (started and stopped here), pvd deployed, N trades proposed
on the business chain (signed locally, sent in JSON-RPC batches, mined in blocks of a
hundred; every fifth one accepted), the explorer indexing them, then each page fetched
over HTTP from the running server: milliseconds p50 / p95 / max of `--rounds` requests.

Written as the `explorer` section of bench/report.json (pvd.bench.report). Figures are
what this machine measured in this run; nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from web3.types import RPCEndpoint

from pvd.bench.premade import calldata_encoder, sign_eip1559
from pvd.bench.report import write_section
from pvd.chain.anvil import start_anvil, stop_anvil
from pvd.chain.connection import Chain, dev_accounts, rpc_chain
from pvd.chain.local import LOCAL_CHAINS
from pvd.client import trade as client
from pvd.deploy.system import System, SystemConfig, deploy_system
from pvd.explorer.launch import explore_system
from pvd.explorer.view import Chain as Lane

HOUR = 3600
PER_BLOCK = 100
PRICE = 100  # fen


def _rpc(chain: Chain, method: str, *params: Any) -> Any:
    answer = chain.w3.provider.make_request(RPCEndpoint(method), list(params))
    if "error" in answer:
        raise RuntimeError(f"{chain.name}: {method}: {answer['error']}")
    return answer.get("result")


def propose_many(
    system: System, buyers: list[LocalAccount], seller: ChecksumAddress, count: int
) -> int:
    """`count` proposals (and every fifth accepted), mined PER_BLOCK to a block."""
    biz = system.business
    chain, registry = biz.chain, biz.registry
    deadline = chain.now() + 30 * 24 * HOUR
    terms = client.Terms(
        seller=seller,
        payer=buyers[0].address,
        payee=seller,
        token=system.payment.token.address,
        price=PRICE,
        deadline=deadline,
        hold_expiry=deadline + system.config.safety_window + HOUR,
    )
    chain_id = int(chain.w3.eth.chain_id)
    fee = int(chain.w3.eth.gas_price) * 2
    gas = int(
        registry.functions.propose(terms.as_tuple()).estimate_gas({"from": buyers[0].address})
    )
    nonces = {b.address: int(chain.w3.eth.get_transaction_count(b.address)) for b in buyers}
    proposals = {b.address: int(registry.functions.nonceOf(b.address).call()) for b in buyers}
    seller_account = next(a for a in chain.accounts if a.address == seller)
    seller_nonce = int(chain.w3.eth.get_transaction_count(seller_account.address))
    propose = registry.encode_abi("propose", [terms.as_tuple()])  # the same terms each time
    accept = calldata_encoder(registry, "accept")
    _rpc(chain, "evm_setAutomine", False)
    sent = 0
    try:
        while sent < count:
            raw: list[str] = []
            for _ in range(min(PER_BLOCK, count - sent)):
                buyer = buyers[sent % len(buyers)]
                raw.append(sign_eip1559(chain_id, buyer, registry.address, propose,
                                        nonces[buyer.address], gas, fee))  # fmt: skip
                if sent % 5 == 0:
                    trade_id = registry.functions.tradeIdFor(
                        buyer.address, proposals[buyer.address]
                    ).call()
                    raw.append(sign_eip1559(chain_id, seller_account, registry.address,
                                            accept(trade_id), seller_nonce, gas, fee))  # fmt: skip
                    seller_nonce += 1
                nonces[buyer.address] += 1
                proposals[buyer.address] += 1
                sent += 1
            answers = chain.w3.provider.make_batch_request(  # type: ignore[attr-defined]
                [(RPCEndpoint("eth_sendRawTransaction"), [tx]) for tx in raw]
            )
            errors = [a["error"] for a in answers if isinstance(a, dict) and a.get("error")]
            if errors:
                raise RuntimeError(f"the business node refused a transaction: {errors[0]}")
            # blocks this full would raise the base fee 12.5 % a block (EIP-1559) until
            # the buyers' development funds ran out; a bench of the explorer is not one
            # of fees, so every block's base fee is reset
            _rpc(chain, "anvil_setNextBlockBaseFeePerGas", hex(0))
            _rpc(chain, "evm_mine")
    finally:
        _rpc(chain, "evm_setAutomine", True)
    return sent


def timed(client_: httpx.Client, path: str, rounds: int) -> dict[str, float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        answer = client_.get(path)
        times.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise RuntimeError(f"{path} answered {answer.status_code}")
    ordered = sorted(times)
    return {
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))], 1),
        "max_ms": round(ordered[-1], 1),
    }


def run(trades: int, rounds: int) -> dict[str, Any]:
    nodes = [start_anvil(name, chain_id) for name, chain_id in LOCAL_CHAINS]
    try:
        accounts = dev_accounts()
        payment = rpc_chain("payment", nodes[0].url, 1, accounts)
        business = rpc_chain("business", nodes[1].url, 2, accounts)
        config = SystemConfig(attesters=tuple(a.address for a in accounts[5:8]), threshold=2)
        system = deploy_system(payment, business, config)
        seller = accounts[3].address
        buyers = [a for i, a in enumerate(accounts) if i not in (3, 5, 6, 7)]
        started = time.perf_counter()
        propose_many(system, buyers, seller, trades)
        proposing = time.perf_counter() - started
        head = int(business.w3.eth.block_number)
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            server = explore_system(system, f"sqlite:///{Path(tmp) / 'index.sqlite'}")
            try:
                with httpx.Client(base_url=server.url, timeout=30) as web:
                    deadline = time.monotonic() + 600
                    while True:
                        heads = web.get("/health").json()["chains"]
                        done = [h for h in heads if h["chain"] == Lane.BUSINESS.value]
                        if done and done[0]["block"] is not None and done[0]["block"] >= head:
                            break
                        if time.monotonic() > deadline:
                            raise RuntimeError("the explorer did not index the trades in 600 s")
                        time.sleep(0.1)
                    indexing = time.perf_counter() - started
                    first = web.get("/trades").text
                    trade_id = first.split('data-trade="')[1].split('"')[0]
                    cursor = _deep_cursor(web, pages=100)
                    pages = {
                        "trades first page (50)": "/trades",
                        "trades page 101 (cursor)": f"/trades?after={cursor}",
                        "trades status=Accepted": "/trades?status=Accepted",
                        "trades of one buyer": f"/trades?q={buyers[1].address}",
                        "one trade": f"/trade/{trade_id}",
                        "messages": "/messages",
                        "money": "/money",
                    }
                    figures = {name: timed(web, path, rounds) for name, path in pages.items()}
            finally:
                server.close()
        return {
            "trades": trades,
            "business_blocks": head,
            "propose_seconds": round(proposing, 1),
            "index_seconds": round(indexing, 1),
            "rounds": rounds,
            "pages": figures,
        }
    finally:
        for node in nodes:
            stop_anvil(node)


def _deep_cursor(web: httpx.Client, pages: int) -> str:
    path = "/trades"
    cursor = ""
    for _ in range(pages):
        html = web.get(path).text
        if 'id="older" href="' not in html:
            break
        link = html.split('id="older" href="')[1].split('"')[0].replace("&amp;", "&")
        cursor = link.split("after=")[1]
        path = link
    return cursor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    result = run(args.trades, args.rounds)
    path = write_section("explorer", result)
    for name, figure in result["pages"].items():
        print(f"{name}: p50 {figure['p50_ms']} ms, p95 {figure['p95_ms']} ms")
    print(f"wrote the explorer section of {path}")


if __name__ == "__main__":
    main()
