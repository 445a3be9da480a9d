"""Benchmark fixtures: seeded synthetic ticks in native Parquet, cached per session."""

from __future__ import annotations

import os

import pyarrow.parquet as pq
import pytest

from backtrader_channels.events import ns_to_num
from backtrader_channels.loopback.synthetic import write_synthetic_trades

N_TICKS = int(os.environ.get("BTCH_BENCH_TICKS", "1000000"))
N_STOCK = int(os.environ.get("BTCH_BENCH_STOCK_TICKS", "100000"))


@pytest.fixture(scope="session")
def ticks_path(tmp_path_factory) -> str:
    """1,000,000 synthetic trades (``BTCH_BENCH_TICKS`` to change) as native Parquet."""
    path = tmp_path_factory.mktemp("bench") / "ticks.parquet"
    return write_synthetic_trades(str(path), N_TICKS, seed=7)


@pytest.fixture(scope="session")
def stock_ticks(ticks_path):
    """The first N_STOCK ticks as (bt datetime, price, volume) rows for stock backtrader."""
    t = pq.read_table(ticks_path, columns=["timestamp", "price", "volume"]).slice(0, N_STOCK)
    ts = t.column("timestamp").to_pylist()
    return list(
        zip(map(ns_to_num, ts), t.column("price").to_pylist(), t.column("volume").to_pylist())
    )
