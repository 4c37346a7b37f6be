"""Helpers for the relayer's unit tests: a tiny TOML writer, test keys, a clock, an
inbox's delivery status of a message read as a test sees it, a node without some
JSON-RPC methods, pvd deployed on two chains with an in-process relayer."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract

from pvd.bench.cluster import JsonRpcForwarder
from pvd.chain.connection import Chain
from pvd.cli.demo import Cast, in_process_relayer, issue_funds, two_chains
from pvd.deploy.compiler import Artifact
from pvd.deploy.system import System, SystemConfig, deploy_system
from pvd.protocol.statuses import DeliveryStatus
from pvd.relayer.service import Relayer

# Well-known TEST keys (never use them for anything real). Their addresses are derived in
# the tests from eth-account, not hard-coded.
TEST_KEY_ATTESTER = "0x" + "11" * 32
TEST_KEY_GAS = "0x" + "22" * 32
TEST_KEY_OTHER = "0x" + "33" * 32


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_scalar(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def to_toml(document: dict[str, Any], prefix: str = "") -> str:
    """Write a dict as TOML: scalars first, then tables, then arrays of tables."""
    lines: list[str] = []
    tables: list[tuple[str, dict[str, Any]]] = []
    arrays: list[tuple[str, list[dict[str, Any]]]] = []
    for key, value in document.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            tables.append((name, value))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            arrays.append((name, value))
        else:
            lines.append(f"{key} = {_scalar(value)}")
    out = "\n".join(lines) + ("\n" if lines else "")
    for name, table in tables:
        out += f"\n[{name}]\n" + to_toml(table, name)
    for name, items in arrays:
        for item in items:
            out += f"\n[[{name}]]\n" + to_toml(item, name)
    return out


def valid_document() -> dict[str, Any]:
    """A complete, valid relay config as a dict (keys from env variables)."""
    return {
        "relay": {"name": "attester-1"},
        "chains": {
            "payment": {
                "rpc_urls": ["http://127.0.0.1:8545"],
                "domain_id": 1,
                "manifest": "deployments/payment.json",
                "confirmations": 2,
                "poll_interval": 0.5,
                "log_chunk_size": 500,
                "rescan_margin": 10,
            },
            "business": {
                "rpc_urls": ["http://127.0.0.1:8546", "http://127.0.0.1:8547"],
                "domain_id": 2,
                "manifest": "deployments/business.json",
                "confirmations": 0,
            },
        },
        "keys": {
            "attestation": {"env": "PVD_TEST_ATTESTATION_KEY"},
            "gas": {"env": "PVD_TEST_GAS_KEY"},
        },
        "store": {"path": "state/attester-1.sqlite", "lock_dir": "locks"},
        "metrics": {"host": "127.0.0.1", "port": 9101},
        "log": {"level": "debug", "format": "json"},
        "retry": {"base_delay": 0.5, "max_delay": 30, "max_attempts": 5},
        "quorum": {
            "listen_host": "127.0.0.1",
            "listen_port": 9201,
            "peers": [
                {
                    "address": "0x2b5ad5c4795c026514f8317c7a215e218dccd6cf",
                    "url": "http://127.0.0.1:9202/",
                },
            ],
        },
    }


KEY_ENV = {"PVD_TEST_ATTESTATION_KEY": TEST_KEY_ATTESTER, "PVD_TEST_GAS_KEY": TEST_KEY_GAS}


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def inbox_delivery(inbox: Contract, message_id: str) -> tuple[DeliveryStatus, int]:
    """The inbox's status of a message id and the block of its last delivery event: its
    failure record (failureOf) if any, else Delivered once a delivery event names it (the
    inbox keeps only a consumed bit per nonce in storage)."""
    mid = HexBytes(message_id)
    failure, _epoch = inbox.functions.failureOf(mid).call()
    found = [
        log
        for name in ("MessageDelivered", "MessageFailed", "MessageRetried")
        for log in getattr(inbox.events, name).get_logs(
            from_block=0, argument_filters={"messageId": mid}
        )
    ]
    last = max(found, key=lambda log: (log["blockNumber"], log["logIndex"]), default=None)
    block = int(last["blockNumber"]) if last is not None else 0
    if failure:
        return DeliveryStatus(failure), block
    return (DeliveryStatus.DELIVERED if last is not None else DeliveryStatus.NONE), block


class NodeWithout(JsonRpcForwarder):
    """A JSON-RPC forwarder to a real node that records each call's method and answers a
    call of a method in `refused` as a node without that method does (JSON-RPC -32601
    with `message`); the other calls of the same request go to the node."""

    def __init__(
        self, upstream: str, refused: Iterable[str] = (), message: str = "Method not found"
    ) -> None:
        self.methods: list[str] = []
        self.refused = frozenset(refused)
        self.message = message
        super().__init__(upstream)
        self.w3 = Web3(Web3.HTTPProvider(self.url, request_kwargs={"timeout": 10}))

    def answer(self, body: bytes) -> bytes | None:
        sent = json.loads(body)
        calls = sent if isinstance(sent, list) else [sent]
        self.methods += [c["method"] for c in calls]
        if not any(c["method"] in self.refused for c in calls):
            return None
        kept = [c for c in calls if c["method"] not in self.refused]
        answered = {a["id"]: a for a in self._forward(kept)} if kept else {}
        replies = [
            answered[c["id"]]
            if c["method"] not in self.refused
            else {
                "jsonrpc": "2.0",
                "id": c["id"],
                "error": {"code": -32601, "message": self.message},
            }
            for c in calls
        ]
        return json.dumps(replies if isinstance(sent, list) else replies[0]).encode()

    def _forward(self, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
        request = urllib.request.Request(
            self.upstream, json.dumps(calls).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            answers: list[dict[str, Any]] = json.loads(response.read())
        return answers


def funded_system(
    payment: Chain, business: Chain, artifacts: dict[str, Artifact] | None = None
) -> tuple[System, Cast]:
    """pvd deployed on the two chains (2-of-3 attesters of the demo's cast) and the cast's
    wallets funded, as the demo does."""
    cast = Cast.from_accounts(payment.accounts)
    config = SystemConfig(attesters=tuple(a.address for a in cast.attesters), threshold=2)
    system = deploy_system(payment, business, config, artifacts=artifacts)
    issue_funds(system, cast)
    return system, cast


@contextmanager
def system_with_relayer(
    chains: str, artifacts: dict[str, Artifact], store: Path
) -> Iterator[tuple[System, Cast, Relayer]]:
    """pvd on two chains ("embedded" or "anvil"), funded, with an in-process relayer
    (2 of 3) whose store is `store`; all stopped on exit."""
    with two_chains(chains) as (payment, business):
        system, cast = funded_system(payment, business, artifacts)
        relayer = in_process_relayer(system, cast, store)
        try:
            yield system, cast, relayer
        finally:
            relayer.close()
            relayer.store.close()
