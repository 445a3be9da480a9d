"""Whole tick-mode runs on the real recording: callbacks, order, determinism, analyzers."""

import backtrader as bt
import pyarrow.parquet as pq
import pytest

import backtrader_channels as btch
from backtrader_channels.app.demo import BookImbalanceScalper, build_demo


class Recorder(bt.Strategy):
    def start(self):
        self.seen = []
        self.ticks = self.books = self.quotes = 0

    def on_tick(self, t):
        self.ticks += 1

    def on_quote(self, q):
        self.quotes += 1

    def on_orderbook(self, b):
        self.books += 1

    def on_event(self, e):
        self.seen.append((e.timestamp, e.priority))


def cerebro_with(sample, *kinds):
    c = btch.Cerebro(stdstats=False)
    paths = {"tick": sample.trades, "orderbook": sample.orderbook, "quote": sample.quotes}
    for kind in kinds:
        c.add_channel(kind, symbol="BTC/USDT", dataname=paths[kind])
    return c


def test_all_channels_dispatched_in_exact_order(sample):
    c = cerebro_with(sample, "tick", "orderbook", "quote")
    c.addstrategy(Recorder)
    s = c.run(mode=btch.RunMode.TICK)[0]
    assert (s.ticks, s.books, s.quotes) == (9757, 3450, 28040)
    assert s.seen == sorted(s.seen)  # (timestamp, priority) never goes back
    assert c.last_run["events"] == 9757 + 3450 + 28040
    assert c.channels[("orderbook", "BTC/USDT")].count == 3450
    assert s.channels is c.channels
    assert s._channels is c.channels


def test_same_data_same_orders_every_run():
    def orders():
        c = build_demo()
        log = []

        class Logged(BookImbalanceScalper):
            def notify_order(self, order):
                super().notify_order(order)
                if order.status == order.Completed:
                    log.append(
                        (
                            order.ref - first,
                            order.isbuy(),
                            order.executed.price,
                            order.executed.size,
                        )
                    )

        c.strats.clear()
        c.addstrategy(Logged)
        first = bt.Order.refbasis.__reduce__()[1][0] if False else 0
        c.run(mode=btch.RunMode.TICK)
        base = log[0][0] if log else 0
        return [(r - base, *rest) for r, *rest in log], c.broker.getvalue()

    a, b = orders(), orders()
    assert a == b
    assert len(a[0]) > 100


class _Fills(bt.Analyzer):
    """Every execution the strategy was told of: (signed size, price, commission)."""

    def start(self):
        self.rows = []

    def notify_order(self, order):
        if order.status in (order.Partial, order.Completed):
            ex = order.executed
            self.rows.append((ex.size, ex.price, ex.comm))

    def get_analysis(self):
        return self.rows


def test_demo_pnl_equals_its_fills_marked_at_the_last_trade(sample):
    """The PnL rebuilt from the executions alone: cash paid and received, commissions, and
    the open position marked at the last trade price (the demo's 0.0001 commission)."""
    from backtrader_channels.app.demo import build_demo
    from backtrader_channels.app.report import run_report

    c = build_demo()
    c.addanalyzer(_Fills, _name="fills")
    strat = c.run(mode=btch.RunMode.TICK)[0]
    r = run_report(c, strat)
    fills = strat.analyzers.fills.get_analysis()
    last_price = pq.read_table(sample.trades, columns=["price"]).column("price")[-1].as_py()
    cash_flow = sum(-size * price - comm for size, price, comm in fills)
    position = sum(size for size, _, _ in fills)
    assert r["events"] == 9757 + 3450
    assert r["fills"] == r["orders"] == len(fills) > 0
    assert r["pnl"] == pytest.approx(cash_flow + position * last_price, abs=1e-6)
    assert sum(comm for _, _, comm in fills) == pytest.approx(
        sum(abs(size) * price * 0.0001 for size, price, _ in fills)
    )
    assert r["trades_closed"] >= (r["fills"] - 1) // 2


def test_analyzers_in_tick_mode(sample):
    c = build_demo()
    c.addanalyzer(bt.analyzers.Returns, _name="ret")
    c.addanalyzer(bt.analyzers.SharpeRatio, _name="sharpe", timeframe=bt.TimeFrame.Minutes)
    c.addanalyzer(bt.analyzers.TimeReturn, _name="tr", timeframe=bt.TimeFrame.Minutes)
    c.addanalyzer(bt.analyzers.Transactions, _name="tx")
    s = c.run(mode=btch.RunMode.TICK)[0]
    tr = s.analyzers.tr.get_analysis()
    assert len(tr) == 7  # 23:54 .. 00:00, one entry per minute of the recording
    total = 1.0
    for r in tr.values():
        total *= 1 + r
    assert total == pytest.approx(c.broker.getvalue() / 10_000.0, rel=1e-9)
    assert s.analyzers.sharpe.get_analysis()["sharperatio"] is not None
    assert s.analyzers.drawdown.get_analysis().max.drawdown >= 0
    assert len(s.analyzers.tx.get_analysis()) > 0
    assert s.analyzers.ret.get_analysis()["rtot"] == pytest.approx(
        __import__("math").log(c.broker.getvalue() / 10_000.0)
    )


def test_runstop_stops_promptly(sample):
    class Stopper(bt.Strategy):
        def start(self):
            self.n = 0

        def on_tick(self, t):
            self.n += 1
            if self.n == 100:
                self.env.runstop()

    c = cerebro_with(sample, "tick", "orderbook")
    c.addstrategy(Stopper)
    s = c.run(mode=btch.RunMode.TICK)[0]
    assert s.n == 100


def test_pushed_events_reach_on_event(sample):
    class Timer(bt.Strategy):
        def start(self):
            self.timers = []

        def on_tick(self, t):
            if not self.timers and not hasattr(self, "armed"):
                self.armed = True
                self.env.push_event(
                    btch.Event(t.timestamp + 1_000_000_000, btch.EventPriority.TIMER, "timer", "t")
                )

        def on_event(self, e):
            if e.channel_type == "timer":
                self.timers.append(e.timestamp)

    c = cerebro_with(sample, "tick")
    c.addstrategy(Timer)
    s = c.run(mode=btch.RunMode.TICK)[0]
    assert len(s.timers) == 1


def test_strategy_with_only_next_is_not_called_per_tick(sample):
    class NextOnly(bt.Strategy):
        def start(self):
            self.calls = 0

        def next(self):
            self.calls += 1

    c = cerebro_with(sample, "tick")
    c.addstrategy(NextOnly)
    s = c.run(mode=btch.RunMode.TICK)[0]
    assert s.calls == 0
    assert s.data.close[0] == pytest.approx(61685.99)  # last trade of the recording
