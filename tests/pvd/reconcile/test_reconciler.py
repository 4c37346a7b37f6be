"""`pvd reconcile`: X1-X3, C1-C4, C6 and message accounting, read from
the chains only.

Trades are driven to their ends with no relayer: `Pvd.relay` signs every message an
outbox sent and the other inbox has not consumed with the attesters' dev keys (TEST KEYS,
the well-known development mnemonic) and delivers it itself. State is broken on purpose
the way the threat model breaks it — a quorum of attester keys signing a message no
outbox sent — on the embedded chains, and by editing the token's storage
(anvil_setStorageAt) on anvil.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import solcx
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3.contract import Contract
from web3.exceptions import ContractLogicError

import pvd.reconcile.reconciler as reconcile_module
from pvd.chain.anvil import AnvilNode, start_anvil, stop_anvil
from pvd.chain.connection import Chain, dev_accounts, embedded_chain, rpc_chain
from pvd.chain.ports import free_port
from pvd.chain.rpc import block_hashes, call_many, raw_batch
from pvd.deploy.compiler import (
    PROJECT_ROOT,
    compile_contracts,
    load_compiler_settings,
    solc_binary,
    standard_json_input,
)
from pvd.deploy.system import System, SystemConfig, deploy_system
from pvd.errors import UserError
from pvd.protocol.attestation import InboxDomain, pack_signatures, sign
from pvd.protocol.messages import (
    Message,
    Outcome,
    PaymentSettled,
    SettlementResult,
    TradeOutcome,
)
from pvd.reconcile.reconciler import (
    Report,
    Severity,
    main,
    reconcile,
    reconcile_command,
    reconcile_system,
    view_from_manifest,
    views_from_system,
)

ACCOUNTS = dev_accounts()
CENTRAL_BANK, OPERATOR, PAUSER, BUYER, SELLER, STRANGER, GAS = ACCOUNTS[:7]
ATTESTERS: tuple[LocalAccount, ...] = ACCOUNTS[7:10]  # test keys
THRESHOLD = 2
PRICE = 100_000  # fen: 1,000 yuan, within the class IV caps
DAY = 24 * 3600
HELD_STATUS, EXECUTED_STATUS = 1, 2


def hex_id(value: bytes) -> str:
    return "0x" + value.hex()


@dataclass
class Trade:
    trade_id: bytes
    hold: tuple[str, str, str, int, int, bytes]  # IHoldableToken.Hold
    hold_id: bytes


class Pvd:
    """A deployed system on two chains and the moves of a trade, relayed by hand."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.payment = system.payment
        self.business = system.business
        token = self.payment.token
        for role, account in (
            (token.functions.OPERATOR_ROLE(), OPERATOR),
            (token.functions.PAUSER_ROLE(), PAUSER),
        ):
            self.on_payment(token.functions.grantRole(role.call(), account.address), CENTRAL_BANK)
        self.on_payment(
            token.functions.setMintAllowance(OPERATOR.address, 10 * PRICE), CENTRAL_BANK
        )
        self.on_payment(token.functions.issue(BUYER.address, 4 * PRICE), OPERATOR)

    def on_payment(self, call: Any, sender: LocalAccount) -> dict[str, Any]:
        return self.send(self.payment.chain, call, sender)

    def on_business(self, call: Any, sender: LocalAccount) -> dict[str, Any]:
        return self.send(self.business.chain, call, sender)

    @staticmethod
    def send(chain: Chain, call: Any, sender: LocalAccount) -> dict[str, Any]:
        return dict(chain.wait(call.transact({"from": sender.address})))

    def report(self) -> Report:
        return reconcile(*views_from_system(self.system))

    # ------------------------------------------------------------------ trade moves

    def funded_trade(self) -> Trade:
        """Proposed, accepted, held on the token, announced, PAYMENT_HELD relayed: Funded."""
        registry, token = self.business.registry, self.payment.token
        deadline = self.business.chain.now() + DAY
        hold_expiry = deadline + 2 * 3600
        terms = (
            SELLER.address, BUYER.address, SELLER.address, "0x" + "00" * 20, "0x" + "00" * 20,
            token.address, PRICE, b"\x01" * 32, deadline, hold_expiry, 0,
        )  # fmt: skip
        trade_id = registry.functions.nextTradeId(BUYER.address).call()
        self.on_business(registry.functions.propose(terms), BUYER)
        self.on_business(registry.functions.accept(trade_id), SELLER)
        settlement = self.payment.settlement.address
        self.on_payment(
            token.functions.placeHold(trade_id, SELLER.address, settlement, PRICE, hold_expiry),
            BUYER,
        )
        hold = (BUYER.address, SELLER.address, settlement, PRICE, hold_expiry, trade_id)
        self.on_payment(self.payment.settlement.functions.announce(hold), BUYER)  # only the payer
        self.relay_to_business()
        assert registry.functions.statusOf(trade_id).call() == 3  # Funded
        hold_id = token.functions.holdId(BUYER.address, settlement, trade_id).call()
        return Trade(trade_id=bytes(trade_id), hold=hold, hold_id=bytes(hold_id))

    def confirm_delivery(self, trade: Trade) -> None:
        registry = self.business.registry
        self.on_business(registry.functions.ship(trade.trade_id, b"\x02" * 32), SELLER)
        self.on_business(registry.functions.confirmDelivery(trade.trade_id), BUYER)

    def expire(self, trade: Trade) -> None:
        deadline = self.business.registry.functions.getTrade(trade.trade_id).call()[1]
        self.business.chain.advance_time_to(deadline + 1)
        self.on_business(self.business.registry.functions.expire(trade.trade_id), STRANGER)

    def paid_trade(self) -> Trade:
        trade = self.funded_trade()
        self.confirm_delivery(trade)
        self.relay_to_payment()
        self.relay_to_business()
        return trade

    def refunded_trade(self) -> Trade:
        trade = self.funded_trade()
        self.expire(trade)
        self.relay_to_payment()
        self.relay_to_business()
        return trade

    # ------------------------------------------------------------------- relaying

    def relay_to_business(self) -> list[bytes]:
        return relay(
            self.payment.outbox,
            self.business.chain,
            self.business.inbox,
            self.system.config.business_domain,
        )

    def relay_to_payment(self) -> list[bytes]:
        return relay(
            self.business.outbox,
            self.payment.chain,
            self.payment.inbox,
            self.system.config.payment_domain,
        )

    def forge_to_payment(self, body: TradeOutcome) -> bytes:
        """A TRADE_OUTCOME the registry never sent, signed by a quorum of attester keys."""
        message = Message.of(
            self.system.config.business_domain, self.business.registry.address,
            self.system.config.payment_domain, self.payment.settlement.address, 10**6, body,
        )  # fmt: skip
        deliver(message, self.payment.chain, self.payment.inbox, self.system.config.payment_domain)
        return message.id

    def forge_to_business(self, body: PaymentSettled) -> bytes:
        """A PAYMENT_SETTLED the settlement never sent, signed by a quorum of attester keys."""
        message = Message.of(
            self.system.config.payment_domain, self.payment.settlement.address,
            self.system.config.business_domain, self.business.registry.address, 10**6, body,
        )  # fmt: skip
        deliver(
            message, self.business.chain, self.business.inbox, self.system.config.business_domain
        )
        return message.id


