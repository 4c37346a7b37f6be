"""A stateful test of the inbox (Hypothesis rules on a live chain): random deliveries by
valid and forged quorums, replays, rotations, failing recipients and retries, with the
invariants checked after every step.

C6: the inbox accepts only registered sources with a quorum of distinct current
attesters; each message id takes effect at most once.
C5: a refused call changes nothing.
L2: a failed message stays retryable and blocks no other.

brownie's own `state_machine` fixture cannot run in this environment (its compiled
stateful module rejects subclasses), so the machine is run with Hypothesis directly and
isolated with chain snapshots, which is what that fixture does.
"""

import itertools

import brownie
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from pvd.messages import Outcome
from tests.contracts.fixtures.bridge import (
    ATTESTERS,
    FORGER,
    GOVERNANCE_DELAY,
    outcome_message,
    sign,
)

STATUS_NONE, STATUS_DELIVERED, STATUS_FAILED = range(3)
SETS = [
    (tuple(ATTESTERS[i] for i in members), threshold)
    for size in (1, 3, 5)
    for members in itertools.combinations(range(5), size)
    for threshold in {1, size // 2 + 1, size}
]


class InboxMachine(RuleBasedStateMachine):
    """Model: the current attester set and threshold, the app's failing switch, and the
    expected status of every message id the machine has produced."""

    inbox = None
    app = None
    deployer = None
    relayer = None

    def __init__(self):
        super().__init__()
        brownie.chain.revert()
        self.members = ATTESTERS[:3]
        self.threshold = 2
        self.failing = False
        self.status = {}  # message id -> expected status
        self.messages = {}  # message id -> Message
        self.effects = 0  # receiveMessage calls that succeeded
        self.nonce = itertools.count()

    def _new_message(self, outcome):
        return outcome_message(self.app, nonce=next(self.nonce), outcome=outcome)

    def _state(self):
        return (
            tuple(self.inbox.attesters()),
            self.inbox.threshold(),
            self.app.received(),
            tuple(tuple(self.inbox.deliveryOf(i)) for i in self.status),
        )

    @rule(
        outcome=st.sampled_from([Outcome.DELIVERED, Outcome.EXPIRED, Outcome.REJECTED]),
        data=st.data(),
    )
    def deliver_with_a_valid_quorum(self, outcome, data):
        message = self._new_message(outcome)
        signers = sorted(
            data.draw(st.permutations(self.members))[: self.threshold],
            key=lambda a: int(a.address, 16),
        )
        tx = self.inbox.deliver(
            message.encode(), sign(self.inbox, message, signers), {"from": self.relayer}
        )
        self.messages[message.id] = message
        if self.failing:
            assert "MessageFailed" in tx.events
            self.status[message.id] = STATUS_FAILED
        else:
            assert "MessageDelivered" in tx.events
            self.status[message.id] = STATUS_DELIVERED
            self.effects += 1

    @rule(data=st.data())
    def deliver_with_a_forged_or_short_quorum(self, data):
        """C6/C5: a non-attester, a duplicate, a wrong order or too few signatures."""
        message = self._new_message(Outcome.DELIVERED)
        kind = data.draw(st.sampled_from(["forger", "duplicate", "short", "outsider"]))
        ordered = sorted(self.members, key=lambda a: int(a.address, 16))
        if kind == "forger":
            signers = sorted(
                [*ordered[: self.threshold - 1], FORGER], key=lambda a: int(a.address, 16)
            )
        elif kind == "duplicate":
            signers = [ordered[0]] * max(self.threshold, 2)
        elif kind == "short":
            signers = ordered[: self.threshold - 1]
        else:
            outsiders = [a for a in ATTESTERS if a not in self.members]
            if not outsiders:
                return
            signers = sorted(
                ordered[: self.threshold - 1] + outsiders[:1], key=lambda a: int(a.address, 16)
            )
        before = self._state()
        with brownie.reverts():
            self.inbox.deliver(
                message.encode(), sign(self.inbox, message, signers), {"from": self.relayer}
            )
        assert self._state() == before
        assert not self.inbox.isConsumed(message.id)

    @precondition(lambda self: self.status)
    @rule(data=st.data())
    def replay_a_consumed_message(self, data):
        """C6: a consumed id never takes effect again."""
        message_id = data.draw(st.sampled_from(sorted(self.status)))
        message = self.messages[message_id]
        signers = sorted(self.members, key=lambda a: int(a.address, 16))[: self.threshold]
        before = self._state()
        tx = self.inbox.deliver(
            message.encode(), sign(self.inbox, message, signers), {"from": self.relayer}
        )
        assert "MessageAlreadyConsumed" in tx.events
        assert self._state() == before

    @rule(choice=st.sampled_from(SETS))
    def rotate_the_attester_set(self, choice):
        members, threshold = choice
        addresses = sorted((a.address for a in members), key=lambda a: int(a, 16))
        self.inbox.proposeAttesterSet(addresses, threshold, {"from": self.deployer})
        brownie.chain.sleep(GOVERNANCE_DELAY)
        self.inbox.applyAttesterSet({"from": self.relayer})
        self.members, self.threshold = list(members), threshold

    @rule()
    def toggle_the_recipient(self):
        self.failing = not self.failing
        self.app.setFailing(self.failing, {"from": self.relayer})

    @precondition(lambda self: STATUS_FAILED in self.status.values())
    @rule(data=st.data())
    def retry_a_failed_message(self, data):
        """L2: a failed message is retryable once the recipient recovers."""
        message_id = data.draw(
            st.sampled_from(sorted(i for i, s in self.status.items() if s == STATUS_FAILED))
        )
        if self.failing:
            before = self._state()
            with brownie.reverts():
                self.inbox.retry(self.messages[message_id].encode(), {"from": self.relayer})
            assert self._state() == before
            return
        self.inbox.retry(self.messages[message_id].encode(), {"from": self.relayer})
        self.status[message_id] = STATUS_DELIVERED
        self.effects += 1

    @invariant()
    def each_id_takes_effect_at_most_once(self):
        """C6: the recipient saw exactly the messages the model says took effect."""
        assert self.app.received() == self.effects

    @invariant()
    def every_status_is_the_modelled_one(self):
        for message_id, status in self.status.items():
            assert self.inbox.deliveryOf(message_id)[0] == status

    @invariant()
    def the_attester_set_is_the_modelled_one(self):
        expected = sorted((a.address for a in self.members), key=lambda a: int(a, 16))
        assert list(self.inbox.attesters()) == expected
        assert self.inbox.threshold() == self.threshold


@pytest.mark.parametrize("steps", [20])
def test_the_inbox_keeps_its_invariants_under_random_operations(
    wired_inbox, app, deployer, relayer, steps
):
    brownie.chain.snapshot()
    InboxMachine.inbox, InboxMachine.app = wired_inbox, app
    InboxMachine.deployer, InboxMachine.relayer = deployer, relayer
    run_state_machine_as_test(
        InboxMachine, settings=settings(max_examples=15, stateful_step_count=steps, deadline=None)
    )
