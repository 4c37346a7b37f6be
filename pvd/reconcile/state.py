"""What the reconciler reads from the two chains, decoded once at the edge into frozen values.

A `ChainView` is one chain and the pvd contracts deployed on it (from a manifest and an
RPC URL, or from an in-process `pvd.deploy.system.System`). `read_payment` and `read_business`
read everything the checks need at one pinned block per chain (logs up to that block,
contract state at that block), so each snapshot is consistent in itself:

- payment chain: every hold the token recorded (HoldPlaced / HoldExecuted / HoldReleased
  logs, the token's own `checkHold` / `holdStatus`), every account that appears (Transfer
  logs, hold and trade parties) with `balanceOf` / `heldBalanceOf`, `totalSupply`;
- business chain: every trade (TradeProposed logs, `getTrade`);
- both: every message the outbox sent (MessageSent) and what the inbox did with every
  message it consumed (MessageDelivered / MessageFailed / MessageRetried logs and its
  failure record `failureOf`).

No relayer store is read; web3 types stay in this module.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from eth_abi.exceptions import DecodingError
from eth_typing import ABIEvent
from eth_utils.abi import event_abi_to_log_topic
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError

from pvd.chain.logs import LogSource, ObservedLog
from pvd.chain.rpc import call_many, struct_fields
from pvd.errors import UserError
from pvd.protocol.messages import Message, MessageFormatError
from pvd.protocol.statuses import DeliveryStatus, HoldStatus, TradeStatus

ZERO_ADDRESS = "0x" + "00" * 20
ZERO_ID = b"\x00" * 32

PAYMENT_CONTRACTS = ("YuanToken", "Outbox", "Inbox", "PvdSettlement")
BUSINESS_CONTRACTS = ("TradeRegistry", "Outbox", "Inbox")


@dataclass(frozen=True)
class ChainView:
    """One chain and the pvd contracts on it, by contract name (manifest names)."""

    name: str
    domain_id: int
    w3: Web3
    contracts: Mapping[str, Contract]
    from_block: int = 0

    def contract(self, name: str) -> Contract:
        try:
            return self.contracts[name]
        except KeyError:
            raise UserError(
                f"the {self.name} chain's deployment has no {name}: "
                "pass that chain's own manifest, or redeploy"
            ) from None


@dataclass(frozen=True)
class HoldRecord:
    """One hold: its fields from HoldPlaced, its status from the token, its end events."""

    hold_id: bytes
    payer: str
    payee: str
    notary: str
    amount: int
    expiry: int
    ref: bytes
    placed_block: int
    status: HoldStatus
    commitment_ok: bool  # the token's checkHold accepted the HoldPlaced fields
    executions: tuple[tuple[str, int], ...] = ()  # (payee, amount) of each HoldExecuted
    releases: tuple[int, ...] = ()  # amount of each HoldReleased

    @property
    def executed(self) -> bool:
        return self.status is HoldStatus.EXECUTED or bool(self.executions)

    @property
    def released(self) -> bool:
        return self.status is HoldStatus.RELEASED or bool(self.releases)


@dataclass(frozen=True)
class AccountRecord:
    address: str
    balance: int
    held: int


@dataclass(frozen=True)
class SentMessage:
    """A message an outbox sent (MessageSent), decoded strictly."""

    message: Message
    block: int

    @property
    def id(self) -> bytes:
        return self.message.id


@dataclass(frozen=True)
class InboxRecord:
    """What an inbox did with one consumed message id: its delivery record and events."""

    message_id: bytes
    status: DeliveryStatus  # at the snapshot block (failure record, else its events)
    block: int  # the delivery's (or the successful retry's); a failed one's last failure
    failures: tuple[bytes, ...] = ()  # reasons of MessageFailed
    delivered_events: int = 0  # MessageDelivered + MessageRetried


@dataclass(frozen=True)
class ChainHead:
    name: str
    domain_id: int
    chain_id: int
    block: int
    timestamp: int


@dataclass(frozen=True)
class PaymentSnapshot:
    head: ChainHead
    token: str
    settlement: str
    total_supply: int
    holds: Mapping[bytes, HoldRecord]
    accounts: Mapping[str, AccountRecord]
    sent: Mapping[bytes, SentMessage]
    inbox: Mapping[bytes, InboxRecord]


@dataclass(frozen=True)
class TradeRecord:
    trade_id: bytes
    buyer: str
    seller: str
    payer: str
    payee: str
    token: str
    payment_domain: int
    price: int
    deadline: int
    hold_expiry: int
    status: TradeStatus
    settlement: int  # pvd.protocol.messages.SettlementResult value
    hold_id: bytes


@dataclass(frozen=True)
class BusinessSnapshot:
    head: ChainHead
    registry: str
    trades: Mapping[bytes, TradeRecord]
    sent: Mapping[bytes, SentMessage]
    inbox: Mapping[bytes, InboxRecord]


# ------------------------------------------------------------------------------- logs


def event_logs(
    view: ChainView, contract: Contract, event: str, to_block: int
) -> list[dict[str, Any]]:
    """The decoded `event` logs of `contract` from the view's start block to `to_block`
    (chunked eth_getLogs, chain order). Each dict has the event's arguments plus
    `_block` (block number)."""
    abi = _event_abi(contract, event)
    topic = event_abi_to_log_topic(cast(ABIEvent, abi))
    source = LogSource(view.w3, contract.address, HexBytes(topic))
    return [_decode_log(view.w3, abi, log) for log in source.logs(view.from_block, to_block)]


def abi_entries(contract: Contract) -> list[dict[str, Any]]:
    """The contract's ABI as plain dicts."""
    return cast(list[dict[str, Any]], contract.abi)