def relay(outbox: Contract, chain: Chain, inbox: Contract, domain: int) -> list[bytes]:
    """Deliver every message `outbox` sent that `inbox` has not consumed; their ids."""
    delivered = []
    for log in outbox.events.MessageSent.get_logs(from_block=0):
        message = Message.decode(bytes(log["args"]["message"]))
        if not inbox.functions.isConsumed(
            message.source_domain, message.source_app, message.nonce
        ).call():
            deliver(message, chain, inbox, domain)
            delivered.append(message.id)
    return delivered


def deliver(message: Message, chain: Chain, inbox: Contract, domain: int) -> None:
    where = InboxDomain(
        chain_id=chain.w3.eth.chain_id,
        inbox=inbox.address,
        domain=domain,
        deployment_id=inbox.functions.deploymentId().call(),
    )
    signatures = [sign(message, where, attester) for attester in ATTESTERS]
    packed = pack_signatures(message, where, signatures, THRESHOLD)
    chain.wait(inbox.functions.deliver(message.encode(), packed).transact({"from": GAS.address}))


def outcome_of(trade: Trade, outcome: Outcome) -> TradeOutcome:
    payer, payee, _notary, amount, expiry, trade_id = trade.hold
    return TradeOutcome(trade_id, trade.hold_id, outcome, payer, payee, amount, expiry)


