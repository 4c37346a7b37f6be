"""The decoded event record every index reader shares (no web3: a trace or a page that
only reads the index does not load it; pvd.index.events decodes logs into it)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ChainEvent:
    """One pvd event on one chain, decoded."""

    chain: str
    block: int
    log_index: int
    tx_hash: str
    block_hash: str
    contract: str  # manifest name: YuanToken, Outbox, Inbox, PvdSettlement, TradeRegistry...
    name: str  # the event's name
    args: Mapping[str, Any]
    trade_id: str | None = None
    hold_id: str | None = None
    message_id: str | None = None

    def args_json(self) -> str:
        return json.dumps(dict(self.args), sort_keys=True, separators=(",", ":"))
