"""Source-state checks read each log's block, and fall back to the latest block only when
the node has pruned that block's state (what anvil as pvd starts it and non-archive
nodes do), never on another error."""

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3
from web3.exceptions import Web3RPCError

from pvd.bench.relay import deliver, funded, open_trades
from pvd.chain.rpc import block_unavailable
from pvd.cli.demo import Cast, in_process_relayer, two_chains
from pvd.deploy.system import System
from pvd.protocol.messages import Message, PaymentHeld, TradeOutcome
from pvd.relayer import checks
from pvd.relayer.checks import (
    Read,
    oldest_kept_state,
    read_many_at,
    source_disagreements,
)
from pvd.relayer.config import Route
from pvd.relayer.ends import ChainEnd, ends_from_system
from pvd.relayer.service import Relayer
from pvd.relayer.store import Condition, SeenMessage, SourceLocation, Stage
from tests.pvd.relayer.helpers import NodeWithout, funded_system

B2P = Route.BUSINESS_TO_PAYMENT


@pytest.mark.parametrize(
    "message",
    [
        "{'code': -32602, 'message': 'BlockOutOfRangeError: block height is 4524 but "
        "requested was 210'}",
        "missing trie node 1a2b3c (path ) state 0x12 is not available",
        "header not found",
    ],
)
def test_a_node_without_the_old_state_is_recognised(message):
    assert block_unavailable(Web3RPCError(message))


@pytest.mark.parametrize("message", ["execution reverted", "connection refused", "rate limited"])
def test_other_node_errors_are_not_taken_for_pruned_state(message):
    assert not block_unavailable(Web3RPCError(message))


# --- on anvil, which keeps the state of its last 500 blocks only ----------------------------


@dataclass(frozen=True)
class Held:
    """A PAYMENT_HELD message the payment outbox sent, and the block of its log."""

    message: Message
    block: int

    def forged(self) -> Message:
        """The same message naming another hold id: the token's state contradicts it."""
        body = self.message.decoded_body()
        assert isinstance(body, PaymentHeld)
        return replace(self.message, body=replace(body, hold_id=b"\x07" * 32).encode())


@dataclass(frozen=True)
class PrunedChain:
    payment: ChainEnd
    business: ChainEnd
    old: Held  # its block's state is gone from the node
    recent: Held  # its block's state is kept


@pytest.fixture(scope="module")
def pruned() -> Iterator[PrunedChain]:
    with two_chains("anvil") as (payment, business):
        system, cast = funded_system(payment, business)
        open_trades(system, cast, 1)
        payment.w3.provider.make_request("anvil_mine", [hex(600)])  # type: ignore[arg-type]
        open_trades(system, cast, 1)
        old, recent = (
            Held(Message.decode(bytes(e["args"]["message"])), e["blockNumber"])
            for e in system.payment.outbox.events.MessageSent.get_logs(from_block=0)
        )
        yield PrunedChain(*ends_from_system(system), old, recent)


def state_kept(w3: Web3, block: int) -> bool:
    answer = w3.provider.make_request("eth_getBalance", ["0x" + "00" * 20, hex(block)])  # type: ignore[arg-type]
    return "error" not in answer


def test_the_oldest_block_whose_state_the_node_keeps_is_found_by_bisection(pruned):
    w3 = pruned.payment.chain.w3
    blocks = list(range(1, w3.eth.block_number + 1))

    oldest = oldest_kept_state(w3, blocks)

    assert oldest is not None and state_kept(w3, oldest) and not state_kept(w3, oldest - 1)
    assert oldest_kept_state(w3, blocks[blocks.index(oldest) :]) == oldest  # all kept
    assert oldest_kept_state(w3, blocks[: blocks.index(oldest)]) is None  # none kept
    assert oldest_kept_state(w3, []) is None


