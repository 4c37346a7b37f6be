"""pvd.relayer.quorum: attesters serve their own signatures and pull a verified quorum.

Three attesters run in-process, each with its own store and a real HTTP signature server
on a free port. Their keys are the well-known development keys (pvd.chain.connection.dev_accounts:
TEST KEYS ONLY). The verifier stands in for pvd.protocol.messages' EIP-712 verification: it signs
and recovers keccak("pvd-test-quorum:" || message id), which is enough to test that the
exchange never trusts a peer.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_typing import Hash32
from eth_utils.crypto import keccak

from pvd.chain.connection import dev_accounts
from pvd.chain.ports import free_port
from pvd.relayer.config import Peer, QuorumConfig, Route
from pvd.relayer.keys import Signer
from pvd.relayer.metrics import RelayerMetrics
from pvd.relayer.quorum import (
    SECP256K1_N,
    AttesterSet,
    PeerFailure,
    PushedSignatures,
    QuorumClient,
    SignatureServer,
    serve_signatures,
)
from pvd.relayer.store import SeenMessage, SourceLocation, Store

ROUTE = Route.BUSINESS_TO_PAYMENT
TIMEOUT = 0.3  # the client's per-peer timeout in these tests
# TEST KEYS ONLY: the public development mnemonic's accounts 1, 2, 3 are the attesters,
# account 4 is a key outside the attester set.
ATTESTER_KEYS = dev_accounts(5)[1:4]
OUTSIDER_KEY = dev_accounts(5)[4]


def digest(message_id: bytes) -> bytes:
    return keccak(b"pvd-test-quorum:" + message_id)


class DigestVerifier:
    """The test verifier: recovers the signer of digest(message id)."""

    def recover(self, message_id: bytes, signature: bytes) -> str:
        return str(Account._recover_hash(Hash32(digest(message_id)), signature=signature))


def message_id(n: int) -> str:
    return "0x" + keccak(f"message {n}".encode()).hex()


def sign(signer: Signer, mid: str) -> bytes:
    return signer.sign_hash(digest(bytes.fromhex(mid[2:])))


def seen(mid: str) -> SeenMessage:
    return SeenMessage(
        message_id=mid,
        message=b"bytes of " + mid.encode(),
        source=SourceLocation(
            block=7, block_hash="0x" + "ab" * 32, tx_hash="0x" + "cd" * 32, log_index=0
        ),
    )


@dataclass
class Attester:
    """One in-process attester: key, store, signature server."""

    name: str
    signer: Signer
    store: Store
    server: SignatureServer

    @property
    def address(self) -> str:
        return self.signer.address

    @property
    def peer(self) -> Peer:
        return Peer(self.address, self.server.url)

    def sign(self, mid: str) -> bytes:
        """What the relay loop does: store the message, sign it, mark it signed."""
        self.store.observe(ROUTE, seen(mid))
        signature = sign(self.signer, mid)
        self.store.mark_signed(mid, self.address, signature)
        return signature


@pytest.fixture
def attesters(tmp_path: Path) -> Iterator[list[Attester]]:
    made: list[Attester] = []
    try:
        for index, key in enumerate(ATTESTER_KEYS, start=1):
            store = Store(tmp_path / f"attester-{index}.sqlite")
            signer = Signer(key)
            server = SignatureServer(store, signer.address, "127.0.0.1", free_port())
            made.append(Attester(f"attester-{index}", signer, store, server))
        yield made
    finally:
        closing = [threading.Thread(target=a.server.close) for a in made]  # in parallel
        for thread in closing:
            thread.start()
        for thread in closing:
            thread.join()
        for attester in made:
            attester.store.close()


@pytest.fixture
def attester_set(attesters: list[Attester]) -> AttesterSet:
    return AttesterSet.of([a.address for a in attesters], threshold=2)


@pytest.fixture
def metrics() -> RelayerMetrics:
    return RelayerMetrics()


@pytest.fixture
def make_client(
    metrics: RelayerMetrics,
) -> Iterator[Callable[[Attester, list[Peer]], QuorumClient]]:
    clients: list[QuorumClient] = []

    def make(owner: Attester, peers: list[Peer]) -> QuorumClient:
        client = QuorumClient(peers, DigestVerifier(), owner.store, metrics, timeout=TIMEOUT)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def peers_of(owner: Attester, attesters: list[Attester]) -> list[Peer]:
    return [a.peer for a in attesters if a is not owner]


def failures(metrics: RelayerMetrics, reason: str) -> float:
    value = metrics.registry.get_sample_value(
        "pvd_relay_failures_total", {"route": ROUTE.value, "reason": reason}
    )
    return 0.0 if value is None else value


def eventually(check: Callable[[], bool], within: float = 2.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


class CannedPeer:
    """A peer that answers every request with the same status and body (a liar)."""

    def __init__(self, status: int, body: bytes) -> None:
        canned = (status, body)

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(canned[0])
                self.send_header("Content-Length", str(len(canned[1])))
                self.end_headers()
                self.wfile.write(canned[1])

            do_POST = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def canned() -> Iterator[Callable[[int, bytes], CannedPeer]]:
    made: list[CannedPeer] = []

    def make(status: int, body: bytes) -> CannedPeer:
        peer = CannedPeer(status, body)
        made.append(peer)
        return peer

    yield make
    for peer in made:
        peer.close()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield int(sock.getsockname()[1])
    sock.close()


def answer(mid: str, signer: str, signature: bytes) -> bytes:
    return json.dumps(
        {"message_id": mid, "signer": signer, "signature": "0x" + signature.hex()}
    ).encode()


# --- the server -----------------------------------------------------------------------


def get(url: str) -> tuple[int, dict[str, Any]]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_server_serves_its_own_signature_of_a_message(attesters: list[Attester]) -> None:
    a = attesters[0]
    mid = message_id(1)
    signature = a.sign(mid)
    status, body = get(f"{a.server.url}/signatures/{mid}")
    assert status == 200
    assert body == {"message_id": mid, "signer": a.address, "signature": "0x" + signature.hex()}


def test_the_server_answers_404_for_a_message_it_has_not_signed(
    attesters: list[Attester],
) -> None:
    status, body = get(f"{attesters[0].server.url}/signatures/{message_id(2)}")
    assert status == 404
    assert body["error"] == "not signed"


def test_the_server_never_serves_a_peers_signature_from_its_store(
    attesters: list[Attester],
) -> None:
    a, b = attesters[0], attesters[1]
    mid = message_id(3)
    a.store.add_signature(mid, b.address, sign(b.signer, mid))
    status, _ = get(f"{a.server.url}/signatures/{mid}")
    assert status == 404


def test_the_server_refuses_a_malformed_message_id(attesters: list[Attester]) -> None:
    status, body = get(f"{attesters[0].server.url}/signatures/0x1234")
    assert status == 400
    assert "64 hex digits" in body["error"]


def test_the_server_reports_health_and_its_signer(attesters: list[Attester]) -> None:
    status, body = get(f"{attesters[0].server.url}/health")
    assert (status, body) == (200, {"status": "ok", "signer": attesters[0].address})


def post(url: str, body: object) -> tuple[int, Any]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "x"}
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_no_request_writes_the_servers_store(attesters: list[Attester]) -> None:
    a, b, _ = attesters
    mid = message_id(4)
    entry = {"message_id": mid, "signer": b.address, "signature": "0x" + sign(b.signer, mid).hex()}
    assert post(f"{a.server.url}/signatures/{mid}", {})[0] == 404
    # the fixture's servers take no pushes; a server given a pool keeps them in memory
    assert post(f"{a.server.url}/signatures/push", {"signatures": [entry]})[0] == 404
    assert a.store.signatures(mid) == {}


def test_the_batched_lookup_answers_the_signed_ones_only(attesters: list[Attester]) -> None:
    a = attesters[0]
    signed, unsigned = message_id(5), message_id(6)
    signature = a.sign(signed)
    status, body = post(f"{a.server.url}/signatures/lookup", {"message_ids": [signed, unsigned]})
    assert status == 200
    assert body == {"signer": a.address, "signatures": {signed: "0x" + signature.hex()}}


@pytest.mark.parametrize(
    "body",
    [
        {"message_ids": ["0x1234"]},
        {"message_ids": "0x" + "00" * 32},
        {"message_ids": ["0x" + "00" * 32] * 1001},
        ["not", "an", "object"],
    ],
)
def test_the_batched_lookup_refuses_bad_requests(attesters: list[Attester], body: Any) -> None:
    assert post(f"{attesters[0].server.url}/signatures/lookup", body)[0] in (400, 413)


def test_a_push_keeps_only_canonical_signatures_by_configured_peers(tmp_path: Path) -> None:
    a, b = Signer(ATTESTER_KEYS[0]), Signer(ATTESTER_KEYS[1])
    outsider = Signer(OUTSIDER_KEY)
    woken: list[int] = []
    pushed = PushedSignatures([b.address])
    pushed.add_listener(lambda: woken.append(1))
    mid = message_id(7)
    good = sign(b, mid)
    malleated = (
        good[:32]
        + (SECP256K1_N - int.from_bytes(good[32:64], "big")).to_bytes(32, "big")
        + bytes([good[64] ^ 1])
    )
    with (
        Store(tmp_path / "a.sqlite") as store,
        SignatureServer(store, a.address, "127.0.0.1", free_port(), pushed) as server,
    ):

        def entry(signer: Signer, signature: bytes) -> dict[str, str]:
            return {
                "message_id": mid,
                "signer": signer.address,
                "signature": "0x" + signature.hex(),
            }

        status, body = post(
            f"{server.url}/signatures/push",
            {"signatures": [entry(outsider, sign(outsider, mid)), entry(b, malleated)]},
        )
        assert (status, body, pushed.get(mid), woken) == (200, {"accepted": 0}, {}, [])
        status, body = post(f"{server.url}/signatures/push", {"signatures": [entry(b, good)]})
        assert (status, body) == (200, {"accepted": 1})
        assert pushed.get(mid) == {b.address: good}
        assert woken == [1]
        assert store.signatures(mid) == {}  # memory only, until verified and used
        assert post(f"{server.url}/signatures/push", {"signatures": "x"})[0] == 400


def test_pushed_signatures_hold_at_most_their_capacity_oldest_dropped() -> None:
    b = Signer(ATTESTER_KEYS[1])
    pushed = PushedSignatures([b.address], capacity=2)
    ids = [message_id(n) for n in (40, 41, 42)]
    pushed.add((mid, b.address, sign(b, mid)) for mid in ids)
    assert len(pushed) == 2 and pushed.get(ids[0]) == {} and b.address in pushed.get(ids[2])


def test_serve_signatures_does_not_serve_on_port_zero(attesters: list[Attester]) -> None:
    config = QuorumConfig(listen_host="127.0.0.1", listen_port=0, peers=())
    assert serve_signatures(config, attesters[0].store, attesters[0].address) is None


def test_serve_signatures_listens_where_the_config_says(attesters: list[Attester]) -> None:
    port = free_port()
    config = QuorumConfig(listen_host="127.0.0.1", listen_port=port, peers=())
    server = serve_signatures(config, attesters[0].store, attesters[0].address)
    assert server is not None
    try:
        assert server.port == port
        assert get(f"{server.url}/health")[0] == 200
    finally:
        server.close()


# --- the quorum -----------------------------------------------------------------------


def test_two_of_three_signatures_make_a_quorum(
    attesters: list[Attester], attester_set: AttesterSet, make_client: Any
) -> None:
    a, b, _ = attesters
    mid = message_id(10)
    sig_a, sig_b = a.sign(mid), b.sign(mid)
    quorum = make_client(a, peers_of(a, attesters)).collect(mid, attester_set, ROUTE)
    assert quorum is not None
    expected = sorted([(a.address, sig_a), (b.address, sig_b)], key=lambda p: int(p[0], 16))
    assert list(zip(quorum.signers, quorum.signatures, strict=True)) == expected
    assert quorum.message_id == mid
    assert a.store.signatures(mid) == {a.address: sig_a, b.address: sig_b}  # b's kept


def test_one_signature_is_not_a_quorum_of_two(
    attesters: list[Attester], attester_set: AttesterSet, make_client: Any, metrics: Any
) -> None:
    a = attesters[0]
    mid = message_id(11)
    a.sign(mid)
    client = make_client(a, peers_of(a, attesters))
    assert client.collect(mid, attester_set, ROUTE) is None
    assert client.failure_counts() == {}  # "not signed yet" (404) is not a failure
    assert list(a.store.signatures(mid)) == [a.address]


def test_a_quorum_is_reached_by_an_attester_that_has_not_signed(
    attesters: list[Attester], attester_set: AttesterSet, make_client: Any
) -> None:
    a, b, c = attesters
    mid = message_id(12)
    b.sign(mid)
    c.sign(mid)
    quorum = make_client(a, peers_of(a, attesters)).collect(mid, attester_set, ROUTE)
    assert quorum is not None
    assert set(quorum.signers) == {b.address, c.address}


def test_quorum_signers_are_distinct_and_in_ascending_address_order(
    attesters: list[Attester], make_client: Any
) -> None:
    mid = message_id(13)
    for attester in attesters:
        attester.sign(mid)
    every = AttesterSet.of([a.address for a in attesters], threshold=3)
    owner = attesters[2]
    quorum = make_client(owner, peers_of(owner, attesters)).collect(mid, every, ROUTE)
    assert quorum is not None
    numbers = [int(s, 16) for s in quorum.signers]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3
    for signer, signature in zip(quorum.signers, quorum.signatures, strict=True):
        assert DigestVerifier().recover(bytes.fromhex(mid[2:]), signature) == signer


def test_a_quorum_takes_exactly_threshold_signatures(
    attesters: list[Attester], attester_set: AttesterSet, make_client: Any
) -> None:
    mid = message_id(14)
    for attester in attesters:
        attester.sign(mid)
    owner = attesters[0]
    quorum = make_client(owner, peers_of(owner, attesters)).collect(mid, attester_set, ROUTE)
    assert quorum is not None
    assert len(quorum.signers) == len(quorum.signatures) == 2
    assert owner.address in quorum.signers  # its own, from its store
    assert set(quorum.signers) <= attester_set.members


def test_signatures_already_in_the_store_need_no_peer(
    attesters: list[Attester], attester_set: AttesterSet, make_client: Any
) -> None:
    a, b, c = attesters
    mid = message_id(15)
    a.sign(mid)
    b.sign(mid)
    client = make_client(a, peers_of(a, attesters))
    assert client.collect(mid, attester_set, ROUTE) is not None
    b.server.close()
    c.server.close()
    again = client.collect(mid, attester_set, ROUTE)
    assert again is not None and b.address in again.signers
    assert client.failure_counts() == {}  # no peer was asked


def test_a_stored_signature_of_a_removed_attester_does_not_count(
    attesters: list[Attester], make_client: Any
) -> None:
    a, b, c = attesters
    mid = message_id(16)
    a.sign(mid)
    b.sign(mid)
    client = make_client(a, peers_of(a, attesters))
    full = AttesterSet.of([x.address for x in attesters], 2)
    assert client.collect(mid, full, ROUTE) is not None  # b's signature now in a's store
    without_b = AttesterSet.of([a.address, c.address], 2)
    assert client.collect(mid, without_b, ROUTE) is None


# --- lying peers ----------------------------------------------------------------------


def test_a_peer_serving_a_non_attesters_signature_is_skipped_and_counted(
    attesters: list[Attester],
    attester_set: AttesterSet,
    make_client: Any,
    metrics: RelayerMetrics,
    tmp_path: Path,
) -> None:
    a, b, c = attesters
    mid = message_id(20)
    a.sign(mid)
    liar_store = Store(tmp_path / "liar.sqlite")
    # the liar answers at b's URL, in b's name, with a signature by an outsider's key
    liar_store.add_signature(mid, b.address, sign(Signer(OUTSIDER_KEY), mid))
    with SignatureServer(liar_store, b.address, "127.0.0.1", free_port()) as liar:
        client = make_client(a, [Peer(b.address, liar.url), c.peer])
        assert client.collect(mid, attester_set, ROUTE) is None
    liar_store.close()
    assert client.failure_counts() == {"peer_not_attester": 1}
    assert failures(metrics, "peer_not_attester") == 1
    assert list(a.store.signatures(mid)) == [a.address]  # nothing from the liar kept


def test_a_peer_serving_another_attesters_signature_does_not_count_twice(
    attesters: list[Attester], attester_set: AttesterSet, make_client: Any, canned: Any
) -> None:
    a, b, c = attesters
    mid = message_id(21)
    sig_a = a.sign(mid)
    # c asks a (honest) and "b", who serves a copy of a's genuine signature
    liar = canned(200, answer(mid, a.address, sig_a))
    client = make_client(c, [a.peer, Peer(b.address, liar.url)])
    assert client.collect(mid, attester_set, ROUTE) is None
    assert client.failure_counts() == {"peer_wrong_signer": 1}
    assert list(c.store.signatures(mid)) == [a.address]


def test_a_peer_claiming_to_be_the_signer_of_another_attesters_signature_is_skipped(
    attesters: list[Attester], attester_set: AttesterSet, make_client: Any, canned: Any
) -> None:
    a, b, c = attesters
    mid = message_id(22)
    sig_a = a.sign(mid)
    liar = canned(200, answer(mid, b.address, sig_a))  # a's signature, in b's name
    client = make_client(c, [a.peer, Peer(b.address, liar.url)])
    assert client.collect(mid, attester_set, ROUTE) is None
    assert client.failure_counts() == {"peer_wrong_signer": 1}


def test_a_peer_answering_about_another_message_is_skipped(
    attesters: list[Attester], attester_set: AttesterSet, make_client: Any, canned: Any
) -> None:
    a, b, c = attesters
    mid, other = message_id(23), message_id(24)
    a.sign(mid)
    liar = canned(200, answer(other, b.address, sign(b.signer, other)))
    client = make_client(a, [Peer(b.address, liar.url), c.peer])
    assert client.collect(mid, attester_set, ROUTE) is None
    assert client.failure_counts() == {"peer_wrong_message": 1}


def test_a_peers_signature_of_another_message_under_this_id_is_skipped(
    attesters: list[Attester], attester_set: AttesterSet, make_client: Any, canned: Any
) -> None:
    a, b, c = attesters
    mid, other = message_id(25), message_id(26)
    a.sign(mid)
    liar = canned(200, answer(mid, b.address, sign(b.signer, other)))
    client = make_client(a, [Peer(b.address, liar.url), c.peer])
    assert client.collect(mid, attester_set, ROUTE) is None
    # recovering over this id yields an unrelated address: not an attester
    assert client.failure_counts() == {"peer_not_attester": 1}


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (200, b"not json at all", PeerFailure.GARBAGE),
        (200, b"[1, 2, 3]", PeerFailure.GARBAGE),
        (200, b'{"message_id": "0x00", "signer": 7}', PeerFailure.GARBAGE),
        (200, b"{" + b" " * 10_000 + b"}", PeerFailure.GARBAGE),
        (500, b"{}", PeerFailure.HTTP_ERROR),
        (200, None, PeerFailure.BAD_SIGNATURE),
    ],
    ids=["not-json", "not-object", "bad-fields", "too-large", "http-500", "unrecoverable"],
)
def test_a_peer_answering_garbage_is_skipped_and_counted(
    attesters: list[Attester],
    attester_set: AttesterSet,
    make_client: Any,
    canned: Any,
    metrics: RelayerMetrics,
    status: int,
    body: bytes | None,
    reason: PeerFailure,
) -> None:
    a, b, c = attesters
    mid = message_id(27)
    a.sign(mid)
    if body is None:  # well-formed, but r = s = 0 recovers nobody
        body = answer(mid, b.address, bytes(64) + b"\x1b")
    liar = canned(status, body)
    client = make_client(a, [Peer(b.address, liar.url), c.peer])
    assert client.collect(mid, attester_set, ROUTE) is None
    assert client.failure_counts() == {reason.value: 1}
    assert failures(metrics, reason.value) == 1


def test_a_peer_serving_the_malleated_twin_of_its_signature_is_skipped(
    attesters: list[Attester], attester_set: AttesterSet, make_client: Any, canned: Any
) -> None:
    a, b, c = attesters
    mid = message_id(28)
    a.sign(mid)
    genuine = sign(b.signer, mid)
    s = int.from_bytes(genuine[32:64], "big")
    twin = genuine[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - genuine[64]])
    # the twin recovers to b off-chain, but the inbox (low-s rule) would reject it
    assert DigestVerifier().recover(bytes.fromhex(mid[2:]), twin) == b.address
    liar = canned(200, answer(mid, b.address, twin))
    client = make_client(a, [Peer(b.address, liar.url), c.peer])
    assert client.collect(mid, attester_set, ROUTE) is None
    assert client.failure_counts() == {"peer_bad_signature": 1}


# --- dead peers -----------------------------------------------------------------------


def test_a_peer_that_refuses_connections_is_skipped_at_once(
    attesters: list[Attester], attester_set: AttesterSet, make_client: Any
) -> None:
    a, b, _ = attesters
    mid = message_id(30)
    a.sign(mid)
    b.server.close()
    client = make_client(a, peers_of(a, attesters))
    started = time.monotonic()
    assert client.collect(mid, attester_set, ROUTE) is None
    assert time.monotonic() - started < TIMEOUT
    assert client.failure_counts() == {"peer_unreachable": 1}


def test_a_silent_peer_costs_at_most_the_timeout(
    attesters: list[Attester],
    attester_set: AttesterSet,
    make_client: Any,
    silent_port: int,
) -> None:
    a, b, c = attesters
    mid = message_id(31)
    a.sign(mid)
    client = make_client(a, [Peer(b.address, f"http://127.0.0.1:{silent_port}"), c.peer])
    started = time.monotonic()
    assert client.collect(mid, attester_set, ROUTE) is None
    elapsed = time.monotonic() - started
    assert TIMEOUT * 0.9 <= elapsed < TIMEOUT + 0.3
    assert client.failure_counts() == {"peer_timeout": 1}


@pytest.fixture
def trickling_url() -> Iterator[str]:
    """A peer that answers 200 at once, then sends its body one byte every 50 ms."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            try:
                for _ in range(1000):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.05)
            except OSError:
                pass  # the client hung up: expected

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_peer_trickling_its_answer_costs_at_most_the_timeout(
    attesters: list[Attester],
    attester_set: AttesterSet,
    make_client: Any,
    trickling_url: str,
) -> None:
    a, b, c = attesters
    mid = message_id(34)
    a.sign(mid)
    client = make_client(a, [Peer(b.address, trickling_url), c.peer])
    started = time.monotonic()
    assert client.collect(mid, attester_set, ROUTE) is None
    assert time.monotonic() - started < TIMEOUT + 0.3
    assert client.failure_counts() == {"peer_timeout": 1}