def config() -> SystemConfig:
    return SystemConfig(attesters=tuple(a.address for a in ATTESTERS), threshold=THRESHOLD)


def findings_of(
    report: Report, invariant: str, severity: Severity = Severity.VIOLATION
) -> list[Any]:
    return [f for f in report.findings if f.invariant == invariant and f.severity is severity]


@pytest.fixture(scope="module")
def artifacts() -> Any:
    return compile_contracts()


@pytest.fixture
def pvd(artifacts: Any) -> Pvd:
    """A fresh deployment on two embedded chains, the buyer funded."""
    system = deploy_system(
        embedded_chain("payment", 1), embedded_chain("business", 2), config(), artifacts=artifacts
    )
    return Pvd(system)


@pytest.fixture(scope="module")
def settled(artifacts: Any) -> tuple[Pvd, Trade, Trade]:
    """One trade paid by delivery and one refunded by expiry, everything relayed (read only)."""
    system = deploy_system(
        embedded_chain("payment", 1), embedded_chain("business", 2), config(), artifacts=artifacts
    )
    harness = Pvd(system)
    return harness, harness.paid_trade(), harness.refunded_trade()


# ----------------------------------------------------------------- embedded: clean runs


def test_a_paid_and_a_refunded_trade_reconcile_with_no_finding(settled):
    harness, paid, refunded = settled
    token, registry = harness.payment.token, harness.business.registry
    assert token.functions.holdStatus(paid.hold_id).call() == 2  # Executed
    assert token.functions.holdStatus(refunded.hold_id).call() == 3  # Released
    assert registry.functions.settlementOf(paid.trade_id).call() == SettlementResult.PAID
    assert registry.functions.settlementOf(refunded.trade_id).call() == SettlementResult.REFUNDED

    report = harness.report()

    assert report.exit_code == 0
    assert report.findings == ()
    assert dict(report.counts["holds"]) == {
        "total": 2, "held": 0, "executed": 1, "released": 1, "other_notary": 0,
    }  # fmt: skip
    assert dict(report.counts["trades"]) == {"total": 2, "delivered": 1, "expired": 1}
    # PAYMENT_HELD x2 and PAYMENT_SETTLED x2 one way; Delivered and Expired outcomes back
    assert dict(report.counts["payment_to_business"]) == {
        "sent": 4, "delivered": 4, "failed": 0, "pending": 0,
    }  # fmt: skip
    assert dict(report.counts["business_to_payment"]) == {
        "sent": 2, "delivered": 2, "failed": 0, "pending": 0,
    }  # fmt: skip


def test_the_text_report_gives_counts_and_an_ok_verdict(settled):
    harness, _paid, _refunded = settled

    text = harness.report().to_text()

    assert "holds     2: 0 held, 1 executed, 1 released (0 with another notary)" in text
    assert "trades    2: 1 delivered, 1 expired" in text
    assert "messages  payment→business: 4 sent, 4 delivered, 0 failed, 0 pending" in text
    assert "verdict   OK: no violation (0 failed, 0 pending, 0 notes)" in text


def test_the_json_report_says_ok_with_both_chains_and_no_finding(settled):
    harness, _paid, _refunded = settled

    data = json.loads(json.dumps(harness.report().to_json()))

    assert data["ok"] is True
    assert data["findings"] == []
    assert data["verdict"] == {"violation": 0, "failed": 0, "pending": 0, "note": 0}
    assert (data["payment"]["domain_id"], data["business"]["domain_id"]) == (1, 2)
    assert data["payment"]["block"] == harness.payment.chain.w3.eth.block_number


def test_reconcile_system_gives_the_one_line_verdict_the_demo_prints(settled):
    harness, _paid, _refunded = settled

    report = reconcile_system(harness.system)

    assert report.verdict == "OK: no violation (0 failed, 0 pending, 0 notes)"


