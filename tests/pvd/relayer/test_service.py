"""pvd.relayer.service: the start-up refusal of a store whose checkpoints are ahead of
the chains (found by tests/integration/test_relay_bad_inputs.py: the refusal used to
happen inside the relay loop, after start-up logs, with a traceback)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pvd.errors import UserError
from pvd.relayer.config import Route
from pvd.relayer.service import refuse_checkpoints_ahead
from pvd.relayer.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "relay.sqlite") as opened:
        yield opened


def test_a_new_store_is_accepted_on_any_chain(store: Store) -> None:
    refuse_checkpoints_ahead(store, {"payment": 0, "business": 0})


def test_checkpoints_at_or_below_the_heads_are_accepted(store: Store) -> None:
    store.record_scan(Route.PAYMENT_TO_BUSINESS, [], 40, "0x" + "11" * 32)
    store.record_scan(Route.BUSINESS_TO_PAYMENT, [], 7, "0x" + "22" * 32)
    refuse_checkpoints_ahead(store, {"payment": 40, "business": 8})


def test_a_checkpoint_ahead_of_its_source_chain_head_is_refused_naming_the_fix(
    store: Store,
) -> None:
    store.record_scan(Route.BUSINESS_TO_PAYMENT, [], 30, "0x" + "22" * 32)
    before = store.checkpoint(Route.BUSINESS_TO_PAYMENT)
    with pytest.raises(UserError) as refused:
        refuse_checkpoints_ahead(store, {"payment": 100, "business": 12})
    message = str(refused.value)
    assert message.startswith("business chain: store ")
    assert "checkpoint 30 for business->payment, ahead of the chain head 12" in message
    assert "the chain was reset" in message and "new store path" in message
    assert "\n" not in message
    assert store.checkpoint(Route.BUSINESS_TO_PAYMENT) == before