def test_a_message_is_checked_at_its_block_or_at_the_latest_once_its_state_is_gone(pruned):
    w3 = pruned.payment.chain.w3
    assert not state_kept(w3, pruned.old.block) and state_kept(w3, pruned.recent.block)
    old, recent = pruned.old, pruned.recent

    verdicts = source_disagreements(
        pruned.payment,
        pruned.business,
        [
            (old.message, old.block),
            (recent.message, recent.block),
            (old.forged(), old.block),
            (recent.forged(), recent.block),
        ],
    )

    assert verdicts[:2] == [None, None]  # both holds are Held and announced
    assert verdicts[2] is not None and "is not Held at block latest" in verdicts[2]
    assert verdicts[3] is not None and f"is not Held at block {recent.block}" in verdicts[3]


GETH_UNKNOWN_METHOD = "the method eth_simulateV1 does not exist/is not available"


def _reads_at_blocks(pruned: PrunedChain) -> list[tuple[Read, int | str]]:
    """Reads whose answers differ by block (the recent hold does not exist before its
    block), one that reverts (checkHold with another amount: HoldMismatch), and enough
    at one block to take more than one eth_simulateV1."""
    token, settlement = pruned.payment.app("YuanToken"), pruned.payment.app("PvdSettlement")
    message = pruned.recent.message
    body = message.decoded_body()
    assert isinstance(body, PaymentHeld)
    hold = (body.payer, body.payee, message.source_app, body.amount, body.expiry, body.trade_id)
    other = (*hold[:3], body.amount + 1, *hold[4:])
    block = pruned.recent.block
    reads: list[tuple[Read, int | str]] = [
        (Read(token, "holdStatus", (body.hold_id,)), block - 1),
        (Read(token, "holdStatus", (body.hold_id,)), block),
        (Read(token, "checkHold", (other,)), block),
        (Read(settlement, "isAnnounced", (body.hold_id,)), "latest"),
        (Read(token, "checkHold", (hold,)), block),
    ]
    return reads + [(Read(token, "holdStatus", (body.hold_id,)), block)] * checks.SIMULATE_CALLS


def _shown(results: list[Any]) -> list[Any]:
    return [(type(r).__name__, r.data) if isinstance(r, Exception) else r for r in results]


