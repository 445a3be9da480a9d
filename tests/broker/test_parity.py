"""The tick broker against backtrader's own BackBroker: the same decisions on the same prices
give the same orders, notifications, trades, cash and analyzer results.

Stock backtrader is fed one bar per trade (open = close = the trade's price, one second apart)
and fills a market order at the next bar's open; tick mode fills it at the next trade. The two
are the same price, so everything downstream must be identical, but for two things tick mode
does differently, on purpose:

* backtrader never delivers the notifications of an order placed on the last bar (there is no
  next bar); tick mode delivers them when the data ends;
* a trade's ``len`` in ``TradeAnalyzer`` counts bars, and tick mode has none: it is 0 (the
  trade's ``dtopen``/``dtclose`` carry its span)."""

from __future__ import annotations

import backtrader as bt
import pytest

import backtrader_channels as btch
from backtrader_channels import TickEvent
from backtrader_channels.events import ns_to_num
from backtrader_channels.loopback.synthetic import synthetic_trades

N = 3_000
SEC = 1_000_000_000


def _ticks():
    t = synthetic_trades(N, seed=11)
    prices = t.column("price").to_pylist()
    start = 1_700_000_000 * SEC
    return [(start + i * SEC, p) for i, p in enumerate(prices)]


class Bars(bt.feed.DataBase):
    params = (("rows", None), ("timeframe", bt.TimeFrame.Seconds))

    def start(self):
        super().start()
        self._it = iter(self.p.rows)

    def _load(self):
        row = next(self._it, None)
        if row is None:
            return False
        ts, price = row
        lines = self.lines
        lines.datetime[0] = ns_to_num(ts)
        lines.open[0] = lines.high[0] = lines.low[0] = lines.close[0] = price
        lines.volume[0] = 1.0
        return True


class Decide:
    """A 10-trade SMA: long above, flat below (market orders; ``close`` to exit)."""

    def setup(self):
        self.window, self.log, self.trades = [], [], []

    def decide(self, price):
        w = self.window
        w.append(price)
        if len(w) > 10:
            w.pop(0)
        if len(w) < 10:
            return
        sma = sum(w) / 10
        if price > sma and not self.position:
            self.buy(size=2)
        elif price < sma and self.position:
            self.close()

    def notify_order(self, order):
        ex = order.executed
        self.log.append((order.getstatusname(), order.isbuy(), ex.size, ex.price, ex.comm))

    def notify_trade(self, trade):
        self.trades.append((trade.status, trade.size, trade.price, trade.pnl, trade.pnlcomm))


class TickSide(Decide, bt.Strategy):
    def start(self):
        self.setup()

    def on_tick(self, tick):
        self.decide(tick.price)


class StockSide(Decide, bt.Strategy):
    def start(self):
        self.setup()

    def next(self):
        self.decide(self.data.close[0])


ANALYZERS = {
    "ta": (bt.analyzers.TradeAnalyzer, {}),
    "tx": (bt.analyzers.Transactions, {}),
    "dd": (bt.analyzers.DrawDown, {}),
    "tr": (bt.analyzers.TimeReturn, {"timeframe": bt.TimeFrame.Minutes}),
    "sharpe": (bt.analyzers.SharpeRatio, {"timeframe": bt.TimeFrame.Minutes}),
}


#: the commission schemes compared: the stock-like default (whose arithmetic the tick broker
#: has inline) and a futures-like one (through its CommissionInfo methods)
SCHEMES = {
    "stocklike": {"commission": 0.001},
    "futureslike": {"commission": 2.0, "margin": 1000.0, "mult": 10.0},
}


def _add(cerebro, scheme):
    cerebro.broker.setcash(100_000)
    cerebro.broker.setcommission(**SCHEMES[scheme])
    for name, (cls, kw) in ANALYZERS.items():
        cerebro.addanalyzer(cls, _name=name, **kw)


@pytest.fixture(scope="module", params=sorted(SCHEMES))
def both(request):
    ticks = _ticks()
    stock = bt.Cerebro(stdstats=False)
    stock.adddata(Bars(rows=ticks), name="X")
    stock.addstrategy(StockSide)
    _add(stock, request.param)
    s = stock.run()[0]
    tick = btch.Cerebro(stdstats=False, sample_ns=SEC)
    events = [TickEvent(ts, p, 1.0, "buy", None, "X", ts) for ts, p in ticks]
    tick.add_channel("tick", "X", dataname=events)
    tick.addstrategy(TickSide)
    _add(tick, request.param)
    t = tick.run(mode=btch.RunMode.TICK)[0]
    return s, t, stock, tick


def test_the_same_notifications_in_the_same_order(both):
    s, t, _, _ = both
    assert len(t.log) > 300
    last = t.log[len(s.log) :]  # the order placed on the last trade: heard at the end
    assert [st for st, *_ in last] == ["Submitted", "Accepted"]
    assert t.log[: len(s.log)] == s.log
    assert t.trades == s.trades


def test_the_same_cash_value_and_position(both):
    s, t, stock, tick = both
    assert tick.broker.getcash() == stock.broker.getcash()
    assert tick.broker.getposition(t.data).size == stock.broker.getposition(s.data).size


def _plain(analysis):
    if isinstance(analysis, dict):
        return {k: _plain(v) for k, v in analysis.items()}
    return analysis


@pytest.mark.parametrize("name", ["ta", "tx", "dd", "tr", "sharpe"])
def test_the_analyzers_agree(both, name):
    s, t, _, _ = both
    mine, theirs = (_plain(getattr(x.analyzers, name).get_analysis()) for x in (t, s))
    if name == "ta":  # bars a trade lasted: tick mode has no bars
        assert {v for k, v in mine.pop("len").items() if k in ("total", "average")} == {0}
        theirs.pop("len")
    assert mine == theirs
