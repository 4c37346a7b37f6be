"""pvd.relayer.sender on a real anvil (one per test, always stopped) and on eth-tester.

The gas keys are the public development mnemonic's accounts (pvd.chain.connection.dev_accounts)
and the unfunded helpers.TEST_KEY_OTHER: TEST KEYS ONLY.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import HexStr
from hexbytes import HexBytes
from web3 import Web3

from pvd.chain.anvil import AnvilNode, start_anvil, stop_anvil
from pvd.chain.connection import dev_accounts, embedded_chain
from pvd.chain.logs import ObservedLog
from pvd.chain.ports import free_port
from pvd.deploy.compiler import compile_contracts
from pvd.errors import RecoverableError, UnrecoverableError
from pvd.relayer.keys import Signer
from pvd.relayer.sender import (
    Call,
    FeeCapExceeded,
    Fees,
    GasFundsExhausted,
    NonceConflict,
    NotMined,
    PreflightReverted,
    RpcUnavailable,
    Sender,
    SenderSettings,
    bump,
)
from tests.pvd.relayer.helpers import TEST_KEY_OTHER

CHAIN_ID = 31337
GAS_KEY, RECIPIENT, OTHER = dev_accounts(3)  # TEST KEYS ONLY
FAST = SenderSettings(poll_interval=0.01, stuck_after=0.2, receipt_timeout=5.0)
# init code deploying a contract whose every call reverts with 32 bytes 0x..ff
REVERTER_INIT = bytes.fromhex("6960ff60005260206000fd600052600a6016f3")
REVERT_DATA = (255).to_bytes(32, "big")


@pytest.fixture
def anvil() -> Iterator[AnvilNode]:
    node = start_anvil("sender-test", CHAIN_ID)
    try:
        yield node
    finally:
        stop_anvil(node)


def connect(url: str, timeout: float = 2.0) -> Web3:
    """A provider as the relayer should use one: a short timeout and no retries of its
    own inside web3 (the relayer's retry policy decides)."""
    return Web3(
        Web3.HTTPProvider(
            url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None
        )
    )


@pytest.fixture
def w3(anvil: AnvilNode) -> Web3:
    return connect(anvil.url)


def sender_on(w3: Web3, key: LocalAccount = GAS_KEY, **settings: Any) -> Sender:
    base = {
        "poll_interval": FAST.poll_interval,
        "stuck_after": FAST.stuck_after,
        "receipt_timeout": FAST.receipt_timeout,
    }
    return Sender(w3, Signer(key), "payment", SenderSettings(**{**base, **settings}))


def transfer(value: int = 1_234) -> Call:
    return Call(to=RECIPIENT.address, value=value, gas=21_000)


def rpc(w3: Web3, method: str, *params: Any) -> Any:
    return w3.provider.make_request(method, list(params))["result"]  # type: ignore[arg-type]


def send_directly(w3: Web3, key: LocalAccount, nonce: int, tip: int = 10**9, **extra: Any) -> str:
    """A transaction from `key` that the Sender knows nothing about."""
    tx = {
        "type": 2,
        "chainId": CHAIN_ID,
        "nonce": nonce,
        "to": OTHER.address,
        "value": 1,
        "gas": 21_000,
        "maxFeePerGas": 10 * 10**9 + tip,
        "maxPriorityFeePerGas": tip,
        **extra,
    }
    return w3.eth.send_raw_transaction(key.sign_transaction(tx).raw_transaction).to_0x_hex()


def chain_nonce(w3: Web3, key: LocalAccount = GAS_KEY) -> int:
    return int(w3.eth.get_transaction_count(key.address, "latest"))


# --- sending --------------------------------------------------------------------------


def test_a_plain_send_is_mined_and_pays_the_recipient(w3: Web3) -> None:
    sender = sender_on(w3)
    before = w3.eth.get_balance(RECIPIENT.address)
    mined = sender.send_and_wait(transfer(1_234))
    assert mined.succeeded and mined.nonce == 0 and mined.replacements == 0
    assert w3.eth.get_balance(RECIPIENT.address) == before + 1_234
    assert mined.block_number == w3.eth.block_number
    assert mined.gas_used == 21_000
    assert chain_nonce(w3) == 1 and sender.next_nonce == 1


def test_a_receipt_read_as_raw_json_carries_the_logs_web3_reads(w3: Web3) -> None:
    artifact = compile_contracts()["PlainERC20"]
    deployer = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    deployed = w3.eth.wait_for_transaction_receipt(
        deployer.constructor(GAS_KEY.address, 10**6).transact({"from": GAS_KEY.address})
    )
    token = w3.eth.contract(address=deployed["contractAddress"], abi=artifact.abi)
    data = token.encode_abi("transfer", [RECIPIENT.address, 5])
    sender = sender_on(w3)

    mined = sender.send_and_wait(Call(to=token.address, data=HexBytes(data)))

    expected = w3.eth.get_transaction_receipt(HexStr(mined.tx_hash))
    assert mined.succeeded and mined.block_number == expected["blockNumber"]
    assert mined.gas_used == expected["gasUsed"]
    assert mined.logs == tuple(ObservedLog.from_receipt(log) for log in expected["logs"])
    (transferred,) = mined.logs
    assert transferred.address == token.address and transferred.log_index == 0


def test_nonces_are_handed_out_locally_one_after_another(w3: Web3) -> None:
    sender = sender_on(w3)
    sent = [sender.send(transfer(n + 1)) for n in range(3)]
    assert [s.nonce for s in sent] == [0, 1, 2]
    assert [sender.wait(s).nonce for s in sent] == [0, 1, 2]
    assert chain_nonce(w3) == 3 and sender.resyncs == 0


def test_a_send_without_a_gas_limit_is_estimated_with_a_margin(w3: Web3) -> None:
    sender = sender_on(w3)
    sent = sender.send(Call(to=RECIPIENT.address, value=5))
    assert sent.gas == 21_000 * 120 // 100
    assert sender.wait(sent).gas_used == 21_000


def test_fees_follow_the_next_base_fee_and_the_priority_fee(w3: Web3) -> None:
    fees = sender_on(w3).suggest_fees()
    base = int(w3.eth.fee_history(1, "latest", [])["baseFeePerGas"][-1])
    tip = int(w3.eth.max_priority_fee)
    assert fees == Fees(2 * base + tip, tip)


def test_fees_never_exceed_the_cap(w3: Web3) -> None:
    base = int(w3.eth.fee_history(1, "latest", [])["baseFeePerGas"][-1])
    fees = sender_on(w3, max_fee_cap=base + 7).suggest_fees()
    assert fees.max_fee_per_gas == base + 7
    assert fees.max_priority_fee_per_gas <= fees.max_fee_per_gas


def test_a_base_fee_above_the_cap_sends_nothing_and_is_recoverable(w3: Web3) -> None:
    sender = sender_on(w3, max_fee_cap=1)
    with pytest.raises(FeeCapExceeded) as raised:
        sender.send(transfer())
    assert isinstance(raised.value, RecoverableError)
    assert raised.value.reason == "fee_above_cap"
    assert chain_nonce(w3) == 0 and rpc(w3, "txpool_status")["pending"] == "0x0"


# --- pre-flight -----------------------------------------------------------------------


def test_a_preflight_revert_is_reported_with_its_data_and_nothing_is_sent(w3: Web3) -> None:
    deploy = OTHER.sign_transaction(
        {
            "type": 2,
            "chainId": CHAIN_ID,
            "nonce": 0,
            "data": REVERTER_INIT,
            "gas": 100_000,
            "maxFeePerGas": 10 * 10**9,
            "maxPriorityFeePerGas": 10**9,
        }
    )
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(deploy.raw_transaction)
    )
    reverter = receipt["contractAddress"]
    assert reverter is not None
    sender = sender_on(w3)
    with pytest.raises(PreflightReverted) as raised:
        sender.send(Call(to=reverter, data=b"\x01\x02", gas=50_000))
    assert raised.value.data == REVERT_DATA
    assert raised.value.reason == "preflight_reverted"
    assert chain_nonce(w3) == 0 and sender.next_nonce is None  # nothing signed or sent


