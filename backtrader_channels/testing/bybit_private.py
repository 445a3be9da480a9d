"""Kept for compatibility: now :mod:`backtrader_channels.loopback.bybit.private`."""

from ..loopback.bybit.private import (
    SPOT_RULES,
    BybitError,
    BybitPrivate,
    bybit_error,
    bybit_execution,
    bybit_order,
)

__all__ = [
    "SPOT_RULES",
    "BybitError",
    "BybitPrivate",
    "bybit_error",
    "bybit_execution",
    "bybit_order",
]
