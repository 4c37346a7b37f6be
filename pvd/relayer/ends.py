"""The two ends of the relayer's routes: each chain with the pvd contracts on it, and
the relayer's hot-path reads of them.

Built from deployment manifests (a `pvd relay` process) or from an in-process
`pvd.deploy.system.System` (the embedded demo and tests). web3 contract handles stay here and
in the modules that read chains.

Hot-path reads (`inbox_view`, `inbox_records`, `call_data`, `rpc_batch`) skip web3's
contract and middleware machinery where the node speaks JSON-RPC over HTTP: calldata is
built with eth-abi and a selector computed once per function, requests go out as one
raw JSON-RPC batch, and results are decoded with eth-abi. web3's contract call costs
milliseconds of CPU per read (it re-validates the whole ABI each time); this costs tens
of microseconds. On other providers (eth-tester) the same reads go through web3.
"""

from __future__ import annotations

import functools
import http.client
import itertools
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_utils.abi import (
    event_abi_to_log_topic,
    function_abi_to_4byte_selector,
    get_abi_input_types,
    get_abi_output_types,
)
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError, Web3RPCError
from web3.providers import HTTPProvider

from pvd.chain.connection import Chain
from pvd.chain.logs import DEFAULT_CHUNK_BLOCKS, ObservedLog, logs_by_topic1, rpc_int
from pvd.chain.rpc import call_many
from pvd.deploy.manifest import Manifest, load_abi, read_manifest
from pvd.deploy.system import System
from pvd.errors import UnrecoverableError, UserError
from pvd.protocol.statuses import DeliveryStatus

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"

PAYMENT_APPS = ("YuanToken", "PvdSettlement")
BUSINESS_APPS = ("TradeRegistry",)


@dataclass(frozen=True)
class ChainEnd:
    """One chain as the relayer sees it: its outbox and inbox, the apps whose state
    proves a message (token and settlement, or the trade registry), and the block the
    outbox was deployed in (where the first scan starts)."""

    chain: Chain
    outbox: Contract
    inbox: Contract
    apps: dict[str, Contract]
    outbox_block: int

    @property
    def name(self) -> str:
        return self.chain.name

    @property
    def domain(self) -> int:
        return self.chain.domain_id

    def app(self, name: str) -> Contract:
        return self.apps[name]


def ends_from_system(system: System) -> tuple[ChainEnd, ChainEnd]:
    """(payment, business) ends of an in-process deployment."""
    payment, business = system.payment, system.business
    return (
        ChainEnd(
            payment.chain,
            payment.outbox,
            payment.inbox,
            {"YuanToken": payment.token, "PvdSettlement": payment.settlement},
            0,
        ),
        ChainEnd(
            business.chain, business.outbox, business.inbox, {"TradeRegistry": business.registry}, 0
        ),
    )


def end_from_manifest(chain: Chain, manifest_file: Path, apps: tuple[str, ...]) -> ChainEnd:
    """The end of `chain` as its manifest describes it, after checking that the chain
    is the one the manifest was written for (chain id, genesis hash, domain id)."""
    manifest = read_manifest(manifest_file)
    check_identity(chain, manifest)

    def contract(name: str) -> Contract:
        deployed = manifest.contract(name)
        address = Web3.to_checksum_address(deployed.address)
        abi: Any = load_abi(manifest_file, deployed)
        return chain.w3.eth.contract(address=address, abi=abi)

    return ChainEnd(
        chain,
        contract("Outbox"),
        contract("Inbox"),
        {name: contract(name) for name in apps},
        manifest.contract("Outbox").block,
    )


def check_identity(chain: Chain, manifest: Manifest) -> None:
    """Refuse a chain that is not the manifest's (another chain, or this one reset)."""
    actual = chain.identity()
    expected = manifest.chain
    if actual.chain_id != expected.chain_id or actual.domain_id != expected.domain_id:
        raise UserError(
            f"{chain.name} chain: RPC reports chain id {actual.chain_id} / domain "
            f"{actual.domain_id}, the manifest {manifest.network} says {expected.chain_id} / "
            f"{expected.domain_id}: fix the RPC URL or the domain id in the config"
        )
    if actual.genesis_hash != expected.genesis_hash:
        raise UnrecoverableError(
            f"{chain.name} chain: genesis {actual.genesis_hash[:12]}... is not the manifest's "
            f"{expected.genesis_hash[:12]}...: the chain was reset or replaced; redeploy"
        )


