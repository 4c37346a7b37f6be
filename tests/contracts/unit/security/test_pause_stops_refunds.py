"""The guardian's pause stops every effect of a delivery, refunds included (retries too:
tests/contracts/unit/bridge/test_inbox_pause.py); the buyer's
guarantee survives the pause because anyone can release an expired hold on the token
(docs/adr/0007-inbox-pause-scope.md, docs/security.md).

The attack: a compromised quorum sends a forged Rejected (or Expired) outcome for a trade
that is funded and shipped; the guardian pauses; if refunds still passed, the hold would be
released, the buyer would move the money and the honest Delivered outcome would end
Refunded."""

import brownie
import pytest
from brownie import chain

from pvd.protocol.messages import Outcome, batch_messages
from tests.contracts.fixtures.bridge import (
    ATTESTERS,
    deliver_signed,
    inbox_state,
    is_consumed,
    registry_outcome,
    sign,
)
from tests.contracts.fixtures.token import HELD, RELEASED, YUAN, err, new_hold, now, unchanged

WEEK = 7 * 86400
PRICE = 300 * YUAN
STATUS_FAILED = 2


@pytest.fixture(scope="module")
def side(payment_side):
    return payment_side


@pytest.fixture
def funded(side, buyer, seller):
    hold = new_hold(buyer, seller, side.settlement, PRICE, now() + WEEK, "shipped")
    side.token.placeHold(hold.ref, seller, side.settlement, PRICE, hold.expiry, {"from": buyer})
    return hold


@pytest.mark.parametrize("outcome", [Outcome.EXPIRED, Outcome.REJECTED])
def test_a_paused_inbox_refuses_a_forged_refund_of_a_funded_trade(
    side, funded, buyer, seller, guardian, relayer, outcome
):
    side.inbox.pause({"from": guardian})
    forged = registry_outcome(side.settlement, funded, outcome, nonce=3)
    before = inbox_state(side.inbox, forged)
    with (
        unchanged(side.token, [buyer, seller], [funded.id()]),
        brownie.reverts(err("InboxPaused", forged.id)),
    ):
        deliver_signed(side.inbox, forged, relayer)
    assert inbox_state(side.inbox, forged) == before
    assert side.token.holdStatus(funded.id()) == HELD


def test_the_buyer_gets_the_money_back_during_a_pause_once_the_hold_expires(
    side, funded, buyer, guardian, stranger
):
    side.inbox.pause({"from": guardian})
    chain.sleep(WEEK + 1)
    tx = side.token.releaseHold(funded.tuple(), {"from": stranger})
    assert tx.events["HoldReleased"]["amount"] == PRICE
    assert side.token.holdStatus(funded.id()) == RELEASED
    assert side.token.heldBalanceOf(buyer) == 0


def test_a_paused_batch_rejects_refunds_too(side, funded, guardian, relayer):
    side.inbox.pause({"from": guardian})
    refund = registry_outcome(side.settlement, funded, Outcome.EXPIRED, nonce=5)
    tx = side.inbox.deliverBatch(
        batch_messages([refund.encode()]),
        sign(side.inbox, refund, ATTESTERS[:2]),
        {"from": relayer},
    )
    assert list(tx.return_value) == [3]  # Rejected
    assert not is_consumed(side.inbox, refund)
    assert side.token.holdStatus(funded.id()) == HELD