def test_an_outcome_not_yet_relayed_is_pending_with_its_age_not_a_violation(pvd):
    trade = pvd.funded_trade()
    pvd.confirm_delivery(trade)  # the outcome is sent in this block
    sent = pvd.business.chain.w3.eth.get_block("latest")
    pvd.business.chain.advance_time_to(sent["timestamp"] + 90)  # mines one block

    report = pvd.report()

    assert report.exit_code == 0
    (pending,) = findings_of(report, "M1", Severity.PENDING)
    assert "TRADE_OUTCOME Delivered for trade " + hex_id(trade.trade_id) in pending.detail
    age = report.business.timestamp - sent["timestamp"]  # eth-tester lands within a second
    assert age >= 89
    assert f"sent {age} s ago (block {sent['number']}), not delivered yet" in pending.detail
    assert dict(pending.facts) == {
        "sent_block": sent["number"],
        "age_seconds": age,
        "age_blocks": 1,
    }
    assert report.counts["business_to_payment"]["pending"] == 1


def test_a_settlement_reported_late_is_pending_not_a_violation(pvd):
    trade = pvd.funded_trade()
    pvd.confirm_delivery(trade)
    pvd.relay_to_payment()  # the hold is executed; PAYMENT_SETTLED not relayed back

    report = pvd.report()

    assert report.exit_code == 0
    (late,) = findings_of(report, "X3", Severity.PENDING)
    assert dict(late.ids) == {"trade": hex_id(trade.trade_id), "hold": hex_id(trade.hold_id)}
    assert "hold executed; the settlement is not reported yet" in late.detail
    (settled_message,) = findings_of(report, "M1", Severity.PENDING)
    assert "PAYMENT_SETTLED Paid" in settled_message.detail


def test_an_outcome_that_fails_on_a_paused_token_is_reported_failed_and_retryable(pvd):
    trade = pvd.funded_trade()
    pvd.confirm_delivery(trade)
    pvd.on_payment(pvd.payment.token.functions.pause(), PAUSER)
    (outcome_id,) = pvd.relay_to_payment()
    assert pvd.payment.inbox.functions.failureOf(outcome_id).call()[0] == 2  # Failed

    report = pvd.report()

    assert report.exit_code == 0
    (failed,) = findings_of(report, "L2", Severity.FAILED)
    assert failed.ids == (("message", hex_id(outcome_id)),)
    assert "EnforcedPause()" in failed.detail
    assert report.counts["business_to_payment"]["failed"] == 1


def test_a_delivered_trade_refunded_at_hold_expiry_is_a_note_not_a_violation(pvd):
    trade = pvd.funded_trade()
    pvd.confirm_delivery(trade)
    pvd.payment.chain.advance_time_to(trade.hold[4])  # every relayer was down until expiry
    pvd.on_payment(pvd.payment.token.functions.releaseHold(trade.hold), STRANGER)
    pvd.relay_to_payment()
    pvd.relay_to_business()

    report = pvd.report()

    assert pvd.business.registry.functions.settlementOf(trade.trade_id).call() == 2  # Refunded
    assert report.exit_code == 0
    (risk,) = findings_of(report, "RISK", Severity.NOTE)
    assert dict(risk.ids) == {"trade": hex_id(trade.trade_id), "hold": hex_id(trade.hold_id)}


# --------------------------------------------------------- embedded: broken on purpose


def test_a_forged_delivered_outcome_that_pays_a_funded_trade_violates_x1_and_c6(pvd):
    trade = pvd.funded_trade()
    forged = pvd.forge_to_payment(outcome_of(trade, Outcome.DELIVERED))
    assert pvd.payment.token.functions.holdStatus(trade.hold_id).call() == EXECUTED_STATUS

    report = pvd.report()

    assert report.exit_code == 1
    assert report.invariants() == {"X1", "C6"}
    (x1,) = findings_of(report, "X1")
    assert dict(x1.ids) == {"hold": hex_id(trade.hold_id), "trade": hex_id(trade.trade_id)}
    assert "the trade is FUNDED" in x1.detail
    (c6,) = findings_of(report, "C6")
    assert c6.ids == (("message", hex_id(forged)),)
    assert "VIOLATION: 2 (C6, X1)" in report.to_text()