@dataclass(frozen=True)
class InboxRecord:
    """What the destination inbox says about one message: its status (`deliveryStatus`)
    and, once consumed, who consumed it and where (its last delivery event)."""

    status: DeliveryStatus
    deliverer: str  # who consumed it (the zero address while None)
    block: int  # the block it was consumed (or last retried) in; 0 while None


# --- hot-path reads ---------------------------------------------------------------------

BATCH_LIMIT = 500  # requests per raw JSON-RPC batch
_FUNCTIONS: dict[tuple[str, str], tuple[bytes, list[str], list[str]]] = {}


def _function(contract: Contract, name: str) -> tuple[bytes, list[str], list[str]]:
    """(selector, input types, output types) of `contract`'s function `name` (not
    overloaded in pvd's contracts), computed once per contract address and name."""
    key = (contract.address, name)
    found = _FUNCTIONS.get(key)
    if found is None:
        entries = [e for e in contract.abi if e.get("type") == "function" and e.get("name") == name]
        if len(entries) != 1:
            raise UnrecoverableError(
                f"contract {contract.address} has {len(entries)} functions named {name}: "
                "is the manifest for this deployment?"
            )
        entry: Any = entries[0]
        found = (
            bytes(function_abi_to_4byte_selector(entry)),
            list(get_abi_input_types(entry)),
            list(get_abi_output_types(entry)),
        )
        _FUNCTIONS[key] = found
    return found


def call_data(contract: Contract, name: str, args: Sequence[Any]) -> bytes:
    """The calldata of `contract.name(*args)`, encoded with eth-abi (a lone `bytes`
    argument, such as a message, by hand: the same bytes at a tenth of the cost)."""
    selector, inputs, _ = _function(contract, name)
    if inputs == ["bytes"] and len(args) == 1 and isinstance(args[0], bytes | bytearray):
        return selector + encode_lone_bytes(bytes(args[0]))
    return selector + abi_encode(inputs, list(args))


_WORD = 32
_OFFSET_OF_LONE_ARGUMENT = (_WORD).to_bytes(_WORD, "big")


def decode_lone_bytes(data: bytes) -> bytes:
    """The `bytes` value of abi.encode(bytes value) (e.g. an event's only unindexed
    argument), read by slicing where the layout is the canonical one encode_lone_bytes
    makes, else by eth-abi (which raises on a malformed encoding)."""
    if len(data) >= 2 * _WORD and data[:_WORD] == _OFFSET_OF_LONE_ARGUMENT:
        length = int.from_bytes(data[_WORD : 2 * _WORD], "big")
        end = 2 * _WORD + length
        if len(data) == end + (-length % _WORD) and not any(data[end:]):
            return bytes(data[2 * _WORD : end])
    (value,) = abi_decode(["bytes"], bytes(data))
    return bytes(value)


def encode_lone_bytes(value: bytes) -> bytes:
    """abi.encode(bytes value): the offset of its tail (one word), its length, the bytes
    padded with zeros to a whole number of words."""
    padding = -len(value) % _WORD
    return _OFFSET_OF_LONE_ARGUMENT + len(value).to_bytes(_WORD, "big") + value + bytes(padding)


def decode_output(contract: Contract, name: str, data: bytes) -> tuple[Any, ...]:
    """The outputs of `contract.name` from its return data (addresses as eth-abi gives
    them: lower-case hex)."""
    return tuple(abi_decode(_function(contract, name)[2], data))


