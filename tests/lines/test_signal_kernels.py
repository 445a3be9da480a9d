"""The incremental path's direct steps for RSI and CrossOver (``lines/signal_kernels.py``): the
same values as backtrader's own next mode, to the last bit, on the bundled sample and on
generated prices full of ties (zero differences, flat averages)."""

from __future__ import annotations

import backtrader as bt
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import backtrader_channels as btch

from .test_kernels import _same, _stock_values

INDICATORS = {
    "RSI": lambda d: bt.ind.RSI(d, period=14),
    "RSI_Safe": lambda d: bt.ind.RSI_Safe(d, period=5),
    "RSI_SMA_safe": lambda d: bt.ind.RSI_SMA(d, period=6, safediv=True),
    "RSI_EMA_lookback": lambda d: bt.ind.RSI_EMA(d, period=4, lookback=3, safediv=True),
    "CrossOver_px_sma": lambda d: bt.ind.CrossOver(d, bt.ind.SMA(d, period=20)),
    "CrossOver_sma_ema": lambda d: bt.ind.CrossOver(
        bt.ind.SMA(d, period=3), bt.ind.EMA(d, period=7)
    ),
}


class One(bt.Strategy):
    """One indicator on a price bridge, read in ``on_tick``; the incremental path."""

    params = (("make", None),)

    def __init__(self):
        self.px = btch.ChannelBridge(channel=("tick", "X/USDT"), field="price", precompute=False)
        self.ind = self.p.make(self.px)
        self.vals = []

    def on_tick(self, tick):
        self.vals.append(self.ind[0])


def _incremental(prices, make):
    ticks = [btch.TickEvent(1_000_000 * (i + 1), p, 1.0) for i, p in enumerate(prices)]
    c = btch.Cerebro(stdstats=False)
    c.add_channel("tick", "X/USDT", dataname=ticks)
    c.addstrategy(One, make=make)
    strat = c.run(mode=btch.RunMode.TICK)[0]
    steps = next(iter(c._groups.values()))[0]._steps
    return strat.vals, steps


def _outcome(fn):
    """The values, or the exception class (an RSI without safediv divides by zero)."""
    try:
        return fn()
    except ZeroDivisionError:
        return ZeroDivisionError


def _check(prices, name):
    make = INDICATORS[name]
    stock = _outcome(lambda: _stock_values(prices, make))
    mine = _outcome(lambda: _incremental(prices, make))
    if stock is ZeroDivisionError or mine is ZeroDivisionError:
        assert stock is mine
        return
    vals, steps = mine
    assert getattr(steps[-1], "__name__", "") == "step"  # the kernel ran, not backtrader's _next
    assert len(vals) == len(stock) == len(prices)
    assert all(_same(a, b) for a, b in zip(vals, stock)), name


@pytest.mark.parametrize("name", list(INDICATORS))
def test_each_kernel_equals_backtrader_next_on_the_sample(sample, name):
    prices = pq.read_table(sample.trades, columns=["price"]).column("price").to_pylist()[:2500]
    _check(prices, name)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    prices=st.lists(st.sampled_from([99.5, 100.0, 100.0, 100.25, 101.0]), min_size=1, max_size=80),
    name=st.sampled_from(list(INDICATORS)),
)
def test_kernels_equal_backtrader_next_on_prices_with_ties(prices, name):
    _check(prices, name)


def test_a_crossover_of_a_line_operation_runs_after_it_and_equals_backtrader():
    """An input backtrader's ``_next`` advances (an arithmetic line) comes first: covered."""
    prices = [100.0, 101.0, 99.0, 102.0, 98.0, 98.0, 100.0] * 10
    make = lambda d: bt.ind.CrossOver(d, bt.ind.SMA(d, period=3) * 1.0)  # noqa: E731
    vals, steps = _incremental(prices, make)
    assert [getattr(s, "__name__", "") for s in steps[1:]] == ["step", "_next", "step"]
    stock = _stock_values(prices, make)
    assert len(vals) == len(stock)
    assert all(_same(a, b) for a, b in zip(vals, stock))
    assert {1.0, -1.0} <= set(vals)


def test_an_alias_or_a_parameter_subclass_is_covered_and_an_override_is_not():
    class Rsi7(bt.ind.RSI):
        params = (("period", 7), ("safediv", True))

    class OddRsi(bt.ind.RSI):
        def next(self):
            self.lines.rsi[0] = 50.0

    prices = [100.0, 101.0, 99.0, 102.0, 98.0] * 10
    for make, covered in (
        (lambda d: bt.ind.SimpleMovingAverage(d, period=3), True),
        (lambda d: bt.indicators.RelativeStrengthIndex(d, safediv=True), True),
        (lambda d: Rsi7(d), True),
        (lambda d: OddRsi(d), False),
    ):
        _vals, steps = _incremental(prices, make)
        kernel = steps is None or getattr(steps[-1], "__name__", "") != "_next"  # None: fused
        assert kernel is covered
