"""Seeded synthetic trade ticks in the native schema, for benchmarks and tests."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from ..events import ChannelType
from ..sources.writer import columns_table, concat_tables, safe_symbol, write_parquet

if TYPE_CHECKING:
    from ..sources.schema import NativeTable

START_NS = 1_700_000_000_000_000_000


def iter_synthetic_trades(
    n: int, seed: int = 42, block: int = 1_000_000, symbol: str = "BTC/USDT"
) -> Iterator[NativeTable]:
    """``n`` trades in tables of at most ``block`` rows: exponential gaps (mean 50 ms, quantised
    to 1 ms, so some share a timestamp), a random-walk price around 30,000, lognormal sizes."""
    rng = np.random.default_rng(seed)
    ts0, px0, done = START_NS, 30_000.0, 0
    while done < n:
        m = min(block, n - done)
        ts = ts0 + np.cumsum(np.floor(rng.exponential(50.0, m)).astype(np.int64) * 1_000_000)
        price = np.maximum(np.round(px0 + np.cumsum(rng.normal(0.0, 2.0, m)), 2), 1.0)
        cols = {
            "timestamp": ts,
            "price": price,
            "volume": np.round(rng.lognormal(-4.0, 1.0, m), 6),
            "side": np.where(rng.random(m) < 0.5, "buy", "sell"),
            "recv_timestamp": ts + 1_000_000,
            "symbol": np.full(m, symbol),
            "trade_id": np.arange(done + 1, done + m + 1, dtype=np.int64),
        }
        yield columns_table(cols, ChannelType.TICK)
        ts0, px0, done = int(ts[-1]), float(price[-1]), done + m


def synthetic_trades(n: int, seed: int = 42, symbol: str = "BTC/USDT") -> NativeTable:
    """All of :func:`iter_synthetic_trades` as one arrow table."""
    return concat_tables(iter_synthetic_trades(n, seed, symbol=symbol))


def write_synthetic_trades(
    path: str,
    n: int,
    seed: int = 42,
    row_group_size: int = 262_144,
    symbol: str = "BTC/USDT",
) -> str:
    """Write ``n`` synthetic trades to a Parquet file block by block (flat memory)."""
    tables = iter_synthetic_trades(n, seed, symbol=symbol)
    return write_parquet(path, tables, ChannelType.TICK, row_group_size)


def write_synthetic_days(
    root: str, days: int, per_day: int, seed: int = 42, symbol: str = "BTC/USDT"
) -> str:
    """``days`` UTC days of ``per_day`` synthetic trades each, in the partitioned native layout
    (``root/channel=tick/symbol=S/date=D/part-000000.parquet``) that ``convert`` writes."""
    day_ns = 86_400_000_000_000
    first = START_NS - START_NS % day_ns
    for d in range(days):
        table = synthetic_trades(per_day, seed + d, symbol)
        # shift the day's trades (their gaps average 50 ms) to start at its midnight + 1 s
        ts = table.column("timestamp").to_numpy()
        shift = first + d * day_ns + 1_000_000_000 - int(ts[0])
        cols = {
            name: table.column(name).to_numpy(zero_copy_only=False) for name in table.schema.names
        }
        cols["timestamp"] = ts + shift
        cols["recv_timestamp"] = cols["recv_timestamp"] + shift
        if int(cols["timestamp"][-1]) >= first + (d + 1) * day_ns:
            raise ValueError(f"{per_day} trades do not fit in one day")
        day = dt.datetime.fromtimestamp((first + d * day_ns) / 1e9, tz=dt.timezone.utc)
        folder = os.path.join(
            root, "channel=tick", f"symbol={safe_symbol(symbol)}", f"date={day:%Y-%m-%d}"
        )
        os.makedirs(folder, exist_ok=True)
        write_parquet(
            os.path.join(folder, "part-000000.parquet"),
            [columns_table(cols, ChannelType.TICK)],
            ChannelType.TICK,
        )
    return root
