"""Service levels with two venues replaying on loopback (each its own process): a market-data
frame -> the quote engine updated, and one scan of the cross-venue spread, beside the bare
ccxt.pro clients in the same run.

Run: ``python -m pytest benchmarks/test_venues.py --benchmark-only``. Two paces: "stress",
Binance replaying its recording at 2,000 frames/s and Bybit at 1,000 items/s (trades and book
messages), several times the recorded rates; and "recorded", both in real time on one timeline
(the recording's own clock, as ``spread --live --replay-server``). SECONDS per round.
The quote engine is fed either by best bid/ask (``quote`` channels: Binance
``@bookTicker``, Bybit ``orderbook.1``) or by the books (``orderbook`` channels: Binance
``@depth@100ms``, Bybit ``orderbook.50``). Latencies in us, on one clock: each venue records when
each frame left, by its update id.
"""

from __future__ import annotations

import asyncio
import time

import ccxt.pro as ccxtpro
import numpy as np
import pytest

import backtrader_channels as btch
from backtrader_channels.app.spread_commands import ORIGIN_MS
from backtrader_channels.live.ccxt_feed import CCXTLiveFeed
from backtrader_channels.loopback import (
    point_bybit_at,
    point_ccxt_at,
    serve_bybit_in_subprocess,
    serve_in_subprocess,
)
from backtrader_channels.spread import SpreadStrategy
from backtrader_channels.venues.bybit.stream import BybitBookGuard

SECONDS = 12
ROUNDS = 3


def _pct(values):
    a = np.asarray(values, dtype=float)
    if not a.size:
        return {"n": 0}
    return {
        "n": int(a.size),
        "p50_us": round(float(np.percentile(a, 50)), 1),
        "p99_us": round(float(np.percentile(a, 99)), 1),
        "max_us": round(float(a.max()), 1),
    }


REAL_TIME = {"speed": 1.0, "origin_ms": ORIGIN_MS}
PACES = {"stress": ({"rate": 2_000}, {"rate": 1_000}), "recorded": (REAL_TIME, REAL_TIME)}


def _venues(pace="stress"):
    b_kw, y_kw = PACES[pace]
    binance = serve_in_subprocess(start_when=1, record_send_times=True, **b_kw)
    bybit = serve_bybit_in_subprocess(start_when=1, record_send_times=True, **y_kw)
    return binance, bybit


def _sent(kind, bstop, bybit_times):
    """Send times per venue by update id, for quotes or books."""
    book, bbo = bybit_times
    if kind == "quote":
        return {"binance": bstop.quote_times, "bybit": bbo}
    return {"binance": bstop.book_times, "bybit": book or {}}


class Timed(SpreadStrategy):
    """The spread strategy, noting when each update reached the quote engine and how long each
    scan took."""

    def start(self):
        super().start()
        # (venue, update id, time.time_ns() after the engine's update, the feed's receipt time)
        self.reached = []
        self.scan_ns = []

    def on_quote(self, ev):
        self.engine.update(
            ev.venue, ev.bid_price, ev.bid_size, ev.ask_price, ev.ask_size, ev.timestamp
        )
        self._timed(ev.venue, ev.update_id, ev.recv_timestamp)

    def on_orderbook(self, ev):
        book = self._books.get((ev.symbol, ev.venue))
        bid, ask = book.best_bid, book.best_ask
        if bid is None or ask is None:
            return
        self.engine.update(ev.venue, bid[0], bid[1], ask[0], ask[1], ev.timestamp)
        self._timed(ev.venue, ev.last_update_id, ev.recv_timestamp)

    def _timed(self, venue, uid, recv):
        self.reached.append((venue, uid, time.time_ns(), recv))
        t0 = time.perf_counter_ns()
        self._scan()
        self.scan_ns.append(time.perf_counter_ns() - t0)


CASES = [
    ("quote", False, "stress"),
    ("quote", True, "stress"),
    ("orderbook", False, "stress"),
    ("quote", False, "recorded"),
]


