"""Gas of the messaging contracts: Outbox.send and Inbox delivery (single, by threshold,
batch, retry, replay), measured as receipts' gasUsed on brownie's development network.

Deliveries go to NoopRecipient, so each figure is the inbox's own cost (including the
21,000 base and the calldata of the message and signatures); the settlement's figures,
which include a real recipient, are in scripts/gas/settlement.py. Attester keys are
anvil's well-known development keys: TEST KEYS ONLY.
"""

from __future__ import annotations

from brownie import Inbox, MockApp, NoopRecipient, Outbox, accounts, chain
from eth_account import Account

from pvd import attestation
from pvd.messages import Message, Outcome, TradeOutcome

PAYMENT_DOMAIN = 1
BUSINESS_DOMAIN = 2
SOURCE_APP = "0x7a7a7a7a7A7A7a7A7A7A7A7a7a7a7a7a7A7a7a7A"

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


def _sign(inbox, message: Message, threshold: int) -> bytes:
    where = attestation.InboxDomain(chain.id, inbox.address, PAYMENT_DOMAIN)
    return b"".join(attestation.sign(message, where, a) for a in ATTESTERS[:threshold])


def measure() -> dict[str, int]:
    admin, relayer = accounts[0], accounts[7]
    gas: dict[str, int] = {}

    # Outbox.send through a registered app (second send: the nonce slot is warm-ish, as in
    # steady use). Includes the app's own call overhead (MockApp.sendVia).
    outbox = Outbox.deploy(BUSINESS_DOMAIN, admin, {"from": admin})
    app = MockApp.deploy(admin, {"from": admin})
    outbox.registerApp(app, {"from": admin})
    body = _outcome(SOURCE_APP, 0).body
    app.sendVia(outbox, PAYMENT_DOMAIN, SOURCE_APP, 2, body, {"from": relayer})
    gas["outbox_send_trade_outcome"] = app.sendVia(
        outbox, PAYMENT_DOMAIN, SOURCE_APP, 2, body, {"from": relayer}
    ).gas_used

    # Single deliveries by threshold, 5 attesters (each to a no-op recipient).
    for threshold in range(1, 6):
        inbox, recipient = _inbox(5, threshold, admin)
        message = _outcome(recipient.address, 1)
        tx = inbox.deliver(message.encode(), _sign(inbox, message, threshold), {"from": relayer})
        gas[f"inbox_deliver_{threshold}_of_5"] = tx.gas_used

    # The budgeted case: 2 of 3. Then a replay of it (the no-op), and 10 singles.
    inbox, recipient = _inbox(3, 2, admin)
    singles = 0
    for nonce in range(10):
        message = _outcome(recipient.address, nonce)
        tx = inbox.deliver(message.encode(), _sign(inbox, message, 2), {"from": relayer})
        if nonce == 0:
            gas["inbox_deliver_2_of_3"] = tx.gas_used
            gas["inbox_replay_no_op"] = inbox.deliver(
                message.encode(), _sign(inbox, message, 2), {"from": relayer}
            ).gas_used
        singles += tx.gas_used
    gas["inbox_10_single_deliveries_2_of_3"] = singles

    # A batch of 10, on a fresh inbox (same cold state as the singles had).
    inbox, recipient = _inbox(3, 2, admin)
    messages = [_outcome(recipient.address, nonce) for nonce in range(10)]
    tx = inbox.deliverBatch(
        [m.encode() for m in messages], [_sign(inbox, m, 2) for m in messages], {"from": relayer}
    )
    gas["inbox_batch_of_10_2_of_3"] = tx.gas_used
    gas["inbox_batch_of_10_percent_of_singles"] = round(100 * tx.gas_used / singles)

    # Verified-but-failed, then a retry once the recipient recovers (MockApp).
    inbox, app = _inbox(3, 2, admin, MockApp)
    app.setFailing(True, {"from": admin})
    message = _outcome(app.address, 1)
    gas["inbox_deliver_2_of_3_recipient_fails"] = inbox.deliver(
        message.encode(), _sign(inbox, message, 2), {"from": relayer}
    ).gas_used
    app.setFailing(False, {"from": admin})
    gas["inbox_retry"] = inbox.retry(message.encode(), {"from": relayer}).gas_used
    return gas


def main() -> None:
    for name, value in measure().items():
        print(f"{name:45} {value:>9,}")
