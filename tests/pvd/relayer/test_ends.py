"""pvd.relayer.ends' hot-path reads: the raw JSON-RPC transport (against a real anvil and
against servers that misbehave), the one-round-trip inbox view, and the scan's use of the
subscription's head in place of eth_blockNumber.

Keys: the public development mnemonic's accounts only (TEST KEYS ONLY).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_abi.exceptions import DecodingError
from eth_typing import HexStr
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import Web3RPCError

from pvd.bench.relay import funded, open_trades
from pvd.chain.anvil import AnvilNode
from pvd.chain.logs import logs_by_topic1
from pvd.protocol.messages import Message, PaymentHeld, message_id
from pvd.relayer.config import Route
from pvd.relayer.ends import (
    JsonRpc,
    call_data,
    decode_lone_bytes,
    encode_lone_bytes,
    inbox_records,
    inbox_view,
    json_rpc,
    rpc_batch,
    speaks_json_rpc,
)
from pvd.relayer.route import RelayRoute, RouteSettings
from pvd.relayer.store import Stage
from tests.pvd.relayer.test_confirmation import anvil_world as anvil_world  # the fixture
from tests.pvd.relayer.test_failures import World
from tests.pvd.relayer.test_failures import artifacts as artifacts  # the module fixture

P2B = Route.PAYMENT_TO_BUSINESS


def test_a_request_and_a_batch_answer_in_order(node: AnvilNode) -> None:
    rpc = JsonRpc(node.url, timeout=2)
    assert rpc.request("eth_chainId", [])["result"] == hex(31337)
    answers = rpc.batch([("eth_blockNumber", []), ("eth_chainId", []), ("eth_nope", [])])
    assert answers[0]["result"] == "0x0" and answers[1]["result"] == hex(31337)
    assert "error" in answers[2]


def test_rpc_batch_raises_a_node_error_and_keeps_a_revert_in_place(node: AnvilNode) -> None:
    w3 = Web3(Web3.HTTPProvider(node.url))
    # init code of a contract whose every call reverts with 32 bytes 0x..ff
    init = "0x6960ff60005260206000fd600052600a6016f3"
    sender = w3.eth.accounts[0]
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_transaction({"from": sender, "data": HexStr(init)})
    )
    reverter = receipt["contractAddress"]
    call = ("eth_call", [{"to": reverter, "data": "0x01"}, "latest"])
    number, reverted = rpc_batch(w3, [("eth_blockNumber", []), call])
    assert number == "0x1"
    assert isinstance(reverted, dict) and reverted["data"] == "0x" + "00" * 31 + "ff"
    with pytest.raises(Web3RPCError, match="eth_nope"):
        rpc_batch(w3, [("eth_blockNumber", []), ("eth_nope", [])])


def test_the_transport_is_made_once_per_provider_and_only_for_http() -> None:
    w3 = Web3(Web3.HTTPProvider("http://127.0.0.1:9", request_kwargs={"timeout": 3}))
    transport = json_rpc(w3)
    assert transport is not None and transport.timeout == 3 and json_rpc(w3) is transport
    assert json_rpc(Web3(Web3.EthereumTesterProvider())) is None


def test_a_refused_connection_is_an_os_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(OSError):
        JsonRpc(f"http://127.0.0.1:{port}", timeout=1).request("eth_chainId", [])


def test_a_silent_node_is_a_timeout() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(4)
        rpc = JsonRpc(f"http://127.0.0.1:{sock.getsockname()[1]}", timeout=0.2)
        with pytest.raises(TimeoutError):
            rpc.request("eth_chainId", [])


class _Scripted(BaseHTTPRequestHandler):
    """Answers per the server's `script`: a status and a body, then closes the connection
    (without saying so) if told to."""

    protocol_version = "HTTP/1.1"
    server: _ScriptedServer

    def setup(self) -> None:
        super().setup()
        self.server.connections += 1

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        status, body, close = self.server.script.pop(0)
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        if close:
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ScriptedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, script: list[tuple[int, bytes, bool]]) -> None:
        self.script = script
        self.connections = 0
        super().__init__(("127.0.0.1", 0), _Scripted)


@pytest.fixture
def scripted() -> Iterator[_ScriptedServer]:
    server = _ScriptedServer([])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _url(server: _ScriptedServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_an_http_error_status_is_an_http_error_with_its_status(scripted: _ScriptedServer) -> None:
    scripted.script.append((503, b"", False))
    with pytest.raises(requests.HTTPError) as raised:
        JsonRpc(_url(scripted), timeout=1).request("eth_chainId", [])
    assert raised.value.response is not None and raised.value.response.status_code == 503


def test_an_answer_that_is_not_json_rpc_is_a_connection_error(scripted: _ScriptedServer) -> None:
    scripted.script += [(200, b"<html>", False), (200, b'{"id": 99, "result": 1}', False)]
    rpc = JsonRpc(_url(scripted), timeout=1)
    with pytest.raises(requests.ConnectionError, match="not JSON"):
        rpc.request("eth_chainId", [])
    with pytest.raises(requests.ConnectionError, match="batch"):
        rpc.batch([("eth_chainId", []), ("eth_blockNumber", [])])


def test_a_kept_alive_connection_the_node_closed_is_replaced_once(
    scripted: _ScriptedServer,
) -> None:
    scripted.script += [(200, b'{"id": 1, "result": "0x1"}', True)] * 2
    rpc = JsonRpc(_url(scripted), timeout=1)
    assert rpc.request("eth_chainId", [])["result"] == "0x1"
    assert rpc.request("eth_chainId", [])["result"] == "0x1"  # on a new connection
    assert scripted.connections == 2 and not scripted.script


# --- the inbox view and the scan, on two anvils ----------------------------------------


def p2b(world: World) -> tuple[RelayRoute, Any]:
    relayer = world.relayer("attester")
    route = next(r for r in relayer.routes if r.route is P2B)
    return route, relayer


def test_the_inbox_view_reads_the_attester_set_and_records_in_one_batch(
    anvil_world: World,
) -> None:
    world = anvil_world
    route, _ = p2b(world)
    inbox = world.system.business.inbox
    zero = "0x" + "00" * 20
    never_sent = Message.of(
        route.source.domain,
        route.source.app("PvdSettlement").address,
        route.destination.domain,
        route.destination.app("TradeRegistry").address,
        2**40,
        PaymentHeld(b"\xab" * 32, b"\xcd" * 32, zero, zero, zero, 1, 1),
    ).encode()
    mid = "0x" + message_id(never_sent).hex()
    view = inbox_view(route.destination, {mid: never_sent})
    assert list(view.attesters) == list(inbox.functions.attesters().call())
    assert view.threshold == inbox.functions.threshold().call() == 2
    assert view.records == inbox_records(route.destination, {mid: never_sent})
    assert view.records[mid].status.name == "NONE"


def test_the_scan_takes_the_announced_head_and_asks_the_node_only_when_it_lags(
    anvil_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = anvil_world
    route, _ = p2b(world)
    route.tick()  # the first scan (with its sweep) puts the checkpoint at the head
    checkpoint = route.store.checkpoint(P2B)
    assert checkpoint is not None
    asked: list[object] = []
    transport = json_rpc(world.system.payment.chain.w3)
    assert transport is not None
    request, batch = transport.request, transport.batch

    def one(method: str, params: Any) -> dict[str, Any]:
        asked.append(method)
        return request(method, params)

    def many(requests_: Any) -> list[dict[str, Any]]:
        asked.append([method for method, _ in requests_])
        return batch(requests_)

    monkeypatch.setattr(transport, "request", one)
    monkeypatch.setattr(transport, "batch", many)
    announced = [checkpoint.block]
    route.head_hint = lambda: announced[0]
    assert route.scan() == [] and asked == []  # the announced head is scanned already

    open_trades(world.system, world.cast, 1)
    announced[0] = head = world.system.payment.chain.w3.eth.block_number
    new = route.scan()
    assert len(new) == 1 and asked == [["eth_getLogs", "eth_getBlockByNumber"]]
    record = route.store.get(new[0])
    assert record is not None and record.stage is Stage.SEEN
    assert route.store.checkpoint(P2B).block == head  # type: ignore[union-attr]

    asked.clear()
    announced[0] = head - 5  # behind the checkpoint (a late announcement): ask the node
    assert route.scan() == [] and asked == ["eth_blockNumber"]


def test_a_relayer_restarted_with_more_confirmations_keeps_its_checkpoint(
    anvil_world: World,
) -> None:
    """At depth 0 the checkpoint is the head; restarted at depth 2 the confirmed head is
    below it: the first scan re-reads below the checkpoint and leaves it where it is."""
    world = anvil_world
    b2p = Route.BUSINESS_TO_PAYMENT
    first = world.relayer("attester")
    first.tick()
    checkpoint = first.store.checkpoint(b2p)
    assert checkpoint is not None
    again = world.relayer("attester", business_settings=RouteSettings(confirmations=2))
    again.tick()
    assert again.store.checkpoint(b2p) == checkpoint
    open_trades(world.system, world.cast, 1)  # business blocks: the depth is reached
    again.tick()
    moved = again.store.checkpoint(b2p)
    assert moved is not None and moved.block == world.system.business.chain.w3.eth.block_number - 2


# --- a lone `bytes` argument (a message), encoded and decoded without eth-abi ------------


@pytest.mark.parametrize("length", [0, 1, 31, 32, 33, 64, 250, 1_000])
def test_a_lone_bytes_value_is_encoded_and_decoded_as_eth_abi_does(length: int) -> None:
    value = bytes((7 * i + 1) % 256 for i in range(length))
    encoded = abi_encode(["bytes"], [value])
    assert encode_lone_bytes(value) == encoded
    assert decode_lone_bytes(encoded) == value == abi_decode(["bytes"], encoded)[0]


def test_a_lone_bytes_value_in_another_layout_is_left_to_eth_abi() -> None:
    value = b"\x01" * 40
    # a valid encoding with the tail one word further on: eth-abi reads it, so do we
    skewed = (64).to_bytes(32, "big") + bytes(32) + abi_encode(["bytes"], [value])[32:]
    assert decode_lone_bytes(skewed) == abi_decode(["bytes"], skewed)[0] == value
    with pytest.raises(DecodingError):  # a length beyond the data: refused, as by eth-abi
        decode_lone_bytes((32).to_bytes(32, "big") + (999).to_bytes(32, "big") + value)


def test_calldata_with_a_message_argument_is_the_abi_encoding(anvil_world: World) -> None:
    route, _ = p2b(anvil_world)
    inbox = route.destination.inbox
    message = b"\x01" + b"\x22" * 300
    expected = inbox.encode_abi("deliveryStatus", [message])
    assert "0x" + call_data(inbox, "deliveryStatus", [message]).hex() == expected


def test_a_consumed_message_s_deliverer_and_block_are_its_delivery_event_s(
    anvil_world: World,
) -> None:
    """On a JSON-RPC node the delivery events are read as raw eth_getLogs: the same
    deliverer and block as web3's own read of the event."""
    world = anvil_world
    route, relayer = p2b(world)
    assert speaks_json_rpc(route.destination.chain.w3)
    trades = open_trades(world.system, world.cast, 2)
    assert relayer.run_until(lambda: all(funded(world.system, t) for t in trades), 60, 0.005)
    events = route.destination.inbox.events.MessageDelivered.get_logs(from_block=0)
    ids = {"0x" + bytes(e["args"]["messageId"]).hex(): e for e in events}
    messages = {mid: record.message for mid in ids if (record := relayer.store.get(mid))}
    assert len(messages) == len(ids) == 2
    found = inbox_records(route.destination, messages)
    for mid, event in ids.items():
        assert found[mid].status.name == "DELIVERED"
        assert found[mid].deliverer == world.cast.gas.address == event["args"]["deliverer"]
        assert found[mid].block == event["blockNumber"]
    topic0 = HexBytes(Web3.keccak(text="MessageDelivered(bytes32,uint32,address,address)"))
    by_web3 = logs_by_topic1(
        route.destination.chain.w3,
        route.destination.inbox.address,
        [topic0],
        [HexBytes(mid) for mid in ids],
        0,
        "latest",
    )
    assert sorted((log.topics[1].to_0x_hex(), log.block_number) for log in by_web3) == sorted(
        (mid, found[mid].block) for mid in ids
    )
