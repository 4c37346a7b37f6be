"""Revert reasons by name: every custom error of every pvd contract, decoded with its
arguments.

The errors come from the compiled ABIs (`pvd.deploy.compiler.compiler_output`: the
project's contracts, its libraries and the OpenZeppelin contracts they build on), plus
Solidity's own `Error(string)` and `Panic(uint256)`. Revert data is found wherever web3
or a node puts it: a `ContractLogicError` / `ContractCustomError` from `eth_call` or
gas estimation, a JSON-RPC error object, raw bytes or hex, or a mined transaction that
reverted (replayed with `eth_call` against the state its block started from).

    decoder = project_decoder()
    try:
        registry.functions.accept(trade_id).transact(...)
    except ContractLogicError as exc:
        print(decoder.explain_exception(exc))   # TradeWrongStatus(tradeId=0x…, status=Funded)

Used by the CLI, the relayer's logs, `pvd.client` exceptions and `pvd reconcile`.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils.abi import collapse_if_tuple
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import ContractLogicError

from pvd.errors import UserError
from pvd.paths import PROJECT_ROOT
from pvd.protocol.statuses import DeliveryStatus, HoldStatus, TradeStatus

__all__ = [
    "ContractRevert",
    "DecodedError",
    "ErrorSpec",
    "RevertDecoder",
    "error_specs",
    "project_decoder",
    "revert_data",
]

PANIC_CODES: Mapping[int, str] = {
    0x00: "generic compiler panic",
    0x01: "assert failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division or modulo by zero",
    0x21: "value out of an enum's range",
    0x22: "corrupt storage byte array",
    0x31: "pop on an empty array",
    0x32: "array index out of bounds",
    0x41: "out of memory",
    0x51: "call of a zero internal function",
}

# Enum arguments travel as uint8; their names come from the Python twins of the enums.
_ENUMS: Mapping[str, Sequence[str]] = {
    "enum IHoldableToken.HoldStatus": [s.name.capitalize() for s in HoldStatus],
    "enum ITradeRegistry.Status": [s.name.capitalize() for s in TradeStatus],
    "enum Inbox.DeliveryStatus": [s.name.capitalize() for s in DeliveryStatus],
    "enum MessageCodec.Outcome": ["None", "Delivered", "Expired", "Rejected"],
    "enum WalletClass": ["ClassIV", "ClassIII", "ClassII", "ClassI"],
}


# Role ids travel as bytes32; shown by name (AccessControlUnauthorizedAccount's neededRole).
ROLE_NAMES: Mapping[bytes, str] = {
    b"\x00" * 32: "DEFAULT_ADMIN_ROLE",
    **{
        bytes(keccak(text=role)): role
        for role in ("OPERATOR_ROLE", "COMPLIANCE_ROLE", "PAUSER_ROLE", "GUARDIAN_ROLE")
    },
}


@dataclass(frozen=True)
class ErrorSpec:
    """One error of an ABI: `Name(type,...)` with its argument names."""

    name: str
    types: tuple[str, ...]
    arg_names: tuple[str, ...]
    internal_types: tuple[str, ...]

    @property
    def signature(self) -> str:
        return f"{self.name}({','.join(self.types)})"

    @property
    def selector(self) -> bytes:
        return bytes(keccak(text=self.signature))[:4]

    @classmethod
    def from_abi(cls, entry: Mapping[str, Any]) -> ErrorSpec:
        inputs = [dict(i) for i in entry.get("inputs", [])]
        return cls(
            name=str(entry["name"]),
            types=tuple(collapse_if_tuple(i) for i in inputs),
            arg_names=tuple(str(i.get("name") or f"arg{n}") for n, i in enumerate(inputs)),
            internal_types=tuple(str(i.get("internalType", "")) for i in inputs),
        )


@dataclass(frozen=True)
class DecodedError:
    """A revert reason: the error's name and its arguments (name, value) in order.
    `truncated` when the data ended before the arguments did (the inbox keeps at most
    256 bytes of a recipient's reason); `known` is False for a selector no pvd contract
    declares (then `name` is the hex of the data)."""

    name: str
    args: tuple[tuple[str, Any], ...] = ()
    known: bool = True
    truncated: bool = False

    @property
    def values(self) -> tuple[Any, ...]:
        return tuple(value for _, value in self.args)

    def arg(self, name: str) -> Any:
        return dict(self.args)[name]

    def __str__(self) -> str:
        if not self.known:
            return self.name
        if self.truncated:
            return f"{self.name}(…)"
        return f"{self.name}({', '.join(f'{n}={_show(v)}' for n, v in self.args)})"

    def to_json(self) -> dict[str, Any]:
        return {
            "error": self.name,
            "args": {n: _json_value(v) for n, v in self.args},
            "known": self.known,
            "truncated": self.truncated,
        }


class ContractRevert(UserError):
    """A call or transaction the contract refused; `error` says which rule it broke.
    A UserError: the CLI prints it as one line (what was attempted, the decoded error)."""

    def __init__(self, action: str, error: DecodedError) -> None:
        super().__init__(f"{action} reverted: {error}")
        self.action = action
        self.error = error


_STANDARD = (
    ErrorSpec("Error", ("string",), ("message",), ("string",)),
    ErrorSpec("Panic", ("uint256",), ("code",), ("uint256",)),
)


class RevertDecoder:
    """Revert data -> `DecodedError`, for a fixed set of error ABIs."""

    def __init__(self, specs: Iterable[ErrorSpec]) -> None:
        self._by_selector: dict[bytes, ErrorSpec] = {}
        for spec in (*_STANDARD, *specs):
            self._by_selector.setdefault(spec.selector, spec)

    @classmethod
    def from_abis(cls, abis: Iterable[Iterable[Mapping[str, Any]]]) -> RevertDecoder:
        return cls(error_specs(abis))

    def with_abis(self, abis: Iterable[Iterable[Mapping[str, Any]]]) -> RevertDecoder:
        """This decoder plus the errors of more ABIs (e.g. a deployment's own files)."""
        return RevertDecoder((*self._by_selector.values(), *error_specs(abis)))

    @property
    def specs(self) -> tuple[ErrorSpec, ...]:
        return tuple(self._by_selector.values())

    def spec(self, name: str) -> ErrorSpec:
        """The error called `name` (KeyError if no contract declares it)."""
        for spec in self._by_selector.values():
            if spec.name == name:
                return spec
        raise KeyError(name)

    def decode(self, data: bytes | str) -> DecodedError:
        """Decode revert data (bytes or 0x-hex). Empty data is `EmptyRevert` (a revert
        without a reason, or a call to an address with no code)."""
        raw = bytes(HexBytes(data))
        if not raw:
            return DecodedError("EmptyRevert")
        spec = self._by_selector.get(raw[:4])
        if spec is None:
            return DecodedError("0x" + raw.hex(), known=False)
        try:
            values = abi_decode(list(spec.types), raw[4:])
        except (DecodingError, OverflowError, ValueError):
            return DecodedError(spec.name, truncated=True)
        args = tuple(
            (name, self._present(name, internal, value))
            for name, internal, value in zip(
                spec.arg_names, spec.internal_types, values, strict=True
            )
        )
        if spec.name == "Panic":
            code = int(values[0])
            args = (("code", f"0x{code:02x} {PANIC_CODES.get(code, 'unknown panic')}"),)
        return DecodedError(spec.name, args)

    def _present(self, arg_name: str, internal_type: str, value: Any) -> Any:
        names = _ENUMS.get(internal_type)
        if names is not None and isinstance(value, int) and 0 <= value < len(names):
            return names[value]
        if internal_type == "address" or internal_type.startswith("contract "):
            return Web3.to_checksum_address(value)
        if internal_type == "bytes32" and arg_name.lower().endswith("role") and value in ROLE_NAMES:
            return ROLE_NAMES[value]
        if internal_type == "bytes" and isinstance(value, bytes) and len(value) >= 4:
            inner = self.decode(value)  # a wrapped reason (InboxRetryFailed's)
            return inner if inner.known else value
        return value

    def explain(self, data: bytes | str) -> str:
        """Revert data as one line: `Name(arg=value, ...)`."""
        return str(self.decode(data))

    def from_exception(self, exc: BaseException) -> DecodedError | None:
        """The decoded reason inside a web3 exception (None if it carries no revert data)."""
        data = revert_data(exc)
        return None if data is None else self.decode(data)

    def explain_exception(self, exc: BaseException) -> str:
        decoded = self.from_exception(exc)
        return str(exc) if decoded is None else str(decoded)

    def reason_of_transaction(self, w3: Web3, tx_hash: bytes | str) -> DecodedError | None:
        """Why a mined transaction reverted: replayed with eth_call on the state of its
        block's parent (exact unless an earlier transaction of the same block changed what
        it read). None if it succeeded or the replay does not revert any more."""
        tx = w3.eth.get_transaction(HexBytes(tx_hash))
        receipt = w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        if receipt["status"] == 1:
            return None
        call = {
            "from": tx["from"],
            "to": tx["to"],
            "data": tx["input"],
            "value": tx["value"],
            "gas": tx["gas"],
        }
        try:
            w3.eth.call(call, receipt["blockNumber"] - 1)  # type: ignore[arg-type]
        except ContractLogicError as exc:
            return self.from_exception(exc)
        return None


def revert_data(source: Any) -> bytes | None:
    """The raw revert data in a web3 exception, a JSON-RPC error object, bytes or hex
    (None if there is none)."""
    if isinstance(source, bytes | bytearray):
        return bytes(source)
    if isinstance(source, str):
        return _hex(source)
    if isinstance(source, Mapping):
        for key in ("data", "error"):
            if key in source:
                found = revert_data(source[key])
                if found is not None:
                    return found
        return None
    if isinstance(source, BaseException):
        data = getattr(source, "data", None)
        if data is not None:
            found = revert_data(data)
            if found is not None:
                return found
        for arg in source.args:
            if isinstance(arg, Mapping | bytes | bytearray):
                found = revert_data(arg)
            elif isinstance(arg, str):
                found = _bytes_in_message(arg)
            else:
                found = None
            if found is not None:
                return found
        cause = source.__cause__ or source.__context__
        return revert_data(cause) if cause is not None else None
    return None


def error_specs(abis: Iterable[Iterable[Mapping[str, Any]]]) -> list[ErrorSpec]:
    """Every error entry of the ABIs."""
    return [
        ErrorSpec.from_abi(entry) for abi in abis for entry in abi if entry.get("type") == "error"
    ]


@functools.cache
def _decoder_for(root: Path) -> RevertDecoder:
    from pvd.deploy.compiler import compiler_output

    output = compiler_output(root)
    abis = [
        data["abi"] for contracts in output["contracts"].values() for data in contracts.values()
    ]
    return RevertDecoder.from_abis(abis)


def project_decoder(root: Path = PROJECT_ROOT) -> RevertDecoder:
    """The decoder of every error the compiled contracts/ (and what they import) declare;
    compiles once (cached in build/pvd/)."""
    return _decoder_for(root.resolve())


_BYTES_REPR = re.compile(r"execution reverted: (b'.*'|b\".*\")$", re.DOTALL)


def _bytes_in_message(message: str) -> bytes | None:
    """eth-tester's TransactionFailed: `execution reverted: b'...'` (the data's repr)."""
    match = _BYTES_REPR.search(message)
    if match is None:
        return None
    try:
        value = ast.literal_eval(match.group(1))
    except (SyntaxError, ValueError):
        return None
    return bytes(value) if isinstance(value, bytes) else None


def _hex(text: str) -> bytes | None:
    text = text.strip()
    if not text.startswith("0x"):
        return None
    try:
        return bytes(HexBytes(text))
    except ValueError:
        return None


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, tuple | list):
        return "(" + ", ".join(_show(v) for v in value) + ")"
    if isinstance(value, str) and not value.startswith("0x") and value not in _ENUM_WORDS:
        return repr(value)
    return str(value)


_ENUM_WORDS = frozenset(
    [*(word for names in _ENUMS.values() for word in names), *ROLE_NAMES.values()]
)


def _json_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, DecodedError):
        return value.to_json()
    if isinstance(value, tuple | list):
        return [_json_value(v) for v in value]
    if isinstance(value, int) and abs(value) >= 2**53:
        return str(value)
    return value
