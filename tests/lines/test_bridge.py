"""ChannelBridge on real data: stock indicators equal pandas, precomputed == incremental."""

import math

import backtrader as bt
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import backtrader_channels as btch
from backtrader_channels import OrderBookChannel
from backtrader_channels.sources import read_native


class Indicators(bt.Strategy):
    params = (("precompute", True),)

    def __init__(self):
        self.px = btch.ChannelBridge(
            channel=("tick", "BTC/USDT"), field="price", precompute=self.p.precompute
        )
        self.sma = bt.ind.SMA(self.px, period=20)
        self.ema = bt.ind.EMA(self.px, period=20)
        self.rsi = bt.ind.RSI(self.px, period=14)
        self.cross = bt.ind.CrossOver(bt.ind.SMA(self.px, period=5), self.sma)
        self.gap = self.px - self.sma
        self.rows = []
        self.prenexts = 0

    def prenext(self):
        self.prenexts += 1

    def next(self):
        self.rows.append(
            (
                len(self.px),
                self.px[0],
                self.px[-1],
                self.sma[0],
                self.ema[0],
                self.rsi[0],
                self.cross[0],
                self.gap[0],
            )
        )


def run(strategy, sample, *kinds, **params):
    c = btch.Cerebro()
    paths = {"tick": sample.trades, "orderbook": sample.orderbook, "quote": sample.quotes}
    for kind in kinds:
        c.add_channel(kind, symbol="BTC/USDT", dataname=paths[kind])
    c.addstrategy(strategy, **params)
    return c.run(mode=btch.RunMode.TICK)[0]


@pytest.fixture(scope="module")
def prices(sample):
    return pq.read_table(sample.trades).column("price").to_pandas()


@pytest.fixture(scope="module")
def rows(sample):
    return {pre: run(Indicators, sample, "tick", precompute=pre) for pre in (True, False)}


def fsum_mean(p, n):
    """Rolling mean with an exactly rounded sum, as backtrader's SMA computes it."""
    return p.rolling(n).apply(lambda w: math.fsum(w) / n, raw=True)


def pandas_expected(p):
    sma = fsum_mean(p, 20)
    alpha = 2 / 21
    seed = p.iloc[:20].mean()
    ema = (
        pd.concat([pd.Series([seed]), p.iloc[20:]], ignore_index=True)
        .ewm(alpha=alpha, adjust=False)
        .mean()
    )
    ema.index = range(19, len(p))
    d = p.diff()
    up, down = d.clip(lower=0), (-d).clip(lower=0)

    def wilder(x):
        s = pd.concat([pd.Series([x.iloc[1:15].mean()]), x.iloc[15:]], ignore_index=True)
        out = s.ewm(alpha=1 / 14, adjust=False).mean()
        out.index = range(14, len(p))
        return out

    rsi = 100 - 100 / (1 + wilder(up) / wilder(down))
    diff = fsum_mean(p, 5) - sma
    nzd = diff.replace(0, np.nan).ffill()
    cross = ((nzd.shift(1) < 0) & (diff > 0)).astype(float) - (
        (nzd.shift(1) > 0) & (diff < 0)
    ).astype(float)
    return sma, ema, rsi, cross


def test_indicators_on_a_bridge_equal_pandas(rows, prices):
    strat = rows[True]
    sma, ema, rsi, cross = pandas_expected(prices)
    # the longest minimum period: CrossOver of SMA(20) needs 21 trades (it compares with [-1])
    assert strat.prenexts == 20
    assert len(strat.rows) == len(prices) - 20
    for n, px, prev, s, e, r, x, gap in strat.rows:
        i = n - 1
        assert px == prices.iloc[i]
        assert prev == prices.iloc[i - 1]
        assert s == pytest.approx(sma.iloc[i], rel=1e-12)
        assert e == pytest.approx(ema.loc[i], rel=1e-12)
        assert r == pytest.approx(rsi.loc[i], rel=1e-9, abs=1e-9)
        assert x == cross.iloc[i]
        assert gap == pytest.approx(px - s, abs=1e-9)
    assert sum(abs(r[6]) for r in strat.rows) > 100  # the crossover does fire


def test_precomputed_and_incremental_agree_value_for_value(rows):
    assert rows[True].rows == rows[False].rows


class BookFields(bt.Strategy):
    def __init__(self):
        key = ("orderbook", "BTC/USDT")
        self.fields = {
            f: btch.ChannelBridge(channel=key, field=f)
            for f in (
                "mid_price",
                "microprice",
                "imbalance",
                "spread",
                "best_bid.price",
                "best_ask.size",
            )
        }
        self.mid_sma = bt.ind.SMA(self.fields["mid_price"], period=10)
        self.rows = []

    def on_orderbook(self, ev):
        self.rows.append({f: b[0] for f, b in self.fields.items()})


def test_book_fields_follow_the_book(sample):
    strat = run(BookFields, sample, "orderbook")
    book = OrderBookChannel("BTC/USDT")
    i = 0
    for _, chunk in read_native(sample.orderbook, "orderbook", "BTC/USDT"):
        for ev in chunk:
            book.push(ev)
            row = strat.rows[i]
            assert row["mid_price"] == book.mid_price
            assert row["microprice"] == book.microprice
            assert row["imbalance"] == book.imbalance
            assert row["spread"] == book.spread
            assert row["best_bid.price"] == book.best_bid.price
            assert row["best_ask.size"] == book.best_ask.size
            i += 1
    assert i == len(strat.rows) == 3450
    mids = [r["mid_price"] for r in strat.rows]
    assert strat.mid_sma[0] == pytest.approx(sum(mids[-10:]) / 10, rel=1e-12)


