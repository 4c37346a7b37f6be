"""pvd.relayer.log: fields on every line, text or JSON, and no way to log a key."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from pvd.relayer.config import EnvKey, Route
from pvd.relayer.keys import load_signer
from pvd.relayer.log import RelayLog, configure_logging, relay_logger
from tests.pvd.relayer.helpers import TEST_KEY_ATTESTER

MID = "0x" + "ab" * 32
TX = "0x" + "cd" * 32


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """The `pvd` loggers write here for the test; the handler is removed after."""
    out = io.StringIO()
    handler = configure_logging("debug", "text", out)
    yield out
    logging.getLogger("pvd").removeHandler(handler)


def test_a_text_line_carries_the_bound_and_per_call_fields(stream: io.StringIO) -> None:
    log = relay_logger("pvd.relayer.test", chain="business", route=Route.BUSINESS_TO_PAYMENT)
    log.bind(block=12, message_id=MID).info("submitted", extra={"tx_hash": TX, "nonce": 7})
    line = stream.getvalue().strip()
    assert " INFO pvd.relayer.test submitted " in line
    assert line.endswith(
        f"chain=business route=business->payment block=12 message_id={MID} tx_hash={TX} nonce=7"
    )


def test_a_json_line_is_one_object_with_the_fields(stream: io.StringIO) -> None:
    configure_logging("info", "json", stream)
    relay_logger("pvd.relayer.test", chain="payment").info(
        "confirmed %s", "now", extra={"block": 3, "tx_hash": bytes.fromhex("cd" * 32)}
    )
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1  # configuring twice replaced the handler, not doubled it
    entry = json.loads(lines[0])
    assert entry["level"] == "info"
    assert entry["logger"] == "pvd.relayer.test"
    assert entry["msg"] == "confirmed now"
    assert (entry["chain"], entry["block"], entry["tx_hash"]) == ("payment", 3, TX)


def test_a_json_line_keeps_the_traceback(stream: io.StringIO) -> None:
    configure_logging("info", "json", stream)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        relay_logger("pvd.relayer.test").exception("failed", extra={"reason": "rpc_timeout"})
    entry = json.loads(stream.getvalue())
    assert entry["reason"] == "rpc_timeout"
    assert "RuntimeError: boom" in entry["exc"]


def test_the_level_filters_lines(stream: io.StringIO) -> None:
    configure_logging("warning", "text", stream)
    log = relay_logger("pvd.relayer.test")
    log.info("quiet")
    log.warning("loud")
    assert "quiet" not in stream.getvalue()
    assert "loud" in stream.getvalue()


def test_bind_adds_fields_without_changing_the_parent() -> None:
    parent = relay_logger("pvd.relayer.test", chain="payment")
    child = parent.bind(block=1, chain="business")
    assert isinstance(child, RelayLog)
    assert parent.fields == {"chain": "payment"}
    assert child.fields == {"chain": "business", "block": 1}


@pytest.mark.parametrize("name", ["key", "private_key", "password", "secret", "signer"])
def test_a_field_outside_the_vocabulary_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="unknown log field"):
        relay_logger("pvd.relayer.test").bind(**{name: "x"})
    with pytest.raises(ValueError, match="unknown log field"):
        relay_logger("pvd.relayer.test").info("x", extra={name: "x"})


def test_an_object_cannot_be_a_field_value(stream: io.StringIO) -> None:
    signer = load_signer(EnvKey("K"), {"K": TEST_KEY_ATTESTER})
    with pytest.raises(TypeError, match="takes a plain value, got Signer"):
        relay_logger("pvd.relayer.test").info("loaded", extra={"address": signer})
    relay_logger("pvd.relayer.test").info("loaded", extra={"address": signer.address})
    assert signer.address in stream.getvalue()
    assert TEST_KEY_ATTESTER[2:] not in stream.getvalue()


def test_records_of_other_loggers_pass_through_unchanged(stream: io.StringIO) -> None:
    logging.getLogger("pvd.other").info("plain %d", 5)
    assert stream.getvalue().rstrip().endswith("INFO pvd.other plain 5")
