"""Kept for compatibility: now :mod:`backtrader_channels.loopback.synthetic`."""

from ..loopback.synthetic import (
    START_NS,
    iter_synthetic_trades,
    synthetic_trades,
    write_synthetic_days,
    write_synthetic_trades,
)

__all__ = [
    "START_NS",
    "iter_synthetic_trades",
    "synthetic_trades",
    "write_synthetic_days",
    "write_synthetic_trades",
]
