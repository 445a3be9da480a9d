"""Live runs: backtest/live parity, recording, queue and validator behaviour, secrets."""

import json
import subprocess
import sys
import threading
import time

import backtrader as bt
import pytest

import backtrader_channels as btch
from backtrader_channels import TickEvent
from backtrader_channels.live.ccxt_feed import CCXTLiveFeed
from backtrader_channels.live.queue import LiveEventQueue
from backtrader_channels.live.validator import LiveDataValidator

from .conftest import (
    BOTH_MODES,
    FIRST_TRADE_ID,
    LAST_TRADE_ID,
    assert_trades_accounted,
    run_live,
)


class Flipper(bt.Strategy):
    """Deterministic: every 97th trade, flip between long and flat; stop at the last trade."""

    def start(self):
        self.n = 0
        self.decisions = []
        self.fills = []

    def on_tick(self, t):
        self.n += 1
        if self.n % 97 == 0:
            side = "sell" if self.position else "buy"
            self.decisions.append((t.trade_id, side))
            (self.close if self.position else self.buy)(size=0.01)
        if t.trade_id == LAST_TRADE_ID:
            self.env.runstop()

    def notify_order(self, order):
        if order.status == order.Completed:
            self.fills.append((order.isbuy(), order.executed.price, order.executed.size))


@BOTH_MODES
def test_live_and_backtest_of_the_recording_decide_the_same(server, tmp_path, threads):
    rec = str(tmp_path / "rec")
    cerebro, _feed, live = run_live(
        server, Flipper, channels=("tick",), record_to=rec, threads=threads
    )
    assert len(live.decisions) > 90
    back = btch.Cerebro()
    back.add_channel(btch.TickChannel, symbol="BTC/USDT", dataname=rec)
    back.addstrategy(Flipper)
    replay = back.run(mode=btch.RunMode.TICK)[0]
    # same ticks in, same order decisions and fills out (latency aside: the paper broker fills
    # on the next live event exactly as the backtest broker fills on the next recorded one)
    assert replay.decisions == live.decisions
    assert replay.fills == live.fills
    assert back.broker.getvalue() == pytest.approx(cerebro.broker.getvalue())


def test_live_queue_orders_and_counts_drops():
    q = LiveEventQueue(maxsize=3)
    for ts in (5, 1, 3, 4):
        q.push(TickEvent(ts, 1.0, 1.0, "buy", ts, "X"))
    assert q.dropped == 1  # drop_oldest: ts=1 went
    assert [e.timestamp for e in q.pop_many(10, 0)] == [3, 4, 5]
    newest = LiveEventQueue(maxsize=2, overflow="drop_newest")
    newest.push_many([TickEvent(t, 1.0, 1.0) for t in (1, 2, 3)])
    assert newest.dropped == 1
    assert [e.timestamp for e in newest.pop_many(5, 0)] == [1, 2]