def test_a_seller_paid_for_an_expired_trade_violates_x2(pvd):
    trade = pvd.funded_trade()
    pvd.expire(trade)  # the Expired outcome is sent but not relayed yet
    pvd.forge_to_payment(outcome_of(trade, Outcome.DELIVERED))

    report = pvd.report()

    assert report.exit_code == 1
    (x2,) = findings_of(report, "X2")
    assert dict(x2.ids) == {"trade": hex_id(trade.trade_id), "hold": hex_id(trade.hold_id)}
    assert "the trade is EXPIRED" in x2.detail
    assert {"X1", "X2", "C6"} == report.invariants()


def test_a_hold_the_registry_rejected_but_that_paid_the_seller_violates_x2(pvd):
    trade = pvd.funded_trade()
    # a second payer's hold for the same trade: announced, answered Rejected, not relayed
    token, settlement = pvd.payment.token, pvd.payment.settlement
    pvd.on_payment(token.functions.issue(STRANGER.address, PRICE), OPERATOR)
    expiry = trade.hold[4]
    pvd.on_payment(
        token.functions.placeHold(
            trade.trade_id, SELLER.address, settlement.address, PRICE, expiry
        ),
        STRANGER,
    )
    other = (STRANGER.address, SELLER.address, settlement.address, PRICE, expiry, trade.trade_id)
    pvd.on_payment(settlement.functions.announce(other), STRANGER)
    pvd.relay_to_business()
    other_id = bytes(
        token.functions.holdId(STRANGER.address, settlement.address, trade.trade_id).call()
    )
    rejected = Trade(trade.trade_id, other, other_id)
    pvd.forge_to_payment(outcome_of(rejected, Outcome.DELIVERED))

    report = pvd.report()

    x2 = findings_of(report, "X2")
    assert [dict(f.ids) for f in x2] == [
        {"trade": hex_id(trade.trade_id), "hold": hex_id(other_id)}
    ]
    assert "the registry rejected this hold" in x2[0].detail
    assert report.exit_code == 1


def test_a_trade_marked_paid_while_its_hold_is_still_held_violates_x3(pvd):
    trade = pvd.funded_trade()
    forged = pvd.forge_to_business(
        PaymentSettled(trade.trade_id, trade.hold_id, SettlementResult.PAID, PRICE)
    )
    assert pvd.business.registry.functions.settlementOf(trade.trade_id).call() == 1  # Paid

    report = pvd.report()

    assert report.exit_code == 1
    assert report.invariants() == {"X3", "C6"}
    (x3,) = findings_of(report, "X3")
    assert x3.detail == "settlement Paid but the hold is HELD"
    assert [f.ids for f in findings_of(report, "C6")] == [(("message", hex_id(forged)),)]


def test_a_message_sent_and_delivered_while_the_chains_are_read_is_not_a_violation(
    pvd, monkeypatch
):
    """The payment chain is read before the business chain; a PAYMENT_HELD sent after that
    reading and delivered before the business reading looks forged (C6) in the first
    reading and is kept as pending, because a second payment reading shows it sent."""
    read_business = reconcile_module.read_business
    raced: list[bytes] = []

    def announce_and_relay_then_read(view):
        trade = pvd.funded_trade()  # sends PAYMENT_HELD, relays it: the trade is Funded
        raced.append(trade.trade_id)
        return read_business(view)

    monkeypatch.setattr(reconcile_module, "read_business", announce_and_relay_then_read)

    report = pvd.report()

    assert report.exit_code == 0
    assert findings_of(report, "C6") == findings_of(report, "X3") == []
    (raced_delivery,) = findings_of(report, "C6", Severity.PENDING)
    assert "changed while the chains were read" in raced_delivery.detail
    (raced_funding,) = findings_of(report, "X3", Severity.PENDING)
    assert "funded by a hold the token never recorded" in raced_funding.detail
    assert report.counts["trades"]["funded"] == 1


