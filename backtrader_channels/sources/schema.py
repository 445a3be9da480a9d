"""The package's native schema for trades, quotes, book updates and derivative tickers (CSV and
Parquet).

Timestamps are integer nanoseconds since the Unix epoch (UTC). ``recv_timestamp`` defaults to
``timestamp`` and ``symbol`` to the symbol given to ``add_channel`` (rows of other symbols are
skipped when a file holds several). See ``docs/data.md``.

Derivative rows (mark price, index price, funding: ``events.DerivativeEvent``) may leave any value
out (an empty cell, null or NaN: not given by the source); ``funding_ts`` set makes the row a
funding settlement at that time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, get_args

import pyarrow as pa

from ..events import ChannelType

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

#: a reader, by name (``add_channel(format=...)``, ``--format``); None detects it from the file.
#: ``native`` and ``tardis`` are the readers' own; the rest are venues' formats, each registered
#: by its venue (``registry.format_names()`` lists what is read; these are the bundled ones)
Format = Literal["native", "tardis", "binance", "binance_futures", "binance_ws", "bybit"]
FORMATS: tuple[Format, ...] = get_args(Format)
#: what a bad row does: stop the run with its location, or be dropped and counted
OnError = Literal["raise", "skip"]
ON_ERROR: tuple[OnError, ...] = get_args(OnError)

#: files to read: a path (a file, a directory, a glob or a URI), or a list or tuple of paths
Paths: TypeAlias = (
    "str | os.PathLike[str] | list[str | os.PathLike[str]] | tuple[str | os.PathLike[str], ...]"
)
#: what a reader reads (``dataname``): :data:`Paths`, or data in memory: a pandas DataFrame
#: or an arrow Table of native columns
DataName: TypeAlias = "Paths | pd.DataFrame | pa.Table"
#: an event of the channel type a reader reads or a writer writes: a TickEvent, QuoteEvent or
#: OrderBookEvent, as that channel type says. Untyped: the caller knows which from the type it
#: asked for, and a union of the three would make every caller narrow what it already knows
ChannelEvent: TypeAlias = Any
#: an arrow table of one channel type's rows in the native schema (:func:`schema_for`)
NativeTable: TypeAlias = pa.Table
#: where a batch's rows are in their file: the first row's number, or each row's number (a
#: reader that reshaped rows, as a wide book snapshot becomes one row per level)
RowBase: TypeAlias = "int | np.ndarray"
#: a reader's native-schema record batches, each with where its rows are (:data:`RowBase`)
Batches: TypeAlias = Iterator[tuple[pa.RecordBatch, RowBase]]

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
    ChannelType.DERIVATIVE: {
        "timestamp": pa.int64(),
        "mark_price": pa.float64(),
        "index_price": pa.float64(),
        "funding_rate": pa.float64(),
        "next_funding_ts": pa.int64(),
        "recv_timestamp": pa.int64(),
        "symbol": pa.string(),
        "funding_ts": pa.int64(),
    },
}

#: optional columns of every channel type: where the rows come from (``sources.venues``); the
#: partitioned layout writes them on every row, readers select rows by them when asked
TAGS: dict[str, pa.DataType] = {"venue": pa.string(), "market": pa.string()}

REQUIRED: dict[str, tuple[str, ...]] = {
    ChannelType.TICK: ("timestamp", "price", "volume", "side"),
    ChannelType.QUOTE: ("timestamp", "bid_price", "bid_size", "ask_price", "ask_size"),
    ChannelType.ORDERBOOK: ("timestamp", "side", "price", "size"),
    # mark_price is required as a column (it tells the type), not as a value: see NULLABLE
    ChannelType.DERIVATIVE: ("timestamp", "mark_price"),
}

#: columns whose missing values (null or NaN) mean "not given", per channel type; every
#: other column of REQUIRED must have a value on every row
NULLABLE: dict[str, tuple[str, ...]] = {
    ChannelType.DERIVATIVE: (
        "mark_price",
        "index_price",
        "funding_rate",
        "next_funding_ts",
        "funding_ts",
    ),
}

#: (column, rule) checks applied to every row: "positive" (> 0), "nonneg" (>= 0) or "positive
#: if given" (> 0 or missing)
VALUE_RULES: dict[str, tuple[tuple[str, str], ...]] = {
    ChannelType.TICK: (("price", "positive"), ("volume", "nonneg")),
    ChannelType.QUOTE: (
        ("bid_price", "positive"),
        ("ask_price", "positive"),
        ("bid_size", "nonneg"),
        ("ask_size", "nonneg"),
    ),
    ChannelType.ORDERBOOK: (("price", "positive"), ("size", "nonneg")),
    ChannelType.DERIVATIVE: (("mark_price", "positive_nan"), ("index_price", "positive_nan")),
}

#: allowed values of the ``side`` column
SIDES: dict[str, tuple[str, ...]] = {
    ChannelType.TICK: ("buy", "sell", "unknown"),
    ChannelType.ORDERBOOK: ("bid", "ask"),
}


def schema_for(channel_type: str) -> pa.Schema:
    """The full arrow schema written for ``channel_type``."""
    return pa.schema(list(COLUMNS[channel_type].items()))
