"""What a dashboard costs the engine: frame -> ``on_tick`` latency at 10,000 trades/s with the
run's dashboard served and a client subscribed to its WebSocket, against the same run without
a dashboard, rounds alternating in one benchmark run.

The dashboard reads the run on its own thread every ``interval`` (0.5 s) and pushes a snapshot;
the engine's thread does nothing more per event, so the difference is the GIL the dashboard's
thread takes while it builds and sends a snapshot.

Run: ``python -m pytest benchmarks/test_dashboard.py --benchmark-only``.
"""

from __future__ import annotations

import asyncio
import threading

import aiohttp
import ccxt.pro as ccxtpro
import numpy as np
import pytest

import backtrader_channels as btch
from backtrader_channels.dashboard import Dashboard
from backtrader_channels.live.ccxt_feed import CCXTLiveFeed
from backtrader_channels.loopback import point_ccxt_at

from .test_live import RATE, WARMUP_TRADES, Latency, _percentiles, _replay_10k

ROUNDS = 5  # of each: without, with


class Subscriber:
    """A WebSocket client of the dashboard on its own thread: counts the snapshots it gets."""

    def __init__(self, dashboard: Dashboard) -> None:
        self.dashboard = dashboard
        self.messages = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._read()), daemon=True)

    async def _read(self) -> None:
        while self.dashboard.url is None and not self.stop.is_set():  # noqa: ASYNC110 - another thread sets it
            await asyncio.sleep(0.01)
        url = self.dashboard.url.replace("http://", "ws://").replace("/?token=", "/ws?token=")
        async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
            while not self.stop.is_set():
                try:
                    msg = await ws.receive(timeout=0.2)
                except asyncio.TimeoutError:
                    continue
                if msg.type != aiohttp.WSMsgType.TEXT:
                    return
                self.messages += 1


def _round(with_dashboard: bool) -> tuple[np.ndarray, int]:
    """One run of the replay; the steady-state frame -> on_tick latencies (us) and the
    snapshots the subscriber received."""
    port, stop = _replay_10k()
    subscriber = None
    try:
        feed = CCXTLiveFeed(
            point_ccxt_at(ccxtpro.binance(), port), ["BTC/USDT"], channels=("tick",),
            stall_timeout=2.0,
        )  # fmt: skip
        cerebro = btch.Cerebro(stdstats=False)
        cerebro.add_live_feed(feed)
        cerebro.addstrategy(Latency)
        dashboard = Dashboard(0, out=None) if with_dashboard else None
        if dashboard is not None:
            subscriber = Subscriber(dashboard)
            subscriber.thread.start()
        strat = cerebro.run(
            mode=btch.RunMode.TICK, duration=10 + 10_000 / RATE, dashboard=dashboard
        )[0]
    finally:
        sent = stop()
        if subscriber is not None:
            subscriber.stop.set()
            subscriber.thread.join(5)
    seen = strat.stamps.rows()[WARMUP_TRADES:]
    us = np.array([(cb - sent[tid]) / 1e3 for tid, cb, _ in seen if tid in sent])
    return us, subscriber.messages if subscriber is not None else 0


@pytest.mark.benchmark(group="dashboard")
def test_frame_to_callback_with_a_dashboard_client(benchmark):
    """``ROUNDS`` rounds each, alternating: frame -> on_tick p50 (steady state) without a
    dashboard and with one and a subscribed client; the ratio of the medians, and each
    side's range."""
    without: list[float] = []
    with_: list[float] = []
    messages: list[int] = []

    def run():
        for _ in range(ROUNDS):
            us, _ = _round(False)
            without.append(float(np.percentile(us, 50)))
            us, got = _round(True)
            with_.append(float(np.percentile(us, 50)))
            messages.append(got)
            assert got >= 2, "the subscriber received no snapshots"

    benchmark.pedantic(run, rounds=1, iterations=1)
    ratio = float(np.median(with_) / np.median(without))
    benchmark.extra_info.update(
        {
            "p50_us_without": [round(x, 1) for x in without],
            "p50_us_with_client": [round(x, 1) for x in with_],
            "median_ratio_with_over_without": round(ratio, 3),
            "snapshots_received_per_round": messages,
            "last_round_with": _percentiles(_round(True)[0]),
        }
    )
