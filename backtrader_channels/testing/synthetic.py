"""Seeded synthetic trade ticks in the native schema, for benchmarks and tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ..events import ChannelType
from ..sources.writer import columns_table, concat_tables, write_parquet

START_NS = 1_700_000_000_000_000_000


def iter_synthetic_trades(
    n: int, seed: int = 42, block: int = 1_000_000, symbol: str = "BTC/USDT"
) -> Iterator[Any]:
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


def synthetic_trades(n: int, seed: int = 42, symbol: str = "BTC/USDT") -> Any:
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