class JsonRpc:
    """Raw JSON-RPC over HTTP(S) to one endpoint, one kept-alive connection per thread
    (http.client): a request costs a tenth of the CPU of web3's requests-based provider
    and a third of its time on a local node.

    Faults are raised as the rest of the relayer sorts them: a timeout as TimeoutError,
    a refused or dropped connection as OSError (a dropped kept-alive connection is
    retried once on a new one), an HTTP error status as requests.HTTPError, an answer
    that is not JSON-RPC as requests.ConnectionError."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.url = url
        self.timeout = timeout
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._path = parts.path or "/"
        if parts.query:
            self._path += "?" + parts.query
        self._local = threading.local()
        self._ids = itertools.count(1)

    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = kind(self._host, self._port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()

    def _post(self, payload: object) -> Any:
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", "Connection": "keep-alive"}
        for attempt in (1, 2):
            reused = getattr(self._local, "conn", None) is not None
            conn = self._connection()
            try:
                conn.request("POST", self._path, body, headers)
                response = conn.getresponse()
                data = response.read()
            except TimeoutError:
                self._drop()
                raise
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self._drop()
                if reused and attempt == 1:
                    continue  # the node closed an idle kept-alive connection: once more
                raise
            except http.client.HTTPException as exc:
                self._drop()
                raise requests.ConnectionError(f"{self.url}: {type(exc).__name__}") from exc
            except OSError:
                self._drop()
                raise
            if response.getheader("Connection", "").lower() == "close":
                self._drop()
            if response.status != 200:
                failed = requests.Response()
                failed.status_code = response.status
                failed.url = self.url
                raise requests.HTTPError(f"{self.url}: HTTP {response.status}", response=failed)
            try:
                return json.loads(data)
            except ValueError:
                raise requests.ConnectionError(f"{self.url}: the answer is not JSON") from None
        raise AssertionError("unreachable")

    def request(self, method: str, params: Sequence[Any]) -> dict[str, Any]:
        """One request's response object ({"result": ...} or {"error": ...})."""
        answer = self._post(
            {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        )
        if not isinstance(answer, dict):
            raise requests.ConnectionError(f"{self.url}: not a JSON-RPC response")
        return answer

    def batch(self, requests_: Sequence[tuple[str, Sequence[Any]]]) -> list[dict[str, Any]]:
        """The response objects of a batch, in the order of the requests."""
        ids = [next(self._ids) for _ in requests_]
        payload = [
            {"jsonrpc": "2.0", "id": i, "method": method, "params": list(params)}
            for i, (method, params) in zip(ids, requests_, strict=True)
        ]
        answer = self._post(payload)
        if isinstance(answer, dict) and "error" in answer:  # the node refused the batch
            raise Web3RPCError(f"a JSON-RPC batch was refused: {answer['error']}")
        if not isinstance(answer, list) or any(not isinstance(r, dict) for r in answer):
            raise requests.ConnectionError(f"{self.url}: not a JSON-RPC batch response")
        by_id = {r.get("id"): r for r in answer}
        if set(by_id) != set(ids):
            raise requests.ConnectionError(f"{self.url}: a batch response with other ids")
        return [by_id[i] for i in ids]


_TRANSPORTS: dict[int, tuple[Any, JsonRpc]] = {}
_TRANSPORTS_LOCK = threading.Lock()


def json_rpc(w3: Web3) -> JsonRpc | None:
    """The raw JSON-RPC transport to `w3`'s HTTP endpoint (made once per provider, with
    its timeout); None for other providers (eth-tester, WebSocket)."""
    provider = w3.provider
    if not isinstance(provider, HTTPProvider):
        return None
    with _TRANSPORTS_LOCK:
        known = _TRANSPORTS.get(id(provider))
        if known is None or known[0] is not provider:
            timeout = float(provider.get_request_kwargs().get("timeout") or 10)
            known = (provider, JsonRpc(str(provider.endpoint_uri), timeout))
            _TRANSPORTS[id(provider)] = known
        return known[1]


def speaks_json_rpc(w3: Web3) -> bool:
    """True where the provider sends raw JSON-RPC over HTTP, False for eth-tester."""
    return json_rpc(w3) is not None


def rpc_batch(w3: Web3, requests_: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
    """The raw results of `requests_`, in order, sent as one JSON-RPC request or batch
    (BATCH_LIMIT per batch). A reverted eth_call keeps its error object (a dict with
    "message" and "data") in place of a result; any other error raises Web3RPCError
    with the node's response. Only for providers that speak JSON-RPC over HTTP."""
    transport = json_rpc(w3)
    if transport is None:
        raise TypeError("rpc_batch needs an HTTP JSON-RPC provider")
    results: list[Any] = []
    for start in range(0, len(requests_), BATCH_LIMIT):
        chunk = requests_[start : start + BATCH_LIMIT]
        responses = [transport.request(*chunk[0])] if len(chunk) == 1 else transport.batch(chunk)
        for (method, _), response in zip(chunk, responses, strict=True):
            error = response.get("error")
            if error is None:
                results.append(response.get("result"))
            elif method == "eth_call" and "revert" in str(error.get("message", "")).lower():
                results.append(error)
            else:
                raise Web3RPCError(f"{method}: {error}", rpc_response=response)  # type: ignore[arg-type]
    return results


def eth_call(contract: Contract, name: str, args: Sequence[Any], block: str = "latest") -> Any:
    """The request (method, params) of a view call, for rpc_batch."""
    data = "0x" + call_data(contract, name, args).hex()
    return ("eth_call", [{"to": contract.address, "data": data}, block])


def _reverted(answer: Any) -> bool:
    return isinstance(answer, dict)


@dataclass(frozen=True)
class InboxView:
    """The destination inbox now: its attester set and its record of some messages."""

    attesters: tuple[str, ...]
    threshold: int
    records: dict[str, InboxRecord]
    head: int | None = None  # the destination's head, read before the records (with_head)


# The inbox's events that consume a message or change its record: the latest one of an id
# says who and in which block (the inbox keeps only a consumed bit per nonce in storage).
_DELIVERY_EVENTS = ("MessageDelivered", "MessageFailed", "MessageRetried")


def inbox_view(
    destination: ChainEnd, messages: Mapping[str, bytes], with_head: bool = False
) -> InboxView:
    """The inbox's attesters, threshold and record of each message (id in 0x-hex -> its
    encoding), read at its latest block in one round trip (a raw JSON-RPC batch) where the
    node allows, plus one eth_getLogs pass for the consumed ones (inbox_records). With
    `with_head`, the chain's head too, asked before the records (in the same batch)."""
    inbox = destination.inbox
    w3 = destination.chain.w3
    if not speaks_json_rpc(w3):
        head = int(w3.eth.block_number) if with_head else None
        return InboxView(
            tuple(inbox.functions.attesters().call()),
            int(inbox.functions.threshold().call()),
            inbox_records(destination, messages),
            head,
        )
    requests_: list[tuple[str, Sequence[Any]]] = [("eth_blockNumber", [])] if with_head else []
    requests_ += [eth_call(inbox, "attesters", []), eth_call(inbox, "threshold", [])]
    requests_ += [eth_call(inbox, "deliveryStatus", [m]) for m in messages.values()]
    answers = rpc_batch(w3, requests_)
    head = rpc_int(answers.pop(0)) if with_head else None
    for what, answer in zip(("attesters()", "threshold()"), answers, strict=False):
        if _reverted(answer):
            raise UnrecoverableError(
                f"{destination.name} chain: the inbox's {what} reverted ({answer}): "
                "is the manifest for this deployment?"
            )
    (members,) = decode_output(inbox, "attesters", bytes.fromhex(answers[0][2:]))
    (threshold,) = decode_output(inbox, "threshold", bytes.fromhex(answers[1][2:]))
    return InboxView(
        tuple(str(to_checksum_address(a)) for a in members),
        int(threshold),
        _records(destination, _statuses(destination, list(messages), answers[2:])),
        head,
    )


@dataclass(frozen=True)
class DeliveryEvents:
    """The inbox's delivery events of the blocks after a cursor, up to `head`."""

    head: int  # the blocks read reach at least this one (a later one's events may be in)
    delivered: dict[str, InboxRecord]  # id -> Delivered, by whom and where (last event)
    failed: frozenset[str]  # ids whose last event in these blocks is MessageFailed


_TOPICS: dict[str, tuple[str, ...]] = {}


def _delivery_topics(inbox: Contract) -> tuple[str, ...]:
    """The topic 0 of each of _DELIVERY_EVENTS (0x-hex), computed once per inbox."""
    found = _TOPICS.get(inbox.address)
    if found is None:
        found = tuple(
            HexBytes(event_abi_to_log_topic(getattr(inbox.events, name).abi)).to_0x_hex()
            for name in _DELIVERY_EVENTS
        )
        _TOPICS[inbox.address] = found
    return found


def delivery_events(destination: ChainEnd, after: int) -> DeliveryEvents | None:
    """What the inbox did in the blocks after `after` (a block already read, so still at
    or below the head), from its MessageDelivered / MessageRetried / MessageFailed
    events: one raw batch (the head, and one eth_getLogs from `after` to the latest
    block, `after` included, so the range is never empty) where the node speaks JSON-RPC.
    None when the chain is now below `after` (a reorg to a shorter chain): read the
    records themselves then."""
    inbox = destination.inbox
    w3 = destination.chain.w3
    topics = _delivery_topics(inbox)
    where: dict[str, Any] = {"address": inbox.address, "topics": [list(topics)]}
    if speaks_json_rpc(w3):
        transport = json_rpc(w3)
        assert transport is not None
        request = where | {"fromBlock": hex(after), "toBlock": "latest"}
        head_answer, logs_answer = transport.batch(
            [("eth_blockNumber", []), ("eth_getLogs", [request])]
        )
        for answer in (head_answer, logs_answer):
            if answer.get("error") is not None:
                if answer is logs_answer and rpc_int(head_answer.get("result") or "0x0") < after:
                    return None
                raise Web3RPCError(f"delivery events: {answer['error']}", rpc_response=answer)  # type: ignore[arg-type]
        head = rpc_int(head_answer["result"])
        # (block, index, topic 0, topic 1, data) read straight from the JSON: a backlog's
        # blocks hold thousands of these logs, and only these fields are used
        logs = [
            (
                int(log["blockNumber"], 16),
                int(log["logIndex"], 16),
                log["topics"][0].lower(),
                log["topics"][1].lower(),
                log["data"],
            )
            for log in logs_answer["result"]
            if len(log["topics"]) > 1
        ]
    else:
        head = int(w3.eth.block_number)
        if head < after:
            return None
        found = w3.eth.get_logs(where | {"fromBlock": after, "toBlock": head})  # type: ignore[arg-type]
        logs = [
            (
                int(log["blockNumber"]),
                int(log["logIndex"]),
                HexBytes(log["topics"][0]).to_0x_hex(),
                HexBytes(log["topics"][1]).to_0x_hex(),
                HexBytes(log["data"]).to_0x_hex(),
            )
            for log in found
            if len(log["topics"]) > 1
        ]
    delivered: dict[str, InboxRecord] = {}
    failed: set[str] = set()
    for block, _, topic, mid, data in sorted(logs):
        if topic == topics[1]:  # MessageFailed
            failed.add(mid)
            delivered.pop(mid, None)
            continue
        failed.discard(mid)
        who = _checksummed(data[26:66].lower())  # the first data word: an address
        delivered[mid] = InboxRecord(DeliveryStatus.DELIVERED, who, block)
    top = max((entry[0] for entry in logs), default=head)
    return DeliveryEvents(max(head, top), delivered, frozenset(failed))


def _statuses(
    destination: ChainEnd, ids: Sequence[str], answers: Sequence[Any]
) -> dict[str, DeliveryStatus]:
    """Each id's status from its raw `deliveryStatus` answer."""
    found: dict[str, DeliveryStatus] = {}
    for mid, answer in zip(ids, answers, strict=True):
        if _reverted(answer):
            raise UnrecoverableError(
                f"{destination.name} chain: the inbox's deliveryStatus of {mid} reverted "
                f"({answer}): is the manifest for this deployment?"
            )
        (status,) = decode_output(destination.inbox, "deliveryStatus", bytes.fromhex(answer[2:]))
        found[mid] = DeliveryStatus(status)
    return found


def _records(
    destination: ChainEnd, statuses: Mapping[str, DeliveryStatus]
) -> dict[str, InboxRecord]:
    """Records of `statuses`, with the deliverer and block of each consumed one's latest
    delivery event."""
    consumed = [mid for mid, status in statuses.items() if status is not DeliveryStatus.NONE]
    last = _last_delivery_events(destination, consumed)
    found: dict[str, InboxRecord] = {}
    for mid, status in statuses.items():
        deliverer, block = last.get(mid, (ZERO_ADDRESS, 0))
        found[mid] = InboxRecord(status, deliverer, block)
    return found


def inbox_records(destination: ChainEnd, messages: Mapping[str, bytes]) -> dict[str, InboxRecord]:
    """The inbox's record of each message (id in 0x-hex -> its encoding): the status read
    at its latest block in JSON-RPC batches, and for a consumed one the deliverer and
    block of its latest delivery event (one eth_getLogs pass for all of them)."""
    inbox = destination.inbox
    w3 = destination.chain.w3
    if not messages:
        return {}
    ids = list(messages)
    if speaks_json_rpc(w3):
        requests_ = [eth_call(inbox, "deliveryStatus", [messages[mid]]) for mid in ids]
        return _records(destination, _statuses(destination, ids, rpc_batch(w3, requests_)))
    calls = [inbox.functions.deliveryStatus(messages[mid]) for mid in ids]
    statuses: dict[str, DeliveryStatus] = {}
    for mid, result in zip(ids, call_many(w3, calls, "latest"), strict=True):
        if isinstance(result, ContractLogicError):
            raise UnrecoverableError(
                f"{destination.name} chain: the inbox's deliveryStatus of {mid} reverted "
                f"({result}): is the manifest for this deployment?"
            )
        statuses[mid] = DeliveryStatus(result)
    return _records(destination, statuses)


def _last_delivery_events(destination: ChainEnd, ids: Sequence[str]) -> dict[str, tuple[str, int]]:
    """(deliverer, block) of each id's latest MessageDelivered / MessageFailed /
    MessageRetried on the destination inbox (ids without one are left out)."""
    if not ids:
        return {}
    inbox = destination.inbox
    w3 = destination.chain.w3
    topics = [
        HexBytes(event_abi_to_log_topic(getattr(inbox.events, name).abi))
        for name in _DELIVERY_EVENTS
    ]
    topics1 = [HexBytes(mid) for mid in ids]
    if speaks_json_rpc(w3):
        logs = _raw_logs_by_topic1(w3, inbox.address, topics, topics1, destination.outbox_block)
    else:
        logs = logs_by_topic1(
            w3, inbox.address, topics, topics1, destination.outbox_block, "latest", per_query=500
        )
    last: dict[str, tuple[str, int]] = {}
    for entry in logs:  # chain order: a later event replaces an earlier one
        # each event's first data word is the deliverer (retrier): an address, right-aligned
        who = _checksummed(bytes(entry.data)[12:32].hex())
        last[entry.topics[1].to_0x_hex()] = (who, entry.block_number)
    return last


DELIVERY_IDS_PER_QUERY = 500  # message ids (topic 1 values) in one eth_getLogs


def _raw_logs_by_topic1(
    w3: Web3,
    address: str,
    topics0: Sequence[HexBytes],
    topics1: Sequence[HexBytes],
    from_block: int,
) -> list[ObservedLog]:
    """pvd.chain.logs.logs_by_topic1 up to the latest block as raw JSON-RPC: the head,
    then every chunk's eth_getLogs in one batch, the logs read without web3's result
    formatters (which checksum every address of every log)."""
    end = rpc_int(rpc_batch(w3, [("eth_blockNumber", [])])[0])
    first = [t.to_0x_hex() for t in topics0]
    requests_: list[tuple[str, Sequence[Any]]] = []
    for at in range(0, len(topics1), DELIVERY_IDS_PER_QUERY):
        second = [t.to_0x_hex() for t in topics1[at : at + DELIVERY_IDS_PER_QUERY]]
        start = max(from_block, 0)
        while start <= end:
            stop = min(start + DEFAULT_CHUNK_BLOCKS - 1, end)
            where = {"address": address, "topics": [first, second]}
            requests_.append(
                ("eth_getLogs", [where | {"fromBlock": hex(start), "toBlock": hex(stop)}])
            )
            start = stop + 1
    found = [ObservedLog.from_receipt(log) for logs in rpc_batch(w3, requests_) for log in logs]
    return sorted(found, key=lambda log: (log.block_number, log.log_index))


@functools.lru_cache(maxsize=4096)  # the same few gas keys deliver every message
def _checksummed(lower_hex: str) -> str:
    return str(to_checksum_address("0x" + lower_hex))


def inbox_deliveries(
    destination: ChainEnd, messages: Mapping[str, bytes]
) -> dict[str, tuple[DeliveryStatus, int]]:
    """(status, block) of each message (id in 0x-hex -> its encoding) on the
    destination's inbox (inbox_records without the deliverer)."""
    return {mid: (r.status, r.block) for mid, r in inbox_records(destination, messages).items()}
