"""`pvd demo`: two chains, the whole pvd system, three attesters with a 2-of-3 quorum,
and the story of two trades — one paid by delivery, one refunded by expiry — each step
on its chain, ending with the reconciler's verdict.

By default the chains are two embedded eth-tester chains and the three attesters run in
this process (one relayer, three attestation keys, one gas key); `--chains anvil` starts
two anvil processes and stops them at the end. `--json` prints a summary read from the
chains instead of the story.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from pvd.chain.anvil import NON_ARCHIVE, start_anvil, stop_anvil
from pvd.chain.connection import Chain, dev_accounts, embedded_chain, rpc_chain
from pvd.chain.local import LOCAL_CHAINS
from pvd.client import trade as client
from pvd.deploy.system import System, SystemConfig, deploy_system
from pvd.reconcile.reconciler import reconcile_system
from pvd.relayer.ends import ends_from_system
from pvd.relayer.keys import Signer
from pvd.relayer.retry import RetryPolicy
from pvd.relayer.route import RouteSettings
from pvd.relayer.service import Relayer, RouteOptions
from pvd.relayer.store import Store

PAYMENT_DOMAIN = 1
BUSINESS_DOMAIN = 2
YUAN = 100  # fen
OPERATOR_ALLOWANCE = 1_000_000 * YUAN
BUYER_FUNDS = 5_000 * YUAN
PRICE = 1_500 * YUAN
HOUR = 3600


@dataclass(frozen=True)
class Cast:
    """Who is who (the well-known development accounts: test keys only)."""

    admin: LocalAccount
    operator: LocalAccount
    buyer: LocalAccount
    seller: LocalAccount
    carrier: LocalAccount
    attesters: tuple[LocalAccount, ...]
    gas: LocalAccount  # the relayer's gas key
    dapp: LocalAccount  # submits the buyer's signed hold (anyone may)

    @classmethod
    def from_accounts(cls, accounts: tuple[LocalAccount, ...]) -> Cast:
        admin, operator, buyer, seller, carrier = accounts[:5]
        return cls(
            admin,
            operator,
            buyer,
            seller,
            carrier,
            accounts[5:8],
            gas=accounts[8],
            dapp=accounts[9],
        )


@contextmanager
def two_chains(
    kind: str, anvil_history: Sequence[str] = NON_ARCHIVE
) -> Iterator[tuple[Chain, Chain]]:
    """The payment and business chains, stopped again on exit if pvd started them.
    `anvil_history`: the anvils' flags for the states they keep (`start_anvil`'s `history`)."""
    if kind == "embedded":
        yield embedded_chain("payment", PAYMENT_DOMAIN), embedded_chain("business", BUSINESS_DOMAIN)
        return
    nodes = []
    try:
        for name, chain_id in LOCAL_CHAINS:
            nodes.append(start_anvil(name, chain_id, history=anvil_history))
        payment, business = (
            rpc_chain(node.name, node.url, domain, dev_accounts())
            for node, domain in zip(nodes, (PAYMENT_DOMAIN, BUSINESS_DOMAIN), strict=True)
        )
        yield payment, business
    finally:
        for node in nodes:
            stop_anvil(node)


class Story:
    """Prints each step (or stays quiet for --json)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def say(self, text: str) -> None:
        if not self.quiet:
            print(text)


