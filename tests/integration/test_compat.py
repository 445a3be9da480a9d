"""Backward compatibility: bar mode is stock backtrader, importing patches nothing."""

import datetime as dt
import subprocess
import sys

import backtrader as bt
import numpy as np
import pandas as pd
import pytest

import backtrader_channels as btch


def bars(n=400, seed=3):
    rng = np.random.default_rng(seed)
    close = 100 + np.cumsum(rng.normal(0, 1, n))
    idx = pd.date_range("2024-01-01", periods=n, freq="h")
    return pd.DataFrame(
        {
            "open": close + rng.normal(0, 0.2, n),
            "high": close + 1,
            "low": close - 1,
            "close": close,
            "volume": 100.0,
            "openinterest": 0.0,
        },
        index=idx,
    )


class SmaCross(bt.Strategy):
    params = (("fast", 5), ("slow", 20))

    def __init__(self):
        self.cross = bt.ind.CrossOver(
            bt.ind.SMA(period=self.p.fast), bt.ind.SMA(period=self.p.slow)
        )
        self.rsi = bt.ind.RSI(period=14)

    def next(self):
        if self.cross > 0:
            self.buy(size=10)
        elif self.cross < 0 and self.position:
            self.close()


def run_bars(cerebro_cls, runonce=True, optimize=False):
    c = cerebro_cls(runonce=runonce, optreturn=False, maxcpus=1)
    c.adddata(bt.feeds.PandasData(dataname=bars()))
    c.broker.setcommission(commission=0.001)
    if optimize:
        c.optstrategy(SmaCross, fast=[3, 5], slow=[15, 20])
    else:
        c.addstrategy(SmaCross)
    for name, an in (
        ("ta", bt.analyzers.TradeAnalyzer),
        ("dd", bt.analyzers.DrawDown),
        ("sr", bt.analyzers.SharpeRatio),
        ("tr", bt.analyzers.TimeReturn),
        ("ret", bt.analyzers.Returns),
        ("tx", bt.analyzers.Transactions),
    ):
        c.addanalyzer(an, _name=name)
    res = c.run()
    strats = [r[0] for r in res] if optimize else res
    return [
        (
            s.broker.getvalue(),
            s.broker.getcash(),
            {k: repr(a.get_analysis()) for k, a in s.analyzers.getitems()},
            repr(list(s.rsi.lines.rsi.array)),
        )  # repr: NaN == NaN
        for s in strats
    ]


@pytest.mark.parametrize("runonce", [True, False])
def test_bar_mode_identical_to_stock(runonce):
    assert run_bars(bt.Cerebro, runonce) == run_bars(btch.Cerebro, runonce)


def test_optimisation_identical_to_stock():
    assert run_bars(bt.Cerebro, optimize=True) == run_bars(btch.Cerebro, optimize=True)


def test_importing_patches_nothing():
    code = (
        "import backtrader as bt\n"
        "before = {n: getattr(bt, n) for n in dir(bt)}\n"
        "meth = {c: dict(vars(c)) for c in (bt.Cerebro, bt.Strategy, bt.brokers.BackBroker,"
        " bt.Order, bt.feed.DataBase)}\n"
        "import backtrader_channels\n"
        "assert {n: getattr(bt, n) for n in dir(bt)} == before\n"
        "assert all(dict(vars(c)) == d for c, d in meth.items())\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_channels_require_tick_mode():
    c = btch.Cerebro()
    c.add_channel(btch.TickChannel, symbol="X", dataname=[btch.TickEvent(1, 1.0, 1.0)])
    with pytest.raises(btch.ChannelError, match=r"RunMode\.TICK"):
        c.run()


def test_tick_mode_needs_channels_and_known_types():
    c = btch.Cerebro()
    with pytest.raises(btch.ChannelError, match="at least one channel"):
        c.run(mode=btch.RunMode.TICK)
    with pytest.raises(btch.ChannelError, match="unknown channel type"):
        c.add_channel("candles", symbol="X", dataname=[])
    c.add_channel("tick", symbol="X", dataname=[])
    with pytest.raises(btch.ChannelError, match="added twice"):
        c.add_channel(btch.TickChannel, symbol="X", dataname=[])


def test_bar_data_unaffected_dates():
    # plain bar run through btch.Cerebro keeps datetimes exact
    c = btch.Cerebro()
    c.adddata(bt.feeds.PandasData(dataname=bars(30)))
    c.addstrategy(bt.Strategy)
    s = c.run()[0]
    assert s.data.datetime.datetime(0) == dt.datetime(2024, 1, 2, 5)