def test_live_queue_is_thread_safe_and_stop_wakes_the_consumer():
    q = LiveEventQueue()
    n_threads, per = 4, 5000

    def produce(k):
        for i in range(per):
            q.push(TickEvent(i * 10 + k, 1.0, 1.0, "buy", i, f"S{k}"))

    threads = [threading.Thread(target=produce, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    got = []
    while len(got) < n_threads * per:
        got.extend(q.pop_many(1000, 1.0))
    for t in threads:
        t.join()
    assert len(got) == n_threads * per
    assert q.dropped == 0
    waiter = threading.Thread(target=lambda: got.append(q.pop(timeout=30)))
    t0 = time.time()
    waiter.start()
    q.stop()
    waiter.join(5)
    assert not waiter.is_alive()
    assert time.time() - t0 < 5


def test_validator_rules():
    v = LiveDataValidator(max_gap_ns=10)
    assert v.validate(TickEvent(100, 1.0, 1.0, "buy", 1, "X"))
    assert not v.validate(TickEvent(99, 1.0, 1.0, "buy", 2, "X"))
    assert not v.validate(TickEvent(101, -1.0, 1.0, "buy", 3, "X"))
    assert not v.validate(TickEvent(101, 1.0, -1.0, "buy", 3, "X"))
    assert v.validate(TickEvent(200, 1.0, 1.0, "buy", 4, "X"))  # a time jump only warns
    assert v.validate(btch.QuoteEvent(200, 10.0, 1.0, 9.0, 1.0, "X"))  # crossed: warns
    report = v.report()
    assert report["tick:X"]["out_of_order"] == 1
    assert report["tick:X"]["non_positive_price"] == 1
    assert report["tick:X"]["negative_size"] == 1
    assert report["tick:X"]["time_jump"] == 1
    assert report["quote:X"]["crossed_book"] == 1


def test_api_keys_never_show(tmp_path, server):
    cfg = tmp_path / "keys.json"
    cfg.write_text(json.dumps({"apiKey": "KEY-abc123", "secret": "SECRET-xyz789"}))
    feed = CCXTLiveFeed("binance", ["BTC/USDT"], config=str(cfg))
    assert feed.exchange.apiKey == "KEY-abc123"
    text = repr(feed) + json.dumps(feed.anomaly_report())
    assert "abc123" not in text
    assert "xyz789" not in text


def test_run_ends_on_duration(server):
    server.rate = 2000
    t0 = time.time()
    cerebro, feed, _strat = run_live(server, channels=("tick",), duration=2.0)
    assert time.time() - t0 < 8
    assert not feed.alive
    assert 0 < cerebro.last_run["events"] < 9757


def test_run_ends_on_max_events(server):
    cerebro, feed, strat = run_live(server, channels=("tick",), max_events=500)
    assert cerebro.last_run["events"] == 500
    assert len(strat.trade_ids) == 500
    assert not feed.alive


class SlowOnce(bt.Strategy):
    """Blocks in one callback for longer than the feed's stall timeout."""

    def start(self):
        self.trade_ids = []

    def on_tick(self, t):
        self.trade_ids.append(t.trade_id)
        if len(self.trade_ids) == 2000:
            time.sleep(1.6)
        if t.trade_id == LAST_TRADE_ID:
            self.env.runstop()


@BOTH_MODES
def test_a_slow_callback_is_not_taken_for_a_stall(server, threads):
    # On the engine's thread no socket is read while a callback runs: that time must not count
    # towards the stall timeout (1 s here). The 6,400 frames that arrive meanwhile overflow
    # ccxt's 1,000-trade cache, so some trades can be lost: each one is reported in a gap. A
    # feed in its own thread goes on reading and the queue holds the backlog.
    server.rate = 4000
    _cerebro, feed, strat = run_live(server, SlowOnce, channels=("tick",), threads=threads)
    report = feed.anomaly_report().get("tick:BTC/USDT", {})
    assert not report.get("stale"), report
    assert not report.get("reconnect"), report
    assert strat.trade_ids[-1] == LAST_TRADE_ID
    assert_trades_accounted(feed, strat)
    if threads:
        assert strat.trade_ids == list(range(FIRST_TRADE_ID, LAST_TRADE_ID + 1))


class Interrupted(bt.Strategy):
    def start(self):
        self.n = 0

    def on_tick(self, t):
        self.n += 1
        if self.n == 300:
            raise KeyboardInterrupt  # what Ctrl-C does in the engine's thread


@BOTH_MODES
def test_ctrl_c_ends_the_run_and_closes_the_feed(server, threads):
    t0 = time.time()
    _cerebro, feed, strat = run_live(server, Interrupted, channels=("tick",), threads=threads)
    assert strat.n == 300
    assert not feed.alive
    assert time.time() - t0 < 15
    assert all(client.closed() for client in feed.exchange.clients.values())


def test_cli_live_replay_server(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "backtrader_channels",
            "live",
            "--exchange",
            "binance",
            "--symbol",
            "BTC/USDT",
            "--replay-server",
            "--duration",
            "4",
            "--record",
            str(tmp_path / "rec"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "events" in out.stdout
    assert "anomalies" in out.stdout
