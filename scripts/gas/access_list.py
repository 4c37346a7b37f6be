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

and a batch of ten, without a list and with the list minus its target. Then the
settlement as pvd sends it, each the second of its kind:

- `access_list_hold_and_announce_as_pvd_hold_sends_it`: the hold-and-announce by
  signature through `pvd.client.trade.hold_by_signature`, what `pvd hold` runs (the payer
  submits; no access list);
- `access_list_outcome_as_the_relayer_sends_it`: its Delivered outcome through the
  relayer's own `pvd.relayer.sender.Sender` (pre-flight `eth_createAccessList`, the list
  less the warm addresses: `useful_access_list`), and `..._without_list` the same through
  a Sender with access lists off, on a hold of its own;
- `access_list_settlement_as_pvd_sends_it`: the first two summed;
- `..._hold_and_announce_submitted_by_a_dapp` and `..._settlement_..._submitted_by_a_dapp`:
  the same with the buyer's signed hold submitted by another account
  (`pvd.client.trade.place_hold_and_announce`, as the demo's dapp does): the payer's
  account is then cold when the token checks its signature (2,500 more).

Each measured delivery must have executed its hold and sent the reply. Wallets are
brownie's development accounts and a key derived from a public label: TEST KEYS ONLY.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from brownie import chain, web3
from eth_account import Account
from web3 import Web3

from pvd.chain.connection import Chain, dev_accounts
from pvd.client.trade import (
    HoldRequest,
    hold_by_signature,
    place_hold_and_announce,
    sign_hold,
)
from pvd.protocol import attestation
from pvd.protocol.messages import batch_messages
from pvd.relayer.keys import Signer
from pvd.relayer.sender import Call, Sender, SenderSettings
from scripts.gas.bridge import (
    _PRICE,
    PAYMENT_DOMAIN,
    SettlementBench,
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
    gas.update(_as_pvd_sends_it(bench, first_nonce=27))
    return gas


def _as_pvd_sends_it(bench: SettlementBench, first_nonce: int) -> dict[str, int]:
    """Hold-and-announce as `pvd hold` sends it and the Delivered outcome as the relayer
    sends it (each the second of its kind), on a web3 of their own (pvd's Chain changes
    its provider's middleware; brownie's stays as it is)."""
    w3 = Web3(Web3.HTTPProvider(str(web3.provider.endpoint_uri), request_kwargs={"timeout": 30}))
    payer = Account.from_key(bench.payer_key)  # TEST KEY ONLY (bridge.settlement_bench)
    dapp = dev_accounts(10)[9]  # TEST KEY ONLY
    payment = Chain("payment", PAYMENT_DOMAIN, w3, [payer, dapp])
    token = w3.eth.contract(address=bench.token.address, abi=bench.token.abi)
    settlement = w3.eth.contract(address=bench.settlement.address, abi=bench.settlement.abi)
    relayer_key = dev_accounts(8)[7]  # brownie's accounts[7], the bench's relayer: TEST KEY
    settings = SenderSettings(receipt_timeout=60.0)
    senders = {
        listed: Sender(w3, Signer(relayer_key), "payment", replace(settings, access_lists=listed))
        for listed in (True, False)
    }
    gas: dict[str, int] = {}
    nonce = first_nonce
    for n in range(2):
        hold = HoldRequest(*bench.hold(f"as pvd sends it {n}"))
        sent = hold_by_signature(
            payment, token, settlement, payer, hold, chain.time() + 3600, payer.address
        )
        gas["access_list_hold_and_announce_as_pvd_hold_sends_it"] = sent.gas_used
        gas["access_list_outcome_as_the_relayer_sends_it"] = _relayed(
            bench, senders[True], hold, nonce
        )
        nonce += 1
    for n in range(2):  # the same, with access lists off, for the comparison in this run
        hold = HoldRequest(*bench.hold(f"as pvd sends it, no list {n}"))
        hold_by_signature(
            payment, token, settlement, payer, hold, chain.time() + 3600, payer.address
        )
        gas["access_list_outcome_as_the_relayer_sends_it_without_list"] = _relayed(
            bench, senders[False], hold, nonce
        )
        nonce += 1
    for n in range(2):  # the signed hold submitted by another account
        hold = HoldRequest(*bench.hold(f"as pvd sends it, by a dapp {n}"))
        valid_before = chain.time() + 3600
        signature = sign_hold(token, payer, hold, valid_before)
        receipt = place_hold_and_announce(
            payment, settlement, hold, valid_before, signature, dapp.address
        )
        if receipt["status"] != 1:
            raise RuntimeError("the dapp's hold-and-announce reverted")
        gas["access_list_hold_and_announce_submitted_by_a_dapp"] = int(receipt["gasUsed"])
        _relayed(bench, senders[True], hold, nonce)
        nonce += 1
    outcome = gas["access_list_outcome_as_the_relayer_sends_it"]
    gas["access_list_settlement_as_pvd_sends_it"] = (
        gas["access_list_hold_and_announce_as_pvd_hold_sends_it"] + outcome
    )
    gas["access_list_settlement_as_pvd_sends_it_submitted_by_a_dapp"] = (
        gas["access_list_hold_and_announce_submitted_by_a_dapp"] + outcome
    )
    return gas


def _relayed(bench: SettlementBench, sender: Sender, hold: HoldRequest, nonce: int) -> int:
    """The Delivered outcome of `hold`, sent by the relayer's Sender; its gasUsed once the
    delivery is checked (hold executed, reply sent; with a list when the sender lists)."""
    message = _settled_outcome(bench.settlement.address, hold.as_tuple(), nonce)
    data = bench.inbox.deliver.encode_input(message.encode(), _sign(bench.inbox, message, 2))
    mined = sender.send_and_wait(Call(bench.inbox.address, bytes.fromhex(data[2:])))
    tx = chain.get_transaction(mined.tx_hash)
    _require_executed(tx)
    listed = bool(web3.eth.get_transaction(mined.tx_hash).get("accessList"))
    if not mined.succeeded or listed != sender.settings.access_lists:
        raise RuntimeError(f"the relayer's delivery {mined.tx_hash} is not as expected")
    return mined.gas_used
