"""The incremental path's direct steps for SMA and EMA (RSI and CrossOver:
``test_signal_kernels.py``): the same values as backtrader's own ``next`` and as the
precomputed path, to the last bit; other indicators keep ``_next``."""

from __future__ import annotations

import backtrader as bt
import pytest

import backtrader_channels as btch
from backtrader_channels.lines.groups import BridgeGroup

PERIODS = (1, 2, 5, 20, 64)


class Many(bt.Strategy):
    params = (("precompute", True),)

    def __init__(self):
        self.px = btch.ChannelBridge(
            channel=("tick", "BTC/USDT"), field="price", precompute=self.p.precompute
        )
        self.smas = [bt.ind.SMA(self.px, period=n) for n in PERIODS]
        self.emas = [bt.ind.EMA(self.px, period=n) for n in PERIODS]
        self.rsi = bt.ind.RSI(self.px, period=14)  # lines/signal_kernels.py
        self.cross = bt.ind.CrossOver(self.px, self.smas[3])
        self.wma = bt.ind.WMA(self.px, period=10)  # not covered: backtrader's _next
        self.rows = []

    def on_tick(self, tick):
        self.rows.append(
            (
                tuple(s[0] for s in self.smas),
                tuple(e[0] for e in self.emas),
                self.rsi[0],
                self.cross[0],
                self.wma[0],
                len(self.smas[0]),
                len(self.emas[-1]),
            )
        )


def _run(sample, precompute):
    c = btch.Cerebro(stdstats=False)
    c.add_channel("tick", "BTC/USDT", dataname=sample.trades)
    c.addstrategy(Many, precompute=precompute)
    return c.run(mode=btch.RunMode.TICK)[0]


def _same(a, b):
    """Equal, NaN equal to NaN (before the minimum period)."""
    return a == b or (a != a and b != b)


def test_incremental_steps_equal_the_precomputed_path_bit_for_bit(sample):
    pre, inc = _run(sample, True), _run(sample, False)
    assert len(pre.rows) == len(inc.rows) == 9757
    for a, b in zip(pre.rows, inc.rows):
        assert all(_same(x, y) for x, y in zip(a[0], b[0]))  # SMAs
        assert all(_same(x, y) for x, y in zip(a[1], b[1]))  # EMAs
        assert _same(a[2], b[2])
        assert _same(a[3], b[3])
        assert _same(a[4], b[4])
        assert a[5:] == b[5:]


def _stock_values(prices, make):
    """What backtrader computes bar by bar (next mode) for one indicator on a price series."""

    class Feed(bt.feeds.DataBase):
        def start(self):
            super().start()
            self._it = iter(prices)

        def _load(self):
            p = next(self._it, None)
            if p is None:
                return False
            self.lines.datetime[0] = 738000 + len(self) * 1e-5
            self.lines.close[0] = p
            return True

    out = []

    class S(bt.Strategy):
        def __init__(self):
            self.ind = make(self.data.close)

        def prenext(self):
            out.append(self.ind[0])

        def next(self):
            out.append(self.ind[0])

    c = bt.Cerebro(stdstats=False, runonce=False)
    c.adddata(Feed())
    c.addstrategy(S)
    c.run()
    return out


@pytest.mark.parametrize("kind", ["SMA", "EMA"])
def test_incremental_steps_equal_backtrader_next(sample, kind):
    import pyarrow.parquet as pq

    prices = pq.read_table(sample.trades, columns=["price"]).column("price").to_pylist()[:3000]
    inc = _run(sample, False)
    i = PERIODS.index(20)
    stock = _stock_values(prices, lambda d: getattr(bt.ind, kind)(d, period=20))
    mine = [row[0 if kind == "SMA" else 1][i] for row in inc.rows[:3000]]
    assert len(stock) == len(mine)
    assert all(_same(a, b) for a, b in zip(mine, stock))
    assert sum(a == a for a in mine) == 3000 - 19  # values from the 20th trade on


def test_the_steps_cover_sma_ema_rsi_and_crossover(sample):
    strat = _run(sample, False)
    groups = next(iter(strat.env._groups.values()))
    [group] = groups
    assert isinstance(group, BridgeGroup)
    steps = group._steps
    kinds = [type(it).__name__ for it in group.iterators]
    backtrader = [getattr(s, "__name__", "") == "_next" for s in steps[1:]]  # after the push
    assert {k for k, b in zip(kinds, backtrader) if not b} == {"SMA", "EMA", "RSI", "CrossOver"}
    assert {k for k, b in zip(kinds, backtrader) if b} == {"WMA"}


class OneSma(bt.Strategy):
    params = (("precompute", True),)

    def __init__(self):
        self.px = btch.ChannelBridge(
            channel=("tick", "BTC/USDT"), field="price", precompute=self.p.precompute
        )
        self.sma = bt.ind.SMA(self.px, period=20)
        self.vals = []

    def on_tick(self, tick):
        # [-1] on the first value reads past the start (backtrader's wrap-around): skip it
        prev = self.sma[-1] if len(self.sma) > 1 else None
        self.vals.append((self.px[0], self.sma[0], prev, len(self.sma)))


def test_one_sma_on_one_bridge_runs_fused_and_equal(sample):
    from backtrader_channels.lines import groups

    runs = {}
    for pre in (True, False):
        c = btch.Cerebro(stdstats=False)
        c.add_channel("tick", "BTC/USDT", dataname=sample.trades)
        c.addstrategy(OneSma, precompute=pre)
        strat = c.run(mode=btch.RunMode.TICK)[0]
        runs[pre] = strat.vals
        [group] = next(iter(c._groups.values()))
        if not pre:
            assert getattr(groups.advancer([group]), "__name__", "") == "advance"  # fused
    assert len(runs[True]) == 9757
    assert all(all(_same(x, y) for x, y in zip(a, b)) for a, b in zip(runs[True], runs[False]))


class Peek(bt.Strategy):
    def __init__(self):
        self.px = btch.ChannelBridge(channel=("tick", "BTC/USDT"), field="price")
        self.sma = bt.ind.SMA(self.px, period=20)
        self.first = None

    def on_tick(self, tick):
        if self.first is None:
            self.first = (self.px[0], self.px[-1], self.px[-100], self.sma[-1], self.sma[-3])


def test_reading_back_on_the_first_event_sees_no_future_value(sample):
    """A precomputed line holds the whole series: ``[-1]`` on the first event used to wrap
    around to the series' last value, a look into the future."""
    c = btch.Cerebro(stdstats=False)
    c.add_channel("tick", "BTC/USDT", dataname=sample.trades)
    c.addstrategy(Peek)
    px, *back = c.run(mode=btch.RunMode.TICK)[0].first
    assert px == 61837.63
    assert all(v != v for v in back)  # NaN: nothing before the first value
