"""Seeded synthetic trade ticks in the native schema, for benchmarks and tests."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..events import ChannelType
from .schema import schema_for


def synthetic_trades(
    n: int, seed: int = 42, start_ns: int = 1_700_000_000_000_000_000, symbol: str = "BTC/USDT"
) -> pa.Table:
    """``n`` trades: exponential gaps (mean 50 ms, quantised to 1 ms, so some share a
    timestamp), a random-walk price around 30,000 and lognormal sizes."""
    rng = np.random.default_rng(seed)
    gaps = np.floor(rng.exponential(50.0, n)).astype(np.int64) * 1_000_000
    ts = start_ns + np.cumsum(gaps)
    price = np.round(30_000.0 + np.cumsum(rng.normal(0.0, 2.0, n)), 2)
    price = np.maximum(price, 1.0)
    volume = np.round(rng.lognormal(-4.0, 1.0, n), 6)
    side = np.where(rng.random(n) < 0.5, "buy", "sell")
    schema = schema_for(ChannelType.TICK)
    cols = {
        "timestamp": ts,
        "price": price,
        "volume": volume,
        "side": side,
        "recv_timestamp": ts + 1_000_000,
        "symbol": np.full(n, symbol),
        "trade_id": np.arange(1, n + 1, dtype=np.int64),
    }
    return pa.table({f.name: pa.array(cols[f.name], f.type) for f in schema}, schema=schema)


def write_synthetic_trades(path: str, n: int, seed: int = 42, row_group_size: int = 262_144) -> str:
    """Write :func:`synthetic_trades` to a Parquet file; return the path."""
    pq.write_table(synthetic_trades(n, seed), path, row_group_size=row_group_size)
    return path
