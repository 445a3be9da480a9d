"""Across the loopback exchanges' laps: each lap restarts the venue's book (a sequence break on
Binance, a snapshot with ``u`` back at 1 on Bybit); the client resyncs once per lap, its book is
never crossed, and at the end of each lap it equals the venue's."""

from __future__ import annotations

import backtrader as bt
import ccxt.pro as ccxtpro
import pytest

import backtrader_channels as btch
from backtrader_channels.live.ccxt_feed import CCXTLiveFeed
from backtrader_channels.loopback import LAP_ID_GAP, BybitExchange, ReplayExchange, point_bybit_at

from .conftest import BYBIT_FIRST_ID, BYBIT_ITEMS, FIRST_TRADE_ID, LAST_TRADE_ID, run_live

LAPS = 3  # the runs stop at the end of the third lap: two lap boundaries
TRADES_PER_LAP = LAST_TRADE_ID - FIRST_TRADE_ID + 1


def levels(book, depth=20):
    bids, asks = book.levels(depth)
    return [tuple(x) for x in bids], [tuple(x) for x in asks]


def server_levels(bids, asks, depth=20):
    return (
        [(float(p), float(s)) for p, s in bids[:depth]],
        [(float(p), float(s)) for p, s in asks[:depth]],
    )


class LapWatcher(bt.Strategy):
    """Checks the book on every update (crossed?), keeps it as it was at each lap's last update
    (``end_ids``: lap -> that update's id; ``restart``: Bybit's ids start again each lap), stops
    once it has the last lap's last trade and last book."""

    params = (("key", ("orderbook", "BTC/USDT")), ("end_ids", None), ("last_trade", 0))

    def start(self):
        self.book = self.channels[self.p.key]
        self.books = self.crossed = 0
        self.lap = 0  # Bybit: which lap the book is in (its u goes back at each)
        self.prev_id = -1
        self.at_lap_end = {}  # lap -> the book's levels when it had the lap's last update
        self.last_trade = None
        self.trades = 0

    def on_tick(self, t):
        self.trades += 1
        self.last_trade = t.trade_id
        self._maybe_stop()

    def on_orderbook(self, e):
        self.books += 1
        self.crossed += self.book.is_crossed
        uid = e.last_update_id
        if uid < self.prev_id:
            self.lap += 1
        self.prev_id = uid
        lap = self._lap_of(uid)
        if lap is not None:
            self.at_lap_end[lap] = levels(self.book)
        self._maybe_stop()

    def _lap_of(self, uid):
        ends = self.p.end_ids
        if callable(ends):  # Bybit: every lap ends on the same u
            return self.lap if uid == ends() else None
        return ends.get(uid)

    def _maybe_stop(self):
        if self.last_trade is None or self.last_trade < self.p.last_trade:
            return
        if LAPS - 1 in self.at_lap_end or self.last_trade > self.p.last_trade:
            self.env.runstop()  # (past the last lap's last trade: the test says what is missing)


def with_params(strategy, **params):
    """``strategy`` with these parameters' defaults (``run_live`` takes a class)."""
    return type(strategy.__name__, (strategy,), {"params": tuple(params.items())})