def test_a_silent_peer_does_not_delay_a_quorum_the_others_complete(
    attesters: list[Attester],
    attester_set: AttesterSet,
    make_client: Any,
    silent_port: int,
    metrics: RelayerMetrics,
) -> None:
    a, b, c = attesters
    mid = message_id(32)
    a.sign(mid)
    c.sign(mid)
    client = make_client(a, [Peer(b.address, f"http://127.0.0.1:{silent_port}"), c.peer])
    started = time.monotonic()
    quorum = client.collect(mid, attester_set, ROUTE)
    assert time.monotonic() - started < TIMEOUT
    assert quorum is not None and set(quorum.signers) == {a.address, c.address}
    # the silent peer is still counted, once its request times out
    eventually(lambda: failures(metrics, "peer_timeout") == 1)


# --- pushes and the batched pull -----------------------------------------------------


@pytest.fixture
def pushing(tmp_path: Path) -> Iterator[list[tuple[Attester, PushedSignatures]]]:
    """Three attesters whose servers take pushes (as `pvd relay` runs them)."""
    made: list[tuple[Attester, PushedSignatures]] = []
    signers = [Signer(key) for key in ATTESTER_KEYS]
    try:
        for index, signer in enumerate(signers, start=1):
            store = Store(tmp_path / f"push-{index}.sqlite")
            pool = PushedSignatures(s.address for s in signers if s is not signer)
            server = SignatureServer(store, signer.address, "127.0.0.1", free_port(), pool)
            made.append((Attester(f"attester-{index}", signer, store, server), pool))
        yield made
    finally:
        for attester, _ in made:
            attester.server.close()
            attester.store.close()


