"""Storage choices the gas figures rely on, and the C5 snapshot helper the tests rely on."""

import brownie
import pytest

from tests.contracts.fixtures.token import CST, unchanged


def changed_slots(token, action, slots=range(32)):
    """The low-numbered storage slots of `token` whose word `action` changes."""
    before = [brownie.web3.eth.get_storage_at(token.address, i) for i in slots]
    action()
    after = [brownie.web3.eth.get_storage_at(token.address, i) for i in slots]
    return [i for i, b, a in zip(slots, before, after, strict=True) if a != b]


def test_the_pause_flag_and_the_day_offset_share_one_slot(yuan, pauser, central_bank):
    (pause_slot,) = changed_slots(yuan, lambda: yuan.pause({"from": pauser}))
    (offset_slot,) = changed_slots(yuan, lambda: yuan.setDayOffset(-CST, {"from": central_bank}))
    assert pause_slot == offset_slot


def test_the_snapshot_sees_a_changed_balance(yuan, buyer, seller):
    with pytest.raises(AssertionError), unchanged(yuan, [buyer, seller]):
        yuan.transfer(seller, 1, {"from": buyer})


def test_the_snapshot_sees_a_change_no_watched_view_shows(yuan, buyer, stranger):
    # Nothing watched: only the storage root can tell that an allowance changed.
    with pytest.raises(AssertionError), unchanged(yuan):
        yuan.approve(stranger, 1, {"from": buyer})
