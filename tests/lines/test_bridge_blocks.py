"""Bridges computed block by block with a bounded history: the same values as the incremental
path, memory that does not grow with the run, windows (``start``/``end``) precomputed too."""

from __future__ import annotations

import backtrader as bt
import numpy as np
import pytest

import backtrader_channels as btch
from backtrader_channels.dispatch.queue import window_chunks
from backtrader_channels.lines import blocks
from backtrader_channels.loopback.synthetic import START_NS, iter_synthetic_trades
from backtrader_channels.sources.column_blocks import column_blocks
from backtrader_channels.sources.formats import open_source
from backtrader_channels.sources.writer import write_parquet

from .test_kernels import _same

DAY_NS = 86_400_000_000_000


class NextOnly(bt.Indicator):
    """An indicator with ``next`` only: backtrader computes it through ``once_via_next``."""

    lines = ("v",)
    params = (("period", 7),)

    def __init__(self):
        self.addminperiod(self.p.period)

    def next(self):
        self.lines.v[0] = self.data[0] - self.data[-self.p.period + 1] + len(self) * 1e-9


class Many(bt.Strategy):
    params = (("precompute", True), ("lookback", 4096))

    def __init__(self):
        p = self.px = btch.ChannelBridge(
            channel=("tick", "BTC/USDT"), precompute=self.p.precompute, lookback=self.p.lookback
        )
        self.inds = [
            bt.ind.SMA(p, period=20),
            bt.ind.EMA(p, period=30),
            bt.ind.RSI(p, period=14),
            bt.ind.StdDev(p, period=50),
            bt.ind.WMA(p, period=10),
            bt.ind.Highest(p, period=300),
            bt.ind.CrossOver(bt.ind.SMA(p, period=5), bt.ind.EMA(p, period=40)),
            bt.ind.MACD(p),
            bt.ind.BollingerBands(p, period=33),
            bt.ind.SMA(bt.ind.EMA(p, period=5), period=12),
            bt.ind.PercentRank(p, period=25),
            p - bt.ind.SMA(p, period=7),
            p(-3),
            NextOnly(p),
        ]
        self.rows = []

    def next(self):
        values = (x for i in self.inds for x in (i[0], i[-1], len(i)))
        self.rows.append((len(self.px), self.px[0], self.px[-1], self.px[-20], *values))


def _run(strategy, dataname, **params):
    c = btch.Cerebro(stdstats=False)
    c.add_channel("tick", "BTC/USDT", dataname=dataname, **params.pop("channel", {}))
    c.addstrategy(strategy, **params)
    strat = c.run(mode=btch.RunMode.TICK)[0]
    [group] = c._groups[id(strat)]
    return strat, group


def _equal_rows(a, b):
    return len(a) == len(b) and all(all(_same(x, y) for x, y in zip(p, q)) for p, q in zip(a, b))


def test_blocks_and_a_short_history_give_the_incremental_values(sample, monkeypatch):
    """997-value blocks, history cut to what the indicators need: every value read in
    ``next()`` ([0], [-1], [-20], len) equals the incremental path's, bit for bit."""
    whole, g1 = _run(Many, sample.trades)
    monkeypatch.setattr(blocks, "BLOCK_ROWS", 997)
    blocked, g2 = _run(Many, sample.trades, lookback=1)
    incremental, g3 = _run(Many, sample.trades, precompute=False, lookback=1)
    assert g1.precomputed
    assert g2.precomputed
    assert not g3.precomputed
    assert len(whole.rows) == 9757 - 299  # Highest(300) is the longest minimum period
    assert _equal_rows(whole.rows, blocked.rows)
    assert _equal_rows(whole.rows, incremental.rows)
    longest = max(len(b.array) for b in g2.buffers(children=True))
    assert longest <= blocks.PAD + g2.keep + 997  # what is kept: never the whole series


