"""What a refused delivery means to the relayer: its revert decoded by name
(pvd.deploy.reverts, from the ABIs of the contracts the relayer talks to) and sorted
into one of two classes.

- waiting: the destination is paused or an account is frozen. Someone else ends it
  (the inbox's admin unpauses deliveries, the token's pauser unpauses the token, the
  compliance officer unfreezes the account), and nothing the relayer does can: it is
  not a failed attempt and must never use up the retry budget. The message is looked
  at again after a short wait, for as long as it lasts.

      InboxPaused(messageId)      the destination inbox's guardian paused deliveries
      EnforcedPause()             the token is paused (OpenZeppelin Pausable)
      AccountIsFrozen(account)    the payer or the payee is frozen

  The reason is found wherever the inbox reports it: the revert of a pre-flight
  `deliver` or `retry`, `InboxRetryFailed(messageId, reason)` wrapping the recipient's
  revert, the `reason` of a mined `MessageFailed` (the recipient reverted: the inbox
  holds the message as Failed) or of a batch's `MessageRejected`.
- failed attempt: every other revert (and every other passing fault): counted, retried
  with backoff (pvd.relayer.retry).

Refusals for good (the source state contradicts the message) are decided before any
delivery, by the attest step (pvd.relayer.checks).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pvd.deploy.reverts import DecodedError, RevertDecoder

#: The errors that mean "waiting", by name, with their short reason codes (metrics).
WAITING_ERRORS: Mapping[str, str] = {
    "InboxPaused": "inbox_paused",
    "EnforcedPause": "token_paused",
    "AccountIsFrozen": "account_frozen",
}
#: Errors that carry another error's data as their `reason` argument.
WRAPPERS = ("InboxRetryFailed",)
_CODE = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class RevertVerdict:
    """A decoded revert: the error (as decoded, outer wrapper included), the innermost
    error that says why, and whether the message is waiting (not a failed attempt)."""

    error: DecodedError
    cause: DecodedError
    waiting: bool

    @property
    def code(self) -> str:
        """A short reason code for the metrics: the waiting class's code, else
        `reverted_<error name>` (snake case, cut to the label's 40 characters)."""
        if self.waiting:
            return WAITING_ERRORS[self.cause.name]
        name = _CODE.sub("_", _snake(self.cause.name) if self.cause.known else "unknown")
        return ("reverted_" + name.strip("_"))[:40].rstrip("_")

    def __str__(self) -> str:
        return str(self.error)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class RevertJudge:
    """Decodes revert data with the errors of a set of ABIs and sorts it."""

    def __init__(self, decoder: RevertDecoder) -> None:
        self.decoder = decoder

    @classmethod
    def for_abis(cls, abis: Iterable[Iterable[Mapping[str, Any]]]) -> RevertJudge:
        return cls(RevertDecoder.from_abis(abis))

    def judge(self, data: bytes) -> RevertVerdict:
        error = self.decoder.decode(data)
        cause = error
        while cause.name in WRAPPERS and cause.known and not cause.truncated:
            inner = dict(cause.args).get("reason")
            if isinstance(inner, DecodedError):
                cause = inner
            elif isinstance(inner, bytes):
                cause = self.decoder.decode(inner)
            else:
                break
        return RevertVerdict(error, cause, cause.known and cause.name in WAITING_ERRORS)