def run_demo(chains: str = "embedded", as_json: bool = False, explorer: bool = False) -> int:
    story = Story(quiet=as_json)
    with two_chains(chains) as (payment, business), tempfile.TemporaryDirectory() as tmp:
        cast = Cast.from_accounts(payment.accounts)
        config = SystemConfig(attesters=tuple(a.address for a in cast.attesters), threshold=2)
        system = deploy_system(payment, business, config)
        story.say(
            f"deployed pvd: payment chain (domain {PAYMENT_DOMAIN}) token "
            f"{system.payment.token.address}, settlement {system.payment.settlement.address}; "
            f"business chain (domain {BUSINESS_DOMAIN}) registry "
            f"{system.business.registry.address}; "
            f"{config.threshold}-of-{len(config.attesters)} attesters"
        )
        issue_funds(system, cast)
        story.say(
            "central bank appointed a bank; the bank issued "
            f"{BUYER_FUNDS // YUAN:,} yuan to the buyer"
        )
        relayer = in_process_relayer(system, cast, Path(tmp) / "relayer.sqlite")
        try:
            paid = settle_by_delivery(system, cast, relayer, story)
            refunded = refund_by_expiry(system, cast, relayer, story)
        finally:
            relayer.close()
        summary = {
            "chains": chains,
            "trades": [trade_summary(system, t) for t in (paid, refunded)],
        }
        verdict = reconcile_verdict(system)
        if explorer:
            keep_exploring(system, Path(tmp), story, verdict)
    if as_json:
        summary["reconcile"] = verdict
        print(json.dumps(summary, indent=2))
    elif not explorer:  # --explorer said it before serving
        story.say(f"reconcile: {verdict}")
    return 0


def keep_exploring(system: System, tmp: Path, story: Story, verdict: str) -> None:
    """`--explorer`: serve the explorer on the demo's chains until Ctrl-C."""
    from pvd.cli.explorer import wait_for_stop
    from pvd.explorer.launch import explore_system

    server = explore_system(system, f"sqlite:///{tmp / 'index.sqlite'}")
    story.say(f"reconcile: {verdict}")
    print(f"explorer: {server.url} (Ctrl-C stops it and the chains)", flush=True)
    try:
        wait_for_stop()
    finally:
        server.close()


def issue_funds(system: System, cast: Cast) -> None:
    chain, token = system.payment.chain, system.payment.token
    role = token.functions.OPERATOR_ROLE().call()
    client.transact(
        chain, token.functions.grantRole(role, cast.operator.address), cast.admin.address
    )
    client.transact(
        chain,
        token.functions.setMintAllowance(cast.operator.address, OPERATOR_ALLOWANCE),
        cast.admin.address,
    )
    client.transact(
        chain, token.functions.issue(cast.buyer.address, BUYER_FUNDS), cast.operator.address
    )


def in_process_relayer(system: System, cast: Cast, store_path: Path) -> Relayer:
    payment, business = ends_from_system(system)
    options = RouteOptions(RouteSettings(), RouteSettings(), RetryPolicy(0.05, 1.0, 20))
    gas = Signer(cast.gas)
    return Relayer(
        payment,
        business,
        Store(store_path),
        [Signer(a) for a in cast.attesters],
        {"payment": gas, "business": gas},
        options,
    )


@dataclass(frozen=True)
class DemoTrade:
    name: str
    trade_id: bytes
    hold: client.HoldRequest


def open_trade(system: System, cast: Cast, relayer: Relayer, story: Story, name: str) -> DemoTrade:
    """Propose, accept, hold by signature and announce; relay until Funded."""
    pay, biz = system.payment, system.business
    now = biz.chain.now()
    deadline = now + 24 * HOUR
    terms = client.Terms(
        seller=cast.seller.address,
        payer=cast.buyer.address,
        payee=cast.seller.address,
        token=pay.token.address,
        price=PRICE,
        deadline=deadline,
        hold_expiry=deadline + system.config.safety_window + HOUR,
        carrier=cast.carrier.address,
    )
    trade_id = client.propose(biz.chain, biz.registry, cast.buyer.address, terms)
    client.transact(biz.chain, biz.registry.functions.accept(trade_id), cast.seller.address)
    story.say(
        f"\n[{name}] trade 0x{trade_id.hex()[:16]}…: proposed by the buyer, "
        "accepted by the seller (business chain)"
    )
    hold = client.hold_for(trade_id, terms, pay.settlement)
    valid_before = pay.chain.now() + HOUR
    signature = client.sign_hold(pay.token, cast.buyer, hold, valid_before)
    receipt = client.place_hold_and_announce(
        pay.chain, pay.settlement, hold, valid_before, signature, cast.dapp.address
    )
    story.say(
        f"[{name}] payment chain: buyer's signed hold of {PRICE // YUAN:,} yuan "
        "placed and announced, "
        f"tx {receipt['transactionHash'].to_0x_hex()[:18]}…; buyer spendable "
        f"{spendable(system, cast.buyer.address)} of {balance(system, cast.buyer.address)} yuan"
    )
    wait_for(relayer, lambda: status(system, trade_id) == "Funded", "Funded")
    story.say(f"[{name}] relayed PAYMENT_HELD (2 of 3 signatures): trade is Funded")
    return DemoTrade(name, trade_id, hold)


