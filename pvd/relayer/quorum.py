"""How attesters' signatures meet: each attester serves its own, and pulls its peers'.

Owns the signature exchange of docs/adr/0005-signature-exchange.md:

- SignatureServer: this attester's signatures, read-only over HTTP (stdlib http.server in
  a daemon thread). `GET /signatures/<message id>` answers
  `{"message_id", "signer", "signature"}` (0x-hex) with 200, or 404 while this attester
  has not signed it; `GET /health` answers `{"status": "ok", "signer"}`. Nothing else
  exists; no request changes anything.
- QuorumClient: assembles a quorum for one message from the store's `signatures` table
  and, for what is missing, from the configured peers (in parallel, short timeouts, a
  bounded response size). Every signature is checked offline through an injected
  Verifier against the attester set and threshold the caller gives (the destination
  inbox's current ones); only verified signatures are stored. The result is m distinct
  current attesters' signatures in ascending signer order (what the inbox requires), or
  None while short.

A peer is never trusted: a peer that is down, slow, answers garbage, or a signature by
anyone but itself, by a non-attester, or for another message is skipped and counted
(`pvd_relay_failures_total{reason="peer_..."}`). The most a peer can do is withhold its
own signature. Web3 is not imported here: recovering a signer is the Verifier's job
(pvd.protocol.messages' EIP-712 verification in the relayer, a fake in tests).
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
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
_HEX_SIGNATURE = re.compile(r"^0x[0-9a-fA-F]{130}$")
_SIGNATURE_PATH = re.compile(r"^/signatures/(0x[0-9a-fA-F]{64})$")

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


@dataclass(frozen=True)
class PeerAnswer:
    """What one peer request came to: a verified signature, nothing yet, or a failure."""

    peer: Peer
    signer: str | None = None
    signature: bytes | None = None
    failure: PeerFailure | None = None
    detail: str = ""


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

    def __init__(self, address: tuple[str, int], store: Store, signer: str) -> None:
        self.store = store
        self.signer = signer
        super().__init__(address, _Handler)


class SignatureServer:
    """Serves one attester's own signatures from its store, read-only, in a thread.

    Only the signature stored under `signer` (this attester's attestation address) is
    ever served: the peers' signatures in the same table stay private to this store.
    """

    def __init__(self, store: Store, signer: str, host: str = "127.0.0.1", port: int = 0) -> None:
        if not is_address(signer):
            raise ValueError(f"signer must be an address, got {signer!r}")
        self._httpd = _Server((host, port), store, str(to_checksum_address(signer)))
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


def serve_signatures(config: QuorumConfig, store: Store, signer: str) -> SignatureServer | None:
    """Start serving per `[quorum]` (listen_host, listen_port); port 0 means do not serve."""
    if config.listen_port == 0:
        return None
    return SignatureServer(store, signer, config.listen_host, config.listen_port)


# --- client ---------------------------------------------------------------------------


def _fetch(peer: Peer, message_id: str, timeout: float, limit: int) -> tuple[int, bytes]:
    """GET <peer>/signatures/<id>: (status, body). The whole exchange, connect to last
    byte, is bounded by `timeout`; a body over `limit` bytes is cut (and so garbage)."""
    url = urlsplit(peer.url)
    deadline = time.monotonic() + timeout
    connection_class = (
        http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    )
    conn = connection_class(url.hostname or "127.0.0.1", url.port, timeout=timeout)
    try:
        conn.request(
            "GET",
            f"{url.path.rstrip('/')}/signatures/{message_id}",
            headers={"Accept": "application/json", "Connection": "close"},
        )
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
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be > 0 seconds")
        self.peers = tuple(peers)
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
        """The signer, if the signature is one the inbox accepts; None otherwise."""
        if not is_canonical(signature):
            return None
        try:
            recovered = self.verifier.recover(_as_bytes(message_id), signature)
        except Exception:  # a malformed signature: the verifier may raise anything
            return None
        if not isinstance(recovered, str) or not is_address(recovered):
            return None
        return str(to_checksum_address(recovered))

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
        self, message_id: str | bytes, attesters: AttesterSet
    ) -> dict[str, bytes]:
        """The store's signatures of a message that verify now, by current attesters."""
        mid = hex32(message_id, "message id")
        valid: dict[str, bytes] = {}
        for stored_signer, signature in self.store.signatures(mid).items():
            recovered = self._recover(mid, signature)
            if recovered == stored_signer and recovered in attesters.members:
                valid[recovered] = signature
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
