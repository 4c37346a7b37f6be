"""Proposal: the record, the trade id, and the timing rule checked on-chain (docs/design.md)."""

import brownie
import pytest
from eth_abi import encode
from eth_utils import keccak

from tests.contracts.fixtures.trade import (
    BUSINESS_DOMAIN,
    MAX_HORIZON,
    PAYMENT_DOMAIN,
    SAFETY_WINDOW,
    SETTLEMENT_APP,
    STATUS,
    ZERO,
    ZERO_HASH,
    err,
    now,
    set_next_block_time,
)


def test_propose_records_every_term(registry, make_terms, buyer):
    terms = make_terms()
    tx = registry.propose(terms.as_tuple(), {"from": buyer})
    trade_id = tx.return_value
    assert tuple(registry.getTrade(trade_id)) == (
        buyer,
        terms.deadline,
        PAYMENT_DOMAIN,
        terms.seller,
        terms.hold_expiry,
        STATUS["Proposed"],
        0,
        terms.payer,
        terms.arbitration_deadline,
        terms.payee,
        0,
        terms.carrier,
        terms.arbiter,
        terms.token,
        terms.price,
        "0x" + terms.terms_hash.hex(),
        ZERO_HASH,
        ZERO_HASH,
    )
    assert registry.settlementOf(trade_id) == 0
    assert registry.holdIdOf(trade_id) == ZERO_HASH


def test_propose_emits_trade_proposed(registry, make_terms, buyer):
    terms = make_terms()
    tx = registry.propose(terms.as_tuple(), {"from": buyer})
    assert tx.events["TradeProposed"] == {
        "tradeId": tx.return_value,
        "buyer": buyer,
        "seller": terms.seller,
        "nonce": 0,
        "price": terms.price,
        "deadline": terms.deadline,
        "holdExpiry": terms.hold_expiry,
    }


def test_trade_id_is_derived_from_chain_domain_registry_buyer_and_nonce(
    registry, make_terms, buyer
):
    expected = keccak(
        encode(
            ["uint256", "uint32", "address", "address", "uint256"],
            [brownie.chain.id, BUSINESS_DOMAIN, registry.address, buyer.address, 0],
        )
    )
    assert registry.nextTradeId(buyer) == "0x" + expected.hex()
    tx = registry.propose(make_terms().as_tuple(), {"from": buyer})
    assert tx.return_value == "0x" + expected.hex()
    assert registry.tradeIdFor(buyer, 0) == tx.return_value


def test_each_proposal_gets_a_new_id_and_nonce(registry, make_terms, buyer):
    first = registry.propose(make_terms().as_tuple(), {"from": buyer}).return_value
    second = registry.propose(make_terms().as_tuple(), {"from": buyer}).return_value
    assert first != second
    assert registry.nonceOf(buyer) == 2
    assert registry.tradeIdFor(buyer, 1) == second


def test_the_same_buyer_and_nonce_get_another_id_on_another_deployment(
    TradeRegistry, registry, mailbox, deployer, buyer
):
    other = TradeRegistry.deploy(deployer, SAFETY_WINDOW, MAX_HORIZON, {"from": deployer})
    other.wire(mailbox, mailbox, PAYMENT_DOMAIN, SETTLEMENT_APP, {"from": deployer})
    assert other.nextTradeId(buyer) != registry.nextTradeId(buyer)


def test_the_same_buyer_and_nonce_get_another_id_on_another_domain(
    TradeRegistry, TradeTestMailbox, registry, deployer, buyer
):
    other_box = TradeTestMailbox.deploy(BUSINESS_DOMAIN + 1, {"from": deployer})
    other = TradeRegistry.deploy(deployer, SAFETY_WINDOW, MAX_HORIZON, {"from": deployer})
    other.wire(other_box, other_box, PAYMENT_DOMAIN, SETTLEMENT_APP, {"from": deployer})
    expected = keccak(
        encode(
            ["uint256", "uint32", "address", "address", "uint256"],
            [brownie.chain.id, BUSINESS_DOMAIN + 1, other.address, buyer.address, 0],
        )
    )
    assert other.nextTradeId(buyer) == "0x" + expected.hex()


def test_carrier_arbiter_and_terms_hash_are_optional(registry, make_terms, buyer):
    terms = make_terms(carrier=ZERO, arbiter=ZERO, arbitration_deadline=0, terms_hash=b"\0" * 32)
    trade_id = registry.propose(terms.as_tuple(), {"from": buyer}).return_value
    record = registry.getTrade(trade_id)
    assert (record[11], record[12], record[8], record[15]) == (ZERO, ZERO, 0, ZERO_HASH)


# --- bad inputs: each a custom error carrying the values, and nothing recorded -----------


def assert_rejected(registry, buyer, unchanged, terms, message):
    with unchanged(), brownie.reverts(message):
        registry.propose(terms.as_tuple(), {"from": buyer})
    assert registry.nonceOf(buyer) == 0


@pytest.mark.parametrize("field", ["seller", "payer", "payee", "token"])
def test_a_zero_address_is_rejected(registry, make_terms, buyer, unchanged, field):
    terms = make_terms(**{field: ZERO})
    message = err("TradeZeroAddress", terms.seller, terms.payer, terms.payee, terms.token)
    assert_rejected(registry, buyer, unchanged, terms, message)


def test_buyer_as_seller_is_rejected(registry, make_terms, buyer, unchanged):
    terms = make_terms(seller=buyer.address)
    assert_rejected(registry, buyer, unchanged, terms, err("TradeBuyerIsSeller", buyer))


def test_a_zero_price_is_rejected(registry, make_terms, buyer, unchanged):
    assert_rejected(registry, buyer, unchanged, make_terms(price=0), "TradeZeroPrice: ")


