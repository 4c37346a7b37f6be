"""How attesters' signatures meet: each attester serves its own, and pulls its peers'.

Owns the signature exchange of docs/adr/0005-signature-exchange.md:

- SignatureServer: this attester's signatures over HTTP (stdlib http.server in a daemon
  thread). `GET /signatures/<message id>` answers `{"message_id", "signer",
  "signature"}` (0x-hex) with 200, or 404 while this attester has not signed it;
  `POST /signatures/lookup` with `{"message_ids": [...]}` (at most MAX_BATCH) answers
  `{"signer", "signatures": {id: signature}}` for those it has signed (the batched
  pull); `GET /health` answers `{"status": "ok", "signer"}`. `POST /signatures/push`
  with `{"signatures": [{"message_id", "signer", "signature"}, ...]}` is how peers push
  what they have just signed: entries by a configured peer, in canonical form, are kept
  in memory (PushedSignatures, bounded) until used, and the route workers are woken.
  Nothing a request sends reaches the store unverified.
- QuorumClient: assembles quorums from the store's `signatures` table and the pushed
  ones; `push` sends this attester's new signatures to every peer in one request each;
  `collect_many` pulls, in one request per peer, only what is still missing after
  PULL_AFTER seconds (a peer restarted, a push was lost). Every signature is checked
  offline through an injected Verifier against the attester set and threshold the
  caller gives (the destination inbox's current ones). The result is m distinct current
  attesters' signatures in ascending signer order (what the inbox requires), or None
  while short.

A peer is never trusted: a peer that is down, slow, answers garbage, or a signature by
anyone but itself, by a non-attester, or for another message is skipped and counted
(`pvd_relay_failures_total{reason="peer_..."}`). The most a peer can do is withhold its
own signature. Web3 is not imported here: recovering a signer is the Verifier's job
(pvd.protocol.messages' EIP-712 verification in the relayer, a fake in tests).
"""

from __future__ import annotations

import functools
import http.client
import json
import re
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import urlsplit

from eth_utils.address import is_address, to_checksum_address

from pvd.relayer.config import Peer, QuorumConfig, Route
from pvd.relayer.log import relay_logger
from pvd.relayer.metrics import RelayerMetrics
from pvd.relayer.store import Store, hex32

SIGNATURE_BYTES = 65
# secp256k1's group order: a signature counts only with s <= N / 2 and v in {27, 28}, as
# the inbox (OpenZeppelin ECDSA) requires. Otherwise a peer could serve the malleated
# twin of its own signature, which recovers to it off-chain but reverts on-chain.
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
DEFAULT_TIMEOUT = 0.5  # seconds per peer request, connect to last byte
MAX_RESPONSE_BYTES = 4_096  # a signature answer is ~250 bytes; anything far larger is garbage
MAX_BATCH = 1_000  # message ids or signatures in one lookup or push
MAX_BATCH_BYTES = MAX_BATCH * 300  # a lookup answer or push body of MAX_BATCH entries fits
PUSH_TIMEOUT = 2.0  # seconds for one push request to a peer
PULL_AFTER = 1.0  # seconds a quorum may wait for pushes before peers are asked
PUSHED_CAPACITY = 100_000  # messages whose pushed signatures are kept (oldest dropped)
RECOVERED_CACHE = 200_000  # remembered (message id, signature) -> signer recoveries
_HEX_SIGNATURE = re.compile(r"^0x[0-9a-fA-F]{130}$")
_SIGNATURE_PATH = re.compile(r"^/signatures/(0x[0-9a-fA-F]{64})$")
_MESSAGE_ID = re.compile(r"^0x[0-9a-fA-F]{64}$")

_log = relay_logger("pvd.relayer.quorum")


class Verifier(Protocol):
    """Recovers who signed a message id (offline): pvd.protocol.messages' EIP-712 verification
    under the destination inbox's domain. May raise on a malformed signature."""

    def recover(self, message_id: bytes, signature: bytes) -> str: ...


