"""What every `brownie run` script of pvd shares: a UserError becomes one line on stderr
(`<script>: error: ...`) and exit code 2, never a traceback, as the `pvd` CLI does."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

from pvd.errors import UserError

EXIT_USER_ERROR = 2
T = TypeVar("T")


def run(script: str, step: Callable[[], T]) -> T:
    try:
        return step()
    except UserError as exc:
        print(f"{script}: error: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_USER_ERROR) from None