def test_the_preflight_returns_the_calls_return_data(w3: Web3) -> None:
    assert sender_on(w3).preflight(transfer()) == b""


# --- nonces ---------------------------------------------------------------------------


def test_a_nonce_used_behind_its_back_is_resynced_and_the_send_succeeds(w3: Web3) -> None:
    sender = sender_on(w3)
    sender.send_and_wait(transfer())  # the sender now expects nonce 1 next
    w3.eth.wait_for_transaction_receipt(  # ... but another process uses it
        HexStr(send_directly(w3, GAS_KEY, nonce=1)), poll_latency=0.01
    )
    assert chain_nonce(w3) == 2
    mined = sender.send_and_wait(transfer())
    assert mined.succeeded and mined.nonce == 2
    assert sender.resyncs == 1 and sender.next_nonce == 3
    assert chain_nonce(w3) == 3


def test_a_pending_foreign_transaction_is_counted_at_the_first_sync(w3: Web3) -> None:
    rpc(w3, "evm_setAutomine", False)
    send_directly(w3, GAS_KEY, nonce=0)  # pending, not mined
    sent = sender_on(w3).send(transfer())
    assert sent.nonce == 1  # eth_getTransactionCount(pending)


def test_a_nonce_taken_while_waiting_is_a_recoverable_conflict(w3: Web3) -> None:
    rpc(w3, "evm_setAutomine", False)
    sender = sender_on(w3, stuck_after=0.05)
    sent = sender.send(transfer())
    # another process replaces our pending transaction with its own, then it is mined
    send_directly(w3, GAS_KEY, nonce=sent.nonce, tip=5 * 10**9)
    rpc(w3, "evm_mine")
    with pytest.raises(NonceConflict) as raised:
        sender.wait(sent)
    assert raised.value.reason == "nonce_conflict"
    assert sender.receipt(sent.tx_hash, sent.nonce) is None
    assert sender.next_nonce is None  # resynced at the next send


