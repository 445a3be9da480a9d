"""BarChannel: time bars equal a pandas resample, count/volume/value bars equal a hand count."""

import backtrader as bt
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import backtrader_channels as btch


class BarRecorder(bt.Strategy):
    def __init__(self):
        self.bars = self.datas[1]
        self.sma = bt.ind.SMA(self.bars.close, period=3)
        self.rows, self.ticks, self.partials = [], 0, []

    def on_tick(self, t):
        self.ticks += 1
        if self.ticks % 1000 == 0:
            self.partials.append(self.bars.partial)

    def prenext(self):
        self.next()

    def next(self):
        b = self.bars
        self.rows.append(
            (b.datetime.datetime(0), b.open[0], b.high[0], b.low[0], b.close[0], b.volume[0])
        )


def run(sample, **bar_kw):
    c = btch.Cerebro()
    c.add_channel(btch.TickChannel, symbol="BTC/USDT", dataname=sample.trades)
    bars = c.add_bars("BTC/USDT", **bar_kw)
    c.addstrategy(BarRecorder)
    c.addanalyzer(bt.analyzers.TimeReturn, _name="tr", timeframe=bt.TimeFrame.Minutes)
    return c, bars, c.run(mode=btch.RunMode.TICK)[0]


@pytest.fixture(scope="module")
def trades(sample):
    t = pq.read_table(sample.trades).to_pandas()
    t.index = pd.to_datetime(t["timestamp"], unit="ns")
    return t


@pytest.mark.parametrize(("every", "rule"), [("1s", "1s"), ("5s", "5s"), ("1min", "1min")])
def test_time_bars_equal_pandas_resample(sample, trades, every, rule):
    _, bars, strat = run(sample, every=every)
    r = trades["price"].resample(rule, label="right", closed="left").ohlc()
    r["volume"] = trades["volume"].resample(rule, label="right", closed="left").sum()
    r = r.dropna()
    closed = r.iloc[:-1]  # the last bar is still open at the end of the data
    assert bars.count == len(closed) == len(strat.rows)
    for row, (ts, exp) in zip(strat.rows, closed.iterrows()):
        assert abs((row[0] - ts.to_pydatetime()).total_seconds()) < 1e-4  # bt's float days
        assert row[1:5] == (exp.open, exp.high, exp.low, exp.close)
        assert row[5] == pytest.approx(exp.volume, rel=1e-12)
    last = r.iloc[-1]
    assert (bars.partial.open, bars.partial.close) == (last.open, last.close)


def hand_bars(t, key, limit):
    """Bars closing on the trade that brings the running measure to ``limit``."""
    out, acc, rows = [], 0.0, []
    for ts, p, v in zip(t["timestamp"], t["price"], t["volume"]):
        rows.append((p, v))
        acc += {"ticks": 1.0, "volume": v, "value": p * v}[key]
        if acc >= limit:
            ps = [r[0] for r in rows]
            out.append((ts, ps[0], max(ps), min(ps), ps[-1], sum(r[1] for r in rows)))
            acc, rows = 0.0, []
    return out


@pytest.mark.parametrize(("key", "limit"), [("ticks", 100), ("volume", 2.5), ("value", 250_000.0)])
def test_count_volume_value_bars_equal_a_hand_count(sample, trades, key, limit):
    _, bars, strat = run(sample, **{key: limit})
    expected = hand_bars(trades, key, limit)
    assert len(strat.rows) == len(expected) == bars.count > 10
    for row, exp in zip(strat.rows, expected):
        stamp = pd.Timestamp(exp[0], unit="ns").to_pydatetime()
        assert abs((row[0] - stamp).total_seconds()) < 1e-4
        assert row[1:5] == exp[1:5]
        assert row[5] == pytest.approx(exp[5], rel=1e-12)


