"""Amounts of yuan as people write them (`1500`, `1500.25`) and as the token keeps them
(fen, 2 decimals): parsed exactly, in integers, never through a float."""

from __future__ import annotations

import re

from pvd.errors import UserError

FEN_PER_YUAN = 100
MAX_FEN = 2**256 - 1
_YUAN = re.compile(r"[0-9]+(\.[0-9]{1,2})?")
_TOO_PRECISE = re.compile(r"[0-9]*\.[0-9]{3,}")


def parse_yuan(text: str, *, allow_zero: bool = False) -> int:
    """`"1500.25"` -> 150025 fen. UserError for anything that is not plain ASCII digits
    with at most 2 decimals (no sign, exponent, thousands separator or third decimal)."""
    cleaned = text.strip()
    fix = "write yuan as digits with at most 2 decimals, e.g. 1500 or 1500.25"
    if _TOO_PRECISE.fullmatch(cleaned):
        raise UserError(f"amount {text!r} has more than 2 decimals (1 fen = 0.01 yuan): {fix}")
    if not _YUAN.fullmatch(cleaned):
        raise UserError(f"amount {text!r} is not a number of yuan: {fix}")
    whole, _, cents = cleaned.partition(".")
    fen = int(whole) * FEN_PER_YUAN + int(cents.ljust(2, "0"))  # exact: integers only
    if fen == 0 and not allow_zero:
        raise UserError(f"amount {text!r} is zero: give a positive amount of yuan")
    if fen > MAX_FEN:
        raise UserError(f"amount {text!r} is too large for the token: {fix}")
    return fen


def format_yuan(fen: int) -> str:
    """150025 fen -> `"1500.25"`; whole yuan keep 2 decimals (`"1500.00"`)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), FEN_PER_YUAN)
    return f"{sign}{whole}.{cents:02d}"