def _event_abi(contract: Contract, event: str) -> dict[str, Any]:
    for entry in abi_entries(contract):
        if entry.get("type") == "event" and entry.get("name") == event:
            return dict(entry)
    raise UserError(f"contract {contract.address} has no event {event}: redeploy with this pvd")


def _decode_log(w3: Web3, abi: dict[str, Any], log: ObservedLog) -> dict[str, Any]:
    inputs = abi["inputs"]
    indexed = [i for i in inputs if i["indexed"]]
    plain = [i for i in inputs if not i["indexed"]]
    values: dict[str, Any] = {}
    for entry, topic in zip(indexed, log.topics[1:], strict=True):
        values[entry["name"]] = _normal(entry["type"], w3.codec.decode([entry["type"]], topic)[0])
    decoded = w3.codec.decode([i["type"] for i in plain], log.data)
    for entry, value in zip(plain, decoded, strict=True):
        values[entry["name"]] = _normal(entry["type"], value)
    values["_block"] = log.block_number
    return values


def _normal(abi_type: str, value: Any) -> Any:
    if abi_type == "address":
        return to_checksum_address(value)
    return value


# -------------------------------------------------------------------------- the heads


def chain_head(view: ChainView) -> ChainHead:
    """The view's latest block, pinned for one snapshot."""
    block = view.w3.eth.get_block("latest")
    return ChainHead(
        name=view.name,
        domain_id=view.domain_id,
        chain_id=int(view.w3.eth.chain_id),
        block=int(block["number"]),
        timestamp=int(block["timestamp"]),
    )


# ------------------------------------------------------------------------- eth_call


def _value(result: Any) -> Any:
    """A call_many result that must not have reverted."""
    if isinstance(result, ContractLogicError):
        raise UserError(f"a view call reverted ({result}): is the manifest for this deployment?")
    return result


# --------------------------------------------------------------------- payment chain


def read_payment(view: ChainView) -> PaymentSnapshot:
    """Everything on the payment chain the checks need, at its latest block."""
    head = chain_head(view)
    token = view.contract("YuanToken")
    holds = _read_holds(view, token, head.block)
    parties = {h.payer for h in holds.values()} | {h.payee for h in holds.values()}
    addresses = sorted(_transfer_accounts(view, token, head.block) | parties)
    return PaymentSnapshot(
        head=head,
        token=token.address,
        settlement=view.contract("PvdSettlement").address,
        total_supply=int(token.functions.totalSupply().call(block_identifier=head.block)),
        holds=holds,
        accounts=_read_accounts(view.w3, token, addresses, head.block),
        sent=read_sent(view, head.block),
        inbox=read_inbox(view, head.block),
    )


_HOLD_FIELDS = ("payer", "payee", "notary", "amount", "expiry", "ref")