# --- stuck transactions ---------------------------------------------------------------


def pending_hash(w3: Web3, nonce: int) -> str | None:
    pool = rpc(w3, "txpool_content")["pending"].get(GAS_KEY.address.lower(), {})
    entry = pool.get(str(nonce))
    return None if entry is None else str(entry["hash"])


def test_a_stuck_transaction_is_replaced_with_bumped_fees_and_exactly_one_lands(
    w3: Web3,
) -> None:
    rpc(w3, "evm_setAutomine", False)
    sender = sender_on(w3)
    before = w3.eth.get_balance(RECIPIENT.address)
    sent = sender.send(transfer(777))
    replaced: list[str] = []

    def mine_after_the_replacement() -> None:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            current = pending_hash(w3, sent.nonce)
            if current is not None and current != sent.tx_hash:
                replaced.append(current)
                rpc(w3, "evm_mine")
                return
            time.sleep(0.01)

    miner = threading.Thread(target=mine_after_the_replacement)
    miner.start()
    mined = sender.wait(sent)
    miner.join()
    assert replaced and mined.tx_hash != sent.tx_hash
    assert mined.replacements >= 1 and mined.nonce == sent.nonce and mined.succeeded
    if mined.replacements == 1:  # (a slow miner thread may let a second bump through)
        assert mined.tx_hash == replaced[0]
    assert sender.receipt(sent.tx_hash, sent.nonce) is None  # the original never landed
    assert w3.eth.get_balance(RECIPIENT.address) == before + 777  # paid once
    assert chain_nonce(w3) == 1
    replacement = w3.eth.get_transaction(HexStr(mined.tx_hash))
    assert replacement["maxFeePerGas"] * 8 >= sent.fees.max_fee_per_gas * 9
    assert replacement["maxPriorityFeePerGas"] * 8 >= sent.fees.max_priority_fee_per_gas * 9


