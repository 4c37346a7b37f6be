"""The trade steps of pvd.client.trade on embedded chains (no relayer: the steps that
need a message from the other chain are refused with the decoded reason)."""

from __future__ import annotations

import pytest

from pvd.client import money
from pvd.client import trade as client
from pvd.deploy.reverts import ContractRevert
from pvd.deploy.system import System
from pvd.errors import UserError
from tests.pvd.client.conftest import CAST

YUAN = 100
HOUR = 3600


def funded_buyer(system: System, fen: int = 5_000 * YUAN) -> None:
    chain, token = system.payment.chain, system.payment.token
    money.appoint_bank(chain, token, CAST.central_bank.address, CAST.bank.address)
    money.set_mint_allowance(chain, token, CAST.central_bank.address, CAST.bank.address, fen)
    money.issue(chain, token, CAST.bank.address, CAST.buyer.address, fen)


def terms(system: System, arbiter: bool = False) -> client.Terms:
    deadline = system.business.chain.now() + 24 * HOUR
    return client.Terms(
        seller=CAST.seller.address,
        payer=CAST.buyer.address,
        payee=CAST.seller.address,
        token=system.payment.token.address,
        price=1_500 * YUAN,
        deadline=deadline,
        hold_expiry=deadline + system.config.safety_window + HOUR,
        carrier=CAST.carrier.address,
        arbiter=CAST.arbiter.address if arbiter else client.ZERO_ADDRESS,
        arbitration_deadline=deadline + HOUR if arbiter else 0,
    )


def proposed(system: System, arbiter: bool = False) -> tuple[bytes, client.Terms]:
    biz = system.business
    fixed = terms(system, arbiter)
    trade_id, sent = client.propose_sent(biz.chain, biz.registry, CAST.buyer.address, fixed)
    assert sent.action == "propose" and sent.chain == "business"
    return trade_id, fixed


def test_propose_then_accept_reads_back_the_terms(system: System) -> None:
    biz = system.business
    trade_id, fixed = proposed(system)
    record = client.trade_record(biz.registry, trade_id)
    assert (record.status, record.buyer, record.price) == (
        "Proposed",
        CAST.buyer.address,
        fixed.price,
    )
    assert record.terms() == fixed
    client.accept(biz.chain, biz.registry, CAST.seller.address, trade_id)
    assert client.trade_record(biz.registry, trade_id).status == "Accepted"


def test_only_the_seller_accepts(system: System) -> None:
    biz = system.business
    trade_id, _ = proposed(system)
    with pytest.raises(ContractRevert) as refused:
        client.accept(biz.chain, biz.registry, CAST.stranger.address, trade_id)
    assert refused.value.error.name == "TradeCallerNotSeller"
    assert refused.value.error.values == (trade_id, CAST.stranger.address)
    assert client.trade_record(biz.registry, trade_id).status == "Proposed"


def test_cancel_before_funding(system: System) -> None:
    biz = system.business
    trade_id, _ = proposed(system)
    client.cancel(biz.chain, biz.registry, CAST.seller.address, trade_id)
    assert client.trade_record(biz.registry, trade_id).status == "Cancelled"
    with pytest.raises(ContractRevert, match="status=Cancelled"):
        client.accept(biz.chain, biz.registry, CAST.seller.address, trade_id)


def test_an_unknown_trade_is_a_user_error(system: System) -> None:
    with pytest.raises(UserError, match="no trade 0x4242"):
        client.trade_record(system.business.registry, b"\x42" * 32)