def _read_holds(view: ChainView, token: Contract, block: int) -> dict[bytes, HoldRecord]:
    executions: dict[bytes, list[tuple[str, int]]] = defaultdict(list)
    for log in event_logs(view, token, "HoldExecuted", block):
        executions[bytes(log["holdId"])].append((log["payee"], int(log["amount"])))
    releases: dict[bytes, list[int]] = defaultdict(list)
    for log in event_logs(view, token, "HoldReleased", block):
        releases[bytes(log["holdId"])].append(int(log["amount"]))
    placed = {bytes(p["holdId"]): p for p in event_logs(view, token, "HoldPlaced", block)}
    checks = [token.functions.checkHold(tuple(p[k] for k in _HOLD_FIELDS)) for p in placed.values()]
    checked = dict(zip(placed, call_many(view.w3, checks, block), strict=True))
    # holdStatus for a hold whose fields the token refuses (checkHold reverted) and for one
    # with end logs but no HoldPlaced log
    unchecked = [i for i, c in checked.items() if isinstance(c, ContractLogicError)]
    orphans = sorted((set(executions) | set(releases)) - set(placed))
    calls = [token.functions.holdStatus(hold_id) for hold_id in unchecked + orphans]
    status = dict(zip(unchecked + orphans, call_many(view.w3, calls, block), strict=True))
    status.update({i: c[1] for i, c in checked.items() if i not in status})
    holds: dict[bytes, HoldRecord] = {}
    for hold_id, p in placed.items():
        holds[hold_id] = HoldRecord(
            hold_id=hold_id,
            payer=p["payer"],
            payee=p["payee"],
            notary=p["notary"],
            amount=int(p["amount"]),
            expiry=int(p["expiry"]),
            ref=bytes(p["ref"]),
            placed_block=int(p["_block"]),
            status=HoldStatus(_value(status[hold_id])),
            commitment_ok=_commitment_ok(checked[hold_id], hold_id),
            executions=tuple(executions.get(hold_id, ())),
            releases=tuple(releases.get(hold_id, ())),
        )
    for hold_id in orphans:
        holds[hold_id] = _orphan(hold_id, HoldStatus(_value(status[hold_id])), executions, releases)
    return holds


def _commitment_ok(check: Any, hold_id: bytes) -> bool:
    """Whether checkHold accepted the HoldPlaced fields (it reverts HoldMismatch if the
    token's stored commitment is to other fields) and named the same id."""
    if isinstance(check, ContractLogicError):
        return False
    checked_id, _status = check
    return bytes(checked_id) == hold_id


def _orphan(
    hold_id: bytes,
    status: HoldStatus,
    executions: Mapping[bytes, list[tuple[str, int]]],
    releases: Mapping[bytes, list[int]],
) -> HoldRecord:
    """A hold with end logs but no HoldPlaced log: kept, so that the checks see it."""
    return HoldRecord(
        hold_id=hold_id,
        payer=ZERO_ADDRESS,
        payee=ZERO_ADDRESS,
        notary=ZERO_ADDRESS,
        amount=0,
        expiry=0,
        ref=ZERO_ID,
        placed_block=-1,
        status=status,
        commitment_ok=False,
        executions=tuple(executions.get(hold_id, ())),
        releases=tuple(releases.get(hold_id, ())),
    )


def _transfer_accounts(view: ChainView, token: Contract, block: int) -> set[str]:
    accounts: set[str] = set()
    for log in event_logs(view, token, "Transfer", block):
        accounts.update((log["from"], log["to"]))
    accounts.discard(to_checksum_address(ZERO_ADDRESS))
    return accounts


def _read_accounts(
    w3: Web3, token: Contract, addresses: list[str], block: int
) -> dict[str, AccountRecord]:
    calls = [token.functions.balanceOf(a) for a in addresses]
    calls += [token.functions.heldBalanceOf(a) for a in addresses]
    results = [int(_value(r)) for r in call_many(w3, calls, block)]
    count = len(addresses)
    return {
        address: AccountRecord(address=address, balance=results[i], held=results[count + i])
        for i, address in enumerate(addresses)
    }


# -------------------------------------------------------------------- business chain


def read_business(view: ChainView) -> BusinessSnapshot:
    """Everything on the business chain the checks need, at its latest block."""
    head = chain_head(view)
    registry = view.contract("TradeRegistry")
    components = struct_fields(registry, "getTrade")
    ids = [bytes(log["tradeId"]) for log in event_logs(view, registry, "TradeProposed", head.block)]
    raw = call_many(view.w3, [registry.functions.getTrade(i) for i in ids], head.block)
    trades = {
        trade_id: _trade(trade_id, dict(zip(components, _value(fields), strict=True)))
        for trade_id, fields in zip(ids, raw, strict=True)
    }
    return BusinessSnapshot(
        head=head,
        registry=registry.address,
        trades=trades,
        sent=read_sent(view, head.block),
        inbox=read_inbox(view, head.block),
    )