def settle_by_delivery(system: System, cast: Cast, relayer: Relayer, story: Story) -> DemoTrade:
    trade = open_trade(system, cast, relayer, story, "paid")
    biz = system.business
    client.transact(
        biz.chain, biz.registry.functions.ship(trade.trade_id, b"\x01" * 32), cast.seller.address
    )
    story.say(
        f"[{trade.name}] seller shipped: bill of lading issued to the buyer; trade is Shipped"
    )
    receipt = client.transact(
        biz.chain, biz.registry.functions.confirmDelivery(trade.trade_id), cast.buyer.address
    )
    story.say(
        f"[{trade.name}] buyer confirmed delivery, "
        f"tx {receipt['transactionHash'].to_0x_hex()[:18]}…: "
        "trade is Delivered, TRADE_OUTCOME sent"
    )
    wait_for(relayer, lambda: settled(system, trade) == "Paid", "Paid")
    story.say(
        f"[{trade.name}] relayed: hold {hold_state(system, trade)} on the payment chain, "
        f"seller now has {balance(system, cast.seller.address)} yuan; "
        "PAYMENT_SETTLED relayed back: settlement Paid"
    )
    return trade


def refund_by_expiry(system: System, cast: Cast, relayer: Relayer, story: Story) -> DemoTrade:
    trade = open_trade(system, cast, relayer, story, "refunded")
    biz = system.business
    deadline = biz.registry.functions.getTrade(trade.trade_id).call()[1]
    biz.chain.advance_time_to(deadline + 1)
    story.say(f"[{trade.name}] no shipment; the business chain's clock passes the deadline")
    client.transact(biz.chain, biz.registry.functions.expire(trade.trade_id), cast.carrier.address)
    story.say(f"[{trade.name}] anyone expired the trade: Expired, TRADE_OUTCOME sent")
    wait_for(relayer, lambda: settled(system, trade) == "Refunded", "Refunded")
    story.say(
        f"[{trade.name}] relayed: hold {hold_state(system, trade)}, buyer spendable "
        f"{spendable(system, cast.buyer.address)} yuan again; settlement Refunded"
    )
    return trade


def wait_for(relayer: Relayer, done: Callable[[], bool], what: str) -> None:
    if not relayer.run_until(done, timeout=60):
        raise RuntimeError(f"the relayer did not reach {what} within 60 s")


def status(system: System, trade_id: bytes) -> str:
    return client.trade_view(system.business.registry, trade_id)["status"]


def settled(system: System, trade: DemoTrade) -> str:
    return client.trade_view(system.business.registry, trade.trade_id)["settlement"]


def hold_state(system: System, trade: DemoTrade) -> str:
    token = system.payment.token
    return client.hold_view(token, client.hold_id(token, trade.hold))


def balance(system: System, account: str) -> str:
    return f"{system.payment.token.functions.balanceOf(account).call() / YUAN:,.2f}"


def spendable(system: System, account: str) -> str:
    return f"{system.payment.token.functions.spendableBalanceOf(account).call() / YUAN:,.2f}"


def trade_summary(system: System, trade: DemoTrade) -> dict[str, Any]:
    view = client.trade_view(system.business.registry, trade.trade_id)
    return {
        "name": trade.name,
        "trade_id": "0x" + trade.trade_id.hex(),
        "hold": hold_state(system, trade),
        "status": view["status"],
        "settlement": view["settlement"],
    }


def reconcile_verdict(system: System) -> str:
    """The independent checker's verdict on both chains (`pvd reconcile`, docs/reconcile.md)."""
    return str(reconcile_system(system).verdict)