def test_reads_at_a_block_in_one_simulation_answer_as_eth_call_at_that_block(pruned):
    """eth_simulateV1 on top of a block reads the state eth_call at that block reads: the
    same values, the same revert data, per block; a node without the method is asked with
    eth_call, and remembered as such."""
    reads = _reads_at_blocks(pruned)
    upstream = str(pruned.payment.chain.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
    simulating = NodeWithout(upstream)
    refusing = NodeWithout(upstream, ["eth_simulateV1"], GETH_UNKNOWN_METHOD)
    try:
        simulated = read_many_at(simulating.w3, reads)
        called = read_many_at(refusing.w3, reads)
        again = read_many_at(refusing.w3, reads[:2])
    finally:
        simulating.close()
        refusing.close()

    assert _shown(simulated) == _shown(called)
    assert simulated[0] == 0 and simulated[1] == 1  # None before its block, Held at it
    assert isinstance(simulated[2], checks.ContractLogicError) and simulated[2].data
    assert simulated[3] is True and simulated[4][1] == 1
    assert again == called[:2]
    # one eth_simulateV1 per block and per SIMULATE_CALLS, no eth_call
    assert sorted(set(simulating.methods)) == ["eth_simulateV1"]
    assert simulating.methods.count("eth_simulateV1") == 4  # block - 1, block (2), latest
    assert refusing.methods.count("eth_call") == len(reads) + 2
    assert refusing.methods.count("eth_simulateV1") == 4  # asked once, then remembered


def test_a_simulation_at_a_block_whose_state_is_gone_is_taken_for_pruned_state(pruned):
    token = pruned.payment.app("YuanToken")
    body = pruned.old.message.decoded_body()
    assert isinstance(body, PaymentHeld)

    with pytest.raises(Web3RPCError) as raised:
        read_many_at(
            pruned.payment.chain.w3,
            [(Read(token, "holdStatus", (body.hold_id,)), pruned.old.block)],
        )

    assert block_unavailable(raised.value)
    assert pruned.payment.chain.w3.provider.endpoint_uri not in checks._NO_SIMULATE  # type: ignore[attr-defined]


# --- every field of a message against the configuration and the source state --------------


@dataclass(frozen=True)
class DeliveredWorld:
    """A trade Delivered on embedded chains; its outcome sent, not yet relayed."""

    system: System
    cast: Cast
    relayer: Relayer
    outcome: SeenMessage
    folder: Path

    @property
    def ends(self) -> tuple[ChainEnd, ChainEnd]:
        return ends_from_system(self.system)


@pytest.fixture
def delivered(tmp_path: Path) -> Iterator[DeliveredWorld]:
    with two_chains("embedded") as (payment, business):
        system, cast = funded_system(payment, business)
        relayer = in_process_relayer(system, cast, tmp_path / "relay.sqlite")
        try:
            (trade,) = open_trades(system, cast, 1)
            assert relayer.run_until(lambda: funded(system, trade), timeout=60)
            deliver(system, cast, trade)
            (event,) = system.business.outbox.events.MessageSent.get_logs(from_block=0)
            outcome = SeenMessage(
                "0x" + bytes(event["args"]["messageId"]).hex(),
                bytes(event["args"]["message"]),
                SourceLocation(
                    event["blockNumber"],
                    event["blockHash"].to_0x_hex(),
                    event["transactionHash"].to_0x_hex(),
                    event["logIndex"],
                ),
            )
            yield DeliveredWorld(system, cast, relayer, outcome, tmp_path)
        finally:
            relayer.close()
            relayer.store.close()


def _copy(world: DeliveredWorld, **changes: Any) -> Message:
    """The Delivered outcome with some envelope fields (source_app, destination_app, ...)
    or body fields (payee, amount, ...) changed."""
    message = Message.decode(world.outcome.message)
    body = message.decoded_body()
    assert isinstance(body, TradeOutcome)
    body_changes = {k: v for k, v in changes.items() if k in TradeOutcome.__dataclass_fields__}
    envelope = {k: v for k, v in changes.items() if k not in body_changes}
    return replace(message, body=replace(body, **body_changes).encode(), **envelope)


def _forgeries(world: DeliveredWorld) -> dict[str, Message]:
    body = Message.decode(world.outcome.message).decoded_body()
    assert isinstance(body, TradeOutcome)
    stranger = world.cast.dapp.address  # neither party of the trade
    other_app = world.system.business.bill_of_lading.address  # any other business contract
    return {
        "copied by another app, other payee, ten times the amount": _copy(
            world, source_app=other_app, payee=stranger, amount=body.amount * 10
        ),
        "copied by another app, same body": _copy(world, source_app=other_app),
        "another payee": _copy(world, payee=stranger),
        "ten times the amount": _copy(world, amount=body.amount * 10),
        "a later expiry": _copy(world, expiry=body.expiry + 86_400),
        "another payer": _copy(world, payer=stranger),
        "another destination app": _copy(world, destination_app=world.system.payment.token.address),
    }


def test_the_genuine_delivered_outcome_is_backed_by_the_source_state(delivered):
    payment, business = delivered.ends
    message = Message.decode(delivered.outcome.message)

    assert source_disagreements(business, payment, [(message, delivered.outcome.source.block)]) == [
        None
    ]


@pytest.mark.parametrize(
    "forgery",
    [
        "copied by another app, other payee, ten times the amount",
        "copied by another app, same body",
        "another payee",
        "ten times the amount",
        "a later expiry",
        "another payer",
        "another destination app",
    ],
)
def test_an_outcome_differing_from_the_source_state_in_any_field_gets_no_signature(
    delivered, forgery
):
    """A copied Delivered outcome (another registered app sending it, another payee, ten
    times the amount, ...), logged at the genuine outcome's place, is refused by the
    attest step: dead with source_state_disagrees, no signature stored."""
    world = delivered
    forged = _forgeries(world)[forgery]
    seen = SeenMessage("0x" + forged.id.hex(), forged.encode(), world.outcome.source)
    store = world.relayer.store
    store.record_scan(B2P, [seen])
    route = next(r for r in world.relayer.routes if r.route is B2P)

    route.attest()

    record = store.get(seen.message_id)
    assert record is not None
    assert (record.stage, record.condition) == (Stage.SEEN, Condition.DEAD)
    assert (record.fail_reason or "").startswith("source_state_disagrees")
    assert store.signatures(seen.message_id) == {}
