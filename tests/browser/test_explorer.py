"""The explorer in a real browser (headless Chromium) against a running stack: two anvil
chains, three `pvd relay` processes, `pvd explorer`. A trade is walked from proposal to
Paid while the page stays open; at each step the page shows it without a reload (the
page carries a marker a reload would erase). Screenshots: reports/browser/."""

from __future__ import annotations

from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from pvd.client import trade as client
from tests.browser.conftest import Explorer
from tests.integration.harness import HOUR, PRICE, Attester, Deployment, Relays
from tests.integration.trades import hexid

WAIT = 30  # seconds: a relayed step takes a few polls of the relayers and the explorer


def text(browser: webdriver.Chrome, css: str) -> str:
    return str(browser.find_element(By.CSS_SELECTOR, css).text)


def shows(browser: webdriver.Chrome, css: str, wanted: str, what: str) -> None:
    def seen(driver: webdriver.Chrome) -> bool:
        try:
            return wanted in text(driver, css)
        except Exception:  # the section is being swapped in: look again
            return False

    WebDriverWait(browser, WAIT, poll_frequency=0.1).until(seen, f"{what}: {wanted!r} in {css}")


def mark(browser: webdriver.Chrome) -> None:
    browser.execute_script("window.pvdNotReloaded = true;")


def not_reloaded(browser: webdriver.Chrome) -> bool:
    return bool(browser.execute_script("return window.pvdNotReloaded === true;"))


def snap(browser: webdriver.Chrome, shots: Path, name: str) -> None:
    """A screenshot of the whole page (not just the window)."""
    height = browser.execute_script("return document.documentElement.scrollHeight;")
    browser.set_window_size(1400, max(1000, min(int(height) + 40, 4000)))
    assert browser.save_screenshot(str(shots / f"{name}.png"))
    browser.set_window_size(1400, 1000)