# ------------------------------------------------------------------- anvil: storage edits


def token_slot(variable: str) -> int:
    """The storage slot of YuanToken's state variable `variable`, from the storage layout
    the pinned solc computes for the source (brownie's build has no storageLayout)."""
    source_input = standard_json_input(PROJECT_ROOT, load_compiler_settings())
    source_input["settings"]["outputSelection"] = {
        "contracts/token/YuanToken.sol": {"YuanToken": ["storageLayout"]}
    }
    output = solcx.compile_standard(
        source_input,
        solc_binary=solc_binary(),
        allow_paths=str(PROJECT_ROOT),
        base_path=str(PROJECT_ROOT),
    )
    layout = output["contracts"]["contracts/token/YuanToken.sol"]["YuanToken"]["storageLayout"]
    (entry,) = [e for e in layout["storage"] if e["label"] == variable]
    assert entry["offset"] == 0
    return int(entry["slot"])


def mapping_slot(key: bytes, base: int) -> int:
    """keccak256(abi.encode(key, base)): where mapping `base` keeps `key`'s value."""
    return int.from_bytes(keccak(key.rjust(32, b"\x00") + base.to_bytes(32, "big")), "big")


def rpc(chain: Chain, method: str, *params: Any) -> Any:
    response = chain.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    assert "error" not in response, response
    return response["result"]


def set_storage(chain: Chain, address: str, slot: int, value: int) -> None:
    rpc(chain, "anvil_setStorageAt", address, hex(slot), "0x" + value.to_bytes(32, "big").hex())
    rpc(chain, "evm_mine")  # the edit is then part of the latest block's state


@dataclass
class AnvilDeployment:
    pvd: Pvd
    nodes: tuple[AnvilNode, AnvilNode]
    manifests: tuple[Path, Path]
    paid: Trade
    open_trade: Trade


@pytest.fixture(scope="module")
def on_anvil(artifacts: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnvilDeployment]:
    """Two anvil processes, pvd deployed with manifests, one paid and one Funded trade."""
    nodes: list[AnvilNode] = []
    try:
        for name, chain_id in (("payment", 7001), ("business", 7002)):
            nodes.append(start_anvil(name, chain_id))
        payment, business = (
            rpc_chain(node.name, node.url, domain, ACCOUNTS)
            for node, domain in zip(nodes, (1, 2), strict=True)
        )
        folder = tmp_path_factory.mktemp("deployments")
        system = deploy_system(
            payment, business, config(), manifest_folder=folder, artifacts=artifacts
        )
        harness = Pvd(system)
        paid, open_trade = harness.paid_trade(), harness.funded_trade()
        payment_manifest, business_manifest = system.manifests
        yield AnvilDeployment(
            harness, (nodes[0], nodes[1]), (payment_manifest, business_manifest), paid, open_trade
        )
    finally:
        for node in nodes:
            stop_anvil(node)


@pytest.fixture
def anvil(on_anvil: AnvilDeployment) -> Iterator[AnvilDeployment]:
    """The anvil deployment, both chains reverted to it after the test."""
    chains = (on_anvil.pvd.payment.chain, on_anvil.pvd.business.chain)
    snapshots = [rpc(chain, "evm_snapshot") for chain in chains]
    try:
        yield on_anvil
    finally:
        for chain, snapshot in zip(chains, snapshots, strict=True):
            assert rpc(chain, "evm_revert", snapshot) is True


def run_command(deployment: AnvilDeployment, as_json: bool) -> tuple[int, str]:
    out = io.StringIO()
    payment_manifest, business_manifest = deployment.manifests
    code = reconcile_command(
        payment_manifest,
        business_manifest,
        deployment.nodes[0].url,
        deployment.nodes[1].url,
        as_json,
        out,
    )
    return code, out.getvalue()


def test_reconcile_command_passes_on_anvil_from_the_manifests(anvil):
    code, text = run_command(anvil, as_json=False)

    assert code == 0
    assert "payment chain: domain 1, chain id 7001" in text
    assert "holds     2: 1 held, 1 executed, 0 released" in text
    assert "verdict   OK: no violation (0 failed, 0 pending, 0 notes)" in text


