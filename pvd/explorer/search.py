"""The explorer's search box: what a query names (a trade id or transaction hash, an
address, or nothing valid), decided by its shape alone. Both a trade id and a transaction
hash are 32 bytes; the server tries the trade first, then the transaction."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pvd.errors import UserError

_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


class BadSearch(UserError):
    """A search the explorer cannot read (answered with a 400 page)."""


@dataclass(frozen=True)
class Search:
    kind: Literal["hash", "address"]
    value: str  # lower-case 0x-hex


def parse_search(text: str) -> Search:
    """A trade id / tx hash (0x + 64 hex digits) or an address (0x + 40 hex digits)."""
    query = text.strip()
    if _HASH.match(query):
        return Search("hash", query.lower())
    if _ADDRESS.match(query):
        return Search("address", query.lower())
    shown = query if len(query) <= 80 else query[:77] + "..."
    raise BadSearch(
        f"{shown!r} is neither a trade id or transaction hash (0x and 64 hex digits) "
        "nor an address (0x and 40 hex digits)"
    )
