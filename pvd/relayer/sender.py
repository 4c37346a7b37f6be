"""Sending transactions with the gas key, on any EVM chain (web3.py, local signing).

Owns everything between "this call should go on chain" and its receipt:

- a nonce manager: the next nonce is tracked locally (no round trip per transaction)
  and resynced from `eth_getTransactionCount(address, "pending")` at the first send and
  after any nonce error (nonce too low or too high, a foreign transaction holding the
  nonce, a send whose fate is unknown);
- EIP-1559 fees from the node: the next block's base fee from `eth_feeHistory` (or the
  latest block's on nodes without it), the node's suggested priority fee, max fee =
  2 x base fee + priority fee, never above an optional cap;
- an `eth_call` pre-flight (a revert there is reported with its data, nothing is sent)
  and a gas estimate with a margin; where the node serves `eth_createAccessList`, the
  pre-flight of a JSON-RPC send is that call instead (the same simulation, in the same
  batch), and the transaction goes with the EIP-2930 access list it returns, less the
  entries of addresses every transaction warms anyway (`useful_access_list`);
- the receipt, polled every `poll_interval` (15 ms: web3's own wait adds ~100 ms);
- a stuck transaction (not mined within `stuck_after` seconds) replaced under the same
  nonce with both fees bumped by at least 12.5 % (the strictest replacement rule among
  clients; geth asks 10 %), so exactly one of the versions can land;
- errors sorted for the caller: RecoverableError (RPC unreachable, timeout, HTTP 5xx,
  a transaction not mined in time, a fee above the cap, a pre-flight revert) to retry
  with backoff, and UnrecoverableError (the gas key cannot pay for gas) to stop the
  route. Every error raised here carries a short `reason` code for the metrics.

The signing key is the gas key's Signer (pvd.relayer.keys): no key material reaches a
log line or an error message, and nothing is signed by the node. web3 types stay in
this module: callers get frozen dataclasses (Call, Fees, SentTx, Mined).
"""

from __future__ import annotations

import ast
import functools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import requests
from eth_typing import ChecksumAddress, HexStr
from eth_utils.address import is_address, to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import (
    ContractLogicError,
    ProviderConnectionError,
    TransactionNotFound,
    Web3Exception,
    Web3RPCError,
)
from web3.types import BlockIdentifier, TxParams, Wei

from pvd.chain.logs import ObservedLog, rpc_int
from pvd.chain.rpc import method_unknown
from pvd.errors import RecoverableError, UnrecoverableError
from pvd.relayer.ends import json_rpc
from pvd.relayer.keys import Signer
from pvd.relayer.log import relay_logger

GWEI = 10**9