def test_a_hold_record_edited_to_executed_without_a_delivered_trade_violates_x1_and_c4(anvil):
    token = anvil.pvd.payment.token
    slot = mapping_slot(anvil.open_trade.hold_id, token_slot("_holds"))
    record = int.from_bytes(
        anvil.pvd.payment.chain.w3.eth.get_storage_at(token.address, slot), "big"
    )
    # the slot is the hold's record: bits 6..0 the status (bit 7: acknowledged by its notary)
    assert record & 0x7F == HELD_STATUS
    set_storage(anvil.pvd.payment.chain, token.address, slot, (record & ~0x7F) | EXECUTED_STATUS)
    assert token.functions.holdStatus(anvil.open_trade.hold_id).call() == EXECUTED_STATUS

    code, output = run_command(anvil, as_json=True)

    report = json.loads(output)
    assert code == 1
    assert report["ok"] is False
    violations = {
        (f["invariant"], tuple(f["ids"].items()))
        for f in report["findings"]
        if f["severity"] == "violation"
    }
    hold, trade = hex_id(anvil.open_trade.hold_id), hex_id(anvil.open_trade.trade_id)
    assert violations == {
        ("X1", (("hold", hold), ("trade", trade))),  # "paid" with the trade only Funded
        ("C4", (("account", BUYER.address),)),  # its held total still counts the hold
        ("C3", (("hold", hold),)),  # status Executed with no HoldExecuted log
    }


def test_a_balance_moved_below_the_held_amount_violates_c2(anvil):
    token = anvil.pvd.payment.token
    held = token.functions.heldBalanceOf(BUYER.address).call()
    assert held == PRICE  # the open trade's hold
    # The account's word (AccountState): the balance in bits 0..63, the held total in 64..127.
    slot = mapping_slot(bytes.fromhex(BUYER.address[2:]), token_slot("_accounts"))
    word = int.from_bytes(anvil.pvd.payment.chain.w3.eth.get_storage_at(token.address, slot), "big")
    field = 2**64 - 1
    assert word & field == token.functions.balanceOf(BUYER.address).call()
    assert (word >> 64) & field == held
    set_storage(anvil.pvd.payment.chain, token.address, slot, (word & ~field) | (held - 1))

    code, text = run_command(anvil, as_json=False)

    assert code == 1
    assert f"VIOLATION C2   account {BUYER.address}: held {PRICE} > balance {PRICE - 1}" in text
    assert "VIOLATION C1" in text  # the supply no longer equals the balances
    assert "verdict   VIOLATION: 2 (C1, C2)" in text


def test_batched_view_calls_return_what_single_calls_return_and_keep_a_revert_apart(anvil):
    token, registry = anvil.pvd.payment.token, anvil.pvd.business.registry
    payment_w3 = anvil.pvd.payment.chain.w3
    block = payment_w3.eth.block_number
    wrong_amount = (*anvil.open_trade.hold[:3], PRICE + 1, *anvil.open_trade.hold[4:])
    calls = [
        token.functions.checkHold(anvil.open_trade.hold),
        token.functions.balanceOf(BUYER.address),
        token.functions.holdStatus(anvil.paid.hold_id),
    ]

    batched = call_many(payment_w3, calls, block)
    with_revert = call_many(payment_w3, [*calls, token.functions.checkHold(wrong_amount)], block)
    trades = call_many(
        anvil.pvd.business.chain.w3,
        [registry.functions.getTrade(t.trade_id) for t in (anvil.paid, anvil.open_trade)],
        anvil.pvd.business.chain.w3.eth.block_number,
    )

    assert batched == [c.call(block_identifier=block) for c in calls]
    one_batch = raw_batch(payment_w3, [("eth_call", [{"to": token.address}, hex(block)])] * 2)
    assert one_batch is not None  # anvil answers batches: the calls above were one
    assert with_revert[:3] == batched
    assert isinstance(with_revert[3], ContractLogicError)
    assert "HoldMismatch" in str(with_revert[3]) or with_revert[3].data is not None
    assert [t[5] for t in trades] == [5, 3]  # status: Delivered, Funded


