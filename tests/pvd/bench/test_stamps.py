"""The bench's WebSocket watch stamps each message with when its bytes reached the
socket (the kernel's SO_TIMESTAMPNS), not when a thread of the bench read it: read
late, a message keeps its arrival time, so two chains read in either order still give
each event's true order (a payout is never seen before the block that caused it)."""

from __future__ import annotations

import json
import time

from web3 import Web3
from websockets.sync.client import connect

from pvd.bench.processes import ChainWatch, StampedConnection, stamped_socket
from pvd.chain.anvil import AnvilNode


def ws_url(node: AnvilNode) -> str:
    return node.url.replace("http://", "ws://")


def test_a_message_read_late_keeps_the_moment_it_arrived(node: AnvilNode) -> None:
    w3 = Web3(Web3.HTTPProvider(node.url))
    url = ws_url(node)
    with connect(url, sock=stamped_socket(url), create_connection=StampedConnection) as ws:
        assert isinstance(ws, StampedConnection)
        request = {"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["newHeads"]}
        ws.send(json.dumps(request))
        json.loads(ws.recv(timeout=5))
        ws.stamps.popleft()
        before = time.monotonic()
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        mined = time.monotonic()
        time.sleep(0.3)  # the reader is late
        head = json.loads(ws.recv(timeout=5))
        read = time.monotonic()
        stamp = ws.stamps.popleft()
    assert head["params"]["result"]["number"] == hex(w3.eth.block_number)
    assert before <= stamp <= mined + 0.05  # when it came, not when it was read
    assert read - stamp >= 0.25


def test_the_watch_times_a_head_by_its_arrival(node: AnvilNode) -> None:
    w3 = Web3(Web3.HTTPProvider(node.url))
    watch = ChainWatch(ws_url(node), "0x" + "00" * 20)
    try:
        before = time.monotonic()
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        mined = time.monotonic()
        seen = watch.head_seen(int(w3.eth.block_number))
    finally:
        watch.close()
    assert before <= seen <= mined + 0.05
