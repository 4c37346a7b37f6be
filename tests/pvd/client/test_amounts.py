"""Yuan amounts parsed exactly: digits with at most 2 decimals, nothing else."""

from __future__ import annotations

import pytest

from pvd.client.amounts import format_yuan, parse_yuan
from pvd.errors import UserError


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("1500", 150_000),
        ("1500.25", 150_025),
        ("1500.2", 150_020),
        ("0.01", 1),
        (" 7 ", 700),
        ("12345678901234567890123456789.99", 1234567890123456789012345678999),
    ],
)
def test_yuan_are_parsed_exactly(text: str, fen: int) -> None:
    assert parse_yuan(text) == fen


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1500.251", "more than 2 decimals"),
        ("1500.250", "more than 2 decimals"),
        ("1e3", "not a number of yuan"),
        ("-5", "not a number of yuan"),
        ("1,000", "not a number of yuan"),
        (".5", "not a number of yuan"),
        ("5.", "not a number of yuan"),
        ("", "not a number of yuan"),
        ("NaN", "not a number of yuan"),
        ("١٢", "not a number of yuan"),
        ("0", "is zero"),
        ("0.00", "is zero"),
        ("9" * 80, "too large"),
    ],
)
def test_bad_amounts_are_one_line_user_errors(text: str, message: str) -> None:
    with pytest.raises(UserError, match=message) as raised:
        parse_yuan(text)
    assert "\n" not in str(raised.value)


def test_zero_allowed_where_asked() -> None:
    assert parse_yuan("0", allow_zero=True) == 0


@pytest.mark.parametrize(
    ("fen", "text"), [(150_025, "1500.25"), (150_000, "1500.00"), (1, "0.01"), (-5, "-0.05")]
)
def test_format_yuan(fen: int, text: str) -> None:
    assert format_yuan(fen) == text
