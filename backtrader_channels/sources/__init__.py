"""Readers and writers of recorded market data."""

from .batches import SkipReport, expand_paths
from .binance_capture import read_binance_capture
from .native import DEFAULT_CHUNK_ROWS, read_native
from .schema import schema_for

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "SkipReport",
    "expand_paths",
    "read_binance_capture",
    "read_native",
    "schema_for",
]
