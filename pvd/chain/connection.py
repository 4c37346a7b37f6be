"""Connected chains: one `Chain` per EVM chain pvd talks to, whatever runs it.

Two kinds of node give the same `Chain`:
- embedded: an in-process eth-tester (py-evm) chain, no external process;
- RPC: any JSON-RPC endpoint (anvil started by pvd.chain.anvil, geth, Besu...).

A chain is identified by (EVM chain id, genesis block hash, protocol domain id): two
eth-tester chains report the same chain id, so the domain id is pvd's own and the
embedded chains get distinct genesis blocks (docs/design.md).

Transactions are signed locally (eth-account) by the accounts the chain was given, the
same way on every kind of node.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.middleware import SignAndSendRawMiddlewareBuilder
from web3.types import TxReceipt

from pvd.errors import UserError

# Well-known development mnemonic (anvil's and hardhat's): TEST KEYS ONLY, public to
# everyone, never to hold anything of value. Real keys come from the environment or a
# keystore (pvd.relayer.keys).
DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_ACCOUNT_COUNT = 10
Account.enable_unaudited_hdwallet_features()


def dev_accounts(count: int = DEV_ACCOUNT_COUNT) -> tuple[LocalAccount, ...]:
    """The well-known development accounts m/44'/60'/0'/0/i (test keys only)."""
    return tuple(dev_account_at(i) for i in range(count))


@functools.cache
def dev_account_at(index: int) -> LocalAccount:
    """The development account m/44'/60'/0'/0/`index` (test key only), derived once per
    process: the mnemonic's seed is stretched once, not once per account."""
    from eth_account.hdaccount import key_from_seed

    account: LocalAccount = Account.from_key(key_from_seed(_dev_seed(), f"m/44'/60'/0'/0/{index}"))
    return account


@functools.cache
def _dev_seed() -> bytes:
    from eth_account.hdaccount import seed_from_mnemonic

    return bytes(seed_from_mnemonic(DEV_MNEMONIC, passphrase=""))


@dataclass(frozen=True)
class ChainIdentity:
    chain_id: int
    genesis_hash: str
    domain_id: int


class Chain:
    """A connected chain with a name ("payment", "business"), a protocol domain id and
    local signing accounts."""

    def __init__(
        self,
        name: str,
        domain_id: int,
        w3: Web3,
        accounts: Sequence[LocalAccount],
        chain_id: int | None = None,
    ) -> None:
        self.name = name
        self.domain_id = domain_id
        self.w3 = w3
        self.accounts = tuple(accounts)
        self._chain_id = chain_id
        # web3's validation middleware asks the node for its chain id before every
        # eth_call and gas estimate (a round trip each, half the relayer's requests) to
        # compare it with a `chainId` field pvd's calls never carry; pvd signs its
        # transactions locally with the chain id and the node checks it.
        w3.middleware_onion.remove("validation")
        if self.accounts:
            w3.middleware_onion.inject(
                SignAndSendRawMiddlewareBuilder.build(list(self.accounts)), layer=0
            )

    def __repr__(self) -> str:
        return f"Chain({self.name!r}, domain={self.domain_id})"

    @property
    def chain_id(self) -> int:
        """The node's EVM chain id, asked once (a node never changes it)."""
        if self._chain_id is None:
            self._chain_id = int(self.w3.eth.chain_id)
        return self._chain_id

    def identity(self) -> ChainIdentity:
        genesis = self.w3.eth.get_block(0)
        return ChainIdentity(
            chain_id=self.chain_id,
            genesis_hash=genesis["hash"].to_0x_hex(),
            domain_id=self.domain_id,
        )

    def wait(self, tx_hash: HexBytes) -> TxReceipt:
        """The receipt of a sent transaction; a reverted one raises."""
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60, poll_latency=0.01)
        if receipt["status"] != 1:
            raise RuntimeError(f"{self.name}: transaction {tx_hash.hex()} reverted")
        return receipt

    def now(self) -> int:
        """The latest block's timestamp."""
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def advance_time_to(self, timestamp: int) -> None:
        """Move the clock so that the next transactions run at block time >= `timestamp`
        (local development chains only)."""
        provider: Any = self.w3.provider
        if hasattr(provider, "ethereum_tester"):
            provider.ethereum_tester.time_travel(timestamp)
        else:
            self.w3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])  # type: ignore[arg-type]
            self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def embedded_chain(name: str, domain_id: int) -> Chain:
    """An in-process eth-tester chain whose genesis carries `name` and `domain_id`, so
    two embedded chains have different genesis hashes; funded dev accounts."""
    from eth_tester import EthereumTester, PyEVMBackend
    from web3 import EthereumTesterProvider

    genesis = PyEVMBackend.generate_genesis_params(
        overrides={"extra_data": f"pvd:{name}:{domain_id}".encode()[:32]}
    )
    backend = PyEVMBackend.from_mnemonic(
        DEV_MNEMONIC,
        num_accounts=DEV_ACCOUNT_COUNT,
        genesis_parameters=genesis,
        hd_path="m/44'/60'/0'/0",
    )
    w3 = Web3(EthereumTesterProvider(EthereumTester(backend)))
    return Chain(name, domain_id, w3, dev_accounts())


def rpc_chain(name: str, url: str, domain_id: int, accounts: Sequence[LocalAccount] = ()) -> Chain:
    """A chain behind a JSON-RPC endpoint; UserError if it does not answer."""
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 10}))
    try:
        chain_id = int(w3.eth.chain_id)  # the first request proves the endpoint answers
    except Exception as exc:
        raise UserError(
            f"{name} chain: no answer from {url} ({type(exc).__name__}): "
            "start the node (`make chains`) or fix the RPC URL"
        ) from exc
    return Chain(name, domain_id, w3, accounts, chain_id)