def test_a_trade_walks_from_proposal_to_paid_on_an_open_page(
    deployment: Deployment,
    attesters: tuple[Attester, ...],
    relays: Relays,
    explorer: Explorer,
    browser: webdriver.Chrome,
    shots: Path,
) -> None:
    dep, cast = deployment, deployment.cast
    pay, biz = dep.system.payment, dep.system.business
    relays.start_many(*attesters)

    browser.get(explorer.url + "/trades")
    assert "No trade yet" in text(browser, "#main")
    assert "business #" in text(browser, "#heads") and "payment #" in text(browser, "#heads")
    mark(browser)
    snap(browser, shots, "0-no-trade")

    # 1. proposed (business chain): the row appears in the open list
    deadline = dep.business.now() + 24 * HOUR
    terms = client.Terms(
        seller=cast.seller.address,
        payer=cast.buyer.address,
        payee=cast.seller.address,
        token=pay.token.address,
        price=PRICE,
        deadline=deadline,
        hold_expiry=deadline + dep.system.config.safety_window + HOUR,
        carrier=cast.carrier.address,
    )
    trade_id = client.propose(biz.chain, biz.registry, cast.buyer.address, terms)
    tid = hexid(trade_id)
    shows(browser, f'tr[data-trade="{tid}"]', "Proposed", "the proposed trade listed")
    row = text(browser, f'tr[data-trade="{tid}"]')
    assert "1,500.00" in row and "None" in row
    assert not_reloaded(browser)
    snap(browser, shots, "1-proposed-in-list")

    # open the trade's own page by its link; it stays open from here on
    browser.find_element(By.CSS_SELECTOR, f'a[href="/trade/{tid}"]').click()
    shows(browser, "#trade-status", "Proposed", "the trade page")
    assert "waiting for the seller to accept" in text(browser, "#stuck")
    mark(browser)

    # 2. accepted
    client.transact(biz.chain, biz.registry.functions.accept(trade_id), cast.seller.address)
    shows(browser, "#trade-status", "Accepted", "acceptance")
    shows(browser, "#stuck", "buyer's hold", "what it waits for")
    snap(browser, shots, "2-accepted")

    # 3. the buyer's signed hold placed and announced: PaymentHeld crosses, Funded
    hold = client.hold_for(trade_id, terms, pay.settlement)
    valid_before = dep.payment.now() + HOUR
    signature = client.sign_hold(pay.token, cast.buyer, hold, valid_before)
    client.place_hold_and_announce(
        pay.chain, pay.settlement, hold, valid_before, signature, cast.stranger.address
    )
    shows(browser, ".step.payment", "Hold placed", "the hold on the payment chain's lane")
    shows(browser, "#trade-status", "Funded", "PaymentHeld relayed")
    assert text(browser, "#trade-hold") == "held"
    shows(browser, ".msg.delivered", "PaymentHeld", "the delivered crossing")
    snap(browser, shots, "3-funded")

    # 4. shipped
    client.transact(
        biz.chain, biz.registry.functions.ship(trade_id, b"\x01" * 32), cast.seller.address
    )
    shows(browser, "#trade-status", "Shipped", "shipment")
    shows(browser, "#stuck", "confirm delivery", "what it waits for")
    snap(browser, shots, "4-shipped")

    # 5. delivered: the outcome crosses, the hold is executed, PaymentSettled comes back
    client.transact(biz.chain, biz.registry.functions.confirmDelivery(trade_id), cast.buyer.address)
    shows(browser, "#trade-status", "Delivered", "delivery")
    shows(browser, "#trade-settlement", "Paid", "PaymentSettled relayed back")
    assert text(browser, "#trade-hold") == "executed"
    crossings = browser.find_elements(By.CSS_SELECTOR, ".msg.delivered")
    assert [c.get_attribute("data-kind") for c in crossings] == [
        "PaymentHeld",
        "TradeOutcome(Delivered)",
        "PaymentSettled(Paid)",
    ]
    assert all("in flight" in c.text for c in crossings)
    assert browser.find_elements(By.ID, "stuck") == []
    steps = [s.get_attribute("data-step") for s in browser.find_elements(By.CSS_SELECTOR, ".step")]
    assert steps.index("Sent TradeOutcome(Delivered)") < steps.index("Hold executed")
    tx_shown = browser.find_elements(By.CSS_SELECTOR, ".step small .mono")
    assert len(tx_shown) == len(steps) and all(t.text.startswith("tx 0x") for t in tx_shown)
    assert not_reloaded(browser)
    snap(browser, shots, "5-paid")

    # the messages page: three delivered, the three relayers up
    browser.get(explorer.url + "/messages")
    assert text(browser, "#in-flight") == "0" and text(browser, "#failed") == "0"
    shows(browser, "table.relayers", "up", "relayers' health")
    assert len(browser.find_elements(By.CSS_SELECTOR, "table.relayers tr.up")) == 3
    snap(browser, shots, "6-messages")

    # the money page: the buyer's funds, no hold open
    browser.get(explorer.url + "/money")
    shows(browser, "#holds-open", "0", "no hold open")
    assert text(browser, "#supply") != "0.00"
    snap(browser, shots, "7-money")


def test_bad_searches_and_a_node_down_are_shown_plainly(
    deployment: Deployment, explorer: Explorer, browser: webdriver.Chrome, shots: Path
) -> None:
    browser.get(explorer.url + "/trades")
    box = browser.find_element(By.CSS_SELECTOR, "input[name=q]")
    box.send_keys("not a hash", Keys.ENTER)
    shows(browser, "#main", "400 · Bad search", "the 400 page")
    assert "Traceback" not in browser.page_source
    snap(browser, shots, "bad-search")

    browser.get(explorer.url + "/trade/0x" + "ab" * 32)
    shows(browser, "#main", "404 · Not found", "the 404 page")

    browser.get(explorer.url + "/trades")
    mark(browser)
    explorer.payment_proxy.fail(True)
    shows(browser, "#banner", "The payment chain is unreachable", "the banner")
    assert "business chain is unreachable" not in text(browser, "#banner")
    assert "down" in (browser.find_element(By.CSS_SELECTOR, '.head[data-chain="payment"]')
                      .get_attribute("class") or "")  # fmt: skip
    snap(browser, shots, "payment-chain-down")
    explorer.payment_proxy.fail(False)
    WebDriverWait(browser, WAIT).until(
        lambda d: not d.find_element(By.ID, "banner").is_displayed(), "the banner to go"
    )
    assert not_reloaded(browser)
    snap(browser, shots, "payment-chain-back")