def test_bars_drive_indicators_analyzers_and_ticks_still_arrive(sample):
    _c, _bars, strat = run(sample, every="1s")
    assert strat.ticks == 9757
    closes = np.array([r[4] for r in strat.rows])
    assert strat.sma[0] == pytest.approx(closes[-3:].mean(), rel=1e-12)
    # minutes 23:54 .. 00:00 (the last closed bar is stamped 00:00:00, its end)
    assert len(strat.analyzers.tr.get_analysis()) == 7
    partials = [p for p in strat.partials if p is not None]
    assert partials
    assert all(p.ticks >= 1 and p.low <= p.close <= p.high for p in partials)


class BarTrader(bt.Strategy):
    def __init__(self):
        self.bars = self.datas[1]
        self.fast = bt.ind.SMA(self.bars.close, period=3)
        self.slow = bt.ind.SMA(self.bars.close, period=10)
        self.cross = bt.ind.CrossOver(self.fast, self.slow)
        self.fills = 0

    def next(self):
        if self.cross > 0 and not self.position:
            self.buy(data=self.bars, size=0.01)
        elif self.cross < 0 and self.position:
            self.close(data=self.bars)

    def notify_order(self, order):
        if order.status == order.Completed:
            self.fills += 1


def test_orders_from_bar_next_trade_the_symbol(sample):
    c = btch.Cerebro()
    c.add_channel(btch.TickChannel, symbol="BTC/USDT", dataname=sample.trades)
    c.add_bars("BTC/USDT", every="5s")
    c.addstrategy(BarTrader)
    strat = c.run(mode=btch.RunMode.TICK)[0]
    assert strat.fills >= 2
    assert c.broker.getposition(c.instrument("BTC/USDT")).size == strat.position.size


def test_bars_need_their_tick_channel(sample):
    c = btch.Cerebro()
    c.add_channel(btch.OrderBookChannel, symbol="BTC/USDT", dataname=sample.orderbook)
    c.add_bars("BTC/USDT", every="1s")
    c.addstrategy(bt.Strategy)
    with pytest.raises(btch.ChannelError, match="need its tick channel"):
        c.run(mode=btch.RunMode.TICK)
    with pytest.raises(btch.ChannelError, match="exactly one"):
        btch.Cerebro().add_bars("X", every="1s", ticks=5)
    with pytest.raises(btch.ChannelError, match="bar interval"):
        btch.Cerebro().add_bars("X", every="soon")


class OnTheInstrument(bt.Strategy):
    """The natural mistake: ``self.data`` is the symbol's InstrumentData, not the bars."""

    def __init__(self):
        self.sma = bt.ind.SMA(self.data.close, period=10)
        self.cross = bt.ind.CrossOver(self.data.close, self.sma)
        self.on_bars = bt.ind.SMA(self.datas[1].close, period=3)
        self.nexts = 0

    def next(self):
        self.nexts += 1


@pytest.mark.parametrize("bars", [True, False])
def test_indicators_on_the_instrument_feed_are_named_in_a_warning(sample, bars):
    c = btch.Cerebro()
    c.add_channel(btch.TickChannel, symbol="BTC/USDT", dataname=sample.trades)
    if bars:
        c.add_bars("BTC/USDT", every="1s")
        c.addstrategy(OnTheInstrument)
    else:
        c.addstrategy(type("Plain", (bt.Strategy,), {"__init__": _sma_on_data}))
    with pytest.warns(UserWarning, match="InstrumentData") as record:
        (strat,) = c.run(mode=btch.RunMode.TICK)
    (w,) = [w for w in record if "InstrumentData" in str(w.message)]
    message = str(w.message)
    if bars:
        assert message.startswith("OnTheInstrument: SMA, CrossOver on 'BTC/USDT' (self.datas[0]")
        assert "next() waits for them, so it is never called" in message
        assert strat.nexts == 0
    else:
        assert message.startswith("Plain: SMA on 'BTC/USDT' (self.datas[0]")
        assert "never gets a value" in message
        assert "next()" not in message


def _sma_on_data(self):
    self.sma = bt.ind.SMA(self.data, period=5)


def test_indicators_on_bars_are_not_warned_of(sample, recwarn):
    run(sample, every="5s")
    assert not [w for w in recwarn if "InstrumentData" in str(w.message)]
