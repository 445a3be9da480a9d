"""Two venues in one live run (Binance and Bybit loopback exchanges, real ccxt.pro clients):
the same decisions as the backtest of both venues' recordings, and a fault on one venue leaves
the other trading."""

from __future__ import annotations

from collections import deque
from typing import ClassVar

import backtrader as bt
import ccxt.pro as ccxtpro
import pytest

import backtrader_channels as btch
from backtrader_channels.live.ccxt_feed import CCXTLiveFeed
from backtrader_channels.loopback import (
    BybitExchange,
    ReplayExchange,
    point_bybit_at,
    point_ccxt_at,
)

from .conftest import (
    BYBIT_FIRST_ID,
    BYBIT_ITEM_TRADES,
    BYBIT_ITEMS,
    LAST_TRADE_ID,
    arm,
    assert_bybit_book_equals_server,
)

N_TRADES = 9757


class PerVenue(bt.Strategy):
    """Per venue: a decision each time a trade crosses the mean of that venue's last 30 trade
    prices (up: buy, down: sell), with a paper order on that venue. Stops when both venues'
    recordings have been delivered."""

    def start(self):
        self.window = {v: deque(maxlen=30) for v in ("binance", "bybit")}
        self.side = dict.fromkeys(self.window)
        self.decisions = {v: [] for v in self.window}
        self.seen = dict.fromkeys(self.window, 0)

    def on_tick(self, t):
        v = t.venue
        self.seen[v] += 1
        w = self.window[v]
        if len(w) == w.maxlen:
            mean = sum(w) / len(w)
            side = "buy" if t.price > mean else "sell" if t.price < mean else self.side[v]
            if side != self.side[v]:
                self.side[v] = side
                self.decisions[v].append((self.seen[v], side, t.price))
                data = self.getdatabyname(btch.instrument_name("BTC/USDT", v))
                (self.buy if side == "buy" else self.sell)(data=data, size=0.001)
        w.append(t.price)
        if all(n >= N_TRADES for n in self.seen.values()):
            self.env.runstop()


def backtest_decisions(sample):
    bybit = btch.datasets.bybit_btcusdt_sample()
    c = btch.Cerebro()
    c.add_channel("tick", "BTC/USDT", sample.trades, venue="binance")
    c.add_channel("tick", "BTC/USDT", bybit.trades, venue="bybit")
    c.addstrategy(PerVenue)
    return c.run(mode=btch.RunMode.TICK)[0].decisions


@pytest.fixture
def venues():
    binance = ReplayExchange(rate=4000, start_when=1)
    binance.frames = [f for f in binance.frames if f[1].endswith("@trade")]
    bybit = BybitExchange(rate=4000, start_when=1)
    bybit.items = [i for i in bybit.items if i[1] == "trade"]
    binance.start()
    bybit.start()
    yield binance, bybit
    binance.stop()
    bybit.stop()


def live_run(
    binance, bybit, threads=False, strategy=PerVenue, bybit_channels=("tick",), **strategy_kw
):
    bybit.start_when = len(bybit_channels)
    feeds = [
        CCXTLiveFeed(
            ex, ["BTC/USDT"], channels=ch, venue=v, stall_timeout=1.0, backoff_initial=0.05
        )
        for v, ex, ch in (
            ("binance", point_ccxt_at(ccxtpro.binance(), binance.port), ["tick"]),
            ("bybit", point_bybit_at(ccxtpro.bybit(), bybit.port), list(bybit_channels)),
        )
    ]
    c = btch.Cerebro(live_threads=threads)
    for f in feeds:
        c.add_live_feed(f)
    c.addstrategy(strategy, **strategy_kw)
    strat = c.run(mode=btch.RunMode.TICK, duration=120)[0]
    return c, feeds, strat


@pytest.mark.parametrize("threads", [False, True], ids=["inline", "threads"])
def test_live_on_both_venues_decides_as_the_backtest(sample, venues, threads):
    want = backtest_decisions(sample)
    assert len(want["binance"]) > 100
    assert want["binance"] == want["bybit"]  # the Bybit sample is the same trades, later
    c, _feeds, strat = live_run(*venues, threads=threads)
    assert strat.seen == {"binance": N_TRADES, "bybit": N_TRADES}
    assert strat.decisions == want
    assert c.last_run["by_venue"]["bybit"]["events"] >= N_TRADES - 1
    assert c.last_run["exposure"]["BTC"] == pytest.approx(
        sum(s.getposition(d).size for s in [strat] for d in s.datas)
    )


LAST_IDS = {"binance": LAST_TRADE_ID, "bybit": BYBIT_FIRST_ID + N_TRADES - 1}


