"""A live run with real orders starts its strategies once every venue is ready (start
reconciliation done, private stream subscribed): a strategy that orders on its first trade is
not refused; market data before that keeps the channels current; not ready in time: the run
stops, saying what was missing."""

from __future__ import annotations

import time

import backtrader as bt
import pytest

import backtrader_channels as btch
from backtrader_channels.dispatch.hold import NotReady
from backtrader_channels.loopback import BybitExchange, ReplayExchange

from .conftest import keyed, public


class FirstTrade(bt.Strategy):
    """Buys 0.001 on its very first trade; stops once the order is finished."""

    def start(self):
        self.started_at = time.monotonic()
        self.first_id = None
        self.position_at_start = self.position.size
        self.book_at_start = None
        book = self.channels.get(("orderbook", "BTC/USDT"))
        if book is None:
            book = self.channels.get(("orderbook", "BTC/USDT", "bybit"))
        if book is not None:
            self.book_at_start = (book.best_bid_price, book.best_ask_price)
        self.statuses = []
        self.reasons = []
        self.order = None

    def notify_order(self, order):
        self.statuses.append(order.getstatusname())
        if order.status == order.Rejected:
            self.reasons.append(order.info.get("reason"))
        if not order.alive():
            self.env.runstop()

    def on_tick(self, t):
        if self.first_id is None:
            self.first_id = t.trade_id
            self.order = self.buy(size=0.001)


@pytest.fixture(params=[ReplayExchange, BybitExchange], ids=["binance", "bybit"])
def patient_server(request):
    """An account holding coins (BTC 0.01) on a venue whose recording lasts long enough
    (13 s and more at 1,000 items/s) for the strategy to start before it ends, on a machine
    where getting ready takes seconds (CI once took over 3 s: at 4,000/s, the whole Bybit
    recording had gone by, held back, and the strategy never saw a trade)."""
    srv = request.param(rate=1_000, start_when=1, balances={"USDT": 10_000.0, "BTC": 0.01})
    srv.start()
    yield srv
    srv.stop()


def test_an_order_on_the_first_trade_is_placed_not_refused(patient_server):
    srv = patient_server
    feed = btch.feeds.CCXTLiveFeed(
        public(srv), ["BTC/USDT"], channels=("tick", "orderbook"), stall_timeout=5.0
    )
    cerebro = btch.Cerebro()
    cerebro.add_live_feed(feed)
    cerebro.setbroker(btch.brokers.CCXTBroker(keyed(srv), unknown_retry_s=0.05))
    cerebro.addstrategy(FirstTrade)
    strat = cerebro.run(mode=btch.RunMode.TICK, duration=30)[0]
    assert strat.reasons == []
    assert strat.statuses == ["Submitted", "Accepted", "Completed"]
    assert len([k for k, _ in srv.order_requests if k == "new"]) == 1
    # the strategy started with the venue's book in its channel, and the report says what
    # was held back before it started and which trade it was dispatched first
    assert strat.book_at_start is not None
    assert strat.book_at_start[0] is not None
    assert cerebro.last_run["first_trade_id"] == strat.first_id
    assert cerebro.last_run["held_back"] >= 0
    assert cerebro.last_run["held_back"] == sum(cerebro.last_run["held_back_by_channel"].values())


def test_a_private_stream_refused_for_good_stops_the_run_with_the_reason(server):
    server.private_faults.reject_subscribe = True
    feed = btch.feeds.CCXTLiveFeed(public(server), ["BTC/USDT"], channels=("tick",))
    cerebro = btch.Cerebro()
    cerebro.add_live_feed(feed)
    broker = btch.brokers.CCXTBroker(keyed(server), ready_timeout=3.0)
    cerebro.setbroker(broker)
    cerebro.addstrategy(FirstTrade)
    t0 = time.monotonic()
    with pytest.raises(NotReady, match="not ready to trade after 3 s: private stream") as info:
        cerebro.run(mode=btch.RunMode.TICK, duration=60)
    assert time.monotonic() - t0 < 15
    assert "loopback-secret" not in str(info.value)
    assert server.order_requests == []  # the strategy never started, nothing was sent
    assert "private stream" in cerebro.last_run["not_ready"]
    assert not feed.alive  # the feeds were stopped