def test_a_pushed_signature_completes_a_quorum_without_asking_any_peer(
    pushing: list[tuple[Attester, PushedSignatures]], metrics: RelayerMetrics
) -> None:
    (a, pool_a), (b, _), (c, _) = pushing
    every = [x for x, _ in pushing]
    mids = [message_id(n) for n in range(50, 60)]
    with (
        QuorumClient(peers_of(a, every), DigestVerifier(), a.store, metrics, pushed=pool_a) as ca,
        QuorumClient(peers_of(b, every), DigestVerifier(), b.store, metrics) as cb,
    ):
        attesters = AttesterSet.of([x.address for x in every], 2)
        for mid in mids:
            a.sign(mid)
        assert ca.collect_many(mids, attesters, ROUTE) == {}  # short, not pulled yet
        cb.push(b.address, {mid: b.sign(mid) for mid in mids}, ROUTE)  # one request per peer
        eventually(lambda: len(pool_a) == len(mids))
        quorums = ca.collect_many(mids, attesters, ROUTE)
        assert sorted(quorums) == sorted(mids)
        assert all(set(q.signers) == {a.address, b.address} for q in quorums.values())
        assert ca.lookups_sent == 0
        eventually(lambda: cb.pushes_sent == 2)  # to a, and to c (which keeps it too)
        assert c.store.signatures(mids[0]) == {}