def _day_of_trades(path, n, seed=5):
    """``n`` synthetic trades spread over 24 hours, as native Parquet."""
    scale = DAY_NS / n / 50e6  # iter_synthetic_trades spaces trades 50 ms apart on average

    def tables():
        import pyarrow as pa

        for t in iter_synthetic_trades(n, seed=seed):
            ts = START_NS + ((t.column("timestamp").to_numpy() - START_NS) * scale).astype("int64")
            for name, values in (("timestamp", ts), ("recv_timestamp", ts + 1_000_000)):
                t = t.set_column(t.schema.get_field_index(name), name, pa.array(values))
            yield t

    return write_parquet(str(path), tables(), "tick", 262_144)


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    return _day_of_trades(tmp_path_factory.mktemp("day") / "day.parquet", 100_000)


class SmaStd(bt.Strategy):
    params = (("precompute", True),)

    def __init__(self):
        self.px = btch.ChannelBridge(channel=("tick", "BTC/USDT"), precompute=self.p.precompute)
        self.sma = bt.ind.SMA(self.px, period=50)
        self.std = bt.ind.StdDev(self.px, period=50)
        self.rows = []

    def next(self):
        self.rows.append((len(self.px), self.px[0], self.sma[0], self.std[0], self.std[-1]))


@pytest.mark.parametrize("precompute", [True, False])
def test_memory_does_not_grow_with_the_run(day, precompute):
    """100,000 trades: no line of the group holds them all (the whole-file precompute held
    every value of every line, nested ones too: 1.37 GB on 5M trades)."""
    strat, group = _run(SmaStd, day, precompute=precompute)
    assert len(strat.rows) == 100_000 - 49
    assert group.precomputed is precompute
    longest = max(len(b.array) for b in group.buffers(children=True))
    assert longest <= blocks.PAD + group.keep + blocks.BLOCK_ROWS < 100_000


def _window(path):
    ts = open_source(path, "tick", "BTC/USDT")
    first = next(iter(ts))[0][0]
    return first + 3 * 3_600_000_000_000, first + 4 * 3_600_000_000_000  # the 4th hour


def test_column_blocks_in_a_window_are_the_windows_events(day):
    """What a windowed bridge reads: the prices and times of the events the run gets."""
    start, end = _window(day)
    got = list(column_blocks(day, "tick", "BTC/USDT", ["timestamp", "price"], window=(start, end)))
    chunks = window_chunks(open_source(day, "tick", "BTC/USDT", window=(start, end)), start, end)
    events = [ev for _, chunk in chunks for ev in chunk]
    assert len(events) > 3000
    assert np.concatenate([b["price"] for b in got]).tolist() == [ev.price for ev in events]
    assert np.concatenate([b["timestamp"] for b in got]).tolist() == [ev[0] for ev in events]


def test_a_window_is_precomputed_and_equals_the_incremental_path(day):
    """``start``/``end`` (the CLI's ``--from``/``--to``) used to turn precomputing off: a
    one-hour window ran 7x slower per event than the whole file."""
    start, end = _window(day)
    window = {"channel": {"start": start, "end": end}}
    pre, g1 = _run(SmaStd, day, **window)
    inc, g2 = _run(SmaStd, day, precompute=False, **window)
    assert g1.precomputed
    assert not g2.precomputed
    assert len(pre.rows) > 3000
    assert _equal_rows(pre.rows, inc.rows)


def test_values_that_run_out_before_the_events_are_an_error(sample):
    strat, group = _run(SmaStd, sample.trades, precompute=False)
    group.precompute(np.arange(1.0, 11.0))  # ten values for a channel with more events
    for _ in range(10):
        group.advance_precomputed()
    assert strat.px[0] == 10.0
    with pytest.raises(btch.ChannelError, match=r"'price' on \('tick', 'BTC/USDT'\).*10 values"):
        group.advance_precomputed()


def test_values_of_other_events_are_an_error(sample):
    """Blocks carry their timestamps: a block whose first one is not its first event's (the
    two reads of the source disagree) stops the run instead of shifting every value."""
    _, group = _run(SmaStd, sample.trades, precompute=False)
    group.precompute([(np.array([1, 2, 3]), np.array([1.0, 2.0, 3.0]))])
    with pytest.raises(btch.ChannelError, match="value 1 is at 1, the event at 5 "):
        group.advance_precomputed(btch.TickEvent(5, 1.0, 1.0))
