"""EIP-2930 access lists on pre-flighted deliveries: the pre-flight is
`eth_createAccessList` where the node serves it, and the transaction goes with the list
it returns, less the entries of addresses the transaction warms anyway.

On anvil (the whole system on two of them, or one bare node); the embedded chains of
test_route_gas.py and test_sender.py keep the `eth_call` path. The accounts are the
public development mnemonic's: TEST KEYS ONLY.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from eth_typing import HexStr
from web3 import Web3

from pvd.bench.relay import funded, open_trades
from pvd.chain.anvil import AnvilNode
from pvd.chain.connection import dev_accounts
from pvd.cli.demo import Cast
from pvd.deploy.compiler import Artifact, compile_contracts
from pvd.deploy.system import System
from pvd.relayer import sender as sender_module
from pvd.relayer.config import Route
from pvd.relayer.ends import call_data
from pvd.relayer.failures import RevertJudge
from pvd.relayer.keys import Signer
from pvd.relayer.route import TX_BASE_GAS, RelayRoute
from pvd.relayer.sender import (
    AccessEntry,
    Call,
    PreflightReverted,
    Sender,
    SenderSettings,
    useful_access_list,
)
from pvd.relayer.service import Relayer
from pvd.relayer.store import Stage
from tests.pvd.relayer.helpers import NodeWithout, system_with_relayer

FAST = SenderSettings(poll_interval=0.01, stuck_after=5.0, receipt_timeout=20.0)


@pytest.fixture(scope="module")
def artifacts() -> dict[str, Artifact]:
    return compile_contracts()


@pytest.fixture
def deployed(
    artifacts: dict[str, Artifact], tmp_path: Path
) -> Iterator[tuple[System, Cast, Relayer]]:
    """pvd on two anvils, funded, with an in-process relayer (2 of 3)."""
    with system_with_relayer("anvil", artifacts, tmp_path / "store.sqlite") as deployed:
        yield deployed


def payment_to_business(relayer: Relayer) -> RelayRoute:
    return next(r for r in relayer.routes if r.route is Route.PAYMENT_TO_BUSINESS)


def relay_one(system: System, cast: Cast, relayer: Relayer) -> str:
    """Open one trade, relay its PAYMENT_HELD alone; the delivery's transaction hash."""
    trades = open_trades(system, cast, 1)
    assert relayer.run_until(lambda: all(funded(system, t) for t in trades), timeout=60)
    return newest_delivery(system, relayer)


def newest_delivery(system: System, relayer: Relayer) -> str:
    """The transaction that delivered the payment outbox's newest message."""
    (newest, *_) = reversed(system.payment.outbox.events.MessageSent.get_logs(from_block=0))
    record = relayer.store.get("0x" + bytes(newest["args"]["messageId"]).hex())
    assert record is not None and record.stage is Stage.CONFIRMED
    assert record.confirmed_tx_hash is not None
    return record.confirmed_tx_hash