def test_hold_by_signature_places_and_announces_in_one_transaction(system: System) -> None:
    pay, biz = system.payment, system.business
    funded_buyer(system)
    trade_id, fixed = proposed(system)
    client.accept(biz.chain, biz.registry, CAST.seller.address, trade_id)
    hold = client.hold_for(trade_id, fixed, pay.settlement)
    record = client.trade_record(biz.registry, trade_id)
    assert client.payment_side(pay.token, pay.settlement, record).hold_status == "None"
    sent = client.hold_by_signature(
        pay.chain,
        pay.token,
        pay.settlement,
        CAST.buyer,
        hold,
        pay.chain.now() + HOUR,
        CAST.stranger.address,
    )
    assert sent.action == "placeHoldAndAnnounce"
    side = client.payment_side(pay.token, pay.settlement, record)
    assert (side.hold_status, side.announced) == ("Held", True)
    assert side.hold_id == client.hold_id(pay.token, hold)
    assert money.wallet_state(pay.token, CAST.buyer.address).held == fixed.price


def test_hold_directly_places_then_announces(system: System) -> None:
    pay, biz = system.payment, system.business
    funded_buyer(system)
    trade_id, fixed = proposed(system)
    client.accept(biz.chain, biz.registry, CAST.seller.address, trade_id)
    hold = client.hold_for(trade_id, fixed, pay.settlement)
    placed, announced = client.hold_directly(
        pay.chain, pay.token, pay.settlement, CAST.buyer.address, hold
    )
    assert (placed.action, announced.action) == ("placeHold", "announce")
    side = client.payment_side(
        pay.token, pay.settlement, client.trade_record(biz.registry, trade_id)
    )
    assert (side.hold_status, side.announced) == ("Held", True)


def test_a_hold_beyond_the_buyers_funds_is_refused_before_sending(system: System) -> None:
    pay = system.payment
    funded_buyer(system, fen=10 * YUAN)
    trade_id, fixed = proposed(system)
    hold = client.hold_for(trade_id, fixed, pay.settlement)
    with pytest.raises(ContractRevert, match="InsufficientSpendableBalance"):
        client.hold_directly(pay.chain, pay.token, pay.settlement, CAST.buyer.address, hold)
    assert money.wallet_state(pay.token, CAST.buyer.address).held == 0


def test_ship_waits_for_funding(system: System) -> None:
    biz = system.business
    trade_id, _ = proposed(system)
    client.accept(biz.chain, biz.registry, CAST.seller.address, trade_id)
    with pytest.raises(ContractRevert, match="TradeWrongStatus") as refused:
        client.ship(biz.chain, biz.registry, CAST.seller.address, trade_id, b"\x01" * 32)
    assert refused.value.error.arg("status") == "Accepted"


def test_confirm_and_dispute_are_refused_on_an_unfunded_trade(system: System) -> None:
    biz = system.business
    trade_id, _ = proposed(system, arbiter=True)
    with pytest.raises(ContractRevert, match="TradeWrongStatus"):
        client.confirm(biz.chain, biz.registry, CAST.buyer.address, trade_id)
    with pytest.raises(ContractRevert, match="TradeWrongStatus"):
        client.dispute(biz.chain, biz.registry, CAST.buyer.address, trade_id)
    with pytest.raises(ContractRevert, match="TradeCallerNotCarrier"):
        client.confirm_by_carrier(
            biz.chain, biz.registry, CAST.stranger.address, trade_id, b"\x02" * 32
        )


def test_resolve_checks_the_ruling_before_sending(system: System) -> None:
    biz = system.business
    trade_id, _ = proposed(system, arbiter=True)
    with pytest.raises(UserError, match="ruling 'maybe' is unknown"):
        client.resolve(biz.chain, biz.registry, CAST.arbiter.address, trade_id, "maybe")
    with pytest.raises(ContractRevert, match="status=Proposed"):
        client.resolve(biz.chain, biz.registry, CAST.arbiter.address, trade_id, "delivered")


def test_expire_only_after_the_deadline(system: System) -> None:
    biz = system.business
    trade_id, fixed = proposed(system)
    with pytest.raises(ContractRevert, match="TradeDeadlineNotPassed"):
        client.expire(biz.chain, biz.registry, CAST.stranger.address, trade_id)
    biz.chain.advance_time_to(fixed.deadline + 1)
    client.expire(biz.chain, biz.registry, CAST.stranger.address, trade_id)
    assert client.trade_record(biz.registry, trade_id).status == "Expired"
