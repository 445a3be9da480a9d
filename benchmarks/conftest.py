"""Benchmark fixtures: seeded synthetic ticks in native Parquet, cached per session."""

from __future__ import annotations

import os

import pytest

from backtrader_channels.sources.synthetic import write_synthetic_trades

N_TICKS = int(os.environ.get("BTCH_BENCH_TICKS", "1000000"))
N_STOCK = int(os.environ.get("BTCH_BENCH_STOCK_TICKS", "100000"))


@pytest.fixture(scope="session")
def ticks_path(tmp_path_factory) -> str:
    """1,000,000 synthetic trades (``BTCH_BENCH_TICKS`` to change) as native Parquet."""
    path = tmp_path_factory.mktemp("bench") / "ticks.parquet"
    return write_synthetic_trades(str(path), N_TICKS, seed=7)
