"""A backlog's trades made in batches: the same transactions as pvd.bench.processes.Bench's
own agree and hold (propose, accept, placeHoldAndAnnounce), signed here with the
development keys, sent as JSON-RPC batches and mined many to a block, so that a backlog
of 1,000 is made in seconds and one of 10,000 in minutes, not one trade at a time.

Owns `PremadeBench` (Bench whose backlog takes premade trades; the relay and growth
steps both drain theirs this way) and `send_all` (signed transactions sent in batches,
mined, their receipts checked).
"""

from __future__ import annotations

import functools
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import coincurve
import rlp
from eth_abi.abi import encode
from eth_account.signers.local import LocalAccount
from eth_utils.abi import collapse_if_tuple, function_abi_to_4byte_selector
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3.types import RPCEndpoint

from pvd.bench.cluster import Cluster
from pvd.bench.processes import Bench
from pvd.chain.connection import Chain
from pvd.chain.rpc import raw_batch
from pvd.cli.demo import DemoTrade
from pvd.client import trade as client
from pvd.deploy.reverts import project_decoder

HOUR = 3600
SEND_BATCH = 200  # signed transactions per JSON-RPC batch
POOL_CHUNK = 1_000  # transactions sent before they are mined
MINE_TIMEOUT = 600.0  # seconds to mine what one premake step sent


def calldata_encoder(contract: Any, name: str) -> Callable[..., str]:
    """Calldata of `contract`'s function `name` (selector and ABI-encoded arguments), built
    without web3's per-call ABI matching and validation: making 30,000 transactions, those
    took most of the time."""
    abi = contract.get_function_by_name(name).abi
    types = [collapse_if_tuple(dict(i)) for i in abi["inputs"]]
    selector = function_abi_to_4byte_selector(abi)
    return lambda *args: "0x" + (selector + encode(types, list(args))).hex()


@functools.lru_cache(maxsize=16)
def _secp(key: bytes) -> coincurve.PrivateKey:
    return coincurve.PrivateKey(key)


def sign_eip1559(
    chain_id: int, account: LocalAccount, to: str, data: str, nonce: int, gas: int, fee: int
) -> str:
    """An EIP-1559 (type 2) transaction signed with libsecp256k1 (coincurve), byte for byte
    what eth-account's sign_transaction makes (RFC 6979, low s): its own encoding and
    checks took 0.6 ms a transaction on this project's machine (18 s of a backlog of
    10,000's 30,000 transactions)."""
    fields = [chain_id, nonce, 0, fee, gas, bytes.fromhex(to[2:]), 0, bytes.fromhex(data[2:]), []]
    digest = keccak(b"\x02" + rlp.encode(fields))
    signature = _secp(bytes(account.key)).sign_recoverable(digest, hasher=None)
    r, s, parity = signature[:32], signature[32:64], signature[64]
    signed = [*fields, parity, int.from_bytes(r, "big"), int.from_bytes(s, "big")]
    encoded: bytes = rlp.encode(signed)
    return "0x" + (b"\x02" + encoded).hex()


def send_all(chain: Chain, raw: list[str]) -> list[dict[str, Any]]:
    """Send signed transactions (one sender, consecutive nonces) with anvil's automine
    off, POOL_CHUNK at a time (in JSON-RPC batches of SEND_BATCH), mining blocks until
    each chunk is in before sending the next: many transactions a block, since anvil
    makes each block more slowly the longer its chain. The base fee is reset before
    each block: full blocks raise it 12.5 % each, and past the fee the transactions were
    signed with anvil leaves them in its pool and refuses new ones (a bench of the relay
    is not one of fees). Their receipts, each checked to have succeeded."""
    w3 = chain.w3
    hashes: list[str] = []
    last = RPCEndpoint("eth_getTransactionReceipt")
    w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        for pool_start in range(0, len(raw), POOL_CHUNK):
            for start in range(pool_start, min(len(raw), pool_start + POOL_CHUNK), SEND_BATCH):
                chunk = raw[start : min(start + SEND_BATCH, pool_start + POOL_CHUNK)]
                sent = w3.provider.make_batch_request(  # type: ignore[attr-defined]
                    [("eth_sendRawTransaction", [tx]) for tx in chunk]
                )
                refused = [a.get("error") for a in sent if a.get("error")]
                if refused:
                    raise RuntimeError(f"bench: {chain.name} refused transactions: {refused[0]}")
                hashes += [a["result"] for a in sent]
            deadline = time.monotonic() + MINE_TIMEOUT
            while w3.provider.make_request(last, [hashes[-1]]).get("result") is None:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"bench: {chain.name}: {hashes[-1]} not mined")
                # full blocks raise the base fee 12.5 % each: past the fee the
                # transactions were signed with, anvil would leave them in its pool
                w3.provider.make_request(
                    "anvil_setNextBlockBaseFeePerGas",  # type: ignore[arg-type]
                    [hex(0)],
                )
                w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    finally:
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    receipts: list[dict[str, Any]] = []
    for start in range(0, len(hashes), SEND_BATCH):
        chunk = hashes[start : start + SEND_BATCH]
        answers = raw_batch(w3, [("eth_getTransactionReceipt", [h]) for h in chunk])
        if answers is None:
            raise RuntimeError(f"bench: {chain.name} refused a batch of receipt reads")
        for tx_hash, receipt in zip(chunk, answers, strict=True):
            if not receipt or receipt.get("status") != "0x1":
                reason = project_decoder().reason_of_transaction(w3, HexBytes(tx_hash))
                raise RuntimeError(f"bench: {chain.name} transaction {tx_hash} failed: {reason}")
        receipts += answers
    return receipts


