"""The two ends of the relayer's routes: each chain with the pvd contracts on it.

Built from deployment manifests (a `pvd relay` process) or from an in-process
`pvd.deploy.system.System` (the embedded demo and tests). web3 contract handles stay here and
in the modules that read chains.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils.abi import event_abi_to_log_topic
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError

from pvd.chain.connection import Chain
from pvd.chain.logs import logs_by_topic1
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


# The inbox's events that consume a message or change its record: the latest one of an id
# says who and in which block (the inbox keeps only a consumed bit per nonce in storage).
_DELIVERY_EVENTS = ("MessageDelivered", "MessageFailed", "MessageRetried")


def inbox_records(destination: ChainEnd, messages: Mapping[str, bytes]) -> dict[str, InboxRecord]:
    """The inbox's record of each message (id in 0x-hex -> its encoding): the status read
    at its latest block in JSON-RPC batches, and for a consumed one the deliverer and
    block of its latest delivery event (one eth_getLogs pass for all of them)."""
    inbox = destination.inbox
    ids = list(messages)
    calls = [inbox.functions.deliveryStatus(messages[mid]) for mid in ids]
    statuses: dict[str, DeliveryStatus] = {}
    for mid, result in zip(ids, call_many(destination.chain.w3, calls, "latest"), strict=True):
        if isinstance(result, ContractLogicError):
            raise UnrecoverableError(
                f"{destination.name} chain: the inbox's deliveryStatus of {mid} reverted "
                f"({result}): is the manifest for this deployment?"
            )
        statuses[mid] = DeliveryStatus(result)
    consumed = [mid for mid in ids if statuses[mid] is not DeliveryStatus.NONE]
    last = _last_delivery_events(destination, consumed)
    found: dict[str, InboxRecord] = {}
    for mid in ids:
        deliverer, block = last.get(mid, (ZERO_ADDRESS, 0))
        found[mid] = InboxRecord(statuses[mid], deliverer, block)
    return found


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
    logs = logs_by_topic1(
        w3,
        inbox.address,
        topics,
        [HexBytes(mid) for mid in ids],
        destination.outbox_block,
        "latest",
        per_query=500,
    )
    last: dict[str, tuple[str, int]] = {}
    for entry in logs:  # chain order: a later event replaces an earlier one
        # each event's first data word is the deliverer (retrier)
        (who,) = w3.codec.decode(["address"], bytes(entry.data)[:32])
        last[entry.topics[1].to_0x_hex()] = (Web3.to_checksum_address(who), entry.block_number)
    return last


def inbox_deliveries(
    destination: ChainEnd, messages: Mapping[str, bytes]
) -> dict[str, tuple[DeliveryStatus, int]]:
    """(status, block) of each message (id in 0x-hex -> its encoding) on the
    destination's inbox (inbox_records without the deliverer)."""
    return {mid: (r.status, r.block) for mid, r in inbox_records(destination, messages).items()}
