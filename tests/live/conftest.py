"""Live tests: the real ccxt.pro client against the loopback replay exchange on 127.0.0.1."""

from __future__ import annotations

import asyncio

import backtrader as bt
import ccxt.pro as ccxtpro
import pytest

import backtrader_channels as btch
from backtrader_channels.live.ccxt_feed import CCXTLiveFeed
from backtrader_channels.loopback import ReplayExchange, point_ccxt_at

LAST_TRADE_ID = 3735693015  # the capture's last trade
FIRST_TRADE_ID = 3735683259
LAST_DEPTH_ID = 50093421584  # the capture's last depth update (u)
LAST_QUOTE_ID = 50093421612  # the capture's last bookTicker (u): its very last frame

# the loopback Bybit (the same recording, re-framed): its trade ids, and a short replay of it
BYBIT_FIRST_ID = 2_290_000_000_000_000_001
BYBIT_ITEMS = 4500  # the first 4,500 recorded items (trades and book messages): ~100 s of market
BYBIT_ITEM_TRADES = 2974  # the trades among them


def assert_bybit_book_equals_server(cerebro, srv, depth=20):
    """The run's Bybit book is the loopback Bybit's own, to ``depth`` levels and its last ``u``."""
    book = cerebro.channels[("orderbook", "BTC/USDT", "bybit")]
    bids, asks = book.levels(depth)
    want_b, want_a = srv.book.top(depth)
    assert book.last_update_id == srv.book.u
    assert [tuple(x) for x in bids] == [(float(p), float(s)) for p, s in want_b]
    assert [tuple(x) for x in asks] == [(float(p), float(s)) for p, s in want_a]


class Collector(bt.Strategy):
    """Records every delivered event; stops once the capture's last trade (and, with a book
    channel, its last depth update; with ``to_last_quote``, its last bookTicker) arrived."""

    to_last_quote = False

    def start(self):
        self.trade_ids, self.quotes, self.books = [], 0, 0
        self.last_quote_u = -1
        self.quote_ids, self.book_ids = [], []
        self.book = self.channels.get(("orderbook", "BTC/USDT"))
        self.has_ticks = ("tick", "BTC/USDT") in self.channels

    def _maybe_stop(self):
        trades_done = not self.has_ticks or (self.trade_ids and self.trade_ids[-1] == LAST_TRADE_ID)
        book_done = self.book is None or self.book.last_update_id == LAST_DEPTH_ID
        quote_done = not self.to_last_quote or self.last_quote_u == LAST_QUOTE_ID
        if trades_done and book_done and quote_done:
            self.env.runstop()

    def on_tick(self, t):
        self.trade_ids.append(t.trade_id)
        self._maybe_stop()

    def on_quote(self, q):
        self.quotes += 1
        self.last_quote_u = q.update_id
        self.quote_ids.append(q.update_id)
        if self.to_last_quote:
            self._maybe_stop()

    def on_orderbook(self, e):
        self.books += 1
        self.book_ids.append(e.last_update_id)
        self._maybe_stop()


@pytest.fixture
def server():
    """A started loopback exchange (all three streams must subscribe before it replays)."""
    srv = ReplayExchange(rate=6_000, start_when=3)
    srv.start()
    yield srv
    srv.stop()


def run_live(
    srv,
    strategy=Collector,
    duration=180.0,  # a generous bound: Collector ends the run at the capture's last trade
    channels=("tick", "orderbook", "quote"),
    max_events=None,
    threads=False,
    trades_only=True,
    api_key=None,
    **feed_kw,
):
    srv.start_when = len(channels)  # the replay starts once every stream has subscribed
    if trades_only and set(channels) == {"tick"}:  # nobody reads the rest: replay trades only
        srv._templates = [t for t in srv._templates if t[0].endswith("@trade")]
    ex = point_ccxt_at(ccxtpro.binance(), srv.port)
    if api_key is not None:  # (a key alone: historicalTrades, no signed request)
        ex.apiKey = api_key
    feed = CCXTLiveFeed(
        ex,
        ["BTC/USDT"],
        channels=channels,
        **{"stall_timeout": 1.0, "backoff_initial": 0.05, **feed_kw},
    )
    cerebro = btch.Cerebro(live_threads=threads)
    cerebro.add_live_feed(feed)
    cerebro.addstrategy(strategy)
    strat = cerebro.run(mode=btch.RunMode.TICK, duration=duration, max_events=max_events)[0]
    return cerebro, feed, strat


#: both ways of running feeds: on the engine's thread (default) and each in its own thread
BOTH_MODES = pytest.mark.parametrize("threads", [False, True], ids=["inline", "threads"])


def gap_ranges(feed):
    details = feed.anomaly_report().get("tick:BTC/USDT", {}).get("details", [])
    return [d for kind, d in details if kind == "trade_gap"]


def assert_trades_accounted(feed, strat):
    """No duplicate, strictly increasing ids; every missing id reported in a gap range."""
    ids = strat.trade_ids
    assert ids == sorted(set(ids)), "duplicated or unordered trades"
    missing = set(range(ids[0], ids[-1] + 1)) - set(ids)
    reported = set()
    for first, last in gap_ranges(feed):
        reported.update(range(first, last + 1))
    assert missing <= reported


def arm(srv, at_frame, **faults):
    """Set fault switches once the replay has sent ``at_frame`` frames (from a helper thread)."""
    import threading
    import time

    def wait_and_set():
        while srv.sent < at_frame:
            time.sleep(0.002)
        for name, value in faults.items():
            setattr(srv.faults, name, value)

    threading.Thread(target=wait_and_set, daemon=True).start()


def with_binance_client(server, body):
    """``body(exchange, receive)`` on a real ``ccxt.pro.binance`` with the loopback exchange's
    markets, whose message handler is fed the capture's frames by hand: ``receive(i, raw=False,
    **change)`` hands it the i-th bookTicker frame (``frames=`` another list of ``(stream,
    data)``; ``raw``: without the combined stream's wrapper) and returns its ``u``;
    ``receive.message(m)`` hands it ``m`` as it is."""

    async def main():
        ex = point_ccxt_at(ccxtpro.binance(), server.port)
        try:
            await ex.load_markets()
            client = ex.client(ex.urls["api"]["ws"]["spot"])  # not connected: frames by hand
            frames = [(s, d) for _, s, d in server.frames if s.endswith("@bookTicker")]

            def receive(i, raw=False, frames=frames, **change):
                stream, data = frames[i]
                data = dict(data, **change)
                ex.handle_message(client, data if raw else {"stream": stream, "data": data})
                return int(data.get("u", 0))

            receive.message = lambda message: ex.handle_message(client, message)

            return body(ex, receive)
        finally:
            await ex.close()

    return asyncio.run(main())