def test_each_binance_lap_resyncs_once_and_the_book_is_never_crossed():
    # a pause between laps (the venue's restart) lets a client behind the replay see each
    # lap's last book before the next lap replaces it
    # a lap of 2.6 s: a resync (ccxt throttles the 1,000-level REST snapshot to 0.5 s) took up
    # to 1.5 s on a loaded machine, and a lap must outlast it
    srv = ReplayExchange(rate=5_000, loop_forever=True, lap_pause=0.3)
    srv.start()
    try:
        # trades and the book (best bid/ask frames go on as they are; not needed here)
        srv._templates = [t for t in srv._templates if not t[0].endswith("@bookTicker")]
        watcher = with_params(
            LapWatcher,
            end_ids={srv.lap_end_id(lap): lap for lap in range(LAPS)},
            last_trade=LAST_TRADE_ID + (LAPS - 1) * TRADES_PER_LAP,
        )
        _, feed, strat = run_live(
            srv,
            watcher,
            channels=("tick", "orderbook"),
            trades_only=False,
            duration=90,
            stall_timeout=5.0,  # a resync waiting for its snapshot is not a stall
        )
    finally:
        srv.stop()
    assert set(strat.at_lap_end) == set(range(LAPS)), feed.anomaly_report()
    assert strat.last_trade == LAST_TRADE_ID + (LAPS - 1) * TRADES_PER_LAP
    assert strat.crossed == 0
    report = feed.anomaly_report()
    book = report["orderbook:BTC/USDT"]
    assert "crossed_book" not in book
    # one resync per new lap, reported as such, and nothing else went wrong with the book
    assert book["book_resync"] == LAPS - 1, book
    assert set(book) == {"book_resync", "details"}, book
    assert "tick:BTC/USDT" not in report  # every trade, in order, across the laps
    # the book at each lap's end is the venue's (the server's book then, to 20 levels)
    assert set(strat.at_lap_end) == set(range(LAPS))
    for lap, (uid, snap) in enumerate(srv.lap_ends[:LAPS]):
        assert uid == srv.lap_end_id(lap)
        assert strat.at_lap_end[lap] == server_levels(snap["bids"], snap["asks"])
    # each lap's ids jump past the last one's: the sequence break a client must see
    assert srv.lap_end_id(1) - srv.lap_end_id(0) > LAP_ID_GAP


def test_a_lap_serves_the_recordings_snapshot_with_the_laps_ids():
    srv = ReplayExchange()
    first = srv.book.snapshot(1000)
    srv.book.apply({"b": [["1.0", "2.0"]], "a": [], "u": srv.book.last_id + 5})
    shift = srv.lap_end_id(1) - srv.lap_end_id(0)
    srv.book.reset(srv.snapshot, shift)
    again = srv.book.snapshot(1000)
    assert (again["bids"], again["asks"]) == (first["bids"], first["asks"])
    assert again["lastUpdateId"] == first["lastUpdateId"] + shift


@pytest.fixture
def bybit_server():
    srv = BybitExchange(rate=10_000, start_when=2, loop_forever=True, lap_pause=0.3)
    srv.items = srv.items[:BYBIT_ITEMS]  # ~100 s of market a lap
    srv.start()
    yield srv
    srv.stop()


def test_each_bybit_lap_restarts_the_book_once_and_it_is_never_crossed(bybit_server):
    srv = bybit_server
    n_trades = sum(kind == "trade" for _, kind, _ in srv.items)
    n_books = len(srv.items) - n_trades
    feed = CCXTLiveFeed(
        point_bybit_at(ccxtpro.bybit(), srv.port),
        ["BTC/USDT"],
        channels=("tick", "orderbook"),
        venue="bybit",
        stall_timeout=1.0,
        backoff_initial=0.05,
    )
    cerebro = btch.Cerebro()
    cerebro.add_live_feed(feed)
    cerebro.addstrategy(
        LapWatcher,
        key=("orderbook", "BTC/USDT", "bybit"),
        end_ids=lambda: n_books,  # u starts at 1 each lap: a lap ends on its n-th message
        last_trade=BYBIT_FIRST_ID + LAPS * n_trades - 1,
    )
    strat = cerebro.run(mode=btch.RunMode.TICK, duration=90)[0]
    assert strat.last_trade == BYBIT_FIRST_ID + LAPS * n_trades - 1
    assert strat.crossed == 0
    report = feed.anomaly_report()
    book = report["orderbook:BTC/USDT@bybit"]
    assert book["book_resync"] == LAPS - 1, book
    assert set(book) == {"book_resync", "details"}, book
    assert [d for kind, d in book["details"]] == [f"venue snapshot: u {n_books} -> 1"] * (LAPS - 1)
    assert "tick:BTC/USDT@bybit" not in report
    assert set(strat.at_lap_end) == set(range(LAPS))
    for lap, (u, (bids, asks)) in enumerate(srv.lap_ends[:LAPS]):
        assert u == n_books
        assert strat.at_lap_end[lap] == server_levels(bids, asks)
