"""Attester rotation through an inbox's delayed governance (pvd.client.governance)."""

from __future__ import annotations

import pytest

from pvd.client import governance
from pvd.client.roles import dev_account
from pvd.deploy.reverts import ContractRevert
from pvd.deploy.system import System
from pvd.errors import UserError
from tests.pvd.client.conftest import CAST


def test_attester_set_is_checked_and_sorted() -> None:
    a, b = CAST.attesters[0].address, CAST.attesters[1].address
    checked = governance.attester_set([b, a.lower()], 2)
    assert checked.attesters == tuple(sorted((a, b), key=lambda x: int(x, 16)))


@pytest.mark.parametrize(
    ("attesters", "threshold", "message"),
    [
        (["0x1234"], 1, "is not an address"),
        ([CAST.attesters[0].address.swapcase().replace("0X", "0x")], 1, "bad checksum"),
        ([CAST.attesters[0].address, CAST.attesters[0].address.lower()], 1, "listed twice"),
        ([CAST.attesters[0].address], 0, r"threshold 0 is outside 1..1"),
        ([CAST.attesters[0].address], 2, r"threshold 2 is outside 1..1"),
        ([], 1, "no attesters"),
    ],
)
def test_bad_attester_sets_are_user_errors(
    attesters: list[str], threshold: int, message: str
) -> None:
    with pytest.raises(UserError, match=message):
        governance.attester_set(attesters, threshold)


def test_rotation_waits_for_the_governance_delay(system: System) -> None:
    pay = system.payment
    inbox, admin = pay.inbox, CAST.central_bank.address
    before = governance.current_attesters(inbox)
    assert before.threshold == 2 and len(before.attesters) == 3
    new = governance.attester_set([dev_account("attester-1").address, CAST.stranger.address], 2)
    governance.propose_attester_set(pay.chain, inbox, admin, new)
    pending = governance.pending_attesters(inbox)
    assert pending is not None and pending.attesters == new.attesters
    with pytest.raises(ContractRevert, match="GovernanceProposalNotReady"):
        governance.apply_attester_set(pay.chain, inbox, CAST.stranger.address)
    assert governance.current_attesters(inbox) == before
    pay.chain.advance_time_to(pending.ready_at + 1)
    governance.apply_attester_set(pay.chain, inbox, CAST.stranger.address)
    assert governance.current_attesters(inbox) == governance.AttesterSet(new.attesters, 2)
    assert governance.pending_attesters(inbox) is None


def test_only_the_admin_proposes(system: System) -> None:
    pay = system.payment
    new = governance.attester_set([CAST.stranger.address], 1)
    with pytest.raises(ContractRevert, match="AccessControlUnauthorizedAccount"):
        governance.propose_attester_set(pay.chain, pay.inbox, CAST.stranger.address, new)
    assert governance.pending_attesters(pay.inbox) is None
