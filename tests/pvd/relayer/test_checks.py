"""Source-state checks read each log's block, and fall back to the latest block only when
the node has pruned that block's state (what anvil as pvd starts it and non-archive
nodes do), never on another error."""

from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest
from web3 import Web3
from web3.exceptions import Web3RPCError

from pvd.bench.relay import open_trades
from pvd.cli.demo import Cast, issue_funds, two_chains
from pvd.deploy.system import SystemConfig, deploy_system
from pvd.protocol.messages import Message, PaymentHeld
from pvd.relayer.checks import _state_pruned, oldest_kept_state, source_disagreements
from pvd.relayer.ends import ChainEnd, ends_from_system


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
    assert _state_pruned(Web3RPCError(message))


@pytest.mark.parametrize("message", ["execution reverted", "connection refused", "rate limited"])
def test_other_node_errors_are_not_taken_for_pruned_state(message):
    assert not _state_pruned(Web3RPCError(message))


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
    old: Held  # its block's state is gone from the node
    recent: Held  # its block's state is kept


@pytest.fixture(scope="module")
def pruned() -> Iterator[PrunedChain]:
    with two_chains("anvil") as (payment, business):
        cast = Cast.from_accounts(payment.accounts)
        config = SystemConfig(attesters=tuple(a.address for a in cast.attesters), threshold=2)
        system = deploy_system(payment, business, config)
        issue_funds(system, cast)
        open_trades(system, cast, 1)
        payment.w3.provider.make_request("anvil_mine", [hex(600)])  # type: ignore[arg-type]
        open_trades(system, cast, 1)
        old, recent = (
            Held(Message.decode(bytes(e["args"]["message"])), e["blockNumber"])
            for e in system.payment.outbox.events.MessageSent.get_logs(from_block=0)
        )
        yield PrunedChain(ends_from_system(system)[0], old, recent)


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
