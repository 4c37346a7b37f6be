"""pvd.relayer.retry: the exact backoff sequence, the cap, the jitter and giving up."""

from __future__ import annotations

import random

import pytest

from pvd.relayer.config import RetryConfig
from pvd.relayer.retry import Backoff, RetryPolicy


class Fixed:
    """A 'random' source that returns the given draws in order."""

    def __init__(self, *draws: float) -> None:
        self.draws = list(draws)

    def random(self) -> float:
        return self.draws.pop(0)


POLICY = RetryPolicy(base_delay=1.0, max_delay=10.0, max_attempts=7)


def test_the_seeded_sequence_is_exactly_this() -> None:
    # random.Random(2024) draws 0.4700907, 0.7282643, 0.3037514, 0.8872983, 0.4100886,
    # 0.7166144; times the ceilings 1, 2, 4, 8, 10, 10 seconds:
    expected = [
        0.470090718431,
        1.456528582846,
        1.215005433565,
        7.098386152000,
        4.100885894687,
        7.166143935816,
    ]
    assert list(POLICY.delays(random.Random(2024))) == pytest.approx(expected, abs=1e-9)


def test_backoff_gives_the_same_sequence_then_gives_up() -> None:
    backoff = Backoff(POLICY, random.Random(2024))
    delays = [backoff.next_delay(attempts) for attempts in range(1, 8)]
    assert delays[:6] == pytest.approx(list(POLICY.delays(random.Random(2024))), abs=1e-12)
    assert delays[6] is None


def test_the_ceiling_doubles_from_the_base_up_to_the_cap() -> None:
    assert [POLICY.ceiling(n) for n in range(1, 8)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]


def test_a_draw_near_one_gives_the_ceiling_and_zero_gives_no_wait() -> None:
    top = 1.0 - 2**-53
    assert POLICY.next_delay(4, Fixed(top)) == pytest.approx(8.0)
    assert POLICY.next_delay(4, Fixed(0.0)) == 0.0
    assert POLICY.next_delay(20, Fixed(top)) is None


def test_the_policy_gives_up_at_max_attempts_without_drawing() -> None:
    source = Fixed(0.5)
    assert POLICY.next_delay(7, source) is None
    assert POLICY.next_delay(8, source) is None
    assert source.draws == [0.5]
    assert POLICY.gives_up(7) and not POLICY.gives_up(6)


def test_a_policy_of_one_attempt_never_retries() -> None:
    single = RetryPolicy(1.0, 1.0, 1)
    assert list(single.delays(Fixed())) == []
    assert single.next_delay(1, Fixed(0.5)) is None


def test_a_huge_attempt_count_stays_at_the_cap() -> None:
    wide = RetryPolicy(base_delay=1.0, max_delay=60.0, max_attempts=100_000)
    assert wide.ceiling(50_000) == 60.0
    assert wide.next_delay(50_000, Fixed(0.5)) == 30.0


def test_two_sources_with_one_seed_agree_and_two_seeds_differ() -> None:
    assert list(POLICY.delays(random.Random(1))) == list(POLICY.delays(random.Random(1)))
    assert list(POLICY.delays(random.Random(1))) != list(POLICY.delays(random.Random(2)))


@pytest.mark.parametrize(
    ("base", "cap", "attempts"), [(0.0, 1.0, 3), (2.0, 1.0, 3), (1.0, 2.0, 0), (-1.0, 2.0, 3)]
)
def test_an_impossible_policy_is_refused(base: float, cap: float, attempts: int) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(base, cap, attempts)


def test_attempts_start_at_one() -> None:
    with pytest.raises(ValueError, match="starts at 1"):
        POLICY.ceiling(0)


def test_a_policy_is_built_from_the_config() -> None:
    policy = RetryPolicy.from_config(RetryConfig(base_delay=0.5, max_delay=4.0, max_attempts=3))
    assert policy == RetryPolicy(0.5, 4.0, 3)
