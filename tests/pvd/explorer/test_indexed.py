"""IndexData on a real deployment: two embedded chains, the in-process relayer, the
index in a SQLite file. What the explorer shows is what happened on the chains, and it
is read incrementally."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from web3 import HTTPProvider, Web3

from pvd.chain.connection import embedded_chain
from pvd.chain.ports import free_port
from pvd.cli import demo
from pvd.client import trade as client
from pvd.deploy.system import System, SystemConfig, deploy_system
from pvd.explorer.indexed import (
    IndexData,
    index_data_for_system,
    message_kind,
    step_label,
    steps,
)
from pvd.explorer.view import Chain, TradeQuery
from pvd.index import query
from pvd.index.ingest import ChainIndexer
from pvd.index.trace import causal_order
from pvd.relayer.service import Relayer


@dataclasses.dataclass
class Stack:
    system: System
    cast: demo.Cast
    relayer: Relayer
    data: IndexData


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("explorer")
    payment = embedded_chain("payment", demo.PAYMENT_DOMAIN)
    business = embedded_chain("business", demo.BUSINESS_DOMAIN)
    cast = demo.Cast.from_accounts(payment.accounts)
    config = SystemConfig(attesters=tuple(a.address for a in cast.attesters), threshold=2)
    system = deploy_system(payment, business, config)
    demo.issue_funds(system, cast)
    relayer = demo.in_process_relayer(system, cast, Path(tmp) / "relayer.sqlite")
    data = index_data_for_system(system, f"sqlite:///{tmp}/index.sqlite")
    try:
        demo.settle_by_delivery(system, cast, relayer, demo.Story(quiet=True))
        yield Stack(system, cast, relayer, data)
    finally:
        relayer.close()


def test_a_paid_trade_is_listed_with_its_settlement_and_hold(stack: Stack) -> None:
    heads = stack.data.refresh()
    assert all(h.reachable and h.block is not None and h.timestamp for h in heads)
    page = stack.data.trades(TradeQuery())
    assert page.total == 1
    (row,) = page.rows
    assert (row.status, row.settlement, row.hold) == ("Delivered", "Paid", "executed")
    assert row.price_fen == demo.PRICE
    assert row.buyer == stack.cast.buyer.address


def test_the_timeline_has_both_chains_and_three_delivered_crossings(stack: Stack) -> None:
    stack.data.refresh()
    (row,) = stack.data.trades(TradeQuery()).rows
    timeline = stack.data.timeline(row.trade_id)
    assert timeline is not None
    assert {s.chain for s in timeline.steps} == {Chain.BUSINESS, Chain.PAYMENT}
    kinds = [c.kind for c in timeline.crossings]
    assert kinds == ["PaymentHeld", "TradeOutcome(Delivered)", "PaymentSettled(Paid)"]
    assert all(c.status == "delivered" and c.delivered_at is not None for c in timeline.crossings)
    sent = [s for s in timeline.steps if s.message_id]
    assert [s.message_id for s in sent] == [c.message_id for c in timeline.crossings]
    assert timeline.stuck is None
    whats = [s.what for s in timeline.steps]
    for sent in ("Sent PaymentHeld", "Sent TradeOutcome(Delivered)", "Sent PaymentSettled(Paid)"):
        assert sent in whats
    for chain in Chain:
        blocks = [s.block for s in timeline.steps if s.chain is chain]
        assert blocks == sorted(blocks)


def event(chain: str, block: int, at: int, tx: str, name: str, message: str | None = None):  # type: ignore[no-untyped-def]
    contract = {"MessageSent": "Outbox", "MessageDelivered": "Inbox"}.get(name, "TradeRegistry")
    return query.EventRow(chain, block, 0, at, tx, contract, name, None, None, message, {})


def test_a_delivery_comes_after_its_sending_whatever_the_clocks_say() -> None:
    # the business chain's clock is 5 s behind: time alone would show the delivery first
    found = [
        event("business", 1, 100, "0xa", "TradeAccepted"),
        event("payment", 7, 104, "0xb", "MessageSent", "0xm1"),
        event("business", 2, 101, "0xc", "MessageDelivered", "0xm1"),
        event("business", 2, 101, "0xc", "TradeFunded"),
        event("business", 3, 102, "0xd", "TradeShipped"),
    ]
    order = [(s.chain.value, s.what) for s in steps(causal_order(found))]
    assert order == [
        ("business", "Trade accepted"),
        ("payment", "Sent Message"),
        ("business", "Message delivered"),
        ("business", "Trade funded"),
        ("business", "Trade shipped"),
    ]


def test_a_search_by_tx_hash_finds_the_trade(stack: Stack) -> None:
    stack.data.refresh()
    (row,) = stack.data.trades(TradeQuery()).rows
    timeline = stack.data.timeline(row.trade_id)
    assert timeline is not None
    for step in timeline.steps:
        assert stack.data.trades_of_tx(step.tx_hash) == (row.trade_id,), step.what
    assert stack.data.trades_of_tx("0x" + "00" * 32) == ()


def test_messages_and_money_are_what_the_chains_say(stack: Stack) -> None:
    stack.data.refresh()
    shown = stack.data.messages()
    assert len(shown) == 3 and all(m.status == "delivered" for m in shown)
    money = stack.data.money()
    token = stack.system.payment.token
    assert money.total_supply_fen == token.functions.totalSupply().call()
    assert [(b.bank, b.issued_fen) for b in money.by_bank] == [
        (stack.cast.operator.address, demo.BUYER_FUNDS)
    ]
    assert (money.holds_open, money.holds_open_fen) == (0, 0)


def test_a_new_trade_is_read_incrementally_and_shows_where_it_waits(stack: Stack) -> None:
    stack.data.refresh()
    before = {h.chain: h.block for h in stack.data.heads()}
    trade = demo.open_trade(stack.system, stack.cast, stack.relayer, demo.Story(True), "open")
    pay, op = stack.system.payment, stack.cast.operator.address
    client.transact(pay.chain, pay.token.functions.issue(stack.cast.seller.address, 700), op)
    stack.data.refresh()
    after = {h.chain: h.block for h in stack.data.heads()}
    assert all(after[c] > before[c] for c in before)  # type: ignore[operator]
    page = stack.data.trades(TradeQuery(status="Funded"))
    assert [r.trade_id for r in page.rows] == ["0x" + trade.trade_id.hex()]
    assert page.rows[0].hold == "held"
    timeline = stack.data.timeline("0x" + trade.trade_id.hex())
    assert timeline is not None and timeline.stuck == "waiting for the seller to ship"
    money = stack.data.money()
    assert (money.holds_open, money.holds_open_fen) == (1, demo.PRICE)
    assert money.by_bank[0].issued_fen == demo.BUYER_FUNDS + 700


def test_a_chain_down_is_named_and_read_again_when_back(stack: Stack) -> None:
    data = stack.data
    real = data.indexers[Chain.PAYMENT]
    dead_url = f"http://127.0.0.1:{free_port()}"
    dead_source = dataclasses.replace(real.source, w3=Web3(HTTPProvider(dead_url)))
    data.indexers[Chain.PAYMENT] = ChainIndexer(data.engine, dead_source)
    try:
        heads = {h.chain: h for h in data.refresh()}
        assert heads[Chain.BUSINESS].reachable
        error = heads[Chain.PAYMENT].error
        assert error is not None and dead_url in error
        assert heads[Chain.PAYMENT].block is not None  # what was indexed stays shown
        assert data.trades(TradeQuery()).total >= 1
    finally:
        data.indexers[Chain.PAYMENT] = real
    assert all(h.reachable for h in data.refresh())


def test_labels_name_events_and_messages_in_words() -> None:
    assert message_kind("trade_outcome", "delivered") == "TradeOutcome(Delivered)"
    assert message_kind("payment_held", "") == "PaymentHeld"
    assert step_label("TradeRegistry", "TradeProposed", {}) == "Trade proposed"
    sent = {"kind": "payment_settled", "detail": "paid"}
    assert step_label("Outbox", "MessageSent", sent) == "Sent PaymentSettled(Paid)"


def test_a_recipient_revert_is_decoded_by_name(stack: Stack) -> None:
    from eth_abi import encode
    from eth_utils.crypto import keccak

    data = "0x" + (keccak(text="EnforcedPause()")[:4]).hex()
    assert stack.data.reason(data) == "EnforcedPause()"
    account = stack.cast.seller.address
    frozen = keccak(text="AccountIsFrozen(address)")[:4] + encode(["address"], [account])
    assert account in (stack.data.reason("0x" + frozen.hex()) or "")
    assert stack.data.reason("0x1234") is not None
