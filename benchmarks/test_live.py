"""Live path: LiveEventQueue throughput into the engine, and receive-to-callback latency.

Run: ``python -m pytest benchmarks/test_live.py --benchmark-only``.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import threading
import time
from array import array
from typing import Any

import aiohttp
import backtrader as bt
import ccxt.pro as ccxtpro
import numpy as np
import pytest

import backtrader_channels as btch
from backtrader_channels import TickEvent
from backtrader_channels.live.ccxt_feed import CCXTLiveFeed
from backtrader_channels.loopback import point_ccxt_at, serve_in_subprocess

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


LAST_TRADE_ID = 3735693015  # the bundled capture's last trade
N_CAPTURE_TRADES = 9757
WARMUP_TRADES = 2000  # the first 0.2 s at 10k/s: connection, first-time code paths, allocator
ROUNDS = 3


class Stamps:
    """Trade ids and times, in flat arrays of integers: the probe adds no object the garbage
    collector tracks (a tuple per trade would: 150,000 of them in the long run, each young
    collection walking them, and the pauses would be the probe's, not the package's)."""

    def __init__(self, columns=2):
        self.columns = [array("q") for _ in range(columns)]

    def rows(self):
        return list(zip(*self.columns))


class Latency(bt.Strategy):
    def start(self):
        self.stamps = Stamps(3)
        self._ids, self._cb, self._recv = (c.append for c in self.stamps.columns)

    def on_tick(self, t):
        self._ids(t.trade_id)
        self._cb(time.time_ns())
        self._recv(t.recv_timestamp)
        if t.trade_id == LAST_TRADE_ID:
            self.env.runstop()


def _percentiles(us):
    return {
        "p50_us": round(float(np.percentile(us, 50)), 1),
        "p99_us": round(float(np.percentile(us, 99)), 1),
        "max_us": round(float(us.max()), 1),
    }


def _latency_report(rounds, lossy=False):
    """Per round: percentiles over the whole replay and over its steady state (after the first
    ``WARMUP_TRADES`` trades); ``rounds`` holds (trade id, stamp) lists and send times. Every
    trade must arrive, unless the client is ``lossy`` (a bare baseline: ccxt.pro drops what
    overflows its trade cache while its reader is busy); then how many arrived is reported."""
    out: dict[str, list[Any]] = {"whole_run": [], "steady_state": [], "trades_received": []}
    for got, sent in rounds:
        us = np.array([(t - sent[tid]) / 1e3 for tid, t in got if tid in sent])
        out["trades_received"].append(len(us))
        assert len(us) >= (WARMUP_TRADES + 1000 if lossy else 9000)
        out["whole_run"].append(_percentiles(us))
        out["steady_state"].append(_percentiles(us[WARMUP_TRADES:]))
    return out


#: the short runs' rate; ``BTCH_LIVE_RATE`` changes it for a sweep (the figures are at 10,000)
RATE = int(os.environ.get("BTCH_LIVE_RATE", "10000"))


def _replay_10k():
    return serve_in_subprocess(trades_only=True, rate=RATE, start_when=1, record_send_times=True)


def _measure_client(benchmark, read, name):
    """``ROUNDS`` runs of the coroutine ``read(port)`` (returning (trade id, stamp) pairs) against
    a fresh 10k trades/s replay; the latency report goes to ``extra_info[name]``."""
    rounds = []

    def run():
        port, stop = _replay_10k()
        try:
            got = asyncio.run(read(port))
        finally:
            sent = stop()
        rounds.append((got, sent))

    benchmark.pedantic(run, rounds=ROUNDS, iterations=1)
    benchmark.extra_info[name] = _latency_report(rounds, lossy=True)


@pytest.mark.benchmark(group="live-latency")
@pytest.mark.parametrize("threads", [False, True], ids=["inline", "threads"])
def test_frame_to_callback_latency_at_10k_trades_per_s(benchmark, threads):
    """The replay exchange (its own process) sends trade frames only, one every 100 us, over
    loopback. Latency is measured from the moment the exchange hands a trade's frame to its
    socket (its ``time.time_ns()``, same host clock) to the strategy's ``on_tick`` for that trade:
    an upper bound on frame-received to callback. ``inline``: the feed runs on the engine's
    thread (the default); ``threads``: in its own thread (``Cerebro(live_threads=True)``)."""
    rounds, feed_us = [], []

    def run():
        port, stop = _replay_10k()
        sent = None
        try:
            feed = CCXTLiveFeed(
                point_ccxt_at(ccxtpro.binance(), port),
                ["BTC/USDT"],
                channels=("tick",),
                stall_timeout=2.0,
            )
            cerebro = btch.Cerebro(stdstats=False, live_threads=threads)
            cerebro.add_live_feed(feed)
            cerebro.addstrategy(Latency)
            strat = cerebro.run(mode=btch.RunMode.TICK, duration=10 + 10_000 / RATE)[0]
        finally:
            sent = stop()
        seen = strat.stamps.rows()
        rounds.append(([(tid, cb) for tid, cb, _ in seen], sent))
        feed_us.extend((cb - recv) / 1e3 for _, cb, recv in seen[WARMUP_TRADES:])

    benchmark.pedantic(run, rounds=ROUNDS, iterations=1)
    benchmark.extra_info["frame_sent_to_callback"] = _latency_report(rounds)
    benchmark.extra_info["feed_receipt_to_callback_steady"] = _percentiles(np.array(feed_us))


class StampEvery(bt.Strategy):
    def start(self):
        self.stamps = Stamps(2)
        self._ids, self._cb = (c.append for c in self.stamps.columns)

    def on_tick(self, t):
        self._ids(t.trade_id)
        self._cb(time.time_ns())


@pytest.mark.benchmark(group="live-latency")
def test_frame_to_callback_latency_long_run(benchmark):
    """15 s at 10,000 trades/s (the capture looping, ids and times continuing): what the short
    runs cannot show, the garbage collector's pauses. Reports p99.9 over the whole run and over
    its steady state (after the first ``WARMUP_TRADES``), when the worst trade came (s into the
    run) and every collection (its generation and ms) that took over 1 ms."""
    pauses = []
    started = {}

    def on_gc(phase, info):
        if phase == "start":
            started["t"] = time.perf_counter()
        elif "t" in started:
            took = time.perf_counter() - started.pop("t")
            if took > 0.001:
                pauses.append((info["generation"], round(took * 1e3, 1)))

    def run():
        port, stop = serve_in_subprocess(
            trades_only=True, rate=10_000, start_when=1, record_send_times=True, loop_forever=True
        )
        gc.callbacks.append(on_gc)
        try:
            feed = CCXTLiveFeed(
                point_ccxt_at(ccxtpro.binance(), port), ["BTC/USDT"], channels=("tick",)
            )
            cerebro = btch.Cerebro(stdstats=False)
            cerebro.add_live_feed(feed)
            cerebro.addstrategy(StampEvery)
            strat = cerebro.run(mode=btch.RunMode.TICK, duration=15)[0]
        finally:
            gc.callbacks.remove(on_gc)
            sent = stop()
        return strat.stamps.rows(), sent

    seen, sent = benchmark.pedantic(run, rounds=1, iterations=1)
    got = [(tid, t) for tid, t in seen if tid in sent]
    us = np.array([(t - sent[tid]) / 1e3 for tid, t in got])
    assert len(us) > 100_000
    benchmark.extra_info["trades"] = len(us)
    for name, part in (("frame_sent_to_callback", us), ("steady_state", us[WARMUP_TRADES:])):
        benchmark.extra_info[name] = {
            **_percentiles(part),
            "p99.9_us": round(float(np.percentile(part, 99.9)), 1),
        }
    worst = int(us.argmax())  # where the worst trade was: the warm-up, or the steady state
    benchmark.extra_info["max_at_s"] = round((got[worst][1] - got[0][1]) / 1e9, 3)
    benchmark.extra_info["gc_pauses_over_1ms"] = pauses


def _bare_ccxt_pro(work_us=0, cpu=None):
    """The coroutine reading the replay with the unmodified ccxt.pro client alone, in a bare
    ``watch_trades`` loop, spinning ``work_us`` us per trade after each call returns (a
    consumer's own work); ``cpu`` gets the process CPU seconds and wall seconds between the
    first trade and the last, per round."""
    spin_ns = work_us * 1000

    async def read(port):
        ex = point_ccxt_at(ccxtpro.binance(), port)
        stamps = Stamps(2)
        ids, times = stamps.columns
        first: list[float] = []

        async def watch():
            while len(ids) < N_CAPTURE_TRADES:
                trades = await ex.watch_trades("BTC/USDT")  # awaited bare, as a user would
                now = time.time_ns()
                if not first:
                    first.extend((time.process_time(), time.monotonic()))
                for t in trades:
                    ids.append(int(t["id"]))
                    times.append(now)
                if spin_ns:
                    end = time.perf_counter_ns() + spin_ns * len(trades)
                    while time.perf_counter_ns() < end:
                        pass
            if cpu is not None:
                cpu.append((time.process_time() - first[0], time.monotonic() - first[1]))

        try:
            await ex.load_markets()
            reader = asyncio.ensure_future(watch())
            seen = -1
            while not reader.done() and len(ids) > seen:  # ccxt.pro returns a trade on the
                seen = len(ids)  # *next* message: the last one can stay in its cache
                await asyncio.wait([reader], timeout=2)
            reader.cancel()
        finally:
            await ex.close()
        return stamps.rows()

    return read


@pytest.mark.benchmark(group="live-latency")
def test_frame_to_bare_ccxt_pro_latency(benchmark):
    """Baseline: the same exchange read by the unmodified ccxt.pro client alone, in a bare
    ``watch_trades`` loop (no package code): what any ccxt.pro-based feed starts from. Also
    the share of a core it keeps busy at this rate (CPU over wall time, first trade to last:
    what is left is all a consumer may spend before frames queue)."""
    cpu: list[tuple[float, float]] = []
    _measure_client(benchmark, _bare_ccxt_pro(cpu=cpu), "frame_sent_to_watch_return")
    benchmark.extra_info["cpu_share"] = [round(c / w, 3) for c, w in cpu if w > 0]


@pytest.mark.benchmark(group="live-latency")
@pytest.mark.parametrize("work_us", [5, 13, 25], ids=lambda us: f"{us}us")
def test_frame_to_bare_ccxt_pro_with_consumer_work(benchmark, work_us):
    """The bare client again, with ``work_us`` us of busy work per trade after each watch call
    (a stand-in for any consumer: conversion, checks, a strategy): how the ratio to the bare
    client grows with what the consumer does per trade."""
    _measure_client(benchmark, _bare_ccxt_pro(work_us), "frame_sent_to_watch_return")


@pytest.mark.benchmark(group="live-latency")
def test_frame_to_bare_aiohttp_client_latency(benchmark):
    """Baseline: the same exchange read by a bare aiohttp client that only parses the JSON."""

    async def read(port):
        stamps = Stamps(2)
        ids, times = stamps.columns
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"ws://127.0.0.1:{port}/stream") as ws:
                sub = {"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1}
                await ws.send_str(json.dumps(sub))
                while len(ids) < N_CAPTURE_TRADES:
                    msg = await asyncio.wait_for(ws.receive(), 10)
                    data = json.loads(msg.data).get("data") or {}
                    if "t" in data:
                        ids.append(data["t"])
                        times.append(time.time_ns())
        return stamps.rows()

    _measure_client(benchmark, read, "frame_sent_to_json_parsed")