def _trade(trade_id: bytes, t: dict[str, Any]) -> TradeRecord:
    return TradeRecord(
        trade_id=trade_id,
        buyer=to_checksum_address(t["buyer"]),
        seller=to_checksum_address(t["seller"]),
        payer=to_checksum_address(t["payer"]),
        payee=to_checksum_address(t["payee"]),
        token=to_checksum_address(t["token"]),
        payment_domain=int(t["paymentDomain"]),
        price=int(t["price"]),
        deadline=int(t["deadline"]),
        hold_expiry=int(t["holdExpiry"]),
        status=TradeStatus(t["status"]),
        settlement=int(t["settlement"]),
        hold_id=bytes(t["holdId"]),
    )


# -------------------------------------------------------------------------- messaging


def read_sent(view: ChainView, block: int) -> dict[bytes, SentMessage]:
    """Every message the view's outbox sent up to `block`, by id. An event whose bytes
    do not decode, or whose id is not their keccak, cannot come from this outbox: the
    manifest names another contract."""
    sent: dict[bytes, SentMessage] = {}
    outbox = view.contract("Outbox")
    for log in event_logs(view, outbox, "MessageSent", block):
        try:
            message = Message.decode(bytes(log["message"]))
        except (MessageFormatError, DecodingError) as exc:
            raise UserError(
                f"{view.name} outbox {outbox.address} emitted an undecodable message ({exc}): "
                "is the manifest's Outbox a pvd outbox?"
            ) from None
        if message.id != bytes(log["messageId"]):
            raise UserError(
                f"{view.name} outbox {outbox.address} emitted a message whose id is not its "
                "keccak: is the manifest's Outbox a pvd outbox?"
            )
        sent[message.id] = SentMessage(message=message, block=int(log["_block"]))
    return sent


def read_inbox(view: ChainView, block: int) -> dict[bytes, InboxRecord]:
    """Every message id the view's inbox consumed up to `block` (each consumption emits
    MessageDelivered or MessageFailed), with its status at `block`. The inbox keeps only a
    consumed bit per (source domain, app, nonce) and a failure record per id that did not
    take effect: the status is the failure record (`failureOf`: Failed or Voided) if there
    is one, else Delivered if the id took effect (a MessageDelivered or MessageRetried);
    the block is that of the last event of its status (the delivery's or the successful
    retry's; the failed delivery's)."""
    inbox = view.contract("Inbox")
    failures: dict[bytes, list[bytes]] = defaultdict(list)
    failed_at: dict[bytes, int] = {}
    delivered: dict[bytes, int] = defaultdict(int)
    delivered_at: dict[bytes, int] = {}
    for log in event_logs(view, inbox, "MessageFailed", block):
        failures[bytes(log["messageId"])].append(bytes(log["reason"]))
        failed_at[bytes(log["messageId"])] = int(log["_block"])
    for name in ("MessageDelivered", "MessageRetried"):
        for log in event_logs(view, inbox, name, block):
            delivered[bytes(log["messageId"])] += 1
            at = int(log["_block"])
            delivered_at[bytes(log["messageId"])] = max(
                at, delivered_at.get(bytes(log["messageId"]), 0)
            )
    ids = _ordered(failures, delivered)
    raw = call_many(view.w3, [inbox.functions.failureOf(i) for i in ids], block)
    records: dict[bytes, InboxRecord] = {}
    for message_id, record in zip(ids, raw, strict=True):
        failure, _epoch = _value(record)
        status = DeliveryStatus(failure)
        if status is DeliveryStatus.NONE and delivered.get(message_id, 0):
            status = DeliveryStatus.DELIVERED
        at = (
            delivered_at.get(message_id, 0)
            if status is DeliveryStatus.DELIVERED
            else failed_at.get(message_id, 0)
        )
        records[message_id] = InboxRecord(
            message_id=message_id,
            status=status,
            block=at,
            failures=tuple(failures.get(message_id, ())),
            delivered_events=delivered.get(message_id, 0),
        )
    return records


def _ordered(*groups: Iterable[bytes]) -> list[bytes]:
    seen: dict[bytes, None] = {}
    for group in groups:
        seen.update(dict.fromkeys(group))
    return list(seen)
