"""The status enums of the pvd contracts, as Python sees them (values are the Solidity
enum values; the contracts only ever append to them)."""

from __future__ import annotations

from enum import IntEnum


class HoldStatus(IntEnum):
    """IHoldableToken.HoldStatus."""

    NONE = 0
    HELD = 1
    EXECUTED = 2
    RELEASED = 3


class TradeStatus(IntEnum):
    """ITradeRegistry.Status."""

    NONE = 0
    PROPOSED = 1
    ACCEPTED = 2
    FUNDED = 3
    SHIPPED = 4
    DELIVERED = 5
    CANCELLED = 6
    EXPIRED = 7
    DISPUTED = 8


class DeliveryStatus(IntEnum):
    """Inbox.DeliveryStatus."""

    NONE = 0
    DELIVERED = 1
    FAILED = 2
    VOIDED = 3