class PremadeBench(Bench):
    """pvd.bench.processes.Bench whose backlog takes trades made beforehand in batches
    (`premake`, or `backlog` itself for what was not premade): the same transactions as
    its own agree and hold, so the drain it measures is the same."""

    def __init__(self, cluster: Cluster) -> None:
        super().__init__(cluster)
        self._premade: deque[tuple[bytes, client.Terms, dict[str, Any]]] = deque()

    def premake(self, count: int) -> None:
        system, cast = self.cluster.system, self.cluster.cast
        biz, pay = system.business, system.payment
        registry, settlement = biz.registry, pay.settlement
        terms = self._terms()
        first = int(registry.functions.nonceOf(cast.buyer.address).call())
        trade_id_for = calldata_encoder(registry, "tradeIdFor")
        ids: list[bytes] = []
        for start in range(0, count, SEND_BATCH):
            reads = [
                (
                    "eth_call",
                    [
                        {
                            "to": registry.address,
                            "data": trade_id_for(cast.buyer.address, first + i),
                        },
                        "latest",
                    ],
                )
                for i in range(start, min(count, start + SEND_BATCH))
            ]
            answers = raw_batch(biz.chain.w3, reads)
            if answers is None:
                raise RuntimeError("bench: the business chain refused a batch of calls")
            ids += [bytes(HexBytes(a)) for a in answers]
        proposal = calldata_encoder(registry, "propose")(terms.as_tuple())
        accept = calldata_encoder(registry, "accept")
        steps: list[tuple[Chain, LocalAccount, Any, Callable[[bytes], str]]] = [
            (
                biz.chain,
                cast.buyer,
                registry.functions.propose(terms.as_tuple()),
                lambda _id: proposal,
            ),
            (biz.chain, cast.seller, registry.functions.accept(ids[0]), accept),
        ]
        fee = 2 * int(biz.chain.w3.eth.gas_price) + 1
        for chain, account, sample, data_for in steps:
            gas = 2 * int(sample.estimate_gas({"from": account.address})) + 50_000
            nonce = chain.w3.eth.get_transaction_count(account.address)
            chain_id = chain.w3.eth.chain_id
            raw = [
                sign_eip1559(chain_id, account, registry.address, data_for(t), nonce + i, gas, fee)
                for i, t in enumerate(ids)
            ]
            send_all(chain, raw)
        valid_before = pay.chain.now() + HOUR
        holds = [client.hold_for(trade_id, terms, settlement) for trade_id in ids]
        domain = client.token_domain(pay.token.functions.eip712Domain().call())
        signatures = [
            cast.buyer.sign_typed_data(
                full_message=client.place_hold_typed_data(domain, hold, valid_before)
            ).signature
            for hold in holds
        ]
        sample = settlement.functions.placeHoldAndAnnounce(
            holds[0].as_tuple(), valid_before, signatures[0]
        )
        gas = 2 * int(sample.estimate_gas({"from": cast.dapp.address})) + 50_000
        fee = 2 * int(pay.chain.w3.eth.gas_price) + 1
        nonce = pay.chain.w3.eth.get_transaction_count(cast.dapp.address)
        chain_id = pay.chain.w3.eth.chain_id
        place = calldata_encoder(settlement, "placeHoldAndAnnounce")
        raw = [
            sign_eip1559(
                chain_id,
                cast.dapp,
                settlement.address,
                place(hold.as_tuple(), valid_before, signature),
                nonce + i,
                gas,
                fee,
            )
            for i, (hold, signature) in enumerate(zip(holds, signatures, strict=True))
        ]
        receipts = send_all(pay.chain, raw)
        self._premade.extend(zip(ids, [terms] * count, receipts, strict=True))

    def agree(self) -> tuple[bytes, client.Terms]:
        if not self._premade:
            return super().agree()
        trade_id, terms, _receipt = self._premade[0]
        return trade_id, terms

    def hold(self, trade_id: bytes, terms: client.Terms) -> tuple[DemoTrade, Any]:
        if not self._premade or self._premade[0][0] != trade_id:
            return super().hold(trade_id, terms)
        _id, _terms, receipt = self._premade.popleft()
        return DemoTrade(
            "bench",
            trade_id,
            client.hold_for(trade_id, terms, self.cluster.system.payment.settlement),
        ), receipt

    def backlog(self, count: int) -> dict[str, Any]:
        """Bench.backlog, its trades premade (those not premade yet are made now, before
        the relayers start: making them is not part of any figure)."""
        if count > len(self._premade):
            self.premake(count - len(self._premade))
        return super().backlog(count)
