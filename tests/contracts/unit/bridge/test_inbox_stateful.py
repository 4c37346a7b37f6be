"""A stateful test of the inbox (brownie state machine, run through the shared
`interpreted_state_machine` fixture): random deliveries by valid and by forged or short
quorums, replays, attester rotations, a failing recipient and retries, with the model's
invariants checked after every step.

C6: the inbox accepts only a quorum of distinct current attesters; each message id takes
effect at most once (replays are no-ops).
C5: a refused call changes nothing.
L2: a failed message stays retryable and blocks no other.
A Failed message verified under an earlier attester set is never retried: it takes effect
only when delivered again with a quorum of the current set; the admin may void it.
"""

import itertools
import random

import brownie
from brownie.test import strategy

from pvd.protocol.messages import Outcome
from tests.contracts.fixtures.bridge import (
    ATTESTERS,
    FORGER,
    GOVERNANCE_DELAY,
    delivery_status,
    is_consumed,
    outcome_message,
    sign,
)

STATUS_DELIVERED, STATUS_FAILED, STATUS_VOIDED = 1, 2, 3
OUTCOMES = (Outcome.DELIVERED, Outcome.EXPIRED, Outcome.REJECTED)
SETS = [
    (tuple(ATTESTERS[i] for i in members), threshold)
    for size in (1, 3, 5)
    for members in itertools.combinations(range(5), size)
    for threshold in sorted({1, size // 2 + 1, size})
]
SETTINGS = {"max_examples": 15, "stateful_step_count": 20, "derandomize": True, "database": None}


def _ascending(signers):
    return sorted(signers, key=lambda a: int(a.address, 16))


class InboxMachine:
    """Model: the current attester set and threshold, the recipient's failing switch, and
    the expected status of every message id the machine produced."""

    st_outcome = strategy("uint8", max_value=2)
    st_seed = strategy("uint32")
    st_kind = strategy("uint8", max_value=3)
    st_set = strategy("uint16", max_value=len(SETS) - 1)
    st_index = strategy("uint16")

    def __init__(cls, inbox, app, deployer, relayer):
        cls.inbox, cls.app, cls.deployer, cls.relayer = inbox, app, deployer, relayer

    def setup(self):
        self.members = list(ATTESTERS[:3])
        self.threshold = 2
        self.failing = False
        self.status = {}  # message id -> expected status
        self.epoch = 1  # the attester set's number
        self.failed_epoch = {}  # message id -> the epoch it failed under
        self.messages = {}  # message id -> Message
        self.effects = 0  # successful receiveMessage calls
        self.nonce = itertools.count()

    def _new(self, outcome):
        return outcome_message(self.app, nonce=next(self.nonce), outcome=outcome)

    def _state(self):
        return (
            tuple(self.inbox.attesters()),
            self.inbox.threshold(),
            self.app.received(),
            tuple(
                (delivery_status(self.inbox, self.messages[i]), tuple(self.inbox.failureOf(i)))
                for i in self.status
            ),
        )

    def _quorum(self, seed):
        return _ascending(random.Random(seed).sample(self.members, self.threshold))

    def rule_deliver_with_a_valid_quorum(self, st_outcome, st_seed):
        message = self._new(OUTCOMES[st_outcome])
        signatures = sign(self.inbox, message, self._quorum(st_seed))
        tx = self.inbox.deliver(message.encode(), signatures, {"from": self.relayer})
        self.messages[message.id] = message
        if self.failing:
            assert "MessageFailed" in tx.events
            self.status[message.id] = STATUS_FAILED
            self.failed_epoch[message.id] = self.epoch
        else:
            assert "MessageDelivered" in tx.events
            self.status[message.id] = STATUS_DELIVERED
            self.effects += 1

    def rule_deliver_with_a_forged_or_short_quorum(self, st_kind, st_seed):
        """C6, C5: a non-attester, a duplicate, too few, or a rotated-out attester."""
        message = self._new(Outcome.DELIVERED)
        honest = self._quorum(st_seed)[: self.threshold - 1]
        outsiders = [a for a in ATTESTERS if a not in self.members]
        if st_kind == 0:
            signers = _ascending([*honest, FORGER])
        elif st_kind == 1:
            signers = [self.members[0]] * max(self.threshold, 2)
        elif st_kind == 2 or not outsiders:
            signers = honest
        else:
            signers = _ascending([*honest, outsiders[st_seed % len(outsiders)]])
        before = self._state()
        with brownie.reverts():
            self.inbox.deliver(
                message.encode(), sign(self.inbox, message, signers), {"from": self.relayer}
            )
        assert self._state() == before
        assert not is_consumed(self.inbox, message)

    def rule_replay_a_consumed_message(self, st_index, st_seed):
        """C6: a consumed id never takes effect again, except a Failed message of an earlier
        attester set delivered with a fresh quorum: it is verified and tried once more."""
        if not self.status:
            return
        message_id = sorted(self.status)[st_index % len(self.status)]
        message = self.messages[message_id]
        before = self._state()
        signatures = sign(self.inbox, message, self._quorum(st_seed))
        tx = self.inbox.deliver(message.encode(), signatures, {"from": self.relayer})
        stale = (
            self.status[message_id] == STATUS_FAILED and self.failed_epoch[message_id] != self.epoch
        )
        if not stale:
            assert "MessageAlreadyConsumed" in tx.events
            assert self._state() == before
        elif self.failing:
            assert "MessageFailed" in tx.events
            self.failed_epoch[message_id] = self.epoch
        else:
            assert "MessageDelivered" in tx.events
            self.status[message_id] = STATUS_DELIVERED
            self.effects += 1

    def rule_rotate_the_attester_set(self, st_set):
        members, threshold = SETS[st_set]
        addresses = [a.address for a in _ascending(members)]
        self.inbox.proposeAttesterSet(addresses, threshold, {"from": self.deployer})
        brownie.chain.sleep(GOVERNANCE_DELAY)
        self.inbox.applyAttesterSet({"from": self.relayer})
        self.members, self.threshold = list(members), threshold
        self.epoch += 1

    def rule_toggle_the_recipient(self):
        self.failing = not self.failing
        self.app.setFailing(self.failing, {"from": self.relayer})

    def rule_retry_a_failed_message(self, st_index):
        """L2: a failed message is retryable once the recipient recovers."""
        failed = sorted(i for i, s in self.status.items() if s == STATUS_FAILED)
        if not failed:
            return
        message_id = failed[st_index % len(failed)]
        encoding = self.messages[message_id].encode()
        if self.failed_epoch[message_id] != self.epoch or self.failing:
            before = self._state()
            with brownie.reverts():
                self.inbox.retry(encoding, {"from": self.relayer})
            assert self._state() == before
            return
        tx = self.inbox.retry(encoding, {"from": self.relayer})
        assert "MessageRetried" in tx.events
        self.status[message_id] = STATUS_DELIVERED
        self.effects += 1

    def rule_void_a_failed_message(self, st_index):
        """The admin voids a Failed message: it never takes effect afterwards."""
        failed = sorted(i for i, s in self.status.items() if s == STATUS_FAILED)
        if not failed:
            return
        message_id = failed[st_index % len(failed)]
        tx = self.inbox.voidMessage(message_id, {"from": self.deployer})
        assert "MessageVoided" in tx.events
        self.status[message_id] = STATUS_VOIDED

    def invariant_each_id_takes_effect_at_most_once(self):
        """C6: the recipient saw exactly the messages the model says took effect."""
        assert self.app.received() == self.effects

    def invariant_every_status_is_the_modelled_one(self):
        for message_id, status in self.status.items():
            message = self.messages[message_id]
            assert delivery_status(self.inbox, message) == status
            assert is_consumed(self.inbox, message)
            failure = tuple(self.inbox.failureOf(message_id))
            if status == STATUS_FAILED:
                assert failure == (STATUS_FAILED, self.failed_epoch[message_id])
            elif status == STATUS_VOIDED:
                assert failure[0] == STATUS_VOIDED
            else:
                assert failure == (0, 0)

    def invariant_the_attester_set_is_the_modelled_one(self):
        assert list(self.inbox.attesters()) == [a.address for a in _ascending(self.members)]
        assert self.inbox.threshold() == self.threshold


def test_the_inbox_keeps_its_invariants_under_random_operations(
    interpreted_state_machine, wired_inbox, app, deployer, relayer
):
    interpreted_state_machine(InboxMachine, wired_inbox, app, deployer, relayer, settings=SETTINGS)
