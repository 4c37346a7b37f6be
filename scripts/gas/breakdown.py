"""Where the gas of a settlement goes, opcode by opcode: the two payment-chain transactions
of one settlement (hold-and-announce by signature; the Delivered outcome, 2 of 3, with its
payout and PAYMENT_SETTLED reply) measured as in `bridge.py`, then replayed with anvil's
`debug_traceTransaction` (struct logs) and every step's gas attributed to the contract it
ran in and a class of work:

- intrinsic: the 21,000 base and the calldata (what the trace's first step has not got);
- per contract: storage reads and writes (cold or warm), events (LOG*), calls (the CALL's
  own cost: cold or warm account access, value, memory, not the callee's work, which is
  attributed to the callee), the `ecrecover` precompile, EXTCODECOPY (the attester set read
  as code), KECCAK256, and the rest ("code": stack, memory, jumps, calldata copies);
- refund: what the transaction got back (negative).

The rows sum exactly to the receipt's gasUsed (checked: a mismatch raises). Figures keyed
`<operation>__<contract>__<class>`; run with `.venv/bin/python scripts/bench_gas.py`.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from brownie import chain, web3

from pvd.protocol import attestation
from pvd.protocol.messages import batch_messages
from scripts.gas.bridge import (
    _require,
    _require_executed,
    _settled_outcome,
    _sign,
    _sign_hold,
    settlement_bench,
)

_CALLS = {"CALL", "STATICCALL", "DELEGATECALL", "CALLCODE"}
_CREATES = {"CREATE", "CREATE2"}
_ECRECOVER = 1


def _class(op: str) -> str:
    if op == "SLOAD":
        return "storage_read"
    if op == "SSTORE":
        return "storage_write"
    if op.startswith("LOG"):
        return "events"
    if op == "KECCAK256" or op == "SHA3":
        return "keccak"
    if op == "EXTCODECOPY":
        return "extcodecopy"
    if op in {"BALANCE", "EXTCODESIZE", "EXTCODEHASH"}:
        return "account_read"
    return "code"


def breakdown(tx: Any, names: dict[str, str]) -> dict[str, int]:
    """The receipt gasUsed of `tx` by contract and class of work (sums to gasUsed)."""
    trace = web3.provider.make_request(
        "debug_traceTransaction",
        [tx.txid, {"disableStorage": True, "disableMemory": True, "enableReturnData": False}],
    )
    steps = trace["result"]["structLogs"]
    rows: dict[str, int] = defaultdict(int)
    limit = web3.eth.get_transaction(tx.txid)["gas"]
    rows["intrinsic"] = limit - steps[0]["gas"]
    frames = [tx.receiver.lower()]  # the address each depth runs in
    call_start: list[tuple[int, str]] = []  # (gas before the call, caller's row) per open call
    inner: list[int] = [0]  # gas attributed inside the current frame, per depth
    for i, step in enumerate(steps):
        op, depth = step["op"], step["depth"]
        who = names.get(frames[depth - 1], frames[depth - 1])
        nxt = steps[i + 1] if i + 1 < len(steps) else None
        if nxt is not None and nxt["depth"] == depth + 1:
            # Entering a frame: the call's own cost is settled when it returns.
            stack = step["stack"]
            if op in {"DELEGATECALL", "CALLCODE"}:  # runs in the caller's account
                frames.append(frames[depth - 1])
            elif op in _CALLS:
                frames.append("0x" + stack[-2][2:].rjust(40, "0")[-40:])
            else:  # CREATE: the new address is not known yet
                frames.append("created")
            call_start.append((step["gas"], f"{who}__{'create' if op in _CREATES else 'calls'}"))
            inner.append(0)
            continue
        if nxt is not None and nxt["depth"] < depth:
            # Leaving a frame: this step's own cost, then the caller's call overhead.
            cost = step["gasCost"]
            rows[f"{who}__{_class(op)}"] += cost
            inner[-1] += cost
            used_inside = inner.pop()
            start, row = call_start.pop()
            frames.pop()
            total = start - nxt["gas"]
            rows[row] += total - used_inside
            inner[-1] += total
            continue
        cost = (step["gas"] - nxt["gas"]) if nxt is not None else step["gasCost"]
        kind = _class(op)
        if op in _CALLS:
            target = int(step["stack"][-2], 16)
            kind = "ecrecover" if target == _ECRECOVER else "calls"
        rows[f"{who}__{kind}"] += cost
        inner[-1] += cost
    execution = inner[0]
    refund = rows["intrinsic"] + execution - tx.gas_used
    rows["refund"] = -refund
    if sum(rows.values()) != tx.gas_used:
        raise RuntimeError(f"breakdown sums to {sum(rows.values())}, gasUsed is {tx.gas_used}")
    return dict(rows)


def measure() -> dict[str, int]:
    bench = settlement_bench()
    if bench is None:
        return {}
    token, inbox, settlement = bench.token, bench.inbox, bench.settlement
    names = {
        token.address.lower(): "token",
        inbox.address.lower(): "inbox",
        settlement.address.lower(): "settlement",
        bench.outbox.address.lower(): "outbox",
        str(inbox.attesterSetData()).lower(): "attester_set",
    }
    gas: dict[str, int] = {}
    holds, txs = [], []
    for n in range(2):  # the second of each kind, as in bridge.py
        h = bench.hold(f"breakdown {n}")
        valid_before = chain.time() + 3600
        signature = _sign_hold(token, bench.payer_key, h, valid_before)
        tx = settlement.placeHoldAndAnnounce(h, valid_before, signature, {"from": bench.relayer})
        holds.append(h)
    _require(tx, "HoldAnnounced")
    txs.append(("hold_and_announce", tx))
    for nonce, h in enumerate(holds):
        message = _settled_outcome(settlement.address, h, nonce)
        tx = inbox.deliver(message.encode(), _sign(inbox, message, 2), {"from": bench.relayer})
        _require_executed(tx)
    txs.append(("delivered_outcome_2_of_3", tx))
    # A batch of ten Delivered outcomes (holds placed directly, as in bridge.py), after the
    # singles above: what a batch pays per message that a single does not share.
    batch = []
    for n in range(10):
        h = bench.hold(f"breakdown batch {n}")
        token.placeHold(h[5], bench.seller, settlement, h[3], h[4], {"from": bench.payer})
        batch.append(_settled_outcome(settlement.address, h, 2 + n))
    tx = inbox.deliverBatch(
        batch_messages([m.encode() for m in batch]),
        attestation.batch_signatures([_sign(inbox, m, 2) for m in batch]),
        {"from": bench.relayer},
    )
    _require_executed(tx, 10)
    txs.append(("batch_of_10_delivered_outcomes", tx))
    for operation, tx in txs:
        gas[f"{operation}__total"] = tx.gas_used
        for row, value in sorted(breakdown(tx, names).items()):
            if value:
                gas[f"{operation}__{row}"] = value
    return gas


def main() -> None:
    for name, value in measure().items():
        print(f"{name:60} {value:>9,}")