def test_a_quorum_short_for_a_while_is_pulled_in_one_request_per_peer(
    attesters: list[Attester], attester_set: AttesterSet, metrics: RelayerMetrics
) -> None:
    a, b, _ = attesters
    mids = [message_id(n) for n in range(60, 70)]
    for mid in mids:
        a.sign(mid)
        b.sign(mid)  # b never pushes (a push was lost): a pulls
    with QuorumClient(
        peers_of(a, attesters), DigestVerifier(), a.store, metrics, pull_after=1.0
    ) as client:
        assert client.collect_many(mids, attester_set, ROUTE, now=100.0) == {}
        assert client.lookups_sent == 0
        quorums = client.collect_many(mids, attester_set, ROUTE, now=101.0)
        assert sorted(quorums) == sorted(mids)
        assert client.lookups_sent == 2  # b and c, each asked for all ten at once
        assert a.store.signatures(mids[0])[b.address] == sign(b.signer, mids[0])
        assert client.failure_counts() == {}


def test_a_pulled_signature_by_someone_else_is_refused_and_counted(
    attesters: list[Attester], attester_set: AttesterSet, metrics: RelayerMetrics, canned: Any
) -> None:
    a, b, c = attesters
    mid = message_id(70)
    a.sign(mid)
    forged = {"signer": b.address, "signatures": {mid: "0x" + sign(c.signer, mid).hex()}}
    liar = canned(200, json.dumps(forged).encode())
    with QuorumClient(
        [Peer(b.address, liar.url)], DigestVerifier(), a.store, metrics, pull_after=0.0
    ) as client:
        assert client.collect_many([mid], attester_set, ROUTE) == {}
        assert client.failure_counts() == {"peer_wrong_signer": 1}
        assert list(a.store.signatures(mid)) == [a.address]


