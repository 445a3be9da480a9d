"""Tick mode against stock backtrader and a bare Python loop, on the same synthetic ticks.

Each tick-mode benchmark is a whole ``cerebro.run`` from a native Parquet file to results. The
stock side is fed the same ticks one bar per tick (a ``N_STOCK`` subset: it is ~50x slower) and
reported per tick. Run: ``python -m pytest benchmarks/ --benchmark-only``.
"""

from __future__ import annotations

import backtrader as bt
import pytest

import backtrader_channels as btch
from backtrader_channels.loopback.synthetic import write_synthetic_trades
from backtrader_channels.sources import read_native

from .conftest import N_TICKS
from .strategies import (
    CountBars,
    CountTicks,
    SmaFlipBars,
    SmaFlipNotified,
    SmaFlipTicks,
    TickBars,
)


def tick_run(path, strategy):
    cerebro = btch.Cerebro(stdstats=False)
    cerebro.broker.setcash(1e12)
    cerebro.add_channel(btch.TickChannel, symbol="BTC/USDT", dataname=path)
    cerebro.addstrategy(strategy)
    cerebro.run(mode=btch.RunMode.TICK)
    return cerebro


def stock_run(ticks, strategy, runonce=False):
    cerebro = bt.Cerebro(stdstats=False, runonce=runonce)
    cerebro.broker.setcash(1e12)
    cerebro.adddata(TickBars(ticks=ticks))
    cerebro.addstrategy(strategy)
    cerebro.run()
    return cerebro


def report(benchmark, n, **info):
    rate = n / benchmark.stats.stats.median
    benchmark.extra_info.update(ticks_per_s=round(rate), ticks=n, **info)
    return rate


@pytest.mark.benchmark(group="a-count")
def test_a_count_tick_mode(benchmark, ticks_path):
    c = benchmark.pedantic(tick_run, args=(ticks_path, CountTicks), rounds=3, iterations=1)
    assert c.last_run["events"] == N_TICKS
    report(benchmark, N_TICKS)


@pytest.mark.benchmark(group="a-count")
def test_a_count_stock_backtrader(benchmark, stock_ticks):
    benchmark.pedantic(stock_run, args=(stock_ticks, CountBars), rounds=1, iterations=1)
    report(benchmark, len(stock_ticks))


@pytest.mark.benchmark(group="a-count")
def test_a_count_bare_python_loop(benchmark, ticks_path):
    """Floor: read the same file into events and call a no-op callback in a plain loop."""

    def bare():
        n = 0

        def cb(ev):
            nonlocal n
            n += 1

        for _, events in read_native(ticks_path, "tick", "BTC/USDT"):
            for ev in events:
                cb(ev)
        return n

    assert benchmark.pedantic(bare, rounds=3, iterations=1) == N_TICKS
    report(benchmark, N_TICKS)


@pytest.mark.benchmark(group="b-sma-flip")
def test_b_sma_flip_tick_mode(benchmark, ticks_path):
    c = benchmark.pedantic(tick_run, args=(ticks_path, SmaFlipTicks), rounds=3, iterations=1)
    report(benchmark, N_TICKS, orders=c.last_run["orders"])


@pytest.mark.benchmark(group="b-sma-flip")
def test_b_sma_flip_tick_mode_with_notify_order(benchmark, ticks_path):
    """The same with a ``notify_order`` (as most strategies have): every notification is a
    snapshot of the order, three per order."""
    c = benchmark.pedantic(tick_run, args=(ticks_path, SmaFlipNotified), rounds=3, iterations=1)
    assert SmaFlipNotified.last_completed == c.last_run["orders"]
    report(benchmark, N_TICKS, orders=c.last_run["orders"])


@pytest.mark.benchmark(group="b-sma-flip")
def test_b_sma_flip_stock_backtrader(benchmark, stock_ticks):
    c = benchmark.pedantic(stock_run, args=(stock_ticks, SmaFlipBars), rounds=1, iterations=1)
    report(benchmark, len(stock_ticks), value=c.broker.getvalue())


@pytest.mark.benchmark(group="c-interleaved")
def test_c_count_two_interleaved_symbols(benchmark, tmp_path_factory):
    """Two symbols' trades from two files whose timestamps interleave at random (runs of about
    two events): the merge's per-run cost, not the per-event one, dominates."""
    d = tmp_path_factory.mktemp("interleaved")
    n = N_TICKS // 2
    symbols = ("BTC/USDT", "ETH/USDT")
    paths = [
        write_synthetic_trades(str(d / f"{k}.parquet"), n, seed=k, symbol=s)
        for k, s in enumerate(symbols)
    ]

    def run():
        cerebro = btch.Cerebro(stdstats=False)
        for symbol, path in zip(symbols, paths):
            cerebro.add_channel(btch.TickChannel, symbol=symbol, dataname=path)
        cerebro.addstrategy(CountTicks)
        cerebro.run(mode=btch.RunMode.TICK)
        return cerebro

    c = benchmark.pedantic(run, rounds=3, iterations=1)
    assert c.last_run["events"] == 2 * n
    report(benchmark, 2 * n)
