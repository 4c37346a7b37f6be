"""The one decoding of pvd's contract events: raw logs in, frozen `ChainEvent`s out.

An `EventDecoder` is built once per chain from the compiled ABIs of the contracts deployed
there (the manifests' ABI files, or an in-process deployment's contracts). It knows every
event of every pvd contract by (address, topic 0) and turns a log into a `ChainEvent`
whose arguments are plain JSON values (0x-hex for bytes, checksummed addresses, ints,
lists). The trade, hold and message each event is about are pulled out once here, so
trace, explorer and reconciler never decode a log themselves.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.exceptions import DecodingError
from eth_utils.abi import collapse_if_tuple
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3 import Web3

from pvd.chain.logs import ObservedLog
from pvd.deploy.reverts import RevertDecoder
from pvd.errors import UnrecoverableError
from pvd.index.records import ChainEvent
from pvd.protocol.messages import (
    Kind,
    Message,
    MessageFormatError,
    PaymentHeld,
    PaymentSettled,
    TradeOutcome,
)

INT64_MAX = 2**63 - 1
# amounts the index keeps in 64-bit columns (schema.py)
_AMOUNT_ARGS = ("amount", "price", "value")


@dataclass(frozen=True)
class _EventAbi:
    contract: str
    name: str
    inputs: tuple[Mapping[str, Any], ...]


@functools.lru_cache(maxsize=65_536)
def checksummed(address: str) -> str:
    """EIP-55 form of an address (cached: eth_utils' is slow and addresses repeat)."""
    return str(to_checksum_address(address))


def _topic_value(kind: str, topic: bytes, codec: Any) -> Any:
    """An indexed static value from its 32-byte topic, without the generic decoder for
    the common types."""
    if kind == "address":
        return checksummed("0x" + topic[12:].hex())
    if kind == "bytes32":
        return "0x" + topic.hex()
    if kind.startswith("uint"):
        return int.from_bytes(topic, "big")
    if kind == "bool":
        return topic[-1] == 1
    return _plain(codec.decode([kind], topic)[0])


def event_topic(entry: Mapping[str, Any]) -> bytes:
    types = ",".join(collapse_if_tuple(dict(i)) for i in entry.get("inputs", []))
    return bytes(keccak(text=f"{entry['name']}({types})"))


class EventDecoder:
    """Decodes the logs of a chain's pvd contracts (by address) with their ABIs."""

    def __init__(
        self, chain: str, w3: Web3, contracts: Mapping[str, tuple[str, Sequence[Mapping[str, Any]]]]
    ) -> None:
        """`contracts`: manifest name -> (address, ABI)."""
        self.chain = chain
        self._codec = w3.codec
        self.addresses: dict[str, str] = {}  # checksummed address -> name
        self._abis: dict[tuple[str, bytes], _EventAbi] = {}
        # a message's recipient is on the inbox's chain: its errors are among these ABIs
        self._reverts = RevertDecoder.from_abis([list(abi) for _, abi in contracts.values()])
        for name, (address, abi) in contracts.items():
            checked = checksummed(address)
            self.addresses[checked] = name
            for entry in abi:
                if entry.get("type") == "event" and not entry.get("anonymous"):
                    self._abis[checked, event_topic(entry)] = _EventAbi(
                        name, str(entry["name"]), tuple(entry["inputs"])
                    )

    def decode(self, log: ObservedLog, block_time: int = 0) -> ChainEvent | None:
        """The log as a ChainEvent; None for a log that is no pvd event (another address or
        an unknown topic)."""
        if not log.topics:
            return None
        known = self._abis.get((checksummed(log.address), bytes(log.topics[0])))
        if known is None:
            return None
        args = self._arguments(known, log)
        event = ChainEvent(
            chain=self.chain,
            block=log.block_number,
            log_index=log.log_index,
            tx_hash=log.tx_hash.to_0x_hex(),
            block_hash=log.block_hash.to_0x_hex(),
            contract=known.contract,
            name=known.name,
            args=args,
            **_keys(known.contract, known.name, args),
        )
        _check_amounts(event)
        return event

    def decode_all(self, logs: Iterable[ObservedLog]) -> list[ChainEvent]:
        return [e for e in (self.decode(log) for log in logs) if e is not None]

    def _arguments(self, known: _EventAbi, log: ObservedLog) -> dict[str, Any]:
        indexed = [i for i in known.inputs if i.get("indexed")]
        plain = [i for i in known.inputs if not i.get("indexed")]
        values: dict[str, Any] = {}
        try:
            for entry, topic in zip(indexed, log.topics[1:], strict=True):
                kind = collapse_if_tuple(dict(entry))
                if _dynamic(kind):  # an indexed dynamic value is only its hash
                    values[entry["name"]] = "0x" + bytes(topic).hex()
                else:
                    values[entry["name"]] = _topic_value(kind, bytes(topic), self._codec)
            decoded = self._codec.decode(
                [collapse_if_tuple(dict(i)) for i in plain], bytes(log.data)
            )
        except (DecodingError, ValueError) as exc:
            raise UnrecoverableError(
                f"{self.chain} {known.contract}.{known.name} log at block {log.block_number} "
                f"does not decode with the deployed ABI ({exc}): is the manifest for this "
                "deployment?"
            ) from None
        for entry, value in zip(plain, decoded, strict=True):
            values[entry["name"]] = _plain(value)
        if known.contract == "Outbox" and known.name == "MessageSent":
            values.update(_message_fields(values["message"]))
        if isinstance(values.get("reason"), str):  # MessageFailed, MessageRejected
            values["reasonText"] = self._reverts.explain(values["reason"])
        return values


def _dynamic(kind: str) -> bool:
    return kind in ("bytes", "string") or kind.endswith("]") or kind.startswith("(")


def _plain(value: Any) -> Any:
    """A decoded ABI value as JSON: bytes to 0x-hex, addresses checksummed, tuples to lists."""
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return checksummed(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    return value


def _message_fields(raw: str) -> dict[str, Any]:
    """What a MessageSent's bytes say, decoded strictly (pvd.protocol.messages); an
    undecodable message is kept with its error, never guessed at."""
    try:
        message = Message.decode(bytes.fromhex(raw[2:]))
        body = message.decoded_body()
    except (MessageFormatError, ValueError) as exc:
        return {"decodeError": str(exc)}
    fields: dict[str, Any] = {
        "kind": Kind(message.kind).name.lower(),
        "sourceDomain": message.source_domain,
        "destinationDomain": message.destination_domain,
        "nonce": message.nonce,
        "tradeId": "0x" + body.trade_id.hex(),
        "holdId": "0x" + body.hold_id.hex(),
        "bodyAmount": body.amount,
    }
    if isinstance(body, TradeOutcome):
        fields.update(detail=body.outcome.name.lower(), expiry=body.expiry)
    elif isinstance(body, PaymentSettled):
        fields["detail"] = body.result.name.lower()
    elif isinstance(body, PaymentHeld):
        fields.update(detail="", expiry=body.expiry, payer=body.payer, payee=body.payee)
    return fields


def _keys(contract: str, name: str, args: Mapping[str, Any]) -> dict[str, str | None]:
    trade = args.get("tradeId")
    if contract == "YuanToken" and name == "HoldPlaced":
        trade = args.get("ref")
    message = args.get("messageId") or args.get("outcomeId")
    return {
        "trade_id": trade if isinstance(trade, str) else None,
        "hold_id": args.get("holdId") if isinstance(args.get("holdId"), str) else None,
        "message_id": message if isinstance(message, str) else None,
    }


def _check_amounts(event: ChainEvent) -> None:
    for key in _AMOUNT_ARGS:
        value = event.args.get(key)
        if isinstance(value, int) and value > INT64_MAX:
            raise UnrecoverableError(
                f"{event.chain} {event.name} at block {event.block} carries {key} {value}, "
                "beyond the index's 64-bit amounts: this index cannot hold it exactly"
            )
