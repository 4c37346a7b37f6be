"""pvd.bench.growth: the peak memory it reports is the process's own high-water mark; a
premade backlog's transactions are all mined however full their blocks; a catch-up
scans every block it mined."""

from __future__ import annotations

import subprocess
import sys

from web3.types import RPCEndpoint

from pvd.bench.growth import CATCH_UP_ANVIL, MINE_CALL, catch_up_point, peak_rss_kib
from pvd.bench.premade import send_all
from pvd.chain.anvil import start_anvil, stop_anvil
from pvd.chain.connection import Chain, dev_accounts, rpc_chain
from pvd.cli.demo import Cast, two_chains
from pvd.deploy.system import SystemConfig, deploy_system


def test_the_peak_rss_of_a_process_follows_what_it_allocated_and_is_none_once_it_is_gone():
    code = (
        "import sys; block = bytearray(64 * 1024 * 1024); "
        "sys.stdout.write('ok\\n'); sys.stdout.flush(); sys.stdin.read()"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == b"ok\n"
        peak = peak_rss_kib(child.pid)
        assert peak is not None and peak >= 64 * 1024  # the 64 MiB block, touched by zeroing
    finally:
        child.communicate(b"")
    assert peak_rss_kib(child.pid) is None


def _transfers(chain: Chain, count: int, fee: int) -> list[str]:
    sender, receiver = chain.accounts[0], chain.accounts[1]
    nonce = chain.w3.eth.get_transaction_count(sender.address)
    raw = []
    for i in range(count):
        tx = {
            "to": receiver.address,
            "value": 1,
            "nonce": nonce + i,
            "gas": 21_000,
            "maxFeePerGas": fee,
            "maxPriorityFeePerGas": 0,
            "chainId": chain.chain_id,
        }
        raw.append("0x" + bytes(sender.sign_transaction(tx).raw_transaction).hex())
    return raw


def test_premade_transactions_fill_every_block_though_full_blocks_raise_the_base_fee():
    """Ten transfers fill a block here. Full blocks raise the base fee 12.5 % each, so
    after about six of them it would pass the fee the transfers were signed with (twice
    the first base fee) and anvil would mine empty blocks (and refuse further sends):
    send_all resets it before each block, so 400 transfers take exactly 40 full blocks
    and every one succeeds."""
    node = start_anvil("growth-fees", 7001)
    try:
        chain = rpc_chain("payment", node.url, 1, dev_accounts(2))
        chain.w3.provider.make_request(RPCEndpoint("evm_setBlockGasLimit"), [hex(10 * 21_000)])
        fee = 2 * int(chain.w3.eth.get_block("latest")["baseFeePerGas"]) + 1
        before = chain.w3.eth.block_number
        receipts = send_all(chain, _transfers(chain, 400, fee))
        assert len(receipts) == 400 and all(r["status"] == "0x1" for r in receipts)
        assert chain.w3.eth.block_number - before == 40  # no empty block in between
        assert {int(r["blockNumber"], 16) for r in receipts} == set(range(before + 1, before + 41))
    finally:
        stop_anvil(node)


def test_a_restarted_relayer_scans_every_block_mined_on_the_catch_up_chains(tmp_path):
    """pvd deploys on the catch-up chains (anvil under CATCH_UP_ANVIL's rules), `mine`
    adds exactly the blocks asked for on both chains, calls of MINE_CALL included, and
    the restarted relayer's routes move their checkpoints over every one of them."""
    with two_chains("anvil", anvil_history=CATCH_UP_ANVIL) as (payment, business):
        cast = Cast.from_accounts(payment.accounts)
        config = SystemConfig(attesters=tuple(a.address for a in cast.attesters), threshold=2)
        system = deploy_system(payment, business, config)
        before = [payment.w3.eth.block_number, business.w3.eth.block_number]
        point = catch_up_point(system, cast, tmp_path / "store.sqlite", MINE_CALL + 250)
        after = [payment.w3.eth.block_number, business.w3.eth.block_number]
    assert [a - b for a, b in zip(after, before, strict=True)] == [MINE_CALL + 250] * 2
    assert point["blocks_per_chain"] == MINE_CALL + 250
    assert point["blocks_scanned"] == {
        "payment->business": MINE_CALL + 250,
        "business->payment": MINE_CALL + 250,
    }
