"""Source-state checks fall back to the latest block only when the node has pruned the
log's block state (what anvil and non-archive nodes do), never on another error."""

import pytest
from web3.exceptions import Web3RPCError

from pvd.relayer.checks import _state_pruned


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