@dataclass(frozen=True)
class AttesterSet:
    """The destination inbox's current attesters and threshold m, as the caller read them."""

    members: frozenset[str]
    threshold: int

    def __post_init__(self) -> None:
        if not self.members:
            raise ValueError("an attester set is never empty")
        if not all(isinstance(a, str) and is_address(a) for a in self.members):
            raise ValueError(f"attesters must be addresses, got {sorted(self.members)!r}")
        object.__setattr__(
            self, "members", frozenset(str(to_checksum_address(a)) for a in self.members)
        )
        if not 1 <= self.threshold <= len(self.members):
            raise ValueError(
                f"threshold must be 1..{len(self.members)} (the set's size), got {self.threshold}"
            )

    @classmethod
    def of(cls, members: Iterable[str], threshold: int) -> AttesterSet:
        return cls(frozenset(members), threshold)

    def __contains__(self, address: object) -> bool:
        return (
            isinstance(address, str)
            and is_address(address)
            and to_checksum_address(address) in self.members
        )


@dataclass(frozen=True)
class Quorum:
    """m signatures of distinct current attesters, in strictly ascending signer order."""

    message_id: str  # 0x-hex
    signers: tuple[str, ...]
    signatures: tuple[bytes, ...]


class PeerFailure(StrEnum):
    """Why a peer's answer was skipped (the metrics' `reason` label)."""

    UNREACHABLE = "peer_unreachable"  # connection refused, reset, no route
    TIMEOUT = "peer_timeout"  # no complete answer within the timeout
    HTTP_ERROR = "peer_http_error"  # a status other than 200 or 404
    GARBAGE = "peer_garbage"  # not the JSON answer described above, or too large
    WRONG_MESSAGE = "peer_wrong_message"  # an answer about another message id
    BAD_SIGNATURE = "peer_bad_signature"  # malformed, malleated, unrecoverable, or misnamed
    NOT_ATTESTER = "peer_not_attester"  # signed by someone outside the attester set
    WRONG_SIGNER = "peer_wrong_signer"  # a current attester's, but not the peer's own
    PUSH_FAILED = "peer_push_failed"  # a push of our signatures did not reach the peer


@dataclass(frozen=True)
class PeerAnswer:
    """What one peer request came to: a verified signature, nothing yet, or a failure."""

    peer: Peer
    signer: str | None = None
    signature: bytes | None = None
    failure: PeerFailure | None = None
    detail: str = ""


