"""Log reading: chunked, depth-limited, and reorg-aware (R3)."""

from collections.abc import Iterator

import pytest
from web3 import Web3

from pvd.chain.anvil import start_anvil, stop_anvil
from pvd.chain.connection import Chain, dev_accounts, embedded_chain, rpc_chain
from pvd.chain.logs import LogSource
from pvd.deploy.compiler import compile_contracts
from pvd.deploy.contracts import Deployer

TRANSFER = Web3.keccak(text="Transfer(address,address,uint256)")


def token_with_transfers(chain: Chain, count: int) -> tuple[LogSource, list[int]]:
    deployer = Deployer(chain, compile_contracts(), "test")
    holder = chain.accounts[0].address
    token = deployer.deploy("PlainERC20", holder, 10**6)
    blocks = []
    for i in range(count):
        tx = token.functions.transfer(chain.accounts[1].address, i + 1).transact({"from": holder})
        blocks.append(chain.wait(tx)["blockNumber"])
    return LogSource(chain.w3, token.address, TRANSFER, chunk_blocks=2), blocks


@pytest.fixture
def anvil_chain() -> Iterator[Chain]:
    node = start_anvil("payment", 7001)
    try:
        yield rpc_chain("payment", node.url, 1, dev_accounts())
    finally:
        stop_anvil(node)


def test_logs_come_in_chain_order_across_chunks():
    chain = embedded_chain("payment", 1)
    source, blocks = token_with_transfers(chain, 5)
    logs = list(source.logs(0, chain.w3.eth.block_number))
    # the mint in the constructor, then the five transfers
    assert [log.block_number for log in logs][1:] == blocks
    assert [int.from_bytes(log.data, "big") for log in logs[1:]] == [1, 2, 3, 4, 5]


def test_confirmed_head_leaves_depth_blocks_unread():
    chain = embedded_chain("payment", 1)
    source, blocks = token_with_transfers(chain, 3)
    head = source.confirmed_head(depth=2)
    assert head == blocks[-1] - 2
    assert [log.block_number for log in source.logs(0, head)][-1] == blocks[0]


def test_a_reorged_block_is_no_longer_canonical(anvil_chain):
    chain = anvil_chain
    snapshot = chain.w3.provider.make_request("evm_snapshot", [])["result"]
    source, blocks = token_with_transfers(chain, 1)
    (seen,) = [log for log in source.logs(blocks[0], blocks[0])]
    assert source.still_canonical(seen)
    chain.w3.provider.make_request("evm_revert", [snapshot])
    while chain.w3.eth.block_number < seen.block_number:  # another block at that height
        chain.w3.provider.make_request("evm_mine", [])
    assert not source.still_canonical(seen)
