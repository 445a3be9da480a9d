"""Real orders across the loopback Binance's laps: each lap restarts the venue's book (a sequence
break); while the book resyncs, new orders are refused by protection, and a resync per lap is a
venue event, never a fault: the kill switch (here tripping on one fault) stays untouched."""

from __future__ import annotations

import backtrader as bt
import pytest

import backtrader_channels as btch
from backtrader_channels.loopback import ReplayExchange

from .conftest import KEY, SECRET, keyed, public

FIRST_TRADE_ID, LAST_TRADE_ID = 3735683259, 3735693015  # the recording's
TRADES_PER_LAP = LAST_TRADE_ID - FIRST_TRADE_ID + 1
LAPS = 3


class EveryFewTicks(bt.Strategy):
    """A tiny market order every ``every`` ticks, buy and sell in turn, through all the laps;
    stops at the last lap's last trade once its orders are answered."""

    params = (("every", 300), ("last_trade", 0))

    def start(self):
        self.n = 0
        self.refused, self.filled = [], []  # (trade id at the time, reason) / (lap, side)
        self.lap_of_order = {}
        self.side = "buy"
        self.pending = 0

    def notify_order(self, order):
        if order.status == order.Rejected:
            self.refused.append(order.info.get("reason"))
            self.pending -= 1
        elif order.status == order.Completed:
            self.filled.append((self.lap_of_order.get(order.ref), order.isbuy()))
            self.pending -= 1

    def on_tick(self, t):
        if not self.n and not self.broker.trading:
            return  # from the broker's first trading moment (its start reconciliation done)
        self.n += 1
        lap = (t.trade_id - FIRST_TRADE_ID) // TRADES_PER_LAP
        if t.trade_id >= self.p.last_trade:
            if self.pending <= 0:
                self.env.runstop()
            return
        if self.n % self.p.every or self.pending:
            return
        order = self.buy(size=0.0002) if self.side == "buy" else self.sell(size=0.0002)
        self.side = "sell" if self.side == "buy" else "buy"
        self.lap_of_order[order.ref] = lap
        self.pending += 1


@pytest.fixture
def lap_server():
    srv = ReplayExchange(
        rate=5_000,
        start_when=2,
        loop_forever=True,
        lap_pause=0.3,
        balances={"USDT": 10_000.0, "BTC": 0.01},
        api_key=KEY,
        api_secret=SECRET,
    )
    srv.start()
    srv._templates = [t for t in srv._templates if not t[0].endswith("@bookTicker")]
    yield srv
    srv.stop()


def test_a_resync_per_lap_refuses_orders_a_moment_and_never_trips_the_kill_switch(lap_server):
    srv = lap_server
    feed = btch.feeds.CCXTLiveFeed(
        public(srv), ["BTC/USDT"], channels=("tick", "orderbook"), stall_timeout=5.0
    )
    risk = btch.RiskLimits(kill_after=(1, 3600))  # any one fault would trip it
    broker = btch.brokers.CCXTBroker(keyed(srv), risk=risk, unknown_retry_s=0.05)
    cerebro = btch.Cerebro()
    cerebro.add_live_feed(feed)
    cerebro.setbroker(broker)
    cerebro.addstrategy(EveryFewTicks, last_trade=LAST_TRADE_ID + (LAPS - 1) * TRADES_PER_LAP)
    strat = cerebro.run(mode=btch.RunMode.TICK, duration=120)[0]
    execution = cerebro.last_run["execution"]
    assert execution["kill_switch"] is None
    assert broker.kill is not None
    assert broker.kill.faults == []
    book = feed.anomaly_report()["orderbook:BTC/USDT"]
    assert book["book_resync"] == LAPS - 1, book
    assert "crossed_book" not in book
    # refusals only while the market data was not healthy (the book resyncing, or before the
    # first data); orders filled in every lap
    assert all(r.startswith("protection: market data") for r in strat.refused), strat.refused
    assert any("resyncing the book" in r for r in strat.refused)  # (21 of 87 orders, seen)
    assert {lap for lap, _ in strat.filled} == set(range(LAPS)), strat.filled