class Methods:
    """The JSON-RPC methods one Sender sends on its raw transport (batches and single
    requests); the transport itself is shared with the route's reads, so the sender gets
    a recording wrapper of its own."""

    def __init__(self, sender: Sender, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sent: list[str] = []
        assert sender._raw is not None
        raw = sender._raw
        sent = self.sent

        class Recording:
            url = raw.url

            def batch(self, requests_: Any) -> Any:
                sent.extend(method for method, _ in requests_)
                return raw.batch(requests_)

            def request(self, method: str, params: Any) -> Any:
                sent.append(method)
                return raw.request(method, params)

        monkeypatch.setattr(sender, "_raw", Recording())


# --- on the whole system ------------------------------------------------------------------


def test_a_lone_delivery_goes_with_the_list_less_the_inbox_and_costs_less_than_without(
    deployed: tuple[System, Cast, Relayer], monkeypatch: pytest.MonkeyPatch
) -> None:
    system, cast, relayer = deployed
    route = payment_to_business(relayer)
    business = system.business.chain.w3
    relay_one(system, cast, relayer)  # teaches the route its gas per message
    learned = route._gas_per_message
    assert learned is not None
    methods = Methods(route.sender, monkeypatch)

    trades = open_trades(system, cast, 1)
    snapshot = business.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    assert relayer.run_until(lambda: all(funded(system, t) for t in trades), timeout=60)
    listed_hash = HexStr(newest_delivery(system, relayer))
    listed = business.eth.get_transaction(listed_hash)
    with_list = business.eth.get_transaction_receipt(listed_hash)

    assert listed["to"] == system.business.inbox.address and with_list["status"] == 1
    assert "eth_createAccessList" in methods.sent and "eth_call" not in methods.sent
    entries = listed["accessList"]
    assert entries, "the delivery went without an access list"
    addresses = {entry["address"] for entry in entries}
    assert system.business.inbox.address not in addresses  # warm anyway: left out
    assert cast.gas.address not in addresses
    assert system.business.registry.address in addresses  # the recipient's slots
    # the learned limit, proved by the simulation, is enough with the list's own cost
    margin = 100 + route.sender.settings.gas_margin_percent
    assert listed["gas"] == TX_BASE_GAS + learned * margin // 100
    assert route._gas_per_message == max(learned, with_list["gasUsed"] - TX_BASE_GAS)

    # the same delivery (same state, calldata, sender and gas limit) without a list
    assert business.provider.make_request("evm_revert", [snapshot])["result"]  # type: ignore[arg-type]
    plain_hash = business.eth.send_transaction(
        {
            "from": listed["from"],
            "to": listed["to"],
            "data": listed["input"],
            "gas": listed["gas"],
            "maxFeePerGas": listed["maxFeePerGas"],
            "maxPriorityFeePerGas": listed["maxPriorityFeePerGas"],
        }
    )
    plain = business.eth.wait_for_transaction_receipt(plain_hash, timeout=10)
    assert plain["status"] == 1 and not business.eth.get_transaction(plain_hash).get("accessList")
    assert [log["topics"] for log in plain["logs"]] == [log["topics"] for log in with_list["logs"]]
    assert with_list["gasUsed"] < plain["gasUsed"]


def test_a_learned_limit_the_simulation_refuses_falls_back_to_an_estimate_with_the_list(
    deployed: tuple[System, Cast, Relayer], monkeypatch: pytest.MonkeyPatch
) -> None:
    system, cast, relayer = deployed
    route = payment_to_business(relayer)
    route._gas_per_message = 1_000  # far too little: the simulation runs out of gas
    methods = Methods(route.sender, monkeypatch)
    estimated: list[Call] = []
    real_estimate = route.sender.estimate_gas

    def estimate(call: Call) -> int:
        estimated.append(call)
        return real_estimate(call)

    monkeypatch.setattr(route.sender, "estimate_gas", estimate)

    tx_hash = relay_one(system, cast, relayer)

    # the simulation failed at the learned limit, eth_call said it is no revert, and
    # the estimate, of the call with the list of the second simulation, was enough
    assert methods.sent.count("eth_createAccessList") == 2
    assert methods.sent.count("eth_call") == 1
    (call,) = estimated
    assert call.access_list and call.gas is None
    tx = system.business.chain.w3.eth.get_transaction(HexStr(tx_hash))
    receipt = system.business.chain.w3.eth.get_transaction_receipt(HexStr(tx_hash))
    assert tx["accessList"] and receipt["status"] == 1
    assert route._gas_per_message == receipt["gasUsed"] - TX_BASE_GAS


def test_with_access_lists_off_deliveries_go_without_and_pre_flight_with_eth_call(
    deployed: tuple[System, Cast, Relayer], monkeypatch: pytest.MonkeyPatch
) -> None:
    system, cast, relayer = deployed
    route = payment_to_business(relayer)
    route.sender.settings = replace(route.sender.settings, access_lists=False)
    methods = Methods(route.sender, monkeypatch)

    hashes = [relay_one(system, cast, relayer) for _ in range(2)]  # estimated, then learned

    for tx_hash in hashes:
        tx = system.business.chain.w3.eth.get_transaction(HexStr(tx_hash))
        assert not tx.get("accessList")
    assert "eth_createAccessList" not in methods.sent
    assert methods.sent.count("eth_call") == 2


def test_a_reverting_simulation_reports_the_decoded_error_with_its_data_and_sends_nothing(
    deployed: tuple[System, Cast, Relayer], monkeypatch: pytest.MonkeyPatch
) -> None:
    system, cast, _ = deployed
    open_trades(system, cast, 1)
    (sent,) = system.payment.outbox.events.MessageSent.get_logs(from_block=0)
    inbox = system.business.inbox
    # one signature where the threshold asks two: the inbox refuses with a custom error
    data = call_data(inbox, "deliver", [bytes(sent["args"]["message"]), b"\x01" * 65])
    w3 = system.business.chain.w3
    sender = Sender(w3, Signer(cast.gas), "business", FAST)
    methods = Methods(sender, monkeypatch)
    block, nonce = w3.eth.block_number, w3.eth.get_transaction_count(cast.gas.address)

    with pytest.raises(PreflightReverted) as raised:
        sender.send(Call(inbox.address, data))

    # the simulation first, then eth_call for the revert data: what the judge decodes
    assert methods.sent[-2:] == ["eth_createAccessList", "eth_call"]
    verdict = RevertJudge.for_abis([inbox.abi]).judge(raised.value.data)
    assert verdict.error.name == "InboxSignaturesLength"
    assert dict(verdict.error.args) == {"length": 65, "expected": 130}
    assert w3.eth.block_number == block
    assert w3.eth.get_transaction_count(cast.gas.address, "pending") == nonce


# --- on a bare node -------------------------------------------------------------------------


@pytest.fixture
def without_access_lists(node: AnvilNode) -> Iterator[str]:
    """A JSON-RPC proxy to `node` that answers eth_createAccessList as an unknown method
    (JSON-RPC -32601), as nodes without it do; every other request goes through."""
    proxy = NodeWithout(node.url, ["eth_createAccessList"])
    try:
        yield proxy.url
    finally:
        proxy.close()


def test_a_node_without_the_method_is_remembered_and_pre_flighted_with_eth_call(
    without_access_lists: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # remembered in a set of this test's own: a later node on a reused port must not be
    monkeypatch.setattr(sender_module, "_NO_ACCESS_LIST", set())
    key, recipient = dev_accounts(2)  # TEST KEYS ONLY
    w3 = Web3(Web3.HTTPProvider(without_access_lists, request_kwargs={"timeout": 5}))
    sender = Sender(w3, Signer(key), "payment", FAST)
    methods = Methods(sender, monkeypatch)
    before = w3.eth.get_balance(recipient.address)

    for _ in range(2):
        mined = sender.send_and_wait(Call(recipient.address, value=7, gas=21_000))
        assert mined.succeeded

    assert w3.eth.get_balance(recipient.address) == before + 14
    asked = [m for m in methods.sent if m in ("eth_createAccessList", "eth_call")]
    # asked once, answered unknown, then eth_call for that send and every later one
    assert asked == ["eth_createAccessList", "eth_call", "eth_call"]
    assert {without_access_lists} == sender_module._NO_ACCESS_LIST


def test_a_send_on_a_bare_node_with_an_empty_list_goes_without_one(
    node: AnvilNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, recipient = dev_accounts(2)  # TEST KEYS ONLY
    w3 = Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 5}))
    sender = Sender(w3, Signer(key), "payment", FAST)
    methods = Methods(sender, monkeypatch)
    mined = sender.send_and_wait(Call(recipient.address, value=1, gas=21_000))
    assert mined.succeeded and "eth_createAccessList" in methods.sent
    assert mined.gas_used == 21_000  # nothing listed: a plain transfer's cost
    assert not w3.eth.get_transaction(HexStr(mined.tx_hash)).get("accessList")