class QuoteMid(bt.Strategy):
    params = (("precompute", True),)

    def __init__(self):
        self.mid = btch.ChannelBridge(
            channel=("quote", "BTC/USDT"), field="mid_price", precompute=self.p.precompute
        )
        self.ema = bt.ind.EMA(self.mid, period=50)
        self.vals = []

    def next(self):
        self.vals.append((self.mid[0], self.ema[0]))


def test_quote_bridge_precomputed_equals_incremental(sample):
    a = run(QuoteMid, sample, "quote", precompute=True).vals
    b = run(QuoteMid, sample, "quote", precompute=False).vals
    assert len(a) == 28040 - 49
    assert a == b


class Clocked(bt.Strategy):
    def __init__(self):
        self.px = btch.ChannelBridge(channel=("tick", "BTC/USDT"))
        self.mid = btch.ChannelBridge(
            channel=("orderbook", "BTC/USDT"), field="mid_price", clock=self.px
        )
        self.cross = bt.ind.CrossOver(self.px, self.mid)
        self.n = 0

    def on_tick(self, t):
        book = self.channels[("orderbook", "BTC/USDT")]
        mid = book.mid_price
        assert (mid is None and math.isnan(self.mid[0])) or self.mid[0] == mid
        self.n += 1


def test_clock_samples_another_channel_on_a_bridge_clock(sample):
    strat = run(Clocked, sample, "tick", "orderbook")
    assert strat.n == 9757
    assert len(strat.mid) == 9757


class Mixed(bt.Strategy):
    def __init__(self):
        a = btch.ChannelBridge(channel=("tick", "BTC/USDT"))
        b = btch.ChannelBridge(channel=("orderbook", "BTC/USDT"), field="mid_price")
        bt.ind.CrossOver(a, b)


def test_mixing_clocks_is_explained(sample):
    with pytest.raises(btch.ChannelError, match="clock=other"):
        run(Mixed, sample, "tick", "orderbook")


class Missing(bt.Strategy):
    def __init__(self):
        btch.ChannelBridge(channel=("tick", "ETH/USDT"))


def test_unknown_channel_is_explained(sample):
    with pytest.raises(btch.ChannelError, match="no channel"):
        run(Missing, sample, "tick")


class TickMid(bt.Strategy):
    def __init__(self):
        self.mid = btch.ChannelBridge(channel=("tick", "BTC/USDT"), field="mid_price")


def test_a_field_the_channel_lacks_is_refused_where_the_bridge_is_made(sample):
    """``mid_price`` is a quote and book field: on a tick channel the bridge used to be made,
    then the run failed at the first trade with a bare AttributeError from inside the loop."""
    with pytest.raises(btch.ChannelError) as err:
        run(TickMid, sample, "tick")
    message = str(err.value)
    assert "field='mid_price'" in message
    assert "('tick', 'BTC/USDT')" in message
    assert "price, volume, last_price, trade_id, timestamp, recv_timestamp" in message
    # the traceback leads to the line of the strategy that made the bridge
    frames = [(tb.tb_frame.f_code.co_name, tb.tb_frame.f_globals["__name__"]) for tb in _tbs(err)]
    assert ("__init__", __name__) in frames


def _tbs(err):
    tb = err.tb
    while tb is not None:
        yield tb
        tb = tb.tb_next


class WithVwap(btch.TickChannel):
    @property
    def vwap(self):
        return None if self.latest is None else self.latest.price


class Fields(bt.Strategy):
    params = (("kind", "tick"), ("field", "price"), ("lookback", None))

    def __init__(self):
        more = {} if self.p.lookback is None else {"lookback": self.p.lookback}
        self.b = btch.ChannelBridge(channel=(self.p.kind, "BTC/USDT"), field=self.p.field, **more)
        self.vals = []

    def next(self):
        self.vals.append(self.b[0])


@pytest.mark.parametrize(
    ("kind", "field"),
    [
        ("quote", "microprice"),  # a book field
        ("quote", "best_bid.prize"),  # a typo in a nested field
        ("orderbook", "bids"),  # not a number
        ("tick", "direction"),  # not a number
        ("tick", 3),
    ],
)
def test_every_unknown_field_is_refused_with_the_channels_fields(sample, kind, field):
    with pytest.raises(btch.ChannelError, match=rf"field={field!r}.*its fields: "):
        run(Fields, sample, kind, kind=kind, field=field)


def test_a_property_of_a_users_channel_class_is_a_field(sample):
    c = btch.Cerebro(stdstats=False)
    c.add_channel(WithVwap, symbol="BTC/USDT", dataname=sample.trades)
    c.addstrategy(Fields, field="vwap")
    strat = c.run(mode=btch.RunMode.TICK)[0]
    prices = pq.read_table(sample.trades).column("price").to_pylist()
    assert strat.vals == prices


@pytest.mark.parametrize("lookback", [0, -5, 2.5, True])
def test_a_bad_lookback_is_refused(sample, lookback):
    with pytest.raises(btch.ChannelError, match=r"lookback=.*int >= 1"):
        run(Fields, sample, "tick", lookback=lookback)
