"""Readers and writers of recorded market data."""

from __future__ import annotations

import os

from .batches import SkipReport, expand_paths
from .formats import read_tables
from .native import DEFAULT_CHUNK_ROWS, read_native
from .schema import NativeTable, schema_for

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "SkipReport",
    "expand_paths",
    "read_binance_capture",
    "read_native",
    "read_tables",
    "schema_for",
]


def read_binance_capture(
    path: str | os.PathLike[str], symbol: str = "BTC/USDT"
) -> dict[str, NativeTable]:
    """A raw Binance WebSocket capture, whole, as native-schema arrow tables keyed by channel
    type (tick, quote, orderbook): :func:`.formats.read_tables` of its ``binance_ws`` format."""
    return read_tables(os.fspath(path), symbol, "binance_ws")
