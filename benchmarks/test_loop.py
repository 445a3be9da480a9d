"""The dispatch loop's book path: quotes alone (the mid prices the data feed on every event: no
trades), and quotes interleaved with trades (short runs: the loop's per-run cost).

The trade path is timed by ``test_tick_mode.py`` (count, SMA flip). Each benchmark is a whole
``cerebro.run`` from native Parquet; ``extra_info`` has the loop's own rate (``last_run``).
Run: ``python -m pytest benchmarks/test_loop.py --benchmark-only``.
"""

from __future__ import annotations

import backtrader as bt
import numpy as np
import pytest

import backtrader_channels as btch
from backtrader_channels.events import ChannelType
from backtrader_channels.sources.writer import columns_table, write_parquet

from .conftest import N_TICKS
from .strategies import flip

START_NS = 1_700_000_000_000_000_000


@pytest.fixture(scope="session")
def quotes_path(tmp_path_factory) -> str:
    """``N_TICKS`` synthetic best bid/ask quotes (1 ms to 100 ms apart) in native Parquet."""
    rng = np.random.default_rng(11)
    n = N_TICKS
    ts = START_NS + 500_000 + np.cumsum(rng.integers(1, 100, n).astype(np.int64) * 1_000_000)
    mid = np.round(30_000.0 + np.cumsum(rng.normal(0.0, 2.0, n)), 2)
    cols = {
        "timestamp": ts,
        "bid_price": mid - 0.5,
        "bid_size": np.round(rng.lognormal(0.0, 1.0, n), 4),
        "ask_price": mid + 0.5,
        "ask_size": np.round(rng.lognormal(0.0, 1.0, n), 4),
        "recv_timestamp": ts + 1_000_000,
        "symbol": np.full(n, "BTC/USDT"),
        "update_id": np.arange(1, n + 1, dtype=np.int64),
    }
    path = str(tmp_path_factory.mktemp("loop") / "quotes.parquet")
    return write_parquet(path, [columns_table(cols, ChannelType.QUOTE)], ChannelType.QUOTE)


class CountQuotes(bt.Strategy):
    """Counts quotes in ``on_quote``."""

    def start(self):
        self.n = 0

    def on_quote(self, quote):
        self.n += 1


class FlipOnQuotes(bt.Strategy):
    """Long (short) when the last trade is above (below) the quote's mid: market orders filled
    at the quote."""

    def start(self):
        self.side = 0

    def on_quote(self, quote):
        price = self.data.close[0]
        if price == price:  # (a trade was seen)
            flip(self, price, (quote.bid_price + quote.ask_price) * 0.5)


def run(strategy, quotes, ticks=None):
    cerebro = btch.Cerebro(stdstats=False)
    cerebro.broker.setcash(1e12)
    cerebro.add_channel(btch.QuoteChannel, symbol="BTC/USDT", dataname=quotes)
    if ticks is not None:
        cerebro.add_channel(btch.TickChannel, symbol="BTC/USDT", dataname=ticks)
    cerebro.addstrategy(strategy)
    cerebro.run(mode=btch.RunMode.TICK)
    return cerebro


def report(benchmark, cerebro):
    last = cerebro.last_run
    benchmark.extra_info.update(
        events=last["events"],
        events_per_s=round(last["events"] / benchmark.stats.stats.median),
        loop_events_per_s=round(last["events_per_second"]),
        orders=last["orders"],
    )


@pytest.mark.benchmark(group="loop-book")
def test_quotes_alone(benchmark, quotes_path):
    c = benchmark.pedantic(run, args=(CountQuotes, quotes_path), rounds=3, iterations=1)
    assert c.last_run["events"] == N_TICKS
    report(benchmark, c)


@pytest.mark.benchmark(group="loop-book")
def test_quotes_and_trades_interleaved(benchmark, quotes_path, ticks_path):
    c = benchmark.pedantic(
        run, args=(FlipOnQuotes, quotes_path, ticks_path), rounds=3, iterations=1
    )
    assert c.last_run["events"] == 2 * N_TICKS
    report(benchmark, c)
