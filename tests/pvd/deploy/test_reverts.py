"""pvd.deploy.reverts: every custom error of the compiled contracts decoded by name with
its arguments, from hand-encoded data and from real reverts on an embedded chain."""

from __future__ import annotations

import re

import pytest
from eth_abi.abi import encode as abi_encode
from eth_tester.exceptions import TransactionFailed
from eth_utils.crypto import keccak
from web3.exceptions import ContractLogicError

from pvd.chain.connection import embedded_chain
from pvd.deploy.compiler import compiler_output
from pvd.deploy.reverts import (
    ContractRevert,
    DecodedError,
    RevertDecoder,
    project_decoder,
    revert_data,
)
from pvd.deploy.system import SystemConfig, deploy_system
from pvd.paths import PROJECT_ROOT

REVERTED = (ContractLogicError, TransactionFailed)  # anvil / eth-tester
ERROR_DECLARATION = re.compile(r"^\s*error\s+(\w+)\s*\(", re.MULTILINE)


def selector(signature: str) -> bytes:
    return bytes(keccak(text=signature))[:4]


def test_every_error_declared_in_contracts_is_known_by_name() -> None:
    declared = {
        name
        for path in (PROJECT_ROOT / "contracts").rglob("*.sol")
        for name in ERROR_DECLARATION.findall(path.read_text())
    }
    known = {spec.name for spec in project_decoder().specs}
    assert declared, "no error declarations found under contracts/"
    assert declared <= known, sorted(declared - known)


def test_openzeppelin_errors_are_known() -> None:
    known = {spec.name for spec in project_decoder().specs}
    for name in ("ERC20InsufficientBalance", "EnforcedPause", "AccessControlUnauthorizedAccount"):
        assert name in known
    assert "ECDSAInvalidSignature" in known


def test_every_error_of_the_compiler_output_round_trips() -> None:
    decoder = project_decoder()
    output = compiler_output()
    count = 0
    for contracts in output["contracts"].values():
        for data in contracts.values():
            for entry in data["abi"]:
                if entry["type"] != "error":
                    continue
                spec = decoder.spec(entry["name"])
                values = [_sample(t) for t in spec.types]
                decoded = decoder.decode(spec.selector + abi_encode(list(spec.types), values))
                assert decoded.known and not decoded.truncated
                assert decoded.name == entry["name"]
                assert [n for n, _ in decoded.args] == [
                    i["name"] or f"arg{k}" for k, i in enumerate(entry["inputs"])
                ]
                count += 1
    assert count > 100


def _sample(abi_type: str) -> object:
    if abi_type == "address":
        return "0x" + "11" * 20
    if abi_type.startswith("bytes") and abi_type != "bytes":
        return b"\x22" * int(abi_type[5:])
    if abi_type in ("bytes",):
        return b"\x01\x02"
    if abi_type == "string":
        return "text"
    if abi_type == "bool":
        return True
    if abi_type.startswith("int"):
        return -1
    return 1  # uint*


def test_arguments_are_named_and_enums_shown_as_words() -> None:
    trade_id = b"\xab" * 32
    data = selector("TradeWrongStatus(bytes32,uint8)") + abi_encode(
        ["bytes32", "uint8"], [trade_id, 3]
    )
    decoded = project_decoder().decode(data)
    assert decoded.name == "TradeWrongStatus"
    assert decoded.arg("status") == "Funded"
    assert str(decoded) == f"TradeWrongStatus(tradeId=0x{'ab' * 32}, status=Funded)"
    assert decoded.to_json()["args"]["status"] == "Funded"


def test_addresses_come_back_checksummed() -> None:
    account = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    data = selector("AccountIsFrozen(address)") + abi_encode(["address"], [account])
    assert project_decoder().decode(data).values == (account,)


def test_standard_error_and_panic() -> None:
    decoder = project_decoder()
    error = selector("Error(string)") + abi_encode(["string"], ["nope"])
    assert str(decoder.decode(error)) == "Error(message='nope')"
    panic = selector("Panic(uint256)") + abi_encode(["uint256"], [0x11])
    assert str(decoder.decode(panic)) == "Panic(code=0x11 arithmetic overflow or underflow)"


