"""PAYMENT_HELD in: a matching hold funds an Accepted trade; anything else is consumed and
answered with a Rejected outcome carrying that message's own hold fields."""

import brownie
import pytest

from tests.contracts.fixtures.trade import (
    OUTCOME,
    PAYMENT_DOMAIN,
    PAYMENT_HELD,
    PAYMENT_SETTLED,
    REJECT,
    SETTLEMENT_APP,
    STATUS,
    TRADE_OUTCOME,
    ZERO_HASH,
    err,
    h32,
    hold_id,
    labelled_address,
    payment_held_body,
    set_next_block_time,
)


def test_a_matching_hold_funds_an_accepted_trade(registry, trade_in, deliver, mailbox):
    trade = trade_in("Accepted")
    tx = deliver(PAYMENT_HELD, payment_held_body(trade.id, trade.terms))
    assert tx.events["TradeFunded"] == {
        "tradeId": trade.id,
        "holdId": trade.hold,
        "messageId": tx.return_value,
    }
    assert registry.statusOf(trade.id) == STATUS["Funded"]
    assert registry.holdIdOf(trade.id) == trade.hold
    assert mailbox.sentCount() == 0


def assert_rejected(tx, registry, sent_outcomes, trade_id, body_fields, reason, status):
    """The message was consumed: a PaymentHeldRejected event and one Rejected outcome
    carrying exactly the message's hold fields."""
    assert tx.status == 1
    assert tx.events["PaymentHeldRejected"] == {
        "tradeId": trade_id,
        "holdId": body_fields["holdId"],
        "messageId": tx.return_value,
        "reason": REJECT[reason],
        "status": STATUS[status],
    }
    (outcome,) = sent_outcomes(tx)
    assert outcome == {**body_fields, "tradeId": str(trade_id), "outcome": OUTCOME["Rejected"]}
    assert tx.events["OutcomeSent"]["outcome"] == OUTCOME["Rejected"]
    assert tx.events["OutcomeSent"]["messageId"] == tx.events["MessageSent"]["messageId"]
    assert tx.events["MessageSent"]["kind"] == TRADE_OUTCOME


def fields(trade, **changes):
    payer = changes.get("payer", trade.terms.payer)
    return {
        "holdId": changes.get("hold", hold_id(payer, SETTLEMENT_APP, h32(trade.id))),
        "payer": payer,
        "payee": changes.get("payee", trade.terms.payee),
        "amount": changes.get("amount", trade.terms.price),
        "expiry": changes.get("expiry", trade.terms.hold_expiry),
    }


OTHER = labelled_address("somebody else")


@pytest.mark.parametrize(
    "change",
    [
        {"payer": OTHER},
        {"payee": OTHER},
        {"token": OTHER},
        {"amount": 12_345_00 - 1},
        {"amount": 12_345_00 + 1},
        {"expiry": "minus one"},
        {"expiry": "plus one"},
    ],
    ids=["payer", "payee", "token", "amount-1", "amount+1", "expiry-1", "expiry+1"],
)
def test_a_mismatched_hold_is_rejected_and_the_trade_stays_accepted(
    registry, trade_in, deliver, sent_outcomes, change
):
    trade = trade_in("Accepted")
    if "expiry" in change:
        change = {"expiry": trade.terms.hold_expiry + (1 if change["expiry"] == "plus one" else -1)}
    before = tuple(registry.getTrade(trade.id))
    tx = deliver(PAYMENT_HELD, payment_held_body(trade.id, trade.terms, **change))
    expected = fields(trade, **{k: v for k, v in change.items() if k != "token"})
    assert_rejected(tx, registry, sent_outcomes, trade.id, expected, "TermsMismatch", "Accepted")
    assert tuple(registry.getTrade(trade.id)) == before


def test_a_hold_for_an_unknown_trade_is_rejected(registry, trade_in, deliver, sent_outcomes):
    trade = trade_in("Accepted")
    unknown = "0x" + "cd" * 32
    body = payment_held_body(unknown, trade.terms)
    tx = deliver(PAYMENT_HELD, body)
    expected = fields(trade, hold=hold_id(trade.terms.payer, SETTLEMENT_APP, h32(unknown)))
    assert_rejected(tx, registry, sent_outcomes, unknown, expected, "UnknownTrade", "None")
    assert registry.statusOf(unknown) == STATUS["None"]


@pytest.mark.parametrize("status", ["Proposed", "Cancelled"])
def test_a_hold_for_a_trade_not_accepted_is_rejected(
    registry, trade_in, deliver, sent_outcomes, buyer, status
):
    trade = trade_in("Proposed")
    if status == "Cancelled":
        registry.cancel(trade.id, {"from": buyer})
    before = tuple(registry.getTrade(trade.id))
    tx = deliver(PAYMENT_HELD, payment_held_body(trade.id, trade.terms))
    assert_rejected(tx, registry, sent_outcomes, trade.id, fields(trade), "NotAccepted", status)
    assert tuple(registry.getTrade(trade.id)) == before