def test_peers_outside_the_attester_set_are_not_asked(
    attesters: list[Attester], make_client: Any, canned: Any
) -> None:
    a, b, c = attesters
    mid = message_id(33)
    a.sign(mid)
    c.sign(mid)
    outsider = canned(200, b"garbage that would be counted if asked")
    client = make_client(a, [Peer(Signer(OUTSIDER_KEY).address, outsider.url), c.peer])
    quorum = client.collect(mid, AttesterSet.of([a.address, b.address, c.address], 2), ROUTE)
    assert quorum is not None
    assert client.failure_counts() == {}


# --- the attester set -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("members", "threshold"),
    [((), 1), ((ATTESTER_KEYS[0].address,), 0), ((ATTESTER_KEYS[0].address,), 2), (("0x12",), 1)],
    ids=["empty", "threshold-0", "threshold-above-size", "not-an-address"],
)
def test_an_invalid_attester_set_is_refused(members: tuple[str, ...], threshold: int) -> None:
    with pytest.raises(ValueError):
        AttesterSet.of(members, threshold)


def test_an_attester_set_compares_addresses_in_any_case() -> None:
    address = ATTESTER_KEYS[0].address
    members = AttesterSet.of([address.lower()], 1)
    assert address in members and address.lower() in members
    assert members.members == frozenset({address})


