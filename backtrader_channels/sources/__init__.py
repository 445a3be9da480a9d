"""Readers and writers of recorded market data."""

from .binance_capture import read_binance_capture
from .native import DEFAULT_CHUNK_ROWS, expand_paths, read_native
from .schema import schema_for

__all__ = [
    "read_native",
    "read_binance_capture",
    "expand_paths",
    "schema_for",
    "DEFAULT_CHUNK_ROWS",
]
