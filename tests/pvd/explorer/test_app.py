"""The explorer's pages over a fake data source, through a real HTTP server (uvicorn on
a free port): lists, search, the trade timeline, error pages, live events, a chain down."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from pvd.chain.ports import free_port
from pvd.explorer.server import ExplorerServer, start_explorer
from pvd.explorer.view import Chain, Crossing, MessageRow, Step
from pvd.relayer.metrics import RelayerMetrics
from tests.pvd.explorer.fake import BUYER, SELLER, T0, FakeData, row, trade_id, tx_hash


def eventually(check: Callable[[], bool], within: float = 3.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


@pytest.fixture
def data() -> FakeData:
    fake = FakeData()
    for n in range(1, 121):
        fake.add(row(n, "Delivered" if n % 3 == 0 else "Proposed"))
    return fake


@pytest.fixture
def explorer(data: FakeData) -> Iterator[ExplorerServer]:
    server = start_explorer(data, poll_seconds=0.05)
    yield server
    server.close()


@pytest.fixture
def web(explorer: ExplorerServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=explorer.url, timeout=5) as client:
        yield client


def walked(data: FakeData) -> str:
    """Trade 7 funded, shipped and delivered; its outcome in flight to the payment chain."""
    tid = trade_id(7)
    held, outcome = "0x" + "a1" * 32, "0x" + "a2" * 32
    data.update(tid, status="Delivered", hold="held")
    data.steps[tid] = [
        Step(Chain.BUSINESS, "Trade proposed", 7, T0 + 7, tx_hash(1)),
        Step(Chain.PAYMENT, "Hold placed", 9, T0 + 9, tx_hash(2), held, "1,500.07 yuan"),
        Step(Chain.BUSINESS, "Payment held received", 11, T0 + 12, tx_hash(3), held),
        Step(Chain.BUSINESS, "Delivery confirmed", 12, T0 + 14, tx_hash(4), outcome),
    ]
    data.crossings[tid] = [
        Crossing(held, "PaymentHeld", Chain.PAYMENT, 9, T0 + 9, T0 + 12, 11, "delivered"),
        Crossing(outcome, "TradeOutcome(Delivered)", Chain.BUSINESS, 12, T0 + 14, None, None,
                 "in flight"),
    ]  # fmt: skip
    return tid


def test_the_trades_page_lists_newest_first_with_amounts_in_yuan(web: httpx.Client) -> None:
    page = web.get("/trades")
    assert page.status_code == 200
    html = page.text
    assert "120 trades" in html
    assert html.index(trade_id(120)) < html.index(trade_id(119))
    assert "1,501.20" in html  # 150,120 fen
    assert trade_id(70) not in html  # 50 a page


def test_the_trades_page_filters_by_status_and_pages_by_cursor(web: httpx.Client) -> None:
    first = web.get("/trades", params={"status": "Delivered", "size": 20}).text
    assert "40 trades" in first
    assert trade_id(120 - 3 * 19) in first and trade_id(120 - 3 * 20) not in first
    older = first.split('id="older" href="')[1].split('"')[0].replace("&amp;", "&")
    second = web.get(older).text
    assert trade_id(120 - 3 * 20) in second  # the 21st delivered trade, newest first
    assert trade_id(120) not in second
    assert 'id="older"' not in second
    assert "← newest" in second


def test_a_search_for_a_trade_id_opens_the_trade(web: httpx.Client) -> None:
    answer = web.get("/trades", params={"q": trade_id(5).upper().replace("0X", "0x")})
    assert answer.status_code == 302
    assert answer.headers["location"] == f"/trade/{trade_id(5)}"


def test_a_search_for_a_tx_hash_opens_the_trade_it_touched(
    web: httpx.Client, data: FakeData
) -> None:
    tid = walked(data)
    answer = web.get("/trades", params={"q": tx_hash(3)})
    assert answer.status_code == 302
    assert answer.headers["location"] == f"/trade/{tid}"


def test_a_search_for_an_address_lists_its_trades(web: httpx.Client, data: FakeData) -> None:
    other = "0x" + "0c" * 20
    data.add(row(500, buyer=other))
    html = web.get("/trades", params={"q": other}).text
    assert "1 trade " in html
    assert trade_id(500) in html
    assert trade_id(120) not in html


@pytest.mark.parametrize(
    ("query", "code", "says"),
    [
        ("hello", 400, "neither a trade id or transaction hash"),
        ("0x1234", 400, "neither a trade id or transaction hash"),
        ("0x" + "9" * 64, 404, "no trade and no pvd transaction has the hash"),
    ],
)
def test_a_bad_or_unknown_search_is_a_clear_page(
    web: httpx.Client, query: str, code: int, says: str
) -> None:
    answer = web.get("/trades", params={"q": query})
    assert answer.status_code == code
    assert says in answer.text
    assert "Traceback" not in answer.text
    assert 'href="/trades"' in answer.text


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"size": "two"}, "size must be a whole number"),
        ({"after": "0x12; drop"}, "bad page cursor"),
        ({"status": "Lost"}, "unknown status"),
        ({"size": "100000"}, "size must be between 1 and 100"),
    ],
)
def test_bad_list_parameters_are_a_400_page(
    web: httpx.Client, params: dict[str, str], says: str
) -> None:
    answer = web.get("/trades", params=params)
    assert answer.status_code == 400
    assert says in answer.text


def test_an_unknown_trade_is_a_404_page_and_a_malformed_id_a_400(web: httpx.Client) -> None:
    unknown = web.get(f"/trade/{trade_id(9999)}")
    assert unknown.status_code == 404
    assert f"no trade {trade_id(9999)}" in unknown.text
    malformed = web.get("/trade/0xnothex")
    assert malformed.status_code == 400
    assert "is not a trade id" in malformed.text


def test_a_failing_page_is_a_500_page_without_internals(web: httpx.Client, data: FakeData) -> None:
    data.fail_pages = True
    answer = web.get("/trades")
    assert answer.status_code == 500
    assert "could not build this page" in answer.text
    assert "deadbeef" not in answer.text


def test_the_trade_page_draws_both_chains_with_the_messages_crossing(
    web: httpx.Client, data: FakeData
) -> None:
    tid = walked(data)
    html = web.get(f"/trade/{tid}").text
    assert "Business chain" in html and "Payment chain" in html
    assert html.count('class="step business"') == 3
    assert html.count('class="step payment"') == 1
    assert "block 9 · " in html
    assert tx_hash(2)[:8] in html
    assert "PaymentHeld" in html and "3 s in flight" in html
    assert "TradeOutcome(Delivered)" in html and "in flight for" in html
    assert "Waiting: TradeOutcome(Delivered) is in flight" in html


def test_the_messages_page_shows_failures_with_reasons_and_relayers_health(
    data: FakeData,
) -> None:
    data.message_rows = [
        MessageRow("0x" + "f1" * 32, "TradeOutcome(Delivered)", Chain.BUSINESS, trade_id(3),
                   T0, 5, "failed", reason="TokenPaused()"),
        MessageRow("0x" + "f2" * 32, "PaymentHeld", Chain.PAYMENT, trade_id(4), T0, 6,
                   "delivered", delivered_at=T0 + 2),
    ]  # fmt: skip
    metrics = RelayerMetrics()
    metrics.backlog.labels(route="business->payment").set(3)
    endpoint = metrics.serve(free_port())
    assert endpoint is not None
    up = f"http://127.0.0.1:{endpoint.port}/metrics"
    down = f"http://127.0.0.1:{free_port()}/metrics"
    server = start_explorer(data, relayer_urls=[up, down], poll_seconds=0.05)
    try:
        with httpx.Client(base_url=server.url, timeout=5) as web:
            eventually(lambda: "Reading the relayers" not in web.get("/messages").text)
            html = web.get("/messages").text
    finally:
        server.close()
        endpoint.close()
    assert "TokenPaused()" in html
    assert "1</b> failed on the recipient" in html
    assert '<td class="num">3</td>' in html  # the backlog read from the live endpoint
    assert html.count('<span class="status s-delivered">up</span>') == 1
    assert html.count('<span class="status s-failed">down</span>') == 1


def test_the_money_page_shows_supply_holds_and_wallets_near_caps(web: httpx.Client) -> None:
    html = web.get("/money").text
    assert "20,000.00" in html  # supply
    assert "1,500.00" in html  # held in open holds
    assert BUYER in html  # 95 % of its cap
    assert SELLER not in html
    assert SELLER in web.get("/money", params={"near": 1}).text


def test_a_fragment_is_the_main_section_only(web: httpx.Client) -> None:
    html = web.get("/trades", params={"fragment": "1"}).text
    assert "<html" not in html and "<table" in html


def test_pages_are_served_without_reading_the_chains_again(data: FakeData) -> None:
    server = start_explorer(data, poll_seconds=60)
    try:
        with httpx.Client(base_url=server.url, timeout=5) as web:
            eventually(lambda: data.refreshes == 2)  # at start, and the live loop's first
            for _ in range(10):
                assert web.get("/trades").status_code == 200
    finally:
        server.close()
    assert data.refreshes == 2


def heads_events(lines: Iterator[str]) -> Iterator[dict[str, object]]:
    event = None
    for line in lines:
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: ") and event == "heads":
            yield json.loads(line.removeprefix("data: "))


def test_a_new_block_reaches_an_open_page_within_a_second(
    explorer: ExplorerServer, data: FakeData
) -> None:
    with httpx.stream("GET", explorer.url + "/events", timeout=5) as stream:
        events = heads_events(stream.iter_lines())
        first = next(events)
        assert [c["block"] for c in first["chains"]] == [1, 1]  # type: ignore[index]
        data.mine(Chain.PAYMENT)
        mined = time.monotonic()
        second = next(events)
        assert time.monotonic() - mined < 1.0
    assert [c["block"] for c in second["chains"]] == [1, 2]  # type: ignore[index]


def test_a_chain_down_is_named_and_the_page_recovers(web: httpx.Client, data: FakeData) -> None:
    data.down[Chain.PAYMENT] = "connection refused at http://127.0.0.1:1"
    eventually(lambda: web.get("/health").json()["chains"][1]["error"] is not None)
    html = web.get("/trades").text
    assert "The payment chain is unreachable: connection refused" in html
    assert "The business chain is unreachable" not in html
    assert "120 trades" in html  # what was read before is still shown
    del data.down[Chain.PAYMENT]
    eventually(lambda: web.get("/health").json()["chains"][1]["error"] is None)
    assert "unreachable" not in web.get("/trades").text.split("<main")[0].split('id="banner"')[1]


def test_the_listening_socket_is_tcp_so_answers_are_not_delayed_by_nagle() -> None:
    import socket

    from pvd.explorer.server import _bind

    sock = _bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP  # asyncio sets TCP_NODELAY only then
    finally:
        sock.close()


def test_a_taken_port_is_a_user_error() -> None:
    from pvd.errors import UserError

    server = start_explorer(FakeData())
    try:
        with pytest.raises(UserError, match="pick another --port"):
            start_explorer(FakeData(), port=server.port)
    finally:
        server.close()
