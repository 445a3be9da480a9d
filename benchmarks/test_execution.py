"""Real order path on the loopback venues (each its own process; Binance, and Bybit v5): decision
-> order at the venue, and venue fill -> ``notify_order``, beside the bare ccxt.pro client in the
same run.

Run: ``python -m pytest benchmarks/test_execution.py --benchmark-only``. Each round replays
trades at 2,000/s and sends ORDERS market orders (one every 40 trades); latencies are in us,
measured on one clock (the venue records when each request arrives and when each fill's event
leaves).
"""

from __future__ import annotations

import asyncio
import time

import backtrader as bt
import ccxt.pro as ccxtpro
import numpy as np
import pytest

import backtrader_channels as btch
from backtrader_channels.live.ccxt_feed import CCXTLiveFeed
from backtrader_channels.loopback import (
    point_bybit_at,
    point_ccxt_at,
    serve_bybit_in_subprocess,
    serve_in_subprocess,
)

ORDERS = 60
EVERY = 40
ROUNDS = 3
KEYS = {"apiKey": "loopback-key", "secret": "loopback-secret"}


BALANCES = {"USDT": 1_000_000.0, "BTC": 10.0}


def _venue(venue="binance"):
    if venue == "bybit":  # trades and book messages: its trades come at about half the rate
        return serve_bybit_in_subprocess(rate=4_000, start_when=1, balances=dict(BALANCES))
    return serve_in_subprocess(trades_only=True, rate=2_000, start_when=1, balances=BALANCES)


def _client(venue, port, keyed=False):
    config = dict(KEYS) if keyed else {}
    if venue == "bybit":
        return point_bybit_at(ccxtpro.bybit(config), port)
    return point_ccxt_at(ccxtpro.binance(config), port)


def _pct(values):
    a = np.asarray(values, dtype=float)
    return {
        "n": int(a.size),
        "p50_us": round(float(np.percentile(a, 50)), 1),
        "p99_us": round(float(np.percentile(a, 99)), 1),
    }


class Flip(bt.Strategy):
    """A market order every EVERY ticks once the broker trades, buy and sell in turn."""

    def start(self):
        self.n, self.decided, self.notified = 0, {}, {}

    def on_tick(self, t):
        if not self.broker.trading:
            return
        self.n += 1
        if self.n % EVERY == 0:
            k = len(self.decided)
            t0 = time.time_ns()
            order = (self.buy if k % 2 == 0 else self.sell)(size=0.001)
            live = self.broker.live_order(order)
            if live is not None:
                self.decided[live.client_id] = t0
            if k + 1 >= ORDERS:
                self.env.runstop()

    def notify_order(self, order):
        if order.status == order.Completed:
            live = self.broker.live_order(order)
            self.notified[live.client_id] = time.time_ns()


def _broker_round(threads, venue="binance"):
    port, stop = _venue(venue)
    try:
        feed = CCXTLiveFeed(_client(venue, port), ["BTC/USDT"], channels=("tick",))
        broker = btch.brokers.CCXTBroker(_client(venue, port, keyed=True))
        cerebro = btch.Cerebro(live_threads=threads)
        cerebro.add_live_feed(feed)
        cerebro.setbroker(broker)
        cerebro.addstrategy(Flip)
        strat = cerebro.run(mode=btch.RunMode.TICK, duration=120)[0]
        time.sleep(0.2)
    finally:
        stop()
    _sends, arrived, filled = stop.timings
    to_venue = [arrived[c] - t for c, t in strat.decided.items() if c in arrived]
    to_notify = [strat.notified[c] - filled[c] for c in strat.notified if c in filled]
    return [v / 1000 for v in to_venue], [v / 1000 for v in to_notify]


@pytest.mark.benchmark(group="execution-latency")
@pytest.mark.parametrize(
    ("threads", "where"),
    [(False, "binance"), (True, "binance"), (False, "bybit")],
    ids=["inline", "threads", "bybit-inline"],
)
def test_decision_to_venue_and_fill_to_notify_order(benchmark, threads, where):
    venue, notify = [], []

    def run():
        a, b = _broker_round(threads, where)
        venue.extend(a)
        notify.extend(b)

    benchmark.pedantic(run, rounds=ROUNDS, iterations=1)
    benchmark.extra_info["decision_to_venue"] = _pct(venue)
    benchmark.extra_info["fill_to_notify_order"] = _pct(notify)


@pytest.mark.benchmark(group="execution-latency")
@pytest.mark.parametrize("where", ["binance", "bybit"])
def test_bare_ccxt_create_order_and_watch_orders(benchmark, where):
    """The same venue through the bare client: ``create_order`` call -> request at the venue,
    and fill event -> ``watch_orders`` return (what the broker adds is above these)."""
    to_venue, to_watch = [], []

    async def orders(port):
        ex = _client(where, port, keyed=True)
        ex.enableRateLimit = False
        await ex.load_markets()
        if where == "bybit":
            await ex.is_unified_enabled()  # asked once, as the broker's session does
        await ex.watch_trades("BTC/USDT")  # the replay starts
        watch = asyncio.ensure_future(ex.watch_orders())
        await asyncio.sleep(0.3)
        sent, seen = {}, {}
        for k in range(ORDERS):
            cid = f"bare{k}"
            sent[cid] = time.time_ns()
            await ex.create_order("BTC/USDT", "market", "buy" if k % 2 == 0 else "sell", 0.001,
                                  None, {"clientOrderId": cid})  # fmt: skip
            while cid not in seen:
                got = await watch
                watch = asyncio.ensure_future(ex.watch_orders())
                for o in got:
                    if o["status"] == "closed":
                        seen.setdefault(o["clientOrderId"], time.time_ns())
                if cid not in seen:
                    # Bybit sends New and Filled back to back: a Filled handled before the next
                    # watch_orders call has registered resolves nothing (ccxt.pro keeps it in
                    # its cache only), so the cache is read once the new watch is waiting
                    await asyncio.sleep(0)
                    for o in ex.orders:
                        if o["clientOrderId"] == cid and o["status"] == "closed":
                            seen[cid] = time.time_ns()
            await asyncio.sleep(EVERY / 2_000)
        watch.cancel()
        await ex.close()
        return sent, seen

    def run():
        port, stop = _venue(where)
        try:
            sent, seen = asyncio.run(orders(port))
        finally:
            stop()
        _sends, arrived, filled = stop.timings
        to_venue.extend((arrived[c] - t) / 1000 for c, t in sent.items() if c in arrived)
        to_watch.extend((seen[c] - filled[c]) / 1000 for c in seen if c in filled)

    benchmark.pedantic(run, rounds=ROUNDS, iterations=1)
    benchmark.extra_info["create_order_to_venue"] = _pct(to_venue)
    benchmark.extra_info["fill_to_watch_orders"] = _pct(to_watch)