def test_batched_block_hashes_are_the_blocks_hashes(anvil):
    w3 = anvil.pvd.payment.chain.w3
    numbers = [0, 1, w3.eth.block_number]

    assert block_hashes(w3, numbers) == {n: w3.eth.get_block(n)["hash"] for n in numbers}
    # a number above the head (the chain got shorter since it was read) is left out
    above = w3.eth.block_number + 5
    assert block_hashes(w3, [0, above]) == {0: w3.eth.get_block(0)["hash"]}


def test_without_json_rpc_batches_the_reads_go_one_by_one(pvd):
    token, w3 = pvd.system.payment.token, pvd.system.payment.chain.w3
    block = w3.eth.block_number
    calls = [token.functions.totalSupply(), token.functions.holdStatus(b"\x07" * 32)]

    assert raw_batch(w3, [("eth_blockNumber", [])] * 2) is None  # eth-tester has none
    assert call_many(w3, calls, block) == [c.call(block_identifier=block) for c in calls]
    assert block_hashes(w3, [0, block]) == {n: w3.eth.get_block(n)["hash"] for n in (0, block)}
    assert block_hashes(w3, [block, block + 5]) == {block: w3.eth.get_block(block)["hash"]}


# ------------------------------------------------------------------ user errors: exit 2


def test_an_unreachable_rpc_exits_2_with_one_line_and_no_traceback(on_anvil):
    payment_manifest, business_manifest = on_anvil.manifests
    dead = f"http://127.0.0.1:{free_port()}"
    result = subprocess.run(
        [
            sys.executable, "-m", "pvd.reconcile.reconciler",
            "--payment-manifest", str(payment_manifest), "--payment-rpc", dead,
            "--business-manifest", str(business_manifest), "--business-rpc", on_anvil.nodes[1].url,
        ],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"pvd: error: payment chain: no answer from {dead}")
    assert "Traceback" not in result.stderr


def test_a_corrupt_manifest_exits_2_with_one_line(on_anvil, tmp_path, capsys):
    corrupt = tmp_path / "payment-1.json"
    corrupt.write_text('{"schema": 1, "network": ')
    _payment, business_manifest = on_anvil.manifests

    code = main(
        ["--payment-manifest", str(corrupt), "--business-manifest", str(business_manifest),
         "--payment-rpc", on_anvil.nodes[0].url, "--business-rpc", on_anvil.nodes[1].url]
    )  # fmt: skip

    assert code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"pvd: error: deployment file {corrupt} is not valid JSON")


def test_swapped_manifests_are_a_user_error_naming_the_fix(on_anvil):
    _payment, business_manifest = on_anvil.manifests

    with pytest.raises(UserError, match="swap --payment-manifest and --business-manifest"):
        view_from_manifest("payment", business_manifest, on_anvil.nodes[0].url)


def test_a_manifest_read_against_another_chain_is_a_user_error(on_anvil):
    payment_manifest, _business = on_anvil.manifests

    with pytest.raises(UserError, match=r"is chain id 7002 .* was deployed to chain id 7001"):
        view_from_manifest("payment", payment_manifest, on_anvil.nodes[1].url)


def test_a_manifest_whose_contract_is_not_on_the_chain_is_a_user_error(on_anvil, tmp_path):
    payment_manifest, _business = on_anvil.manifests
    data = json.loads(payment_manifest.read_text())
    data["contracts"]["YuanToken"]["address"] = "0x" + "ab" * 20
    (tmp_path / "abi").symlink_to(payment_manifest.parent / "abi")
    moved = tmp_path / payment_manifest.name
    moved.write_text(json.dumps(data))

    with pytest.raises(UserError, match=r"has no code at YuanToken .* \(was the chain reset\?\)"):
        view_from_manifest("payment", moved, on_anvil.nodes[0].url)


def test_no_rpc_url_is_a_user_error_naming_the_variable(on_anvil, monkeypatch):
    monkeypatch.delenv("PVD_PAYMENT_RPC", raising=False)
    payment_manifest, _business = on_anvil.manifests

    with pytest.raises(UserError, match="pass --payment-rpc or set PVD_PAYMENT_RPC"):
        view_from_manifest("payment", payment_manifest, None)
