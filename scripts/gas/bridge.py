"""Gas of the messaging contracts and the settlement, as receipts' gasUsed on brownie's
development network (every figure includes the 21,000 base and the calldata).

- outbox_* / inbox_*: deliveries go to NoopRecipient, so each is the inbox's own cost.
- settlement_*: PvdSettlement with the real YuanToken (skipped, with a log line, if the
  token is not in the project): hold-and-announce by signature, announce, and outcome
  deliveries including the hold's execution or release and the PAYMENT_SETTLED reply.

Steady state: every figure is a second operation of its kind (nonces, balances and
registrations already non-zero), on fresh ids. The inbox marks a consumed message with one
bit in a word of 256 nonces: a steady-state delivery finds its word non-zero (a message
delivered before it, nonce 0, opened the word); `inbox_deliver_2_of_3_first_of_word` is
the one delivery in 256 that writes a fresh word. The settlement's payee already holds a
balance (a seller who was paid before); `..._fresh_payee` pays an account with none.
Attester and wallet keys are anvil's or derived well-known development keys: TEST KEYS
ONLY.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import brownie
from brownie import Inbox, MockApp, NoopRecipient, Outbox, accounts, chain
from eth_account import Account
from eth_utils.crypto import keccak

from pvd.client.trade import HoldRequest, place_hold_typed_data, token_domain
from pvd.protocol import attestation
from pvd.protocol.messages import Message, Outcome, TradeOutcome, batch_messages

PAYMENT_DOMAIN = 1
BUSINESS_DOMAIN = 2
SOURCE_APP = "0x7a7a7a7a7A7A7a7A7A7A7A7a7a7a7a7a7A7a7a7A"
DEPLOYMENT_ID = keccak(text="pvd gas measurement")  # any 32 bytes: the inbox's deployment id

# TEST KEYS ONLY: anvil's "test test ... junk" mnemonic, indices 10..14.
_KEYS = (
    "0xf214f2b2cd398c806f84e317254e0f0b801d0643303237d97a22a48e01628897",
    "0x701b615bbdfb9de65240bc28bd21bbc0d996645a3dd57e7b12bc2bdf6f192c82",
    "0xa267530f49f8280200edf313ee7af6b827f2a8bce2897751d06a843f644967b1",
    "0x47c99abed3324a2707c28affff1267e45918ec8c3f20b8aa892e8b065d2942dd",
    "0xc526ee95bf44d8fc405a158bb884d9d1238d99f0612e9f33d006bb0789009aaa",
)
ATTESTERS = sorted((Account.from_key(k) for k in _KEYS), key=lambda a: int(a.address, 16))


def _outcome(recipient: str, nonce: int) -> Message:
    """A realistic TRADE_OUTCOME Delivered: random-looking ids and addresses."""
    body = TradeOutcome(
        trade_id=(0x7E57 << 200 | nonce).to_bytes(32, "big"),
        hold_id=(0xB01D << 200 | nonce).to_bytes(32, "big"),
        outcome=Outcome.DELIVERED,
        payer="0x90F79bf6EB2c4f870365E785982E1f101E93b906",
        payee="0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
        amount=50_000_00,
        expiry=1_900_000_000,
    )
    return Message.of(BUSINESS_DOMAIN, SOURCE_APP, PAYMENT_DOMAIN, recipient, nonce, body)


def _inbox(members: int, threshold: int, admin, recipient_cls=NoopRecipient):
    inbox = Inbox.deploy(
        PAYMENT_DOMAIN,
        DEPLOYMENT_ID,
        admin,
        admin,
        [a.address for a in ATTESTERS[:members]],
        threshold,
        3600,
        3600,
        {"from": admin},
    )
    recipient = recipient_cls.deploy(
        *([inbox] if recipient_cls is MockApp else []), {"from": admin}
    )
    inbox.proposePeer(BUSINESS_DOMAIN, SOURCE_APP, recipient, {"from": admin})
    inbox.closeSetup({"from": admin})
    return inbox, recipient


def _require(tx: Any, event: str, count: int = 1) -> None:
    """A measured transaction must have done what its name says (`count` times `event`)."""
    seen = len(tx.events[event]) if event in tx.events else 0
    if seen != count:
        raise RuntimeError(f"expected {count} {event} event(s), saw {seen}")


def _sign(inbox, message: Message, threshold: int) -> bytes:
    where = attestation.InboxDomain(chain.id, inbox.address, PAYMENT_DOMAIN, DEPLOYMENT_ID)
    return b"".join(attestation.sign(message, where, a) for a in ATTESTERS[:threshold])


log = logging.getLogger(__name__)


def measure() -> dict[str, int]:
    gas = measure_bridge()
    gas.update(measure_settlement())
    return gas


def measure_bridge() -> dict[str, int]:
    admin, relayer = accounts[0], accounts[7]
    gas: dict[str, int] = {}

    # Outbox.send through a registered app (second send: the nonce slot is warm-ish, as in
    # steady use). Includes the app's own call overhead (MockApp.sendVia).
    outbox = Outbox.deploy(BUSINESS_DOMAIN, admin, 3600, {"from": admin})
    app = MockApp.deploy(admin, {"from": admin})
    outbox.proposeApp(app, True, {"from": admin})
    body = _outcome(SOURCE_APP, 0).body
    app.sendVia(outbox, PAYMENT_DOMAIN, SOURCE_APP, 2, body, {"from": relayer})
    tx = app.sendVia(outbox, PAYMENT_DOMAIN, SOURCE_APP, 2, body, {"from": relayer})
    _require(tx, "MessageSent")
    gas["outbox_send_trade_outcome"] = tx.gas_used

    # Single deliveries by threshold, 5 attesters (each to a no-op recipient), after nonce 0.
    for threshold in range(1, 6):
        inbox, recipient = _inbox(5, threshold, admin)
        for nonce in (0, 1):
            message = _outcome(recipient.address, nonce)
            tx = inbox.deliver(
                message.encode(), _sign(inbox, message, threshold), {"from": relayer}
            )
            _require(tx, "MessageDelivered")
        gas[f"inbox_deliver_{threshold}_of_5"] = tx.gas_used

    # The budgeted case: 2 of 3. Nonce 0 opens the consumed word; then a replay (the
    # no-op) and 10 singles in steady state.
    inbox, recipient = _inbox(3, 2, admin)
    message = _outcome(recipient.address, 0)
    tx = inbox.deliver(message.encode(), _sign(inbox, message, 2), {"from": relayer})
    _require(tx, "MessageDelivered")
    gas["inbox_deliver_2_of_3_first_of_word"] = tx.gas_used
    singles = 0
    for nonce in range(1, 11):
        message = _outcome(recipient.address, nonce)
        tx = inbox.deliver(message.encode(), _sign(inbox, message, 2), {"from": relayer})
        _require(tx, "MessageDelivered")
        if nonce == 1:
            gas["inbox_deliver_2_of_3"] = tx.gas_used
            replay = inbox.deliver(message.encode(), _sign(inbox, message, 2), {"from": relayer})
            _require(replay, "MessageAlreadyConsumed")
            gas["inbox_replay_no_op"] = replay.gas_used
        singles += tx.gas_used
    gas["inbox_10_single_deliveries_2_of_3"] = singles

    # A batch of 10, on a fresh inbox in the same state as the singles had (nonce 0 first).
    inbox, recipient = _inbox(3, 2, admin)
    message = _outcome(recipient.address, 0)
    inbox.deliver(message.encode(), _sign(inbox, message, 2), {"from": relayer})
    messages = [_outcome(recipient.address, nonce) for nonce in range(1, 11)]
    tx = inbox.deliverBatch(
        batch_messages([m.encode() for m in messages]),
        attestation.batch_signatures([_sign(inbox, m, 2) for m in messages]),
        {"from": relayer},
    )
    _require(tx, "MessageDelivered", 10)
    gas["inbox_batch_of_10_2_of_3"] = tx.gas_used
    gas["inbox_batch_of_10_percent_of_singles"] = round(100 * tx.gas_used / singles)

    # Verified-but-failed, then a retry once the recipient recovers (MockApp), after nonce 0.
    inbox, app = _inbox(3, 2, admin, MockApp)
    message = _outcome(app.address, 0)
    _require(
        inbox.deliver(message.encode(), _sign(inbox, message, 2), {"from": relayer}),
        "MessageDelivered",
    )
    app.setFailing(True, {"from": admin})
    message = _outcome(app.address, 1)
    tx = inbox.deliver(message.encode(), _sign(inbox, message, 2), {"from": relayer})
    _require(tx, "MessageFailed")
    gas["inbox_deliver_2_of_3_recipient_fails"] = tx.gas_used
    app.setFailing(False, {"from": admin})
    tx = inbox.retry(message.encode(), {"from": relayer})
    _require(tx, "MessageRetried")
    gas["inbox_retry"] = tx.gas_used

    # Governance after setup (each applied after the delay): the delivery data (attesters
    # and peers) is written again as a new contract by a rotation and by a peer change.
    inbox, recipient = _inbox(3, 2, admin)
    inbox.proposeAttesterSet([a.address for a in ATTESTERS[1:4]], 2, {"from": admin})
    chain.sleep(3601)
    tx = inbox.applyAttesterSet({"from": relayer})
    _require(tx, "AttesterSetApplied")
    gas["inbox_apply_attester_set_3_members_1_peer"] = tx.gas_used
    inbox.proposePeer(BUSINESS_DOMAIN, _SECOND_SOURCE, recipient, {"from": admin})
    chain.sleep(3601)
    tx = inbox.applyPeer(BUSINESS_DOMAIN, _SECOND_SOURCE, {"from": relayer})
    _require(tx, "PeerApplied")
    gas["inbox_apply_peer_3_members_second_peer"] = tx.gas_used
    return gas


_SECOND_SOURCE = "0x5151515151515151515151515151515151515151"


# ----------------------------------------------------------------------- settlement

_REGISTRY = "0x7e57000000000000000000000000000000000A11"
_PRICE = 1_234_00


def _sign_hold(token, key: bytes, hold: tuple, valid_before: int) -> bytes:
    typed = place_hold_typed_data(
        token_domain(token.eip712Domain()), HoldRequest(*hold), valid_before
    )
    return bytes(Account.sign_typed_data(key, full_message=typed).signature)


def _settled_outcome(settlement: str, hold: tuple, nonce: int) -> Message:
    payer, payee, _, amount, expiry, ref = hold
    hold_id = keccak(
        bytes(12) + bytes.fromhex(payer[2:]) + bytes(12) + bytes.fromhex(settlement[2:]) + ref
    )
    body = TradeOutcome(ref, hold_id, Outcome.DELIVERED, payer, payee, amount, expiry)
    return Message.of(BUSINESS_DOMAIN, _REGISTRY, PAYMENT_DOMAIN, settlement, nonce, body)


@dataclass(frozen=True)
class SettlementBench:
    """The payment side as the settlement measurements use it."""

    token: Any
    outbox: Any
    inbox: Any
    settlement: Any
    payer: Any
    payer_key: bytes
    seller: Any
    relayer: Any

    def hold(self, label: str) -> tuple:
        expiry = chain.time() + 7 * 86400
        return (
            self.payer.address,
            self.seller.address,
            self.settlement.address,
            _PRICE,
            expiry,
            keccak(text=label),
        )


def settlement_bench() -> SettlementBench | None:
    """Deploy YuanToken, Outbox, Inbox (2 of 3) and PvdSettlement, wired; one payer with a
    key and one seller, both class I with balances. None if YuanToken is not in the project."""
    try:
        yuan_token = brownie.YuanToken
        settlement_cls = brownie.PvdSettlement
    except AttributeError:
        log.warning("YuanToken is not in this project: settlement gas not measured")
        return None
    admin, operator, seller, relayer = accounts[0], accounts[2], accounts[4], accounts[7]
    # TEST KEY ONLY: derived from a public label, never fund it anywhere.
    payer_key = keccak(text="pvd gas bench payer")
    payer = accounts.add(payer_key)
    admin.transfer(payer, 10**18, silent=True)
    token = yuan_token.deploy(
        "Programmable Yuan", "eCNY", PAYMENT_DOMAIN, admin, 3600, {"from": admin}
    )
    token.grantRole(keccak(text="OPERATOR_ROLE"), operator, {"from": admin})
    token.setMintAllowance(operator, 10**15, {"from": admin})
    for wallet in (payer, seller):
        token.setWalletClass(wallet, 3, {"from": operator})  # class I: no caps
        token.issue(wallet, 10**12, {"from": operator})
    outbox = Outbox.deploy(PAYMENT_DOMAIN, admin, 3600, {"from": admin})
    inbox = Inbox.deploy(
        PAYMENT_DOMAIN,
        DEPLOYMENT_ID,
        admin,
        admin,
        [a.address for a in ATTESTERS[:3]],
        2,
        3600,
        3600,
        {"from": admin},
    )
    settlement = settlement_cls.deploy(
        token, outbox, inbox, BUSINESS_DOMAIN, _REGISTRY, {"from": admin}
    )
    outbox.proposeApp(settlement, True, {"from": admin})
    inbox.proposePeer(BUSINESS_DOMAIN, _REGISTRY, settlement, {"from": admin})
    inbox.closeSetup({"from": admin})
    return SettlementBench(token, outbox, inbox, settlement, payer, payer_key, seller, relayer)


def _require_executed(tx: Any, holds: int = 1) -> None:
    """A measured delivery must have executed its hold(s) and sent the reply(ies)."""
    executed = len(tx.events["HoldExecuted"]) if "HoldExecuted" in tx.events else 0
    replies = len(tx.events["MessageSent"]) if "MessageSent" in tx.events else 0
    if (executed, replies) != (holds, holds):
        raise RuntimeError(
            f"expected {holds} executed holds and replies, got {executed}, {replies}"
        )


def measure_settlement() -> dict[str, int]:
    """Each measured operation is the second of its kind."""
    bench = settlement_bench()
    if bench is None:
        return {}
    token, inbox, settlement, relayer = bench.token, bench.inbox, bench.settlement, bench.relayer
    payer, payer_key, seller, hold = bench.payer, bench.payer_key, bench.seller, bench.hold
    gas: dict[str, int] = {}
    holds = []
    for n in range(2):
        h = hold(f"signed {n}")
        valid_before = chain.time() + 3600
        tx = settlement.placeHoldAndAnnounce(
            h, valid_before, _sign_hold(token, payer_key, h, valid_before), {"from": relayer}
        )
        holds.append(h)
    _require(tx, "HoldAnnounced")
    gas["settlement_hold_and_announce_by_signature"] = tx.gas_used
    for n in range(2):
        h = hold(f"direct {n}")
        token.placeHold(h[5], seller, settlement, _PRICE, h[4], {"from": payer})
        tx = settlement.announce(h, {"from": payer})  # only the payer announces
    _require(tx, "HoldAnnounced")
    gas["settlement_announce_direct_hold"] = tx.gas_used

    for nonce, h in enumerate(holds):
        message = _settled_outcome(settlement.address, h, nonce)
        tx = inbox.deliver(message.encode(), _sign(inbox, message, 2), {"from": relayer})
        _require_executed(tx)
    gas["settlement_deliver_delivered_outcome_2_of_3"] = tx.gas_used

    # The same to a payee with no balance yet (its balance word is written from zero).
    fresh = accounts.add(keccak(text="pvd gas bench fresh payee"))  # TEST KEY ONLY
    h = hold("fresh payee")
    h = (h[0], fresh.address, *h[2:])
    token.placeHold(h[5], fresh, settlement, _PRICE, h[4], {"from": payer})
    message = _settled_outcome(settlement.address, h, 2)
    tx = inbox.deliver(message.encode(), _sign(inbox, message, 2), {"from": relayer})
    _require_executed(tx)
    if token.balanceOf(fresh) != _PRICE:
        raise RuntimeError("the fresh payee was not paid exactly the price")
    gas["settlement_deliver_delivered_outcome_2_of_3_fresh_payee"] = tx.gas_used

    # Ten singles and a batch of ten, on holds placed directly (announcing is not measured).
    batch_holds = []
    for n in range(20):
        h = hold(f"bulk {n}")
        token.placeHold(h[5], seller, settlement, _PRICE, h[4], {"from": payer})
        batch_holds.append(h)
    singles = 0
    for n, h in enumerate(batch_holds[:10]):
        message = _settled_outcome(settlement.address, h, 100 + n)
        singles += inbox.deliver(
            message.encode(), _sign(inbox, message, 2), {"from": relayer}
        ).gas_used
    gas["settlement_10_single_delivered_outcomes"] = singles
    messages = [
        _settled_outcome(settlement.address, h, 200 + n) for n, h in enumerate(batch_holds[10:])
    ]
    tx = inbox.deliverBatch(
        batch_messages([m.encode() for m in messages]),
        attestation.batch_signatures([_sign(inbox, m, 2) for m in messages]),
        {"from": relayer},
    )
    _require_executed(tx, 10)
    gas["settlement_batch_of_10_delivered_outcomes"] = tx.gas_used
    gas["settlement_batch_of_10_percent_of_singles"] = round(100 * tx.gas_used / singles)
    return gas


def main() -> None:
    for name, value in measure().items():
        print(f"{name:45} {value:>9,}")