@pytest.mark.benchmark(group="venues-service-levels")
@pytest.mark.parametrize(
    ("kind", "threads", "pace"),
    CASES,
    ids=["quotes-inline", "quotes-threads", "books-inline", "quotes-inline-recorded"],
)
def test_frame_to_quote_engine_and_scan(benchmark, kind, threads, pace):
    lat = {"binance": [], "bybit": []}
    receipt = []  # the feed's receipt (a watch call returned) -> the quote engine updated
    scans = []

    def run():
        (bport, bstop), (yport, ystop) = _venues(pace)
        try:
            cerebro = btch.Cerebro(live_threads=threads)
            for ex, venue in (
                (point_ccxt_at(ccxtpro.binance(), bport), "binance"),
                (point_bybit_at(ccxtpro.bybit(), yport), "bybit"),
            ):
                feed = CCXTLiveFeed(ex, ["BTC/USDT"], channels=(kind,), venue=venue)
                cerebro.add_live_feed(feed)
            cerebro.addstrategy(Timed, fees=0.0001, threshold_bps=1.0)
            strat = cerebro.run(mode=btch.RunMode.TICK, duration=SECONDS)[0]
        finally:
            bstop()
            bybit_times = ystop()
        sent = _sent(kind, bstop, bybit_times)
        for venue, uid, t, recv in strat.reached:
            s = sent[venue].get(uid)
            if s is not None:
                lat[venue].append((t - s) / 1000)
                receipt.append((t - recv) / 1000)
        scans.extend(ns / 1000 for ns in strat.scan_ns)

    benchmark.pedantic(run, rounds=ROUNDS, iterations=1)
    for venue, values in lat.items():
        benchmark.extra_info[f"frame_to_quote_engine_{venue}"] = _pct(values)
    benchmark.extra_info["frame_to_quote_engine_both"] = _pct(lat["binance"] + lat["bybit"])
    benchmark.extra_info["receipt_to_quote_engine_both"] = _pct(receipt)
    benchmark.extra_info["scan"] = _pct(scans)


@pytest.mark.benchmark(group="venues-service-levels")
@pytest.mark.parametrize(
    ("kind", "pace"),
    [("quote", "stress"), ("orderbook", "stress"), ("quote", "recorded")],
    ids=["quotes", "books", "quotes-recorded"],
)
def test_bare_ccxt_on_both(benchmark, kind, pace):
    """Baseline: the bare clients on both venues, one loop (frame -> ``watch_bids_asks`` or
    ``watch_order_book`` returns). Bybit's client gets the package's guard, which stamps the
    update id the latency is matched by (and keeps ``orderbook.1`` off the book)."""
    lat = {"binance": [], "bybit": []}

    async def watch(ex, venue, seen, until):
        await ex.load_markets()
        while time.monotonic() < until:
            if kind == "quote":
                q = (await ex.watch_bids_asks(["BTC/USDT"]))["BTC/USDT"]
                uid = (q.get("info") or {}).get("u")
            else:
                uid = (await ex.watch_order_book("BTC/USDT")).get("nonce")
            seen.append((venue, int(uid) if uid is not None else None, time.time_ns()))
        await ex.close()

    async def both(bport, yport):
        seen = []
        until = time.monotonic() + SECONDS
        b = point_ccxt_at(ccxtpro.binance(), bport)
        y = point_bybit_at(ccxtpro.bybit(), yport)
        BybitBookGuard(y, lambda *a: None)
        await asyncio.gather(watch(b, "binance", seen, until), watch(y, "bybit", seen, until))
        return seen

    def run():
        (bport, bstop), (yport, ystop) = _venues(pace)
        try:
            seen = asyncio.run(both(bport, yport))
        finally:
            bstop()
            bybit_times = ystop()
        sent = _sent(kind, bstop, bybit_times)
        for venue, uid, t in seen:
            s = sent[venue].get(uid)
            if s is not None:
                lat[venue].append((t - s) / 1000)

    benchmark.pedantic(run, rounds=ROUNDS, iterations=1)
    for venue, values in lat.items():
        benchmark.extra_info[f"frame_to_watch_{venue}"] = _pct(values)
    benchmark.extra_info["frame_to_watch_both"] = _pct(lat["binance"] + lat["bybit"])