class CountingVerifier(DigestVerifier):
    """The test verifier, counting the signatures it recovers."""

    def __init__(self) -> None:
        self.recovered: list[bytes] = []

    def recover(self, message_id: bytes, signature: bytes) -> str:
        self.recovered.append(bytes(signature))
        return super().recover(message_id, signature)


def test_an_attester_s_own_pushed_signatures_are_not_recovered_again_but_a_peer_s_are(
    pushing: list[tuple[Attester, PushedSignatures]], metrics: RelayerMetrics
) -> None:
    (a, pool_a), (b, _), _ = pushing
    every = [x for x, _ in pushing]
    mids = [message_id(n) for n in range(80, 85)]
    verifier = CountingVerifier()
    with (
        QuorumClient(peers_of(a, every), verifier, a.store, metrics, pushed=pool_a) as ca,
        QuorumClient(peers_of(b, every), DigestVerifier(), b.store, metrics) as cb,
    ):
        attesters = AttesterSet.of([x.address for x in every], 2)
        own = {mid: a.sign(mid) for mid in mids}  # signed and stored, as attest does
        ca.push(a.address, own, ROUTE)
        cb.push(b.address, {mid: b.sign(mid) for mid in mids}, ROUTE)
        eventually(lambda: len(pool_a) == len(mids))
        quorums = ca.collect_many(mids, attesters, ROUTE)
        assert sorted(quorums) == sorted(mids)
        assert all(set(q.signers) == {a.address, b.address} for q in quorums.values())
        # each of b's five recovered once; none of a's own
        assert sorted(verifier.recovered) == sorted(sign(b.signer, mid) for mid in mids)
        assert not set(verifier.recovered) & set(own.values())


def test_a_signature_stored_under_this_attester_but_not_pushed_by_it_is_still_recovered(
    attesters: list[Attester], attester_set: AttesterSet, metrics: RelayerMetrics
) -> None:
    a, b, _ = attesters
    mid = message_id(90)
    a.store.observe(ROUTE, seen(mid))
    a.store.mark_signed(mid, a.address, sign(b.signer, mid))  # not a's: refused on count
    verifier = CountingVerifier()
    with QuorumClient(peers_of(a, attesters), verifier, a.store, metrics) as client:
        assert client.verified_signatures(mid, attester_set) == {}
        assert verifier.recovered == [sign(b.signer, mid)]
