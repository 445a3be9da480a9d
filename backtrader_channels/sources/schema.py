"""The package's native schema for trades, quotes and book updates (CSV and Parquet).

Timestamps are integer nanoseconds since the Unix epoch (UTC). ``recv_timestamp`` defaults to
``timestamp`` and ``symbol`` to the symbol given to ``add_channel`` (rows of other symbols are
skipped when a file holds several). See ``docs/data.md``.
"""

from __future__ import annotations

from typing import Literal, get_args

import pyarrow as pa

from ..events import ChannelType

#: a reader, by name (``add_channel(format=...)``, ``--format``); None detects it from the file
Format = Literal["native", "tardis", "binance", "binance_ws", "bybit"]
FORMATS: tuple[Format, ...] = get_args(Format)
#: what a bad row does: stop the run with its location, or be dropped and counted
OnError = Literal["raise", "skip"]
ON_ERROR: tuple[OnError, ...] = get_args(OnError)

#: column -> arrow type, per channel type; required columns first, then optional ones
COLUMNS: dict[str, dict[str, pa.DataType]] = {
    ChannelType.TICK: {
        "timestamp": pa.int64(),
        "price": pa.float64(),
        "volume": pa.float64(),
        "side": pa.string(),
        "recv_timestamp": pa.int64(),
        "symbol": pa.string(),
        "trade_id": pa.int64(),
    },
    ChannelType.QUOTE: {
        "timestamp": pa.int64(),
        "bid_price": pa.float64(),
        "bid_size": pa.float64(),
        "ask_price": pa.float64(),
        "ask_size": pa.float64(),
        "recv_timestamp": pa.int64(),
        "symbol": pa.string(),
        "update_id": pa.int64(),
    },
    ChannelType.ORDERBOOK: {
        "timestamp": pa.int64(),
        "side": pa.string(),
        "price": pa.float64(),
        "size": pa.float64(),
        "is_snapshot": pa.bool_(),
        "recv_timestamp": pa.int64(),
        "symbol": pa.string(),
        "update_id": pa.int64(),
        "first_update_id": pa.int64(),
    },
}

#: optional columns of every channel type: where the rows come from (``sources.venues``); the
#: partitioned layout writes them on every row, readers select rows by them when asked
TAGS: dict[str, pa.DataType] = {"venue": pa.string(), "market": pa.string()}

REQUIRED: dict[str, tuple[str, ...]] = {
    ChannelType.TICK: ("timestamp", "price", "volume", "side"),
    ChannelType.QUOTE: ("timestamp", "bid_price", "bid_size", "ask_price", "ask_size"),
    ChannelType.ORDERBOOK: ("timestamp", "side", "price", "size"),
}

#: (column, rule) checks applied to every row: "positive" (> 0) or "nonneg" (>= 0)
VALUE_RULES: dict[str, tuple[tuple[str, str], ...]] = {
    ChannelType.TICK: (("price", "positive"), ("volume", "nonneg")),
    ChannelType.QUOTE: (
        ("bid_price", "positive"),
        ("ask_price", "positive"),
        ("bid_size", "nonneg"),
        ("ask_size", "nonneg"),
    ),
    ChannelType.ORDERBOOK: (("price", "positive"), ("size", "nonneg")),
}

#: allowed values of the ``side`` column
SIDES: dict[str, tuple[str, ...]] = {
    ChannelType.TICK: ("buy", "sell", "unknown"),
    ChannelType.ORDERBOOK: ("bid", "ask"),
}


def schema_for(channel_type: str) -> pa.Schema:
    """The full arrow schema written for ``channel_type``."""
    return pa.schema(list(COLUMNS[channel_type].items()))
