"""The premade backlog's own transaction signer: byte for byte what eth-account signs."""

from __future__ import annotations

import random
from typing import Any

from eth_account import Account
from eth_utils.address import to_checksum_address

from pvd.bench.premade import sign_eip1559
from pvd.client.roles import dev_account


def test_signed_transactions_are_eth_accounts_bytes() -> None:
    rng = random.Random(3)
    for name in ("buyer", "seller", "bank"):
        account = dev_account(name)
        for _ in range(20):
            to = "0x" + rng.randbytes(20).hex()
            data = "0x" + rng.randbytes(rng.randrange(0, 400)).hex()
            nonce, gas = rng.randrange(0, 2**20), rng.randrange(21_000, 10**7)
            fee, chain_id = rng.randrange(1, 10**12), rng.choice((1, 7001, 7002, 31337))
            ours = sign_eip1559(chain_id, account, to, data, nonce, gas, fee)
            tx: dict[str, Any] = {
                "type": 2, "to": to_checksum_address(to), "data": data, "value": 0,
                "nonce": nonce, "gas": gas, "maxFeePerGas": fee, "maxPriorityFeePerGas": 0,
                "chainId": chain_id,
            }  # fmt: skip
            theirs = account.sign_transaction(tx)
            assert ours == "0x" + bytes(theirs.raw_transaction).hex()
            assert Account.recover_transaction(ours) == account.address
