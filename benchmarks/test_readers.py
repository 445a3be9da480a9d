"""Reading each format into the queue and into event objects, next to pandas.read_csv and
pyarrow.csv on the same file.

Rows per second for 1,000,000 trades (``BTCH_BENCH_READ_ROWS``); every figure of one format is
measured in the same run on the same file. Run:
``python -m pytest benchmarks/test_readers.py --benchmark-only``.
"""

from __future__ import annotations

import os

import pandas as pd
import pyarrow.csv as pacsv
import pytest

from backtrader_channels.dispatch.queue import BacktestEventQueue
from backtrader_channels.events import EventPriority
from backtrader_channels.gctune import streaming_gc
from backtrader_channels.loopback.synthetic import write_synthetic_trades
from backtrader_channels.sources.formats import open_source

from . import vendor_files

N = int(os.environ.get("BTCH_BENCH_READ_ROWS", "1000000"))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("readers")
    return {
        "native_parquet": write_synthetic_trades(str(d / "t.parquet"), N, seed=5),
        "native_csv": vendor_files.native_csv(str(d / "t.csv"), N),
        "tardis_csv": vendor_files.tardis_trades_csv(str(d / "binance_trades.csv"), N),
        "binance_csv": vendor_files.binance_trades_csv(str(d / "BTCUSDT-trades-2024.csv"), N),
    }


def to_queue(path):
    """Rows into the BacktestEventQueue: read, checked, chunked and loaded by the merge (tick
    and quote chunks keep their columns until dispatch, see sources/lazy.py)."""
    n = 0
    with streaming_gc():
        queue = BacktestEventQueue()
        src = queue.add_source(open_source(path, "tick", "BTC/USDT"), EventPriority.TICK)
        while src.load():
            n += len(src.ts)
    return n


def to_events(path):
    """Rows into event objects: the above plus building every TickEvent (what dispatch pays)."""
    n = 0
    with streaming_gc():
        for _, events in open_source(path, "tick", "BTC/USDT"):
            for _ in events:
                n += 1
    return n


def rate(benchmark, rows):
    benchmark.extra_info["rows_per_s"] = round(rows / benchmark.stats.stats.median)


FORMATS = ["native_parquet", "native_csv", "tardis_csv", "binance_csv"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_into_queue(benchmark, files, fmt):
    benchmark.group = fmt
    assert benchmark.pedantic(to_queue, args=(files[fmt],), rounds=3, iterations=1) == N
    rate(benchmark, N)


@pytest.mark.parametrize("fmt", FORMATS)
def test_into_events(benchmark, files, fmt):
    benchmark.group = fmt
    assert benchmark.pedantic(to_events, args=(files[fmt],), rounds=3, iterations=1) == N
    rate(benchmark, N)


@pytest.mark.parametrize("fmt", FORMATS[1:])
def test_pandas_read_csv(benchmark, files, fmt):
    benchmark.group = fmt
    header = None if fmt == "binance_csv" else "infer"
    df = benchmark.pedantic(
        pd.read_csv, args=(files[fmt],), kwargs={"header": header}, rounds=3, iterations=1
    )
    assert len(df) == N
    rate(benchmark, N)


@pytest.mark.parametrize("fmt", FORMATS[1:])
def test_pyarrow_read_csv(benchmark, files, fmt):
    benchmark.group = fmt
    opts = pacsv.ReadOptions(autogenerate_column_names=fmt == "binance_csv")
    table = benchmark.pedantic(
        pacsv.read_csv, args=(files[fmt],), kwargs={"read_options": opts}, rounds=3, iterations=1
    )
    assert table.num_rows == N
    rate(benchmark, N)
