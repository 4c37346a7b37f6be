"""The one exception hierarchy of pvd.

- UserError: bad input or set-up (config, key, deployment file, RPC address). The CLI
  prints its message as one line and exits non-zero; the message names the fix.
- RecoverableError: a passing fault (timeout, RPC 5xx, nonce race). Retried with backoff.
- UnrecoverableError: the route cannot go on safely (wrong chain, contract state that
  contradicts an event). Stops that route loudly.
"""

from typing import ClassVar


class PvdError(Exception):
    """Base of every error pvd raises on purpose."""


class UserError(PvdError):
    """Bad input or set-up; the message names the problem and the fix."""


class RecoverableError(PvdError):
    """A passing fault: retry later."""


class UnrecoverableError(PvdError):
    """Going on would be unsafe or pointless: stop the route and tell the operator."""


class ContractError(UnrecoverableError, ValueError):
    """The Python twin of a Solidity custom error: `name` and `values` equal the error's
    name and arguments, so tests and logs can compare the two sides."""

    name: ClassVar[str] = "ContractError"

    def __init__(self, *args: int | str | bytes) -> None:
        super().__init__(*args)
        self.values: tuple[int | str | bytes, ...] = args

    def __str__(self) -> str:
        shown = ", ".join("0x" + v.hex() if isinstance(v, bytes) else str(v) for v in self.values)
        return f"{self.name}({shown})"
