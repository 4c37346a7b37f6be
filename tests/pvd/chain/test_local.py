"""`pvd chains up|down`: two anvils on free ports, stopped by their own PIDs."""

import json

import pytest
from web3 import Web3

from pvd.chain import local as localchains
from pvd.chain.anvil import process_alive
from pvd.cli.main import main
from pvd.errors import UserError


def test_up_starts_two_answering_chains_and_down_stops_exactly_them(tmp_path):
    state = tmp_path / "chains.json"
    nodes = localchains.up(state)
    try:
        assert [(n.name, n.chain_id) for n in nodes] == [("payment", 7001), ("business", 7002)]
        assert nodes[0].port != nodes[1].port
        for node in nodes:
            assert Web3(Web3.HTTPProvider(node.url)).eth.chain_id == node.chain_id
        env = localchains.env_file(state).read_text()
        assert f"PVD_PAYMENT_RPC={nodes[0].url}" in env
        with pytest.raises(UserError, match="already running"):
            localchains.up(state)
    finally:
        stopped = localchains.down(state)
    assert stopped == nodes
    assert not any(process_alive(n.pid) for n in nodes)
    assert not state.exists() and not localchains.env_file(state).exists()


def test_corrupt_state_file_is_one_line_and_exit_2(tmp_path, capsys):
    state = tmp_path / "chains.json"
    state.write_text(json.dumps([{"name": "payment"}]))
    assert main(["chains", "down", "--state", str(state)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pvd: error: chain state file") and err.count("\n") == 1
