"""The loop passes over trades that reach no pending order: ``TickBroker.on_trade`` returns the
band of prices (above every resting buy limit, below every resting sell limit) where a trade
changes nothing, and the loop skips the trades inside it until something else happens (a
notification, a callback, an activation, a sample). The fills must be the ones matching every
trade gives, at the same times: compared here against a broker that promises no band."""

from __future__ import annotations

import random
from contextlib import contextmanager
from unittest import mock

import backtrader as bt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import backtrader_channels as btch
from backtrader_channels import TickEvent
from backtrader_channels.broker.matching import NO_BAND


class Requoter(bt.Strategy):
    """Places limits around the last fill (seeded), cancels some on acceptance; hears no event
    (no ``on_tick``), so the loop may pass over trades."""

    params = (("seed", 0),)

    def start(self):
        self.rng = random.Random(self.p.seed)
        self.fills = []
        self.place(100.0)

    def place(self, around):
        self.open = [o for o in getattr(self, "open", []) if o.alive()]
        if len(self.open) >= 6:
            return
        for _ in range(self.rng.randint(1, 2)):
            off = self.rng.choice((0.5, 1.0, 2.0))
            self.open.append(self.buy(size=1, price=around - off, exectype=bt.Order.Limit))
            off = self.rng.choice((0.5, 1.0, 2.0))
            self.open.append(self.sell(size=1, price=around + off, exectype=bt.Order.Limit))

    def notify_order(self, order):
        if order.status == order.Completed:
            self.fills.append((self.broker.current_ns(), order.isbuy(), order.executed.price))
            self.place(order.executed.price)
        elif order.status == order.Accepted and self.rng.random() < 0.2:
            self.cancel(order)


def trades(seed: int, n: int) -> list[TickEvent]:
    rng = random.Random(seed)
    out, ts, px = [], 1_000_000_000, 100.0
    for _ in range(n):
        ts += rng.choice((0, 1_000_000, 1_000_000, 3_000_000))
        px = min(104.0, max(96.0, px + rng.choice((-0.5, 0.0, 0.0, 0.5))))
        out.append(
            TickEvent(
                ts, px, rng.choice((0.5, 1.0, 2.0)), rng.choice(("buy", "sell")), None, "X", ts
            )
        )
    return out


def run_counting(c: btch.Cerebro) -> tuple[list, int]:
    """Run ``c``: its strategy's fills, and how many trades reached the broker."""
    calls = 0
    orig = btch.TickBroker.on_trade

    def counted(self, pending, ev):
        nonlocal calls
        calls += 1
        return orig(self, pending, ev)

    with mock.patch.object(btch.TickBroker, "on_trade", counted):
        s = c.run(mode=btch.RunMode.TICK)[0]
    return s.fills, calls


def run(events, seed: int, **broker_kw) -> tuple[list, int]:
    c = btch.Cerebro(stdstats=False)
    c.setbroker(btch.TickBroker(**broker_kw))
    c.broker.setcash(1e9)
    c.add_channel(btch.TickChannel, symbol="X", dataname=list(events))
    c.addstrategy(Requoter, seed=seed)
    return run_counting(c)


@contextmanager
def no_band():
    """A broker that matches every trade: its on_trade promises nothing."""
    orig = btch.TickBroker.on_trade

    def every(self, pending, ev):
        orig(self, pending, ev)
        return NO_BAND

    with mock.patch.object(btch.TickBroker, "on_trade", every):
        yield


def test_trades_inside_the_band_are_passed_over_with_the_same_fills():
    events = trades(1, 3_000)
    fills, calls = run(events, seed=1)
    with no_band():
        every, all_calls = run(events, seed=1)
    assert fills == every
    assert len(fills) >= 10  # the strategy traded
    assert calls < all_calls / 2  # most trades were passed over


def test_an_order_placed_in_a_late_notification_sees_the_next_trade():
    """A notification delivered while the band holds (the response latency delays it) makes
    the strategy place a buy limit above the last trade; the next trade (inside the old band)
    must reach it."""

    class Late(bt.Strategy):
        def start(self):
            self.fills = []
            self.buy(size=1, price=99.0, exectype=bt.Order.Limit)  # far below: rests

        def notify_order(self, order):
            if order.status == order.Accepted and order.created.price == 99.0:
                self.buy(size=1, price=100.5, exectype=bt.Order.Limit)
            elif order.status == order.Completed:
                self.fills.append((self.broker.current_ns(), order.executed.price))

    ms = 1_000_000
    events = [
        TickEvent(t * ms, px, 1.0, "sell", None, "X", t * ms)
        for t, px in ((1, 100.8), (2, 100.9), (7, 100.7), (8, 100.4))
    ]

    def fills():
        c = btch.Cerebro(stdstats=False)
        c.setbroker(btch.TickBroker(response_latency_ns=5 * ms))
        c.add_channel(btch.TickChannel, symbol="X", dataname=events)
        c.addstrategy(Late)
        return c.run(mode=btch.RunMode.TICK)[0].fills

    got = fills()
    with no_band():
        assert got == fills()
    assert [ts for ts, _ in got] == [8 * ms]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(50, 600),
    latency=st.sampled_from((0, 1_000_000, 4_000_000)),
    response=st.sampled_from((0, 2_000_000)),
)
def test_the_band_changes_no_fill(seed, n, latency, response):
    events = trades(seed, n)
    kw = {"latency_ns": latency, "response_latency_ns": response}
    fills, _ = run(events, seed, **kw)
    with no_band():
        every, _ = run(events, seed, **kw)
    assert fills == every


