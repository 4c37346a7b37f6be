"""Structured logging for the relayer: stdlib `logging` with a fixed set of fields.

Owns the field vocabulary (chain, route, block, message id, message kind, trade id, tx
hash, ...), the adapter
that carries fields through the relayer's code, and the two output formats (text
`key=value` and one JSON object per line). Fields live under one LogRecord attribute
(`pvd_fields`), so they never collide with LogRecord's own attributes.

Key material is never logged, by construction: only the names in FIELDS are accepted
(nothing called key, secret or password exists), and only plain values (str, int,
float, bytes, None) are, so an object cannot smuggle a key in through its str(). Signer
(pvd.relayer.keys) shows only its address anyway.

    log = relay_logger("pvd.relayer.source", chain="business", route=route)
    log.bind(block=n, message_id=mid).info("seen")
    log.info("submitted", extra={"tx_hash": h, "nonce": 7})
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

FIELDS = (
    "attester",
    "chain",
    "route",
    "block",
    "block_hash",
    "message_id",
    "kind",
    "trade_id",
    "tx_hash",
    "nonce",
    "attempts",
    "status",
    "reason",
    "address",
    "count",
    "delay",
)
ATTRIBUTE = "pvd_fields"
_PLAIN = (str, int, float, bytes, type(None))


def _check(fields: Mapping[str, object]) -> dict[str, object]:
    for name, value in fields.items():
        if name not in FIELDS:
            raise ValueError(f"unknown log field {name!r}; the fields are {', '.join(FIELDS)}")
        if not isinstance(value, _PLAIN):
            raise TypeError(f"log field {name} takes a plain value, got {type(value).__name__}")
    return dict(fields)


def _render(value: object) -> object:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value


class RelayLog(logging.LoggerAdapter[logging.Logger]):
    """A logger that adds its bound fields (and a call's extra=) to every record."""

    def __init__(self, logger: logging.Logger, fields: Mapping[str, object] | None = None) -> None:
        super().__init__(logger, _check(fields or {}))

    @property
    def fields(self) -> dict[str, object]:
        return dict(self.extra or {})

    def bind(self, **fields: object) -> RelayLog:
        """A logger with more fields (later values win)."""
        return RelayLog(self.logger, {**self.fields, **_check(fields)})

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        _check(kwargs.get("extra") or {})  # refused at any level, not only when enabled
        super().log(level, msg, *args, **kwargs)

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        merged = {**self.fields, **_check(kwargs.pop("extra", None) or {})}
        kwargs["extra"] = {ATTRIBUTE: {k: _render(v) for k, v in merged.items()}}
        return msg, kwargs


def relay_logger(name: str, **fields: object) -> RelayLog:
    """The adapter for a `pvd.relayer.*` module, with fields bound from the start."""
    return RelayLog(logging.getLogger(name), fields)


def fields_of(record: logging.LogRecord) -> dict[str, object]:
    """The pvd fields a record carries (empty for records from other loggers)."""
    value = getattr(record, ATTRIBUTE, None)
    return dict(value) if isinstance(value, dict) else {}


class TextFormatter(logging.Formatter):
    """`time level logger message key=value ...` on one line."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        pairs = " ".join(f"{k}={v}" for k, v in fields_of(record).items())
        if not pairs:
            return line
        head, sep, tail = line.partition("\n")  # keep a traceback below the fields
        return f"{head} {pairs}{sep}{tail}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, the fields, exc if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **fields_of(record),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(
    level: str = "info", fmt: str = "text", stream: TextIO | None = None
) -> logging.Handler:
    """Send the `pvd` loggers to `stream` (stderr) in the given format; returns the
    handler (remove it from logging.getLogger("pvd") to undo). Replaces a handler a
    previous call installed, so calling it twice does not double every line."""
    handler = logging.StreamHandler(sys.stderr if stream is None else stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.set_name("pvd-relay")
    root = logging.getLogger("pvd")
    for old in [h for h in root.handlers if h.get_name() == "pvd-relay"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.propagate = False  # this handler prints pvd's lines; the root logger must not again
    root.setLevel(level.upper())
    return handler