def bump(value: int) -> int:
    """A fee raised by at least 12.5 % (rounded up) and by at least 1 wei."""
    return max((value * 9 + 7) // 8, value + 1)


# --- errors ---------------------------------------------------------------------------


class SendFailed(RecoverableError):
    """A passing failure to get a transaction on chain: retry with backoff."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason  # a short code for pvd_relay_failures_total


class RpcUnavailable(SendFailed):
    """The node did not answer: refused, timed out, or an HTTP error status."""


class RpcRejected(SendFailed):
    """The node answered with an error this module has no better name for."""


class PreflightReverted(SendFailed):
    """The pre-flight `eth_call` (or the gas estimate) reverted: nothing was sent.

    `data` holds the revert data (a custom error's selector and arguments), so the
    caller can tell "already consumed" (done) from "token paused" (retry later).
    """

    def __init__(self, message: str, data: bytes) -> None:
        super().__init__(message, "preflight_reverted")
        self.data = data


class FeeCapExceeded(SendFailed):
    """The fee the chain asks now (or a replacement needs) is above the configured cap."""


class NonceConflict(SendFailed):
    """The nonce went to a transaction this sender did not send; resynced, retry."""


class NotMined(SendFailed):
    """Sent, but not mined within the receipt timeout (it may still be mined later)."""


class GasFundsExhausted(UnrecoverableError):
    """The gas key cannot pay for gas: the relayer is out of gas until someone funds it."""

    reason = "out_of_gas_funds"


class _NonceRejected(RecoverableError):
    """The node refused the nonce (too low, too high, taken): resync before retrying."""


class _AlreadyKnown(RecoverableError):
    """The node already holds exactly this signed transaction: it counts as sent."""


# Error texts by meaning, lower case, as geth, reth, erigon, besu, anvil and eth-tester
# word them.
_NO_FUNDS = ("insufficient funds", "cannot afford", "insufficient balance")
_NONCE = ("nonce too low", "nonce too high", "invalid transaction nonce", "nonce is too")
_NONCE_USED = ("nonce has already been used", "already used nonce", "oldnonce")
_KNOWN = ("already known", "already imported", "known transaction", "alreadyknown")
_UNDERPRICED = ("replacement transaction underpriced", "replacement fee too low", "underpriced")


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, Web3RPCError) and isinstance(exc.rpc_response, dict):
        error = exc.rpc_response.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
    if exc.args and isinstance(exc.args[0], str):
        return exc.args[0]
    return str(exc)


def _revert_data(exc: BaseException) -> bytes:
    """The revert data of a failed call, from web3's ContractLogicError or eth-tester's
    TransactionFailed ("execution reverted: b'...'"); b"" when there is none."""
    data = getattr(exc, "data", None)
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        try:
            return bytes.fromhex(data[2:])
        except ValueError:
            return b""
    _, _, tail = _error_text(exc).partition("execution reverted: ")
    if tail.startswith(("b'", 'b"')):
        try:
            value = ast.literal_eval(tail)
        except (ValueError, SyntaxError):
            return b""
        return value if isinstance(value, bytes) else b""
    return b""


def _is_revert(exc: BaseException) -> bool:
    return isinstance(exc, ContractLogicError) or (
        type(exc).__name__ == "TransactionFailed"  # eth-tester's, without importing it
        and "revert" in _error_text(exc).lower()
    )


# --- values ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AccessEntry:
    """One entry of an EIP-2930 access list: an address and the storage slots of it that
    the transaction pays for up front (2,400 for the address, 1,900 a slot) instead of
    at their first touch (2,600 / 2,100 cold, EIP-2929)."""

    address: str  # checksummed
    storage_keys: tuple[str, ...] = ()  # 0x-hex, 32 bytes each

    def as_json(self) -> dict[str, Any]:
        return {"address": self.address, "storageKeys": list(self.storage_keys)}


@dataclass(frozen=True)
class Call:
    """A transaction to send: where, what, optionally its gas limit, and the access list
    it goes with (empty: none; the sender fills it from its pre-flight)."""

    to: str
    data: bytes = b""
    value: int = 0
    gas: int | None = None  # None: estimated, plus the sender's margin
    access_list: tuple[AccessEntry, ...] = ()

    def __post_init__(self) -> None:
        if not is_address(self.to):
            raise ValueError(f"a call's target must be an address, got {self.to!r}")
        object.__setattr__(self, "to", str(to_checksum_address(self.to)))
        if self.value < 0 or (self.gas is not None and self.gas <= 0):
            raise ValueError("value must be >= 0 and gas > 0")


# The precompiles (0x01..0x11, and 0x100 on chains that have P-256 verification) are warm
# in every transaction (EIP-2929); no contract lives at an address this low.
_HIGHEST_PRECOMPILE = 0x100
_NO_ACCESS_LIST: set[str] = set()  # endpoints that answered eth_createAccessList as unknown


def useful_access_list(answer: object, sender: str, to: str) -> tuple[AccessEntry, ...]:
    """The entries of a node's `eth_createAccessList` list worth sending: each listed
    address costs 2,400 up front and saves 100 on its first touch (2,600 cold, then 100
    warm), each listed slot costs 1,900 and saves 100 (2,100 cold). An address the
    transaction warms anyway (its sender, its target, a precompile) saves nothing, so
    listing it costs 2,400 for 100 per slot: its entry is left out unless it lists more
    than 24 slots. geth leaves these out itself; anvil lists the target."""
    if not isinstance(answer, list):
        return ()
    warm = {sender.lower(), to.lower()}
    entries: list[AccessEntry] = []
    for item in answer:
        if not isinstance(item, dict) or not is_address(item.get("address")):
            continue
        address = str(item["address"])
        keys = tuple(str(k) for k in item.get("storageKeys") or ())
        if (address.lower() in warm or int(address, 16) <= _HIGHEST_PRECOMPILE) and len(
            keys
        ) * 100 <= 2_400:
            continue
        entries.append(AccessEntry(str(to_checksum_address(address)), keys))
    return tuple(entries)


@dataclass(frozen=True)
class Fees:
    """EIP-1559 fees per gas, in wei."""

    max_fee_per_gas: int
    max_priority_fee_per_gas: int

    def __post_init__(self) -> None:
        if not 0 <= self.max_priority_fee_per_gas <= self.max_fee_per_gas:
            raise ValueError("need 0 <= max priority fee <= max fee")

    def bumped(self) -> Fees:
        """Both fees raised by at least 12.5 %: what a replacement must offer."""
        return Fees(bump(self.max_fee_per_gas), bump(self.max_priority_fee_per_gas))

    def at_least(self, other: Fees) -> Fees:
        """The larger of each fee."""
        return Fees(
            max(self.max_fee_per_gas, other.max_fee_per_gas),
            max(self.max_priority_fee_per_gas, other.max_priority_fee_per_gas),
        )


@dataclass(frozen=True)
class SentTx:
    """A signed transaction the node accepted (not yet mined)."""

    tx_hash: str  # 0x-hex
    nonce: int
    call: Call
    gas: int
    fees: Fees
    sent_at: float  # the sender's clock (monotonic)


@dataclass(frozen=True)
class Mined:
    """A transaction in a block: success or revert, with its logs."""

    tx_hash: str
    nonce: int
    block_number: int
    block_hash: str
    succeeded: bool  # receipt status 1; a revert is mined too (and paid for)
    gas_used: int
    effective_gas_price: int
    logs: tuple[ObservedLog, ...]
    replacements: int = 0  # how many fee-bumped versions were sent before one landed


@dataclass(frozen=True)
class SenderSettings:
    """How a Sender behaves; the defaults suit a relayer on a local or fast chain."""

    poll_interval: float = 0.015  # seconds between receipt polls
    stuck_after: float = 30.0  # seconds without a receipt before a fee-bumped replacement
    receipt_timeout: float = 300.0  # seconds before send_and_wait gives up (NotMined)
    max_fee_cap: int | None = None  # wei per gas; None = no cap
    min_priority_fee: int = 0  # wei per gas: a floor under the node's suggestion
    base_fee_multiplier: int = 2  # max fee = multiplier x next base fee + priority fee
    gas_margin_percent: int = 20  # added to eth_estimateGas's answer
    nonce_retries: int = 3  # resync-and-retry rounds on nonce errors per send
    # pre-flight with eth_createAccessList and send its list, where the node serves it
    access_lists: bool = True

    def __post_init__(self) -> None:
        if self.poll_interval <= 0 or self.stuck_after <= 0 or self.receipt_timeout <= 0:
            raise ValueError("poll_interval, stuck_after and receipt_timeout must be > 0")
        if self.max_fee_cap is not None and self.max_fee_cap <= 0:
            raise ValueError("max_fee_cap must be > 0 wei (or None for no cap)")
        if self.base_fee_multiplier < 1 or self.gas_margin_percent < 0 or self.nonce_retries < 0:
            raise ValueError("need base_fee_multiplier >= 1, gas margin >= 0, retries >= 0")


# --- the sender -----------------------------------------------------------------------


class Sender:
    """Sends transactions from one gas key on one chain. Thread-safe: nonces are
    handed out under a lock, so two threads never send with the same nonce."""

    def __init__(
        self,
        w3: Web3,
        signer: Signer,
        chain: str,
        settings: SenderSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.w3 = w3
        self.signer = signer
        self.chain = chain
        self.settings = settings or SenderSettings()
        self.clock = clock
        self.sleep = sleep
        self.resyncs = 0  # nonce resyncs after the first (for tests and status)
        self._lock = threading.Lock()
        self._next_nonce: int | None = None
        self._chain_id: int | None = None
        # raw JSON-RPC (HTTP nodes) on the hot path, web3's methods elsewhere (eth-tester)
        self._raw = json_rpc(w3)
        self._log = relay_logger("pvd.relayer.sender", chain=chain, address=signer.address)

    @functools.cached_property
    def address(self) -> ChecksumAddress:
        return to_checksum_address(self.signer.address)

    # --- errors -------------------------------------------------------------------------

    def _classify(self, exc: BaseException, doing: str) -> BaseException:
        """The pvd error an exception from web3 / the node means (or exc itself if it is
        not a node error: a bug must not be retried as if the network failed)."""
        where = f"{self.chain} chain: {doing}"
        if isinstance(exc, requests.Timeout | TimeoutError):
            return RpcUnavailable(f"{where}: the RPC timed out", "rpc_timeout")
        if isinstance(exc, requests.HTTPError):
            status = exc.response.status_code if exc.response is not None else "?"
            return RpcUnavailable(f"{where}: the RPC answered HTTP {status}", "rpc_http_error")
        if isinstance(exc, requests.ConnectionError | ProviderConnectionError | OSError):
            return RpcUnavailable(
                f"{where}: the RPC is unreachable ({type(exc).__name__})", "rpc_unreachable"
            )
        text = " ".join(_error_text(exc).split())  # one line, whatever the node sent
        lower = text.lower()
        if any(p in lower for p in _NO_FUNDS):
            return GasFundsExhausted(
                f"the relayer is out of gas: gas key {self.address} cannot pay for gas on the "
                f"{self.chain} chain (node: {text[:120]}); send it native currency there, "
                "then restart or `pvd retry`"
            )
        if any(p in lower for p in _KNOWN):
            return _AlreadyKnown(f"{where}: the node already has this transaction")
        if any(p in lower for p in _NONCE + _NONCE_USED):
            return _NonceRejected(f"{where}: nonce refused ({text[:120]})")
        if any(p in lower for p in _UNDERPRICED):
            return RpcRejected(f"{where}: {text[:160]}", "underpriced")
        if isinstance(exc, Web3Exception) or type(exc).__name__ == "ValidationError":
            return RpcRejected(f"{where}: the node refused ({text[:160]})", "rpc_error")
        return exc

    @contextmanager
    def _rpc(self, doing: str) -> Iterator[None]:
        try:
            yield
        except (SendFailed, GasFundsExhausted, _NonceRejected, _AlreadyKnown):
            raise
        except Exception as exc:
            classified = self._classify(exc, doing)
            if classified is exc:
                raise
            raise classified from exc

    # --- chain facts --------------------------------------------------------------------

    def chain_id(self) -> int:
        if self._chain_id is None:
            with self._rpc("eth_chainId"):
                self._chain_id = int(self.w3.eth.chain_id)
        return self._chain_id

    def suggest_fees(self) -> Fees:
        """Fees for a transaction now: 2 x the next block's base fee + the node's
        priority fee, capped. FeeCapExceeded if even the base fee is above the cap."""
        with self._rpc("fees"):
            base = self._next_base_fee()
            try:
                tip = int(self.w3.eth.max_priority_fee)
            except (Web3RPCError, NotImplementedError):  # a node without the method
                tip = GWEI
        return self._fees(base, tip)

    def _fees(self, base: int, tip: int) -> Fees:
        """Fees from the next block's base fee and the node's priority fee, capped."""
        s = self.settings
        tip = max(tip, s.min_priority_fee)
        max_fee = base * s.base_fee_multiplier + tip
        if s.max_fee_cap is not None:
            if base > s.max_fee_cap:
                raise FeeCapExceeded(
                    f"{self.chain} chain: base fee {base} wei/gas is above the cap "
                    f"{s.max_fee_cap}; waiting for fees to fall (or raise the cap)",
                    "fee_above_cap",
                )
            max_fee = min(max_fee, s.max_fee_cap)
            tip = min(tip, max_fee)
        return Fees(max_fee, tip)

    def _next_base_fee(self) -> int:
        try:
            history = self.w3.eth.fee_history(1, "latest", [])
            base_fees = list(history["baseFeePerGas"])
        except (Web3RPCError, NotImplementedError, KeyError):
            base_fees = []
        if base_fees:
            return int(base_fees[-1])  # the last entry is the next block's base fee
        block = self.w3.eth.get_block("latest")
        return int(block.get("baseFeePerGas", 0) or 0)

    def replacement_fees(self, previous: Fees) -> Fees:
        """Fees for a replacement of a transaction sent with `previous`: at least 12.5 %
        more on both, and no less than the fees a new transaction would get now."""
        fees = previous.bumped().at_least(self.suggest_fees())
        cap = self.settings.max_fee_cap
        if cap is not None and fees.max_fee_per_gas > cap:
            raise FeeCapExceeded(
                f"{self.chain} chain: replacing a stuck transaction needs "
                f"{fees.max_fee_per_gas} wei/gas, above the cap {cap}",
                "fee_above_cap",
            )
        return fees

    # --- nonces -------------------------------------------------------------------------

    def sync_nonce(self) -> int:
        """Reread the next nonce from the node's pending count; returns it."""
        with self._lock:
            return self._sync_locked()

    def _sync_locked(self) -> int:
        with self._rpc("eth_getTransactionCount"):
            nonce = int(self.w3.eth.get_transaction_count(self.address, "pending"))
        self._log.debug("nonce synced", extra={"nonce": nonce})
        self._next_nonce = nonce
        return nonce

    @property
    def next_nonce(self) -> int | None:
        """The nonce the next new transaction gets (None until the first sync)."""
        return self._next_nonce

    # --- pre-flight -------------------------------------------------------------------

    def _params(self, call: Call) -> TxParams:
        params: TxParams = {
            "from": self.address,
            "to": to_checksum_address(call.to),
            "data": HexBytes(call.data),
            "value": Wei(call.value),
        }
        if call.gas is not None:
            params["gas"] = call.gas
        if call.access_list:  # the estimate counts the list's own cost
            params["accessList"] = [entry.as_json() for entry in call.access_list]  # type: ignore[typeddict-item]
        return params

    def preflight(self, call: Call, block: BlockIdentifier = "latest") -> bytes:
        """`eth_call` the call from the gas key; its return data, or PreflightReverted
        (with the revert data) if it would revert. Nothing is sent."""
        with self._rpc("eth_call"):
            try:
                return bytes(self.w3.eth.call(self._params(call), block))
            except Exception as exc:
                if _is_revert(exc):
                    raise self._reverted(exc, "pre-flight eth_call") from exc
                raise

    def _reverted(self, exc: BaseException, doing: str) -> PreflightReverted:
        data = _revert_data(exc)
        shown = "0x" + data.hex() if data else _error_text(exc)[:160]
        return PreflightReverted(f"{self.chain} chain: {doing} reverted ({shown})", data)

    def estimate_gas(self, call: Call) -> int:
        """eth_estimateGas plus the margin; PreflightReverted if it would revert."""
        with self._rpc("eth_estimateGas"):
            try:
                estimate = int(self.w3.eth.estimate_gas(self._params(call)))
            except Exception as exc:
                if _is_revert(exc):
                    raise self._reverted(exc, "gas estimate") from exc
                raise
        return estimate * (100 + self.settings.gas_margin_percent) // 100

    # --- sending ------------------------------------------------------------------------

    def _sign_and_send(self, call: Call, gas: int, fees: Fees, nonce: int) -> SentTx:
        transaction: dict[str, Any] = {
            "type": 2,
            "chainId": self.chain_id(),
            "nonce": nonce,
            "to": call.to,
            "value": call.value,
            "data": call.data,
            "gas": gas,
            "maxFeePerGas": fees.max_fee_per_gas,
            "maxPriorityFeePerGas": fees.max_priority_fee_per_gas,
        }
        if call.access_list:
            transaction["accessList"] = [entry.as_json() for entry in call.access_list]
        signed = self.signer.sign_transaction(transaction)
        tx_hash = "0x" + bytes(signed.hash).hex()
        try:
            with self._rpc("eth_sendRawTransaction"):
                if self._raw is not None:
                    raw = "0x" + bytes(signed.raw_transaction).hex()
                    response = self._raw.request("eth_sendRawTransaction", [raw])
                    if response.get("error") is not None:
                        raise Web3RPCError(
                            f"eth_sendRawTransaction: {response['error']}",
                            rpc_response=response,  # type: ignore[arg-type]
                        )
                else:
                    self.w3.eth.send_raw_transaction(signed.raw_transaction)
        except _AlreadyKnown:
            pass  # exactly this transaction is already in the node: it is sent
        return SentTx(tx_hash, nonce, call, gas, fees, self.clock())

    def send(self, call: Call, *, preflight: bool = True) -> SentTx:
        """Pre-flight (unless told not to), estimate gas if needed, and send with the
        next nonce. A nonce error resyncs the nonce and tries again (a few times).

        Where the node speaks JSON-RPC, the pre-flight and the fee reads go out as one
        batch (one round trip) and the signed transaction as one raw request. There the
        pre-flight is `eth_createAccessList` where the node serves it (and
        settings.access_lists is on): the call goes with the list it returns
        (`useful_access_list`), and a gas estimate counts the list."""
        if self._raw is not None:
            fees, call = self._preflight_and_fees(call, preflight)
            gas = call.gas if call.gas is not None else self.estimate_gas(call)
        else:
            if preflight:
                self.preflight(call)
            gas = call.gas if call.gas is not None else self.estimate_gas(call)
            fees = self.suggest_fees()
        refused: SendFailed | _NonceRejected | None = None
        for _ in range(self.settings.nonce_retries + 1):
            with self._lock:
                if self._next_nonce is None:
                    self._sync_locked()
                nonce = self._next_nonce
                assert nonce is not None
                try:
                    sent = self._sign_and_send(call, gas, fees, nonce)
                except (_NonceRejected, RpcRejected) as exc:
                    if isinstance(exc, RpcRejected) and exc.reason != "underpriced":
                        raise
                    # the nonce is used or held by a transaction we did not count (sent
                    # by another process with this key, or before a restart): resync
                    refused, self._next_nonce = exc, None
                    self.resyncs += 1
                    self._log.warning(
                        "nonce %s refused, resyncing: %s", nonce, exc, extra={"nonce": nonce}
                    )
                    continue
                except RpcUnavailable:
                    self._next_nonce = None  # the node may or may not have taken it
                    raise
                self._next_nonce = nonce + 1
            self._log.info("sent", extra={"tx_hash": sent.tx_hash, "nonce": nonce})
            return sent
        raise NonceConflict(
            f"{self.chain} chain: nonce still refused after {self.settings.nonce_retries} "
            f"resyncs ({refused}); another sender uses gas key {self.address}?",
            "nonce_conflict",
        )

    def _preflight_and_fees(self, call: Call, preflight: bool) -> tuple[Fees, Call]:
        """The pre-flight (PreflightReverted if it would revert) and the fees of
        suggest_fees, in one JSON-RPC batch; the call to send, with its access list.

        The pre-flight is `eth_createAccessList` (the same simulation as `eth_call`, which
        also returns the slots and accounts it touched) when settings.access_lists is on
        and the endpoint has not answered it as unknown. If the simulation reports an
        error (a revert: anvil answers it as an error with the data, geth as a result
        with an `error` and no data), the plain `eth_call` runs next to get the revert
        data, so the revert is reported exactly as without lists. A node that does not
        serve the method is remembered (per endpoint URL) and pre-flighted with
        `eth_call` from then on."""
        assert self._raw is not None
        batch: list[tuple[str, list[Any]]] = [
            ("eth_feeHistory", [1, "latest", []]),
            ("eth_maxPriorityFeePerGas", []),
        ]
        listing = (
            preflight
            and self.settings.access_lists
            and not call.access_list
            and self._raw.url not in _NO_ACCESS_LIST
        )
        if preflight:
            method = "eth_createAccessList" if listing else "eth_call"
            batch.append((method, [self._call_object(call), "latest"]))
        with self._rpc("pre-flight and fees"):
            history, tip_answer, *simulated = self._raw.batch(batch)
            if simulated and listing:
                listed = self._listed(call, simulated[0])
                if listed is None:  # an error: eth_call says whether it is a revert
                    self._raw_preflight(call)
                else:
                    call = replace(call, access_list=listed)
            elif simulated:
                self._raise_call_error(simulated[0])
            base_fees = (history.get("result") or {}).get("baseFeePerGas") or []
            base = rpc_int(base_fees[-1]) if base_fees else self._next_base_fee()
            tip_result = tip_answer.get("result")
            tip = rpc_int(tip_result) if tip_result is not None else GWEI
        return self._fees(base, tip), call

    def _call_object(self, call: Call) -> dict[str, Any]:
        params: dict[str, Any] = {
            "from": self.address,
            "to": call.to,
            "data": "0x" + bytes(call.data).hex(),
            "value": hex(call.value),
        }
        if call.gas is not None:
            params["gas"] = hex(call.gas)
        return params

    def _listed(self, call: Call, answer: dict[str, Any]) -> tuple[AccessEntry, ...] | None:
        """The access list of an `eth_createAccessList` answer (`useful_access_list`), or
        None when the simulation failed (a revert, out of gas, anything): the caller then
        pre-flights with eth_call. A method the node does not serve is remembered."""
        assert self._raw is not None
        error = answer.get("error")
        result = answer.get("result")
        if error is not None:
            if method_unknown(error):
                _NO_ACCESS_LIST.add(self._raw.url)
                self._log.info("the node does not serve eth_createAccessList: eth_call pre-flights")
            return None
        if not isinstance(result, dict) or result.get("error"):
            return None
        return useful_access_list(result.get("accessList"), self.address, call.to)

    def _raw_preflight(self, call: Call) -> None:
        """The pre-flight `eth_call` alone: PreflightReverted (with the revert data) if it
        would revert, Web3RPCError for any other failure."""
        assert self._raw is not None
        self._raise_call_error(self._raw.request("eth_call", [self._call_object(call), "latest"]))

    def _raise_call_error(self, answer: dict[str, Any]) -> None:
        if (error := answer.get("error")) is not None:
            if "revert" in str(error.get("message", "")).lower():
                raise self._reverted(
                    ContractLogicError(str(error.get("message")), data=error.get("data")),
                    "pre-flight eth_call",
                )
            raise Web3RPCError(f"eth_call: {error}", rpc_response=answer)  # type: ignore[arg-type]

    def replace(self, sent: SentTx, fees: Fees | None = None) -> SentTx | None:
        """Send `sent` again under its nonce with higher fees (by default the minimum
        replacement_fees). None if the nonce is already used: a version was mined (or
        another transaction took the nonce) and there is nothing left to replace."""
        new_fees = fees if fees is not None else self.replacement_fees(sent.fees)
        try:
            replacement = self._sign_and_send(sent.call, sent.gas, new_fees, sent.nonce)
        except _NonceRejected:
            return None
        self._log.warning(
            "replaced a stuck transaction (was %s, fees %s -> %s wei/gas)",
            sent.tx_hash,
            sent.fees.max_fee_per_gas,
            new_fees.max_fee_per_gas,
            extra={"tx_hash": replacement.tx_hash, "nonce": sent.nonce},
        )
        return replacement

    # --- receipts -----------------------------------------------------------------------

    def receipt(self, tx_hash: str, nonce: int) -> Mined | None:
        """The receipt of a transaction sent with `nonce`, or None while it is not in a
        block (after a restart: the tx hash and nonce the store recorded)."""
        with self._rpc("eth_getTransactionReceipt"):
            receipt = self._receipt(tx_hash)
        if receipt is None or receipt.get("blockNumber") is None:
            return None
        return Mined(
            tx_hash=HexBytes(receipt["transactionHash"]).to_0x_hex(),
            nonce=nonce,
            block_number=rpc_int(receipt["blockNumber"]),
            block_hash=HexBytes(receipt["blockHash"]).to_0x_hex(),
            succeeded=rpc_int(receipt["status"]) == 1,
            gas_used=rpc_int(receipt["gasUsed"]),
            effective_gas_price=rpc_int(receipt.get("effectiveGasPrice") or 0),
            logs=tuple(ObservedLog.from_receipt(log) for log in receipt["logs"]),
        )

    def _receipt(self, tx_hash: str) -> Any:
        """The receipt as the node sent it (numbers as 0x-hex) where the provider speaks
        JSON-RPC: web3 formats every log, and a batch delivery's receipt has thousands.
        Through web3 elsewhere (eth-tester). None: not mined."""
        if self._raw is None:
            try:
                return self.w3.eth.get_transaction_receipt(HexStr(tx_hash))
            except TransactionNotFound:
                return None
        response = self._raw.request("eth_getTransactionReceipt", [tx_hash])
        if response.get("error") is not None:
            raise Web3RPCError(f"eth_getTransactionReceipt: {response['error']}")
        return response.get("result")

    def _nonce_used(self, nonce: int) -> bool:
        with self._rpc("eth_getTransactionCount"):
            return int(self.w3.eth.get_transaction_count(self.address, "latest")) > nonce

    def _first_mined(self, versions: list[SentTx]) -> Mined | None:
        for version in reversed(versions):  # the newest is the likeliest
            mined = self.receipt(version.tx_hash, version.nonce)
            if mined is not None:
                return replace(mined, replacements=len(versions) - 1)
        return None

    def wait(self, sent: SentTx, *, timeout: float | None = None) -> Mined:
        """Poll for the receipt of `sent` (or of a replacement of it) every
        poll_interval; replace it with bumped fees whenever it has waited stuck_after
        seconds. Exactly one version can be mined: the one returned.

        NotMined after `timeout` (default receipt_timeout) seconds; NonceConflict if
        the nonce was taken by a transaction that is none of these versions.
        """
        s = self.settings
        versions = [sent]
        floor = sent.fees
        deadline = self.clock() + (s.receipt_timeout if timeout is None else timeout)
        last_sent = sent.sent_at
        while True:
            mined = self._first_mined(versions)
            if mined is not None:
                self._log.info(
                    "mined in block %s",
                    mined.block_number,
                    extra={
                        "tx_hash": mined.tx_hash,
                        "nonce": mined.nonce,
                        "block": mined.block_number,
                    },
                )
                return mined
            now = self.clock()
            if now >= deadline:
                raise NotMined(
                    f"{self.chain} chain: transaction {versions[-1].tx_hash} (nonce "
                    f"{sent.nonce}) not mined in time; it may still be mined",
                    "not_mined",
                )
            if now - last_sent >= s.stuck_after:
                last_sent = now
                if self._nonce_used(sent.nonce):
                    mined = self._first_mined(versions)  # mined between the two reads?
                    if mined is not None:
                        continue
                    with self._lock:
                        self._next_nonce = None
                        self.resyncs += 1
                    raise NonceConflict(
                        f"{self.chain} chain: nonce {sent.nonce} was used by another "
                        f"transaction from gas key {self.address}; resyncing",
                        "nonce_conflict",
                    )
                try:
                    fees = self.replacement_fees(floor)
                    replacement = self.replace(versions[-1], fees)
                except FeeCapExceeded as exc:
                    self._log.warning("cannot replace: %s", exc, extra={"nonce": sent.nonce})
                except RpcRejected as exc:
                    if exc.reason != "underpriced":
                        raise
                    floor = fees  # the node wants more than this: bump from here next time
                else:
                    if replacement is not None:
                        versions.append(replacement)
                        floor = replacement.fees
            self.sleep(s.poll_interval)

    def send_and_wait(self, call: Call, *, preflight: bool = True) -> Mined:
        """send() then wait(): the usual way to get one call on chain."""
        return self.wait(self.send(call, preflight=preflight))