def test_the_seller_as_carrier_is_rejected(registry, make_terms, buyer, seller, unchanged):
    terms = make_terms(carrier=seller.address)
    assert_rejected(registry, buyer, unchanged, terms, err("TradeCarrierIsSeller", seller))


@pytest.mark.parametrize("party", ["buyer", "seller"])
def test_a_party_as_arbiter_is_rejected(registry, make_terms, buyer, seller, unchanged, party):
    account = buyer if party == "buyer" else seller
    terms = make_terms(arbiter=account.address)
    assert_rejected(registry, buyer, unchanged, terms, err("TradeArbiterIsParty", account))


# --- the timing rule, each bound at its exact second and one second either side ----------


def propose_at(registry, buyer, terms, timestamp):
    set_next_block_time(timestamp)
    return registry.propose(terms.as_tuple(), {"from": buyer})


def test_a_deadline_at_now_is_rejected(registry, make_terms, buyer, unchanged):
    t = now() + 10
    terms = make_terms(deadline=t, hold_expiry=t + SAFETY_WINDOW, arbitration_deadline=t)
    with unchanged(), brownie.reverts(err("TradeDeadlineNotInFuture", t, t)):
        propose_at(registry, buyer, terms, t)


def test_a_deadline_one_second_in_the_past_is_rejected(registry, make_terms, buyer, unchanged):
    t = now() + 10
    terms = make_terms(deadline=t - 1, hold_expiry=t + SAFETY_WINDOW, arbitration_deadline=t - 1)
    with unchanged(), brownie.reverts(err("TradeDeadlineNotInFuture", t - 1, t)):
        propose_at(registry, buyer, terms, t)


def test_a_deadline_one_second_ahead_is_accepted(registry, make_terms, buyer):
    t = now() + 10
    terms = make_terms(
        deadline=t + 1, hold_expiry=t + 1 + SAFETY_WINDOW, arbitration_deadline=t + 1
    )
    tx = propose_at(registry, buyer, terms, t)
    assert registry.getTrade(tx.return_value)[1] == t + 1


def test_a_deadline_at_the_horizon_is_accepted(registry, make_terms, buyer):
    t = now() + 10
    d = t + MAX_HORIZON
    terms = make_terms(deadline=d, hold_expiry=d + SAFETY_WINDOW, arbitration_deadline=d)
    tx = propose_at(registry, buyer, terms, t)
    assert registry.statusOf(tx.return_value) == STATUS["Proposed"]


def test_a_deadline_one_second_beyond_the_horizon_is_rejected(
    registry, make_terms, buyer, unchanged
):
    t = now() + 10
    d = t + MAX_HORIZON + 1
    terms = make_terms(deadline=d, hold_expiry=d + SAFETY_WINDOW, arbitration_deadline=d)
    with unchanged(), brownie.reverts(err("TradeDeadlineTooFar", d, t + MAX_HORIZON)):
        propose_at(registry, buyer, terms, t)


def test_a_deadline_one_second_inside_the_horizon_is_accepted(registry, make_terms, buyer):
    t = now() + 10
    d = t + MAX_HORIZON - 1
    terms = make_terms(deadline=d, hold_expiry=d + SAFETY_WINDOW, arbitration_deadline=d)
    tx = propose_at(registry, buyer, terms, t)
    assert registry.statusOf(tx.return_value) == STATUS["Proposed"]


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_hold_expiry_at_deadline_plus_safety_window(registry, make_terms, buyer, unchanged, offset):
    terms = make_terms()
    expiry = terms.deadline + SAFETY_WINDOW + offset
    terms = terms.but(hold_expiry=expiry, arbitration_deadline=terms.deadline)
    if offset < 0:
        message = err("TradeHoldExpiryTooEarly", expiry, terms.deadline + SAFETY_WINDOW)
        with unchanged(), brownie.reverts(message):
            registry.propose(terms.as_tuple(), {"from": buyer})
    else:
        tx = registry.propose(terms.as_tuple(), {"from": buyer})
        assert registry.getTrade(tx.return_value)[4] == expiry


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_arbitration_deadline_at_hold_expiry_minus_safety_window(
    registry, make_terms, buyer, unchanged, offset
):
    terms = make_terms()
    latest = terms.hold_expiry - SAFETY_WINDOW
    terms = terms.but(arbitration_deadline=latest + offset)
    if offset > 0:
        message = err("TradeArbitrationDeadlineTooLate", latest + offset, latest)
        with unchanged(), brownie.reverts(message):
            registry.propose(terms.as_tuple(), {"from": buyer})
    else:
        tx = registry.propose(terms.as_tuple(), {"from": buyer})
        assert registry.getTrade(tx.return_value)[8] == latest + offset


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_arbitration_deadline_at_the_delivery_deadline(
    registry, make_terms, buyer, unchanged, offset
):
    terms = make_terms()
    terms = terms.but(arbitration_deadline=terms.deadline + offset)
    if offset < 0:
        message = err("TradeArbitrationDeadlineTooEarly", terms.deadline - 1, terms.deadline)
        with unchanged(), brownie.reverts(message):
            registry.propose(terms.as_tuple(), {"from": buyer})
    else:
        tx = registry.propose(terms.as_tuple(), {"from": buyer})
        assert registry.getTrade(tx.return_value)[8] == terms.deadline + offset


def test_an_arbitration_deadline_without_an_arbiter_is_rejected(
    registry, make_terms, buyer, unchanged
):
    terms = make_terms(arbiter=ZERO)
    message = err("TradeArbitrationDeadlineWithoutArbiter", terms.arbitration_deadline)
    with unchanged(), brownie.reverts(message):
        registry.propose(terms.as_tuple(), {"from": buyer})
