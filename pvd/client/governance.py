"""Changing an inbox's attester set through its delayed governance, from Python: the
admin proposes a new set and threshold, anyone applies it once the governance delay has
passed (at once while the inbox's setup is still open), the admin may cancel it. Plus a
view of the current and pending sets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from web3 import Web3
from web3.contract import Contract

from pvd.chain.connection import Chain
from pvd.client.send import Sent, send
from pvd.errors import UserError


@dataclass(frozen=True)
class AttesterSet:
    """An inbox's attesters (ascending) and threshold; `ready_at` for a pending set."""

    attesters: tuple[str, ...]
    threshold: int
    ready_at: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "attesters": list(self.attesters),
            "threshold": self.threshold,
            "ready_at": self.ready_at,
        }


def attester_set(attesters: list[str] | tuple[str, ...], threshold: int) -> AttesterSet:
    """A valid set: checksummed, distinct, sorted ascending (as the inbox wants it),
    threshold within 1..n. UserError otherwise (nothing sent)."""
    checked: list[str] = []
    for text in attesters:
        if not Web3.is_address(text):
            raise UserError(f"attester {text!r} is not an address: give 0x and 40 hex digits")
        if text != text.lower() and not Web3.is_checksum_address(text):
            raise UserError(
                f"attester {text} has a bad checksum (mixed case that does not match): "
                "copy the address again or write it all lower case"
            )
        checked.append(Web3.to_checksum_address(text))
    if len(set(checked)) != len(checked):
        duplicate = next(a for a in checked if checked.count(a) > 1)
        raise UserError(f"attester {duplicate} is listed twice: list each attester once")
    if not checked:
        raise UserError("no attesters given: list at least one attester address")
    if not 1 <= threshold <= len(checked):
        raise UserError(
            f"threshold {threshold} is outside 1..{len(checked)} (the number of attesters): "
            "pick a threshold between 1 and the number of attesters"
        )
    return AttesterSet(tuple(sorted(checked, key=lambda a: int(a, 16))), threshold)


def current_attesters(inbox: Contract) -> AttesterSet:
    return AttesterSet(
        tuple(inbox.functions.attesters().call()), int(inbox.functions.threshold().call())
    )


def pending_attesters(inbox: Contract) -> AttesterSet | None:
    attesters, threshold, ready_at = inbox.functions.pendingAttesterSet().call()
    return None if ready_at == 0 else AttesterSet(tuple(attesters), int(threshold), int(ready_at))


def propose_attester_set(chain: Chain, inbox: Contract, admin: str, new: AttesterSet) -> Sent:
    """The admin proposes `new`; it takes effect after the governance delay."""
    call = inbox.functions.proposeAttesterSet(list(new.attesters), new.threshold)
    return send(chain, call, admin)


def apply_attester_set(chain: Chain, inbox: Contract, sender: str) -> Sent:
    """Anyone makes the pending set effective once its delay has passed."""
    return send(chain, inbox.functions.applyAttesterSet(), sender)


def cancel_attester_set(chain: Chain, inbox: Contract, admin: str) -> Sent:
    return send(chain, inbox.functions.cancelAttesterSet(), admin)