def test_a_replacement_is_refused_when_it_would_pass_the_cap(w3: Web3) -> None:
    base = int(w3.eth.fee_history(1, "latest", [])["baseFeePerGas"][-1])
    sender = sender_on(w3, max_fee_cap=2 * base + 10**9)
    with pytest.raises(FeeCapExceeded):
        sender.replacement_fees(sender.suggest_fees())


def test_a_transaction_not_mined_in_time_is_recoverable(w3: Web3) -> None:
    rpc(w3, "evm_setAutomine", False)
    sender = sender_on(w3, stuck_after=60.0)
    sent = sender.send(transfer())
    started = time.monotonic()
    with pytest.raises(NotMined) as raised:
        sender.wait(sent, timeout=0.1)
    assert time.monotonic() - started < 0.5
    assert isinstance(raised.value, RecoverableError) and raised.value.reason == "not_mined"


@pytest.mark.parametrize(
    ("value", "bumped"), [(0, 1), (1, 2), (8, 9), (9, 11), (10**9, 1_125_000_000)]
)
def test_a_bump_adds_at_least_an_eighth_and_at_least_one_wei(value: int, bumped: int) -> None:
    assert bump(value) == bumped
    assert bump(value) * 8 >= value * 9 and bump(value) > value


# --- errors ---------------------------------------------------------------------------


def test_a_gas_key_without_funds_is_unrecoverable_and_names_its_address(w3: Web3) -> None:
    poor = Account.from_key(TEST_KEY_OTHER)
    sender = sender_on(w3, key=poor)
    with pytest.raises(GasFundsExhausted) as raised:
        sender.send(transfer(0))
    message = str(raised.value)
    assert isinstance(raised.value, UnrecoverableError)
    assert poor.address in message and "out of gas" in message and "\n" not in message
    assert raised.value.reason == "out_of_gas_funds"
    assert sender.next_nonce == 0  # the nonce was not spent


def test_a_stopped_rpc_is_recoverable(anvil: AnvilNode, w3: Web3) -> None:
    sender = sender_on(w3)
    sender.send_and_wait(transfer())
    stop_anvil(anvil)
    started = time.monotonic()
    with pytest.raises(RpcUnavailable) as raised:
        sender.send(transfer())
    assert time.monotonic() - started < 1.0
    assert isinstance(raised.value, RecoverableError)
    assert raised.value.reason == "rpc_unreachable"


@pytest.fixture
def silent_url() -> Iterator[str]:
    """An RPC URL whose socket accepts connections and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


def test_a_silent_rpc_is_a_recoverable_timeout(silent_url: str) -> None:
    sender = sender_on(connect(silent_url, timeout=0.2))
    started = time.monotonic()
    with pytest.raises(RpcUnavailable) as raised:
        sender.send(transfer())
    assert time.monotonic() - started < 1.0
    assert raised.value.reason == "rpc_timeout"


@pytest.fixture
def failing_rpc_url() -> Iterator[str]:
    """An RPC URL that answers every request with HTTP 503."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_an_rpc_answering_5xx_is_recoverable(failing_rpc_url: str) -> None:
    with pytest.raises(RpcUnavailable) as raised:
        sender_on(connect(failing_rpc_url)).send(transfer())
    assert raised.value.reason == "rpc_http_error"
    assert "503" in str(raised.value)


# --- another kind of node -------------------------------------------------------------


def test_a_send_on_an_embedded_chain_uses_the_latest_base_fee() -> None:
    chain = embedded_chain("payment", 1)
    sender = Sender(chain.w3, Signer(GAS_KEY), "payment", FAST)
    before = chain.w3.eth.get_balance(RECIPIENT.address)
    mined = sender.send_and_wait(transfer(99))
    assert mined.succeeded and mined.nonce == 0
    assert chain.w3.eth.get_balance(RECIPIENT.address) == before + 99
