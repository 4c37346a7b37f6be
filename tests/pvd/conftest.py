"""Fixtures shared by pvd's own tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pvd.chain.anvil import AnvilNode, start_anvil, stop_anvil


@pytest.fixture
def node() -> Iterator[AnvilNode]:
    """A bare anvil process of its own (chain id 31337, nothing deployed), always stopped."""
    made = start_anvil("test-node", 31337)
    try:
        yield made
    finally:
        stop_anvil(made)