def test_a_simulation_whose_result_carries_an_error_is_pre_flighted_again_with_eth_call(
    node: AnvilNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    """geth answers a failed eth_createAccessList with a result that carries `error` (and no
    revert data), where anvil answers a JSON-RPC error: either way the plain eth_call
    decides, and a call it passes goes without a list."""
    key, recipient = dev_accounts(2)  # TEST KEYS ONLY
    w3 = Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 5}))
    sender = Sender(w3, Signer(key), "payment", FAST)
    methods = Methods(sender, monkeypatch)
    recording = sender._raw
    assert recording is not None
    forward = recording.batch

    def geth_form(requests_: Any) -> Any:
        answers = forward(requests_)
        return [
            {"jsonrpc": "2.0", "id": a.get("id"), "result": {"accessList": [], "error": "failed"}}
            if method == "eth_createAccessList"
            else a
            for (method, _), a in zip(requests_, answers, strict=True)
        ]

    monkeypatch.setattr(recording, "batch", geth_form)
    mined = sender.send_and_wait(Call(recipient.address, value=1, gas=21_000))

    assert mined.succeeded
    asked = [m for m in methods.sent if m in ("eth_createAccessList", "eth_call")]
    assert asked == ["eth_createAccessList", "eth_call"]
    assert not w3.eth.get_transaction(HexStr(mined.tx_hash)).get("accessList")


# --- which entries are worth sending --------------------------------------------------------

SENDER = "0x" + "aa" * 20
TARGET = "0x" + "bb" * 20
OTHER = "0x" + "cc" * 20
SLOT = "0x" + "00" * 31 + "01"


def entry(address: str, slots: int = 0) -> dict[str, Any]:
    return {"address": address, "storageKeys": [SLOT[:-2] + f"{n:02x}" for n in range(slots)]}


def test_the_target_the_sender_and_the_precompiles_are_left_out() -> None:
    answer = [
        entry(TARGET, 3),
        entry(SENDER),
        entry("0x0000000000000000000000000000000000000001"),
        entry("0x0000000000000000000000000000000000000100"),
        entry(OTHER, 2),
    ]
    kept = useful_access_list(answer, Web3.to_checksum_address(SENDER), TARGET)
    assert kept == (
        AccessEntry(Web3.to_checksum_address(OTHER), tuple(entry(OTHER, 2)["storageKeys"])),
    )


def test_a_warm_address_with_more_slots_than_its_entry_costs_is_kept() -> None:
    # 25 slots save 2,500 against the entry's 2,400; 24 save exactly what it costs
    assert useful_access_list([entry(TARGET, 24)], SENDER, TARGET) == ()
    (kept,) = useful_access_list([entry(TARGET, 25)], SENDER, TARGET)
    assert len(kept.storage_keys) == 25


def test_an_answer_that_is_not_a_list_gives_none() -> None:
    assert useful_access_list(None, SENDER, TARGET) == ()
    assert useful_access_list([{"address": "nope"}, "x"], SENDER, TARGET) == ()