class BinanceHealthAtItsEnd(PerVenue):
    """Also notes Binance's anomalies when its last trade arrives (after it, a venue that has
    sent everything may rightly go stale while the run waits for the other), keeps each venue's
    trade ids, and stops when both venues' last trades have arrived: the stalled venue's
    trades that outran its recent-trade window are reported lost, not delivered."""

    last_ids: ClassVar[dict[str, int]] = LAST_IDS

    def start(self):
        super().start()
        self.ids = {v: [] for v in self.window}

    def on_tick(self, t):
        self.ids[t.venue].append(t.trade_id)
        super().on_tick(t)
        if t.venue == "binance" and self.seen["binance"] == N_TRADES:
            feed = next(f for f in self.env._live_feeds if f.venue == "binance")
            self.binance_at_end = feed.anomaly_report().get("tick:BTC/USDT@binance", {})
        self._maybe_stop()

    def _maybe_stop(self):
        if all(ids and ids[-1] == self.last_ids[v] for v, ids in self.ids.items()):
            self.env.runstop()


def assert_binance_untouched(c, strat):
    """The healthy venue: every trade, the backtest's decisions, nothing reported for it."""
    assert not strat.binance_at_end.get("stale"), strat.binance_at_end
    assert strat.seen["binance"] == N_TRADES
    assert (
        strat.decisions["binance"]
        == backtest_decisions(btch.datasets.binance_btcusdt_sample())["binance"]
    )
    assert not any(k.endswith("@binance") for k in c.last_run["anomalies"]), c.last_run["anomalies"]


def assert_bybit_trades_accounted(c, strat, last_id):
    """The faulted venue: every trade once, in order, to its last; what a slow reconnect let
    outrun Bybit's recent-trade window (on a loaded machine) is reported with its range."""
    ids = strat.ids["bybit"]
    assert ids == sorted(set(ids))
    assert ids[0] == BYBIT_FIRST_ID
    assert ids[-1] == last_id
    reported = set()
    for kind, d in c.last_run["anomalies"]["tick:BTC/USDT@bybit"].get("details", []):
        if kind == "trade_gap":
            reported.update(range(d[0], d[1] + 1))
    assert set(range(ids[0], ids[-1] + 1)) - set(ids) <= reported


def test_a_stall_on_one_venue_leaves_the_other_trading(venues):
    binance, bybit = venues
    binance.rate = 1300.0  # Binance still sends (7.5 s) while Bybit is silent
    arm(bybit, 2000, stall_seconds=2.5)
    c, _feeds, strat = live_run(binance, bybit, strategy=BinanceHealthAtItsEnd)
    assert c.last_run["anomalies"]["tick:BTC/USDT@bybit"].get("stale", 0) >= 1
    assert_binance_untouched(c, strat)
    assert_bybit_trades_accounted(c, strat, LAST_IDS["bybit"])


class BothVenuesAndBybitsBook(BinanceHealthAtItsEnd):
    """Stops when both venues' last trades have arrived and Bybit's book has its venue's last
    update."""

    params = (("server", None),)  # the loopback Bybit
    last_ids: ClassVar[dict[str, int]] = {
        **LAST_IDS,
        "bybit": BYBIT_FIRST_ID + BYBIT_ITEM_TRADES - 1,
    }

    def on_orderbook(self, ev):
        self._maybe_stop()

    def _maybe_stop(self):
        book = self.channels[("orderbook", "BTC/USDT", "bybit")]
        srv = self.p.server
        if srv.done.is_set() and book.last_update_id == srv.book.u:
            super()._maybe_stop()


@pytest.mark.parametrize("fault", ["disconnect", "book_gap"])
def test_a_disconnect_or_a_book_gap_on_one_venue_leaves_the_other_trading(venues, fault):
    binance, bybit = venues
    binance.rate = 1300.0  # Binance sends for 7.5 s, through Bybit's fault and its healing
    if fault == "disconnect":  # Bybit's sockets reset mid-replay
        arm(bybit, 2000, drop_after=1, abrupt_drop=True)
        c, _feeds, strat = live_run(binance, bybit, strategy=BinanceHealthAtItsEnd)
        report = c.last_run["anomalies"]["tick:BTC/USDT@bybit"]
        assert report.get("disconnect", 0) + report.get("reconnect", 0) >= 1, report
        last_id = LAST_IDS["bybit"]
    else:  # one book delta skipped: a gap in u, resubscribed, the book right again
        bybit.items = list(BybitExchange().items[:BYBIT_ITEMS])
        arm(bybit, 1500, skip_depth=1)
        c, _feeds, strat = live_run(
            binance,
            bybit,
            strategy=BothVenuesAndBybitsBook,
            bybit_channels=("tick", "orderbook"),
            server=bybit,
        )
        report = c.last_run["anomalies"]["orderbook:BTC/USDT@bybit"]
        assert report["book_gap"] == 1
        assert_bybit_book_equals_server(c, bybit)
        last_id = BothVenuesAndBybitsBook.last_ids["bybit"]
    assert_binance_untouched(c, strat)
    assert_bybit_trades_accounted(c, strat, last_id)