def test_a_hold_for_an_expired_unfunded_trade_is_rejected(
    registry, trade_in, deliver, sent_outcomes, stranger
):
    trade = trade_in("Accepted")
    set_next_block_time(trade.terms.deadline + 1)
    registry.expire(trade.id, {"from": stranger})
    tx = deliver(PAYMENT_HELD, payment_held_body(trade.id, trade.terms))
    assert_rejected(tx, registry, sent_outcomes, trade.id, fields(trade), "NotAccepted", "Expired")


def test_a_second_hold_for_a_funded_trade_is_rejected(registry, trade_in, deliver, sent_outcomes):
    trade = trade_in("Funded")
    before = tuple(registry.getTrade(trade.id))
    change = {"payer": OTHER}
    tx = deliver(PAYMENT_HELD, payment_held_body(trade.id, trade.terms, **change))
    assert_rejected(
        tx, registry, sent_outcomes, trade.id, fields(trade, **change), "NotAccepted", "Funded"
    )
    assert tuple(registry.getTrade(trade.id)) == before


@pytest.mark.parametrize("status", ["Funded", "Shipped", "Delivered"])
def test_the_funding_hold_announced_again_is_consumed_without_an_answer(
    registry, trade_in, deliver, mailbox, status
):
    trade = trade_in(status)
    before = tuple(registry.getTrade(trade.id))
    sent = mailbox.sentCount()
    tx = deliver(PAYMENT_HELD, payment_held_body(trade.id, trade.terms))
    assert tx.events["PaymentHeldDuplicate"] == {
        "tradeId": trade.id,
        "holdId": trade.hold,
        "messageId": tx.return_value,
    }
    assert "PaymentHeldRejected" not in tx.events
    assert mailbox.sentCount() == sent
    assert tuple(registry.getTrade(trade.id)) == before


@pytest.mark.parametrize("offset", [-1, 0])
def test_a_matching_hold_funds_up_to_the_deadline_second(registry, trade_in, deliver, offset):
    trade = trade_in("Accepted")
    set_next_block_time(trade.terms.deadline + offset)
    deliver(PAYMENT_HELD, payment_held_body(trade.id, trade.terms))
    assert registry.statusOf(trade.id) == STATUS["Funded"]


def test_a_matching_hold_one_second_after_the_deadline_is_rejected(
    registry, trade_in, deliver, sent_outcomes
):
    trade = trade_in("Accepted")
    set_next_block_time(trade.terms.deadline + 1)
    tx = deliver(PAYMENT_HELD, payment_held_body(trade.id, trade.terms))
    assert_rejected(
        tx, registry, sent_outcomes, trade.id, fields(trade), "DeadlinePassed", "Accepted"
    )
    assert registry.statusOf(trade.id) == STATUS["Accepted"]


# --- protocol faults: these revert (the inbox keeps the message as verified-but-failed) ---


def test_only_the_inbox_delivers(registry, trade_in, stranger, unchanged):
    trade = trade_in("Accepted")
    body = payment_held_body(trade.id, trade.terms)
    with unchanged(trade.id), brownie.reverts(err("RegistryCallerNotInbox", stranger)):
        registry.receiveMessage(
            PAYMENT_DOMAIN, SETTLEMENT_APP, ZERO_HASH, PAYMENT_HELD, body, {"from": stranger}
        )


@pytest.mark.parametrize("source", ["domain", "app"])
def test_a_message_from_another_source_reverts(trade_in, deliver, unchanged, source):
    trade = trade_in("Accepted")
    domain = PAYMENT_DOMAIN + 1 if source == "domain" else PAYMENT_DOMAIN
    app = OTHER if source == "app" else SETTLEMENT_APP
    body = payment_held_body(trade.id, trade.terms)
    with unchanged(trade.id), brownie.reverts(err("RegistryUnknownSource", domain, app)):
        deliver(PAYMENT_HELD, body, source_domain=domain, source_app=app)


@pytest.mark.parametrize("kind", [0, TRADE_OUTCOME, 4, 255])
def test_a_kind_the_registry_never_receives_reverts(trade_in, deliver, unchanged, kind):
    trade = trade_in("Accepted")
    with unchanged(trade.id), brownie.reverts(err("RegistryUnexpectedKind", kind)):
        deliver(kind, payment_held_body(trade.id, trade.terms))


@pytest.mark.parametrize("cut", [-1, 1, -32, 32])
def test_a_truncated_or_padded_body_reverts(trade_in, deliver, unchanged, cut):
    trade = trade_in("Accepted")
    body = payment_held_body(trade.id, trade.terms)
    body = body[:cut] if cut < 0 else body + b"\0" * cut
    with (
        unchanged(trade.id),
        brownie.reverts(err("MessageBodyLength", PAYMENT_HELD, len(body), 224)),
    ):
        deliver(PAYMENT_HELD, body)


def test_a_truncated_settled_body_reverts(trade_in, deliver, unchanged):
    trade = trade_in("Funded")
    with unchanged(trade.id), brownie.reverts(err("MessageBodyLength", PAYMENT_SETTLED, 127, 128)):
        deliver(PAYMENT_SETTLED, b"\1" * 127)