class Quoter(bt.Strategy):
    """One bid a tick under the best bid and one ask a tick over the best ask, requoted on
    every best-price change and after each fill (the market-making benchmark's quoter)."""

    def start(self):
        self.book = self.channels[("orderbook", "ETH/USDT:USDT")]
        self.bid = self.ask = None
        self.fills = []

    def notify_order(self, order):
        if order.status != order.Completed:
            return
        self.fills.append((self.broker.current_ns(), order.isbuy(), order.executed.price))
        if self.bid is not None and order.ref == self.bid.ref:
            self.bid = None
        elif self.ask is not None and order.ref == self.ask.ref:
            self.ask = None
        self.requote()

    def on_orderbook(self, event):
        self.requote()

    def requote(self):
        bb, ba = self.book.best_bid_price, self.book.best_ask_price
        if bb is None or ba is None:
            return
        pos = self.position.size
        for buy, want in ((True, round(bb * 100) - 1), (False, round(ba * 100) + 1)):
            cur = self.bid if buy else self.ask
            if cur is not None and (round(cur.created.price * 100) != want or abs(pos) >= 0.1):
                self.cancel(cur)
                cur = None
            if cur is None and (pos < 0.1 if buy else pos > -0.1):
                fn = self.buy if buy else self.sell
                cur = fn(size=0.01, price=want / 100, exectype=bt.Order.Limit)
            if buy:
                self.bid = cur
            else:
                self.ask = cur


def quoter_fills(hear: str, **broker_kw) -> tuple[list, int]:
    sample = btch.datasets.binance_ethusdt_perp_sample()
    c = btch.Cerebro(stdstats=False)
    c.setbroker(btch.TickBroker(queue="risk_averse", partial_fills=False, **broker_kw))
    c.broker.setcash(1e6)
    c.add_channel("tick", sample.symbol, dataname=sample.trades)
    c.add_channel("orderbook", sample.symbol, dataname=sample.orderbook, hear=hear)
    c.addstrategy(Quoter)
    return run_counting(c)


@pytest.mark.parametrize(
    ("hear", "rules"),
    [
        ("best", {"fill_profile": "hftbacktest"}),  # the aggressor side: bands by side
        ("all", {"fill_profile": "hftbacktest"}),
        ("best", {}),  # any trade at or through a limit
        ("best", {"latency_ns": 3_000_000, "response_latency_ns": 1_000_000}),
    ],
)
def test_a_quoter_on_recorded_data_gets_the_same_fills(hear, rules):
    """The bundled 100 s of Binance USDⓈ-M ETH/USDT (book and trades), a queue model, the
    quoter requoting on every best-price change: the band changes no fill."""
    fills, calls = quoter_fills(hear, **rules)
    with no_band():
        every, all_calls = quoter_fills(hear, **rules)
    assert fills == every
    assert len(fills) > 20
    assert calls < all_calls


def test_a_buyers_trade_below_an_unqueued_ask_still_puts_it_in_its_queue():
    """With the aggressor rule a buyer's trade never fills a bid, but it does reach an ask's
    queue: an ask not yet in its queue joins it on that trade (5 ahead), not on the next book
    message (which shows 20), so a buyer's 6 at the ask fills it. Skipping the first trade
    would leave 20 ahead and no fill."""
    from backtrader_channels import OrderBookEvent

    class OneAsk(bt.Strategy):
        def start(self):
            self.placed, self.fills = False, []

        def on_orderbook(self, ev):
            if not self.placed:
                self.placed = True
                self.sell(size=1.0, price=101.0, exectype=bt.Order.Limit)

        def notify_order(self, order):
            if order.status == order.Completed:
                self.fills.append((self.broker.current_ns(), order.executed.price))

    book = [
        OrderBookEvent(1000, ((99.0, 5.0),), ((101.0, 5.0),), True, "X"),
        OrderBookEvent(3000, (), ((101.0, 20.0),), False, "X"),
    ]
    trades = [
        TickEvent(2000, 100.5, 1.0, "buy", None, "X", 2000),
        TickEvent(4000, 101.0, 6.0, "buy", None, "X", 4000),
    ]

    def fills():
        c = btch.Cerebro(stdstats=False)
        c.setbroker(btch.TickBroker(fill_profile="hftbacktest", partial_fills=False))
        c.add_channel("orderbook", "X", dataname=book)
        c.add_channel(btch.TickChannel, symbol="X", dataname=trades)
        c.addstrategy(OneAsk)
        return c.run(mode=btch.RunMode.TICK)[0].fills

    got = fills()
    assert got == [(4000, 101.0)]
    with no_band():
        assert fills() == got