def test_unknown_empty_and_truncated_data() -> None:
    decoder = project_decoder()
    unknown = decoder.decode(b"\xde\xad\xbe\xef\x00")
    assert not unknown.known and str(unknown) == "0xdeadbeef00"
    assert str(decoder.decode(b"")) == "EmptyRevert()"
    whole = selector("TradeNotFound(bytes32)") + b"\x00" * 32
    cut = decoder.decode(whole[:20])
    assert cut.truncated and str(cut) == "TradeNotFound(…)"


def test_a_wrapped_reason_is_decoded_inside() -> None:
    inner = selector("EnforcedPause()")
    data = selector("InboxRetryFailed(bytes32,bytes)") + abi_encode(
        ["bytes32", "bytes"], [b"\x01" * 32, inner]
    )
    decoded = project_decoder().decode(data)
    assert decoded.values[1] == DecodedError("EnforcedPause")
    assert "EnforcedPause()" in str(decoded)


def test_revert_data_is_found_in_exceptions_and_rpc_errors() -> None:
    data = selector("EnforcedPause()")
    assert revert_data(ContractLogicError("execution reverted", data="0x" + data.hex())) == data
    assert revert_data({"code": 3, "message": "execution reverted", "data": "0x" + data.hex()}) == (
        data
    )
    assert revert_data(ValueError({"code": 3, "data": "0x" + data.hex()})) == data
    try:
        try:
            raise ContractLogicError("reverted", data="0x" + data.hex())
        except ContractLogicError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        assert revert_data(outer) == data
    assert revert_data(RuntimeError("no data")) is None
    # eth-tester (the embedded chains) puts the bytes' repr in its message
    assert revert_data(RuntimeError(f"execution reverted: {data!r}")) == data


def test_contract_revert_is_a_one_line_user_error() -> None:
    error = ContractRevert("accept", DecodedError("TradeNotFound", (("id", b"\x00" * 32),)))
    assert str(error) == f"accept reverted: TradeNotFound(id=0x{'00' * 32})"
    assert "\n" not in str(error)


def test_with_abis_adds_a_deployments_own_errors() -> None:
    abi = [{"type": "error", "name": "Custom", "inputs": [{"name": "x", "type": "uint256"}]}]
    decoder = RevertDecoder([]).with_abis([abi])
    data = selector("Custom(uint256)") + abi_encode(["uint256"], [7])
    assert str(decoder.decode(data)) == "Custom(x=7)"


@pytest.fixture(scope="module")
def system():  # type: ignore[no-untyped-def]
    payment, business = embedded_chain("payment", 1), embedded_chain("business", 2)
    attesters = tuple(a.address for a in payment.accounts[7:10])
    return deploy_system(payment, business, SystemConfig(attesters=attesters, threshold=2))


def test_a_real_call_revert_decodes_with_its_arguments(system) -> None:  # type: ignore[no-untyped-def]
    registry = system.business.registry
    stranger = system.business.chain.accounts[5].address
    unknown = b"\x42" * 32
    with pytest.raises(REVERTED) as raised:
        registry.functions.accept(unknown).call({"from": stranger})
    decoded = project_decoder().from_exception(raised.value)
    assert decoded is not None
    assert decoded.name == "TradeNotFound"
    assert decoded.values == (unknown,)


def test_a_real_access_control_revert_names_the_account_and_role(system) -> None:  # type: ignore[no-untyped-def]
    token = system.payment.token
    stranger = system.payment.chain.accounts[5].address
    with pytest.raises(REVERTED) as raised:
        token.functions.pause().call({"from": stranger})
    decoded = project_decoder().from_exception(raised.value)
    assert decoded is not None and decoded.name == "AccessControlUnauthorizedAccount"
    assert decoded.values == (stranger, "PAUSER_ROLE")
