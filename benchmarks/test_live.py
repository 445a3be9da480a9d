"""Live path: LiveEventQueue throughput into the engine, and receive-to-callback latency.

Run: ``python -m pytest benchmarks/test_live.py --benchmark-only``.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time

import aiohttp
import backtrader as bt
import ccxt.pro as ccxtpro
import numpy as np
import pytest

import backtrader_channels as btch
from backtrader_channels import TickEvent
from backtrader_channels.feeds.ccxt_feed import CCXTLiveFeed
from backtrader_channels.feeds.replay_server import point_ccxt_at, serve_in_subprocess

N_EVENTS = 1_000_000


class PreparedFeed:
    """A feed that pushes ready-made events from its own thread, frame-sized batches of 100."""

    def __init__(self, events):
        self.events = events
        self.error = None
        self.channel_keys = [("tick", "BTC/USDT")]
        self._thread = None

    def start(self, queue):
        def produce():
            ev, key = self.events, self.channel_keys[0]
            for i in range(0, len(ev), 100):  # as CCXTLiveFeed pushes: a frame and its channel
                while queue.push_many(ev[i : i + 100], key) == 0 and not queue.stopped:
                    time.sleep(0)

        self._thread = threading.Thread(target=produce, daemon=True)
        self._thread.start()

    def stop(self):
        if self._thread is not None:
            self._thread.join(5)

    @property
    def alive(self):
        return self._thread is not None and self._thread.is_alive()

    def anomaly_report(self):
        return {}


class Count(bt.Strategy):
    def start(self):
        self.n = 0

    def on_tick(self, t):
        self.n += 1


@pytest.mark.benchmark(group="live-queue")
def test_live_queue_throughput_into_the_engine(benchmark):
    events = [
        TickEvent(1_700_000_000_000_000_000 + i * 1000, 100.0 + (i % 7), 1.0, "buy", i, "BTC/USDT")
        for i in range(N_EVENTS)
    ]

    def run():
        cerebro = btch.Cerebro(stdstats=False)
        cerebro.add_live_feed(PreparedFeed(events))
        cerebro.addstrategy(Count)
        strat = cerebro.run(mode=btch.RunMode.TICK, max_events=N_EVENTS)[0]
        return strat.n

    assert benchmark.pedantic(run, rounds=3, iterations=1) == N_EVENTS
    benchmark.extra_info["events_per_s"] = round(N_EVENTS / benchmark.stats.stats.median)


class Latency(bt.Strategy):
    def start(self):
        self.seen = []

    def on_tick(self, t):
        self.seen.append((t.trade_id, time.time_ns(), t.recv_timestamp))


def _percentiles(us):
    return {
        "p50_us": round(float(np.percentile(us, 50)), 1),
        "p99_us": round(float(np.percentile(us, 99)), 1),
        "max_us": round(float(us.max()), 1),
    }


@pytest.mark.benchmark(group="live-latency")
def test_frame_to_callback_latency_at_10k_trades_per_s(benchmark):
    """The replay exchange (its own process) sends trade frames only, one every 100 µs, over
    loopback. Latency is measured from the moment the exchange hands a trade's frame to its
    socket (its ``time.time_ns()``, same host clock) to the strategy's ``on_tick`` for that trade:
    an upper bound on frame-received to callback. The feed's own part, from the feed receiving
    ccxt's parsed trades (``recv_timestamp``) to ``on_tick``, is reported beside it."""

    def run():
        port, stop = serve_in_subprocess(
            trades_only=True, rate=10_000, start_when=1, record_send_times=True
        )
        sent = None
        try:
            feed = CCXTLiveFeed(
                point_ccxt_at(ccxtpro.binance(), port),
                ["BTC/USDT"],
                channels=("tick",),
                stall_timeout=2.0,
            )
            cerebro = btch.Cerebro(stdstats=False)
            cerebro.add_live_feed(feed)
            cerebro.addstrategy(Latency)
            strat = cerebro.run(mode=btch.RunMode.TICK, duration=4)[0]
        finally:
            sent = stop()
        return strat.seen, sent

    seen, sent = benchmark.pedantic(run, rounds=1, iterations=1)
    assert sent and len(seen) >= 9000
    frame_us = np.array([(cb - sent[tid]) / 1e3 for tid, cb, _ in seen if tid in sent])
    feed_us = np.array([(cb - recv) / 1e3 for _, cb, recv in seen])
    benchmark.extra_info["trades"] = len(frame_us)
    benchmark.extra_info["trades_per_ccxt_return"] = round(
        len(seen) / len({r for *_, r in seen}), 1
    )
    benchmark.extra_info["frame_sent_to_callback"] = _percentiles(frame_us)
    benchmark.extra_info["feed_receipt_to_callback"] = _percentiles(feed_us)


class StampingQueue:
    """Stands in for the engine: stamps each trade when the feed pushes it."""

    stopped = False

    def __init__(self):
        self.seen = []

    def push_many(self, events, key=None):
        now = time.time_ns()
        self.seen.extend((e.trade_id, now, e.recv_timestamp) for e in events)
        return len(events)


@pytest.mark.benchmark(group="live-latency")
def test_frame_to_feed_latency_without_engine(benchmark):
    """Baseline: the same exchange and ccxt.pro feed with no engine at all (ccxt.pro's share)."""

    def run():
        port, stop = serve_in_subprocess(
            trades_only=True, rate=10_000, start_when=1, record_send_times=True
        )
        queue = StampingQueue()
        try:
            feed = CCXTLiveFeed(
                point_ccxt_at(ccxtpro.binance(), port), ["BTC/USDT"], channels=("tick",)
            )
            feed.start(queue)
            deadline = time.monotonic() + 10
            while len(queue.seen) < 9757 and time.monotonic() < deadline:
                time.sleep(0.05)
            feed.stop()
        finally:
            sent = stop()
        return queue.seen, sent

    seen, sent = benchmark.pedantic(run, rounds=1, iterations=1)
    us = np.array([(t - sent[tid]) / 1e3 for tid, t, _ in seen if tid in sent])
    assert len(us) >= 9000
    benchmark.extra_info["frame_sent_to_feed_push"] = _percentiles(us)


@pytest.mark.benchmark(group="live-latency")
def test_frame_to_bare_aiohttp_client_latency(benchmark):
    """Baseline: the same exchange read by a bare aiohttp client that only parses the JSON."""

    async def read(port):
        got = []
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"ws://127.0.0.1:{port}/stream") as ws:
                sub = {"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1}
                await ws.send_str(json.dumps(sub))
                while len(got) < 9757:
                    msg = await asyncio.wait_for(ws.receive(), 10)
                    data = json.loads(msg.data).get("data") or {}
                    if "t" in data:
                        got.append((data["t"], time.time_ns()))
        return got

    def run():
        port, stop = serve_in_subprocess(
            trades_only=True, rate=10_000, start_when=1, record_send_times=True
        )
        try:
            got = asyncio.run(read(port))
        finally:
            sent = stop()
        return got, sent

    got, sent = benchmark.pedantic(run, rounds=1, iterations=1)
    us = np.array([(t - sent[tid]) / 1e3 for tid, t in got if tid in sent])
    assert len(us) >= 9000
    benchmark.extra_info["frame_sent_to_json_parsed"] = _percentiles(us)
