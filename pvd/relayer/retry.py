"""The bounded retry policy for recoverable failures.

Owns when a message that failed for a passing reason is tried again, and when it is
given up (dead, off-chain only). After the n-th failed attempt (n = 1, 2, ...):

- if n >= max_attempts, the message is dead: no more automatic retries;
- otherwise the next attempt waits a delay drawn uniformly from [0, ceiling(n)) where
  ceiling(n) = min(max_delay, base_delay * 2 ** (n - 1)) ("full jitter": attesters
  that fail together do not retry together).

So a policy allows max_attempts attempts in all and max_attempts - 1 delays. The random
source is injected (anything with `random() -> float` in [0, 1), e.g. random.Random(seed)),
so the exact sequence is reproducible in tests. Model: Hermes' worker retry_strategy.rs,
plus the jitter Hermes leaves out.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from pvd.relayer.config import RetryConfig

_MAX_EXPONENT = 1000  # 2.0 ** 1000 is finite; every realistic cap is reached long before


class RandomSource(Protocol):
    """A source of uniform floats in [0, 1): random.Random satisfies it."""

    def random(self) -> float: ...


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with a cap and full jitter; dead after max_attempts."""

    base_delay: float = 1.0
    max_delay: float = 300.0
    max_attempts: int = 10

    def __post_init__(self) -> None:
        if not 0 < self.base_delay <= self.max_delay:
            raise ValueError("need 0 < base_delay <= max_delay")
        if self.max_attempts < 1:
            raise ValueError("need max_attempts >= 1")

    @classmethod
    def from_config(cls, config: RetryConfig) -> RetryPolicy:
        return cls(config.base_delay, config.max_delay, config.max_attempts)

    def ceiling(self, attempts: int) -> float:
        """The largest delay after `attempts` failed attempts (before jitter)."""
        if attempts < 1:
            raise ValueError("attempts counts failed attempts: it starts at 1")
        exponent = min(attempts - 1, _MAX_EXPONENT)
        return min(self.max_delay, self.base_delay * 2.0**exponent)

    def gives_up(self, attempts: int) -> bool:
        """True once `attempts` failed attempts exhaust the policy (the message is dead)."""
        return attempts >= self.max_attempts

    def next_delay(self, attempts: int, rng: RandomSource) -> float | None:
        """Seconds to wait after `attempts` failed attempts, or None: give up (dead)."""
        if self.gives_up(attempts):
            return None
        return rng.random() * self.ceiling(attempts)

    def delays(self, rng: RandomSource) -> Iterator[float]:
        """Every delay the policy allows, in order: max_attempts - 1 of them."""
        for attempts in range(1, self.max_attempts):
            yield rng.random() * self.ceiling(attempts)


@dataclass
class Backoff:
    """A policy bound to its random source: what the store asks after each failure."""

    policy: RetryPolicy
    rng: RandomSource = field(default_factory=random.Random)

    def next_delay(self, attempts: int) -> float | None:
        return self.policy.next_delay(attempts, self.rng)
