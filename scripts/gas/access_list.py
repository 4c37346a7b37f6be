"""What an EIP-2930 access list does to a Delivered outcome's gas, with the list the node
builds (`eth_createAccessList`, which anvil answers), on the settlement of
scripts/gas/bridge.py (YuanToken, Outbox, Inbox 2 of 3, PvdSettlement).

A listed address costs 2,400 and a listed slot 1,900 up front, instead of 2,600 and 2,100
at its first touch: 100 saved on each that the transaction touches, 2,400 lost on an
address it warms anyway (its sender, its target, the precompiles; EIP-2929). So three
ways, each the second delivery of its kind, the same calldata shape:

- `access_list_outcome_none`: no list (what the relayer sends);
- `..._node_list`: the node's answer as it is;
- `..._node_list_without_target`: the same without the entry of the transaction's own
  target (the inbox), which the transaction warms anyway;

and a batch of ten, without a list and with the list minus its target. Each measured
delivery must have executed its hold and sent the reply. Wallets are brownie's
development accounts: TEST KEYS ONLY.
"""

from __future__ import annotations

from typing import Any

from brownie import chain, web3

from pvd.protocol import attestation
from pvd.protocol.messages import batch_messages
from scripts.gas.bridge import (
    _PRICE,
    _require_executed,
    _settled_outcome,
    _sign,
    settlement_bench,
)

_GAS_LIMIT = 5_000_000


def _access_list(call: dict[str, Any]) -> list[dict[str, Any]]:
    answer = web3.provider.make_request("eth_createAccessList", [call, "latest"])
    if "error" in answer or answer["result"].get("error"):
        raise RuntimeError(f"eth_createAccessList failed: {answer}")
    return list(answer["result"]["accessList"])


def _send(call: dict[str, Any], listed: str, holds: int) -> int:
    """Send `call` with no list, the node's list, or the node's list without the target;
    the receipt's gasUsed once the delivery is checked."""
    transaction = dict(call, gas=_GAS_LIMIT)
    if listed != "none":
        entries = _access_list(call)
        if listed == "without_target":
            entries = [e for e in entries if e["address"].lower() != call["to"].lower()]
        transaction["accessList"] = entries
    tx_hash = web3.eth.send_transaction(transaction)
    web3.eth.wait_for_transaction_receipt(tx_hash)
    tx = chain.get_transaction(tx_hash.hex() if isinstance(tx_hash, bytes) else tx_hash)
    _require_executed(tx, holds)
    return int(tx.gas_used)


def measure() -> dict[str, int]:
    bench = settlement_bench()
    if bench is None:
        return {}
    token, inbox, settlement = bench.token, bench.inbox, bench.settlement
    holds = []
    for n in range(27):
        h = bench.hold(f"access list {n}")
        token.placeHold(h[5], bench.seller, settlement, _PRICE, h[4], {"from": bench.payer})
        holds.append(h)

    def single(nonce: int, listed: str) -> int:
        message = _settled_outcome(settlement.address, holds[nonce], nonce)
        data = inbox.deliver.encode_input(message.encode(), _sign(inbox, message, 2))
        call = {"from": bench.relayer.address, "to": inbox.address, "data": data}
        return _send(call, listed, 1)

    gas: dict[str, int] = {}
    single(0, "none")  # opens the consumed word: the deliveries below find it non-zero
    for n, (listed, name) in enumerate(
        (
            ("none", "access_list_outcome_none"),
            ("node", "access_list_outcome_node_list"),
            ("without_target", "access_list_outcome_node_list_without_target"),
        )
    ):
        single(1 + 2 * n, listed)
        gas[name] = single(2 + 2 * n, listed)
    for n, (listed, name) in enumerate(
        (
            ("none", "access_list_batch_of_10_none"),
            ("without_target", "access_list_batch_of_10_without_target"),
        )
    ):
        first = 7 + 10 * n
        messages = [
            _settled_outcome(settlement.address, h, first + k)
            for k, h in enumerate(holds[first : first + 10])
        ]
        data = inbox.deliverBatch.encode_input(
            batch_messages([m.encode() for m in messages]),
            attestation.batch_signatures([_sign(inbox, m, 2) for m in messages]),
        )
        call = {"from": bench.relayer.address, "to": inbox.address, "data": data}
        gas[name] = _send(call, listed, 10)
    return gas