class PushedSignatures:
    """Signatures peers pushed, in memory until a quorum uses them (thread-safe).

    Only entries claiming a configured peer as signer, in canonical form, are kept; they
    are verified (recovered against the message) only when a quorum is assembled, since
    the message may not be seen here yet. At most `capacity` messages are held: the
    oldest are dropped first (a dropped signature is pulled again if still needed).
    Listeners (the route workers' Wake.notify) are called after every accepted push.
    """

    def __init__(self, signers: Iterable[str], capacity: int = PUSHED_CAPACITY) -> None:
        self.signers = frozenset(str(to_checksum_address(a)) for a in signers)
        self.capacity = capacity
        self._items: OrderedDict[str, dict[str, bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []
        self.accepted = 0  # signatures accepted since start

    def add_listener(self, listener: Callable[[], None]) -> None:
        with self._lock:
            self._listeners.append(listener)

    def add(self, entries: Iterable[tuple[str, str, bytes]]) -> int:
        """Keep (message id, signer, signature) entries that may be good; how many."""
        kept = 0
        with self._lock:
            for message_id, signer, signature in entries:
                if signer not in self.signers or not is_canonical(signature):
                    continue
                mid = hex32(message_id, "message id")
                self._items.setdefault(mid, {})[signer] = signature
                self._items.move_to_end(mid)
                kept += 1
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
            self.accepted += kept
            listeners = list(self._listeners) if kept else []
        for listener in listeners:
            listener()
        return kept

    def get(self, message_id: str) -> dict[str, bytes]:
        with self._lock:
            return dict(self._items.get(message_id, {}))

    def discard(self, message_id: str, signer: str) -> None:
        with self._lock:
            held = self._items.get(message_id)
            if held is not None:
                held.pop(signer, None)
                if not held:
                    del self._items[message_id]

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


def _parse_ids(value: object) -> list[str] | None:
    if not isinstance(value, list) or len(value) > MAX_BATCH:
        return None
    ids: list[str] = []
    for item in value:
        if not isinstance(item, str) or not _MESSAGE_ID.match(item):
            return None
        ids.append(item.lower())
    return ids


def _parse_pushed(value: object) -> list[tuple[str, str, bytes]] | None:
    if not isinstance(value, list) or len(value) > MAX_BATCH:
        return None
    entries: list[tuple[str, str, bytes]] = []
    for item in value:
        if not isinstance(item, dict):
            return None
        mid, signer, signature = item.get("message_id"), item.get("signer"), item.get("signature")
        if not (
            isinstance(mid, str)
            and _MESSAGE_ID.match(mid)
            and isinstance(signer, str)
            and is_address(signer)
            and isinstance(signature, str)
            and _HEX_SIGNATURE.match(signature)
        ):
            return None
        entries.append(
            (mid.lower(), str(to_checksum_address(signer)), bytes.fromhex(signature[2:]))
        )
    return entries


# --- server ---------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "pvd-signatures/1"
    sys_version = ""

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/health":
            self._json(200, {"status": "ok", "signer": self.server.signer})
            return
        match = _SIGNATURE_PATH.match(path)
        if match is None:
            if path.startswith("/signatures/"):
                self._json(400, {"error": "message id must be 0x followed by 64 hex digits"})
            else:
                self._json(404, {"error": "no such resource"})
            return
        message_id = hex32(match.group(1))
        signature = self.server.store.signatures(message_id).get(self.server.signer)
        if signature is None:
            self._json(404, {"error": "not signed", "message_id": message_id})
            return
        body = {
            "message_id": message_id,
            "signer": self.server.signer,
            "signature": "0x" + signature.hex(),
        }
        self._json(200, body)

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        if path not in ("/signatures/lookup", "/signatures/push"):
            self._json(404, {"error": "no such resource"})
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._json(411, {"error": "Content-Length required"})
            return
        if not 0 < length <= MAX_BATCH_BYTES:
            self._json(413, {"error": f"body must be 1..{MAX_BATCH_BYTES} bytes"})
            return
        try:
            body = json.loads(self.rfile.read(length))
        except (UnicodeDecodeError, json.JSONDecodeError):
            self._json(400, {"error": "body is not JSON"})
            return
        if not isinstance(body, dict):
            self._json(400, {"error": "body must be a JSON object"})
            return
        if path == "/signatures/lookup":
            ids = _parse_ids(body.get("message_ids"))
            if ids is None:
                self._json(400, {"error": f"message_ids: up to {MAX_BATCH} 0x-hex32 ids"})
                return
            found: dict[str, str] = {}
            for message_id in ids:
                signature = self.server.store.signatures(message_id).get(self.server.signer)
                if signature is not None:
                    found[message_id] = "0x" + signature.hex()
            self._json(200, {"signer": self.server.signer, "signatures": found})
            return
        pushed = self.server.pushed
        if pushed is None:
            self._json(404, {"error": "this attester takes no pushed signatures"})
            return
        entries = _parse_pushed(body.get("signatures"))
        if entries is None:
            self._json(400, {"error": f"signatures: up to {MAX_BATCH} entries"})
            return
        self._json(200, {"accepted": pushed.add(entries)})

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("quorum http: " + format, *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(
        self,
        address: tuple[str, int],
        store: Store,
        signer: str,
        pushed: PushedSignatures | None = None,
    ) -> None:
        self.store = store
        self.signer = signer
        self.pushed = pushed
        super().__init__(address, _Handler)


class SignatureServer:
    """Serves one attester's own signatures from its store, read-only, in a thread.

    Only the signature stored under `signer` (this attester's attestation address) is
    ever served: the peers' signatures in the same table stay private to this store.
    """

    def __init__(
        self,
        store: Store,
        signer: str,
        host: str = "127.0.0.1",
        port: int = 0,
        pushed: PushedSignatures | None = None,
    ) -> None:
        if not is_address(signer):
            raise ValueError(f"signer must be an address, got {signer!r}")
        self._httpd = _Server((host, port), store, str(to_checksum_address(signer)), pushed)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},  # how soon close() returns
            name=f"pvd-signatures:{self.port}",
            daemon=True,
        )
        self._thread.start()
        _log.info("serving signatures at %s", self.url, extra={"address": self.signer})

    @property
    def signer(self) -> str:
        return self._httpd.signer

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        host = str(self._httpd.server_address[0])
        return f"http://{host}:{self.port}"

    def close(self) -> None:
        """Stop serving and free the port (idempotent)."""
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()

    def __enter__(self) -> SignatureServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def serve_signatures(
    config: QuorumConfig, store: Store, signer: str, pushed: PushedSignatures | None = None
) -> SignatureServer | None:
    """Start serving per `[quorum]` (listen_host, listen_port); port 0 means do not serve.
    With `pushed`, peers' pushes are taken into it."""
    if config.listen_port == 0:
        return None
    return SignatureServer(store, signer, config.listen_host, config.listen_port, pushed)


# --- client ---------------------------------------------------------------------------


def _fetch(peer: Peer, message_id: str, timeout: float, limit: int) -> tuple[int, bytes]:
    """GET <peer>/signatures/<id>: (status, body). The whole exchange, connect to last
    byte, is bounded by `timeout`; a body over `limit` bytes is cut (and so garbage)."""
    return _request(peer, "GET", f"/signatures/{message_id}", None, timeout, limit)


def _request(
    peer: Peer, method: str, path: str, payload: object, timeout: float, limit: int
) -> tuple[int, bytes]:
    """One request to a peer (a JSON body unless `payload` is None): (status, body),
    bounded in time and size as _fetch."""
    url = urlsplit(peer.url)
    deadline = time.monotonic() + timeout
    connection_class = (
        http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    )
    conn = connection_class(url.hostname or "127.0.0.1", url.port, timeout=timeout)
    try:
        headers = {"Accept": "application/json", "Connection": "close"}
        data = None
        if payload is not None:
            data = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        conn.request(method, f"{url.path.rstrip('/')}{path}", body=data, headers=headers)
        sock = conn.sock  # kept: getresponse() hands it to the response and forgets it

        def remaining() -> float:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("peer answer not complete within the timeout")
            if sock is not None:
                sock.settimeout(left)  # each read blocks at most until the deadline
            return left

        remaining()
        response = conn.getresponse()
        body = b""
        while len(body) <= limit:
            remaining()
            chunk = response.read1(limit + 1 - len(body))
            if not chunk:
                break
            body += chunk
        return response.status, body
    finally:
        conn.close()


def is_canonical(signature: bytes) -> bool:
    """65 bytes r || s || v with 0 < r, 0 < s <= N/2 and v in {27, 28}: the only form
    the inbox accepts (no malleated twin)."""
    if len(signature) != SIGNATURE_BYTES:
        return False
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    return 0 < r < SECP256K1_N and 0 < s <= SECP256K1_N // 2 and signature[64] in (27, 28)


@functools.lru_cache(maxsize=4096)  # the same few attesters sign every message
def _checksummed(address: str) -> str | None:
    """`address` checksummed, or None if it is not an address."""
    return str(to_checksum_address(address)) if is_address(address) else None


def _as_bytes(message_id: str) -> bytes:
    return bytes.fromhex(message_id[2:])


class QuorumClient:
    """Gathers a quorum for a message: the store's signatures first, then the peers'.

    One client serves every route; `collect` is thread-safe. Close it (or use it as a
    context manager) to stop its worker threads.
    """

    def __init__(
        self,
        peers: Sequence[Peer],
        verifier: Verifier,
        store: Store,
        metrics: RelayerMetrics | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        pushed: PushedSignatures | None = None,
        pull_after: float = PULL_AFTER,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be > 0 seconds")
        self.peers = tuple(peers)
        self.pushed = pushed
        self.pull_after = pull_after
        self._short_since: dict[str, float] = {}
        self._recovered: dict[tuple[str, bytes], str] = {}
        self.pushes_sent = 0  # push requests that a peer accepted
        self.lookups_sent = 0  # batched pull requests sent
        self.verifier = verifier
        self.store = store
        self.metrics = metrics
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        self._counts: Counter[str] = Counter()
        self._counts_lock = threading.Lock()
        # enough workers that a few hung peers never queue the next message's requests
        workers = max(4, 4 * len(self.peers))
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pvd-quorum")

    @classmethod
    def from_config(
        cls,
        config: QuorumConfig,
        verifier: Verifier,
        store: Store,
        metrics: RelayerMetrics | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> QuorumClient:
        return cls(config.peers, verifier, store, metrics, timeout)

    # --- verification -------------------------------------------------------------------

    def _recover(self, message_id: str, signature: bytes) -> str | None:
        """The signer, if the signature is one the inbox accepts; None otherwise. A
        recovery is remembered (a waiting message is counted again at every tick)."""
        key = (message_id, bytes(signature))
        if (known := self._recovered.get(key)) is not None:
            return known
        if len(self._recovered) >= RECOVERED_CACHE:
            self._recovered.clear()
        recovered = self._recover_once(message_id, signature)
        if recovered is not None:  # a failure may be "not seen yet": try again later
            self._recovered[key] = recovered
        return recovered

    def _recover_once(self, message_id: str, signature: bytes) -> str | None:
        if not is_canonical(signature):
            return None
        try:
            recovered = self.verifier.recover(_as_bytes(message_id), signature)
        except Exception:  # a malformed signature: the verifier may raise anything
            return None
        if not isinstance(recovered, str):
            return None
        return _checksummed(recovered)

    def _judge(
        self, peer: Peer, message_id: str, attesters: AttesterSet, status: int, body: bytes
    ) -> PeerAnswer:
        """Turn a peer's HTTP answer into a verified signature, nothing, or a failure."""
        if status == 404:
            return PeerAnswer(peer)  # not signed (yet): normal, not a failure
        if status != 200:
            return PeerAnswer(peer, failure=PeerFailure.HTTP_ERROR, detail=f"HTTP {status}")
        if len(body) > self.max_response_bytes:
            return PeerAnswer(peer, failure=PeerFailure.GARBAGE, detail="answer too large")
        try:
            answer = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return PeerAnswer(peer, failure=PeerFailure.GARBAGE, detail="not JSON")
        if not isinstance(answer, dict):
            return PeerAnswer(peer, failure=PeerFailure.GARBAGE, detail="not a JSON object")
        answered_id, claimed, hex_signature = (
            answer.get("message_id"),
            answer.get("signer"),
            answer.get("signature"),
        )
        if not (
            isinstance(answered_id, str)
            and isinstance(claimed, str)
            and is_address(claimed)
            and isinstance(hex_signature, str)
            and _HEX_SIGNATURE.match(hex_signature)
        ):
            return PeerAnswer(peer, failure=PeerFailure.GARBAGE, detail="fields missing or bad")
        if answered_id.lower() != message_id:
            return PeerAnswer(
                peer, failure=PeerFailure.WRONG_MESSAGE, detail=f"answered {answered_id[:66]}"
            )
        signature = bytes.fromhex(hex_signature[2:])
        recovered = self._recover(message_id, signature)
        if recovered is None:
            return PeerAnswer(peer, failure=PeerFailure.BAD_SIGNATURE, detail="unrecoverable")
        if recovered not in attesters.members:
            return PeerAnswer(
                peer, failure=PeerFailure.NOT_ATTESTER, detail=f"signed by {recovered}"
            )
        if recovered != peer.address:
            return PeerAnswer(
                peer, failure=PeerFailure.WRONG_SIGNER, detail=f"signed by {recovered}"
            )
        if to_checksum_address(claimed) != recovered:
            return PeerAnswer(
                peer, failure=PeerFailure.BAD_SIGNATURE, detail=f"claims signer {claimed}"
            )
        return PeerAnswer(peer, signer=recovered, signature=signature)

    # --- one peer -----------------------------------------------------------------------

    def ask(self, peer: Peer, message_id: str | bytes, attesters: AttesterSet) -> PeerAnswer:
        """Ask one peer for its signature of a message and verify the answer offline."""
        mid = hex32(message_id, "message id")
        try:
            status, body = _fetch(peer, mid, self.timeout, self.max_response_bytes)
        except TimeoutError:
            return PeerAnswer(peer, failure=PeerFailure.TIMEOUT, detail=f"> {self.timeout:g}s")
        except (http.client.HTTPException, UnicodeError, ValueError) as exc:
            return PeerAnswer(peer, failure=PeerFailure.GARBAGE, detail=type(exc).__name__)
        except OSError as exc:
            return PeerAnswer(peer, failure=PeerFailure.UNREACHABLE, detail=type(exc).__name__)
        return self._judge(peer, mid, attesters, status, body)

    def _ask_and_keep(
        self, peer: Peer, message_id: str, attesters: AttesterSet, route: Route
    ) -> PeerAnswer:
        """Runs in a worker: ask, then store a verified signature or count the failure
        (even when the collect that asked has already returned)."""
        answer = self.ask(peer, message_id, attesters)
        log = _log.bind(route=route.value, message_id=message_id, address=peer.address)
        if answer.signature is not None and answer.signer is not None:
            self.store.add_signature(message_id, answer.signer, answer.signature)
        elif answer.failure is not None:
            with self._counts_lock:
                self._counts[answer.failure.value] += 1
            if self.metrics is not None:
                self.metrics.count_failure(route, answer.failure.value)
            log.warning(
                "peer answer skipped: %s",
                answer.detail,
                extra={"reason": answer.failure.value},
            )
        return answer

    # --- a quorum -----------------------------------------------------------------------

    def verified_signatures(
        self,
        message_id: str | bytes,
        attesters: AttesterSet,
        stored: Mapping[str, bytes] | None = None,
    ) -> dict[str, bytes]:
        """The store's signatures of a message that verify now, by current attesters
        (`stored`: the store's signatures of it, if the caller read them already)."""
        mid = hex32(message_id, "message id")
        valid: dict[str, bytes] = {}
        if stored is None:
            stored = self.store.signatures(mid)
        for stored_signer, signature in stored.items():
            recovered = self._recover(mid, signature)
            if recovered == stored_signer and recovered in attesters.members:
                valid[recovered] = signature
        if self.pushed is not None:
            for signer, signature in self.pushed.get(mid).items():
                if signer in valid:
                    continue
                recovered = self._recover(mid, signature)
                if recovered == signer and recovered in attesters.members:
                    valid[recovered] = signature
                else:  # a bad push (or the message is not seen here yet): keep trying later
                    if self.store.get(mid) is not None:
                        self.pushed.discard(mid, signer)
        return valid

    def collect(
        self, message_id: str | bytes, attesters: AttesterSet, route: Route
    ) -> Quorum | None:
        """A quorum of `attesters` for the message, or None while short.

        Returns as soon as m verified signatures are known; otherwise waits for every
        asked peer, at most about `timeout` seconds. Peers outside the set, and peers
        whose signature the store already holds, are not asked.
        """
        mid = hex32(message_id, "message id")
        have = self.verified_signatures(mid, attesters)
        if len(have) < attesters.threshold:
            wanted = [
                p for p in self.peers if p.address in attesters.members and p.address not in have
            ]
            pending: set[Future[PeerAnswer]] = {
                self._pool.submit(self._ask_and_keep, p, mid, attesters, route) for p in wanted
            }
            deadline = time.monotonic() + self.timeout + 0.25
            while pending and len(have) < attesters.threshold:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                done, pending = wait(pending, timeout=remaining, return_when=FIRST_COMPLETED)
                for future in done:
                    answer = future.result()
                    if answer.signer is not None and answer.signature is not None:
                        have[answer.signer] = answer.signature
        if len(have) < attesters.threshold:
            _log.debug(
                "quorum short",
                extra={"route": route.value, "message_id": mid, "count": len(have)},
            )
            return None
        chosen = sorted(have, key=lambda address: int(address, 16))[: attesters.threshold]
        return Quorum(mid, tuple(chosen), tuple(have[a] for a in chosen))

    @staticmethod
    def _quorum(mid: str, have: Mapping[str, bytes], attesters: AttesterSet) -> Quorum | None:
        if len(have) < attesters.threshold:
            return None
        chosen = sorted(have, key=lambda address: int(address, 16))[: attesters.threshold]
        return Quorum(mid, tuple(chosen), tuple(have[a] for a in chosen))

    def collect_many(
        self,
        message_ids: Sequence[str],
        attesters: AttesterSet,
        route: Route,
        now: float | None = None,
    ) -> dict[str, Quorum]:
        """The quorums of those of `message_ids` that have one now, from the store and the
        pushed signatures. A message short for PULL_AFTER seconds or more is asked for
        from the peers, in one lookup request per peer (in parallel, bounded by the
        timeout), and counted again."""
        moment = time.monotonic() if now is None else now
        quorums: dict[str, Quorum] = {}
        short: dict[str, dict[str, bytes]] = {}
        stored = self.store.signatures_of(message_ids)  # one query, not one per message
        for mid, signatures in stored.items():
            have = self.verified_signatures(mid, attesters, signatures)
            if (quorum := self._quorum(mid, have, attesters)) is not None:
                quorums[mid] = quorum
                self._short_since.pop(mid, None)
            else:
                short[mid] = have
        due = [
            mid
            for mid in short
            if moment - self._short_since.setdefault(mid, moment) >= self.pull_after
        ]
        if due:
            self._pull(due, short, attesters, route)
            for mid in due:
                self._short_since[mid] = moment  # the next pull waits as long again
                if (quorum := self._quorum(mid, short[mid], attesters)) is not None:
                    quorums[mid] = quorum
                    self._short_since.pop(mid, None)
        if len(self._short_since) > 4 * PUSHED_CAPACITY:  # forget long-gone messages
            self._short_since.clear()
        return quorums

    def _pull(
        self,
        due: list[str],
        have: dict[str, dict[str, bytes]],
        attesters: AttesterSet,
        route: Route,
    ) -> None:
        """Ask each peer that is in the set for its signatures of `due` (batched)."""
        futures: list[Future[None]] = []
        for peer in self.peers:
            if peer.address not in attesters.members:
                continue
            wanted = [mid for mid in due if peer.address not in have[mid]]
            for start in range(0, len(wanted), MAX_BATCH):
                chunk = wanted[start : start + MAX_BATCH]
                futures.append(self._pool.submit(self._lookup, peer, chunk, have, attesters, route))
        wait(futures, timeout=self.timeout + 0.25)

    def _lookup(
        self,
        peer: Peer,
        ids: list[str],
        have: dict[str, dict[str, bytes]],
        attesters: AttesterSet,
        route: Route,
    ) -> None:
        self.lookups_sent += 1
        failure: tuple[PeerFailure, str] | None = None
        try:
            status, body = _request(
                peer,
                "POST",
                "/signatures/lookup",
                {"message_ids": ids},
                self.timeout,
                MAX_BATCH_BYTES,
            )
        except TimeoutError:
            failure = (PeerFailure.TIMEOUT, f"> {self.timeout:g}s")
        except (http.client.HTTPException, UnicodeError, ValueError) as exc:
            failure = (PeerFailure.GARBAGE, type(exc).__name__)
        except OSError as exc:
            failure = (PeerFailure.UNREACHABLE, type(exc).__name__)
        else:
            failure = self._take_lookup(peer, ids, status, body, have, attesters)
        if failure is not None:
            self._count(route, peer, failure[0], failure[1])

    def _take_lookup(
        self,
        peer: Peer,
        ids: list[str],
        status: int,
        body: bytes,
        have: dict[str, dict[str, bytes]],
        attesters: AttesterSet,
    ) -> tuple[PeerFailure, str] | None:
        """Keep the verified signatures of a lookup answer; the failure, if any."""
        if status != 200:
            return (PeerFailure.HTTP_ERROR, f"HTTP {status}")
        if len(body) > MAX_BATCH_BYTES:
            return (PeerFailure.GARBAGE, "answer too large")
        try:
            answer = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return (PeerFailure.GARBAGE, "not JSON")
        found = answer.get("signatures") if isinstance(answer, dict) else None
        if not isinstance(found, dict):
            return (PeerFailure.GARBAGE, "no signatures object")
        asked = set(ids)
        for mid, hex_signature in found.items():
            if not isinstance(mid, str) or mid.lower() not in asked:
                return (PeerFailure.WRONG_MESSAGE, f"answered {str(mid)[:66]}")
            if not isinstance(hex_signature, str) or not _HEX_SIGNATURE.match(hex_signature):
                return (PeerFailure.GARBAGE, "signature not 0x-hex of 65 bytes")
            signature = bytes.fromhex(hex_signature[2:])
            recovered = self._recover(mid.lower(), signature)
            if recovered is None:
                return (PeerFailure.BAD_SIGNATURE, "unrecoverable")
            if recovered not in attesters.members:
                return (PeerFailure.NOT_ATTESTER, f"signed by {recovered}")
            if recovered != peer.address:
                return (PeerFailure.WRONG_SIGNER, f"signed by {recovered}")
            self.store.add_signature(mid.lower(), recovered, signature)
            have[mid.lower()][recovered] = signature
        return None

    def _count(self, route: Route, peer: Peer, failure: PeerFailure, detail: str) -> None:
        with self._counts_lock:
            self._counts[failure.value] += 1
        if self.metrics is not None:
            self.metrics.count_failure(route, failure.value)
        _log.warning(
            "peer answer skipped: %s",
            detail,
            extra={"route": route.value, "address": peer.address, "reason": failure.value},
        )

    def push(self, signer: str, signatures: Mapping[str, bytes], route: Route) -> None:
        """Send this attester's new signatures (message id -> signature by `signer`) to
        every peer, MAX_BATCH per request, in the background: a peer whose turn it is
        has its quorum as soon as it has one more. A failed push is counted and left:
        the peer pulls what it still misses.

        They are this attester's own, made by this process over the verifier's digest:
        their signer is remembered as recovered, so counting a quorum does not recover
        them again (a peer's signature is always recovered before it counts)."""
        if len(self._recovered) + len(signatures) > RECOVERED_CACHE:
            self._recovered.clear()
        own = _checksummed(signer)
        if own is not None:
            for mid, signature in signatures.items():
                self._recovered[(hex32(mid, "message id"), bytes(signature))] = own
        if not signatures or not self.peers:
            return
        entries = [
            {"message_id": mid, "signer": signer, "signature": "0x" + sig.hex()}
            for mid, sig in signatures.items()
        ]
        for peer in self.peers:
            for start in range(0, len(entries), MAX_BATCH):
                chunk = entries[start : start + MAX_BATCH]
                self._pool.submit(self._push_one, peer, chunk, route)

    def _push_one(self, peer: Peer, entries: list[dict[str, str]], route: Route) -> None:
        try:
            status, _ = _request(
                peer,
                "POST",
                "/signatures/push",
                {"signatures": entries},
                PUSH_TIMEOUT,
                MAX_RESPONSE_BYTES,
            )
        except (OSError, http.client.HTTPException, ValueError) as exc:
            self._count(route, peer, PeerFailure.PUSH_FAILED, type(exc).__name__)
            return
        if status != 200:
            self._count(route, peer, PeerFailure.PUSH_FAILED, f"HTTP {status}")
            return
        self.pushes_sent += 1

    def failure_counts(self) -> dict[str, int]:
        """Skipped peer answers by reason, since this client started."""
        with self._counts_lock:
            return dict(self._counts)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> QuorumClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
