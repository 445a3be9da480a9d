"""A live run stops when told to, even when its feed never connects; connecting is visible."""

import logging
import os
import signal
import subprocess
import sys
import threading
import time

import backtrader as bt
import ccxt.pro as ccxtpro
import pytest

import backtrader_channels as btch
from backtrader_channels.live.ccxt_feed import CCXTLiveFeed
from backtrader_channels.loopback import ReplayExchange, point_ccxt_at

from .conftest import BOTH_MODES, Collector


@pytest.fixture
def dead_markets():
    """A loopback exchange whose exchangeInfo always answers 503: markets never load."""
    srv = ReplayExchange(rate=6_000, start_when=1)
    srv.faults.fail_markets = True
    srv.start()
    yield srv
    srv.stop()


def _cerebro(srv, threads=False, **feed_kw):
    ex = point_ccxt_at(ccxtpro.binance(), srv.port)
    feed = CCXTLiveFeed(
        ex, ["BTC/USDT"], channels=("tick",), backoff_initial=0.05, backoff_max=0.5, **feed_kw
    )
    cerebro = btch.Cerebro(live_threads=threads)
    cerebro.add_live_feed(feed)
    cerebro.addstrategy(bt.Strategy)
    return cerebro, feed, ex


def _assert_closed(feed, ex):
    assert not feed.alive
    session = getattr(ex, "session", None)
    assert session is None or session.closed
    assert all(
        getattr(c, "connection", None) is None or c.connection.closed for c in ex.clients.values()
    )


@BOTH_MODES
def test_duration_holds_while_markets_never_load(dead_markets, threads, caplog):
    caplog.set_level(logging.WARNING, logger="backtrader_channels")
    cerebro, feed, ex = _cerebro(dead_markets, threads=threads, connect_timeout=0.5)
    t0 = time.monotonic()
    cerebro.run(mode=btch.RunMode.TICK, duration=2.0)
    elapsed = time.monotonic() - t0
    assert elapsed < 3.0, elapsed  # due at 2 s, within a second
    assert cerebro.last_run["events"] == 0
    silent = cerebro.last_run["silent_streams"]
    assert list(silent) == ["tick:BTC/USDT"]
    assert "load_markets: ExchangeNotAvailable" in silent["tick:BTC/USDT"]
    warned = [r.getMessage() for r in caplog.records if "no data after" in r.getMessage()]
    assert len(warned) == 1, warned  # once, not per retry
    assert "tick:BTC/USDT" in warned[0]
    assert "ExchangeNotAvailable" in warned[0]
    _assert_closed(feed, ex)


@BOTH_MODES
def test_runstop_holds_while_markets_never_load(dead_markets, threads):
    cerebro, feed, ex = _cerebro(dead_markets, threads=threads)
    timer = threading.Timer(1.0, cerebro.runstop)
    timer.start()
    t0 = time.monotonic()
    cerebro.run(mode=btch.RunMode.TICK, duration=30.0)
    assert time.monotonic() - t0 < 2.0
    _assert_closed(feed, ex)


def test_max_events_ends_the_run_at_once(server):
    server.start_when = 1
    cerebro, feed, ex = _cerebro(server)
    t0 = time.monotonic()
    cerebro.run(mode=btch.RunMode.TICK, duration=30.0, max_events=200)
    assert cerebro.last_run["events"] == 200
    assert time.monotonic() - t0 < 10.0
    assert cerebro.last_run["silent_streams"] == {}
    _assert_closed(feed, ex)


@BOTH_MODES
def test_ctrl_c_ends_a_run_whose_feed_never_connects(dead_markets, threads):
    """SIGINT to the CLI while the markets keep failing: the run ends within a second and
    still prints its report, naming the stream that never connected. Ctrl-C asks the run to
    stop (nothing is interrupted half-way): no task is left pending, nothing is printed."""
    port = dead_markets.port
    script = (
        "import sys, ccxt.pro as cp, backtrader as bt, backtrader_channels as btch\n"
        "from backtrader_channels.testing.replay_exchange import point_ccxt_at\n"
        f"ex = point_ccxt_at(cp.binance(), {port})\n"
        "feed = btch.feeds.CCXTLiveFeed(ex, ['BTC/USDT'], channels=('tick',), backoff_max=0.5)\n"
        f"c = btch.Cerebro(live_threads={threads}); c.add_live_feed(feed)\n"
        "c.addstrategy(bt.Strategy)\n"
        "print('running', flush=True)\n"
        "c.run(mode=btch.RunMode.TICK, duration=60)\n"
        "print('silent', c.last_run['silent_streams'], flush=True)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "running"
    time.sleep(1.0)
    t0 = time.monotonic()
    os.kill(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert time.monotonic() - t0 < 1.5, err
    assert proc.returncode == 0, err
    assert "tick:BTC/USDT" in out
    assert "ExchangeNotAvailable" in out
    assert err == ""


def test_a_second_ctrl_c_raises_and_the_handler_is_put_back():
    """Ctrl-C during a live run only asks it to stop; a second one raises KeyboardInterrupt as
    usual (a shutdown that hangs can still be broken); after the run Python's handler is back."""
    from backtrader_channels.live.run import _ctrl_c_asks_to_stop

    asked: list[bool] = []
    restore = _ctrl_c_asks_to_stop(asked)
    try:
        signal.raise_signal(signal.SIGINT)
        assert asked == [True]
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    finally:
        restore()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    restore = _ctrl_c_asks_to_stop(asked)
    restore()  # a run that was not interrupted
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_keyed_client_with_only_its_urls_rewritten_receives_trades(server):
    """With keys, load_markets also asks /sapi capital and margin endpoints; the loopback
    answers them as Binance does for an account without margin."""
    server.start_when = 1
    ex = point_ccxt_at(
        ccxtpro.binance({"apiKey": "test-key", "secret": "test-secret"}), server.port
    )
    feed = CCXTLiveFeed(ex, ["BTC/USDT"], channels=("tick",))
    cerebro = btch.Cerebro()
    cerebro.add_live_feed(feed)
    cerebro.addstrategy(Collector)
    strat = cerebro.run(mode=btch.RunMode.TICK, duration=25.0, max_events=500)[0]
    assert len(strat.trade_ids) == 500
    assert feed.anomaly_report() == {}
    assert "BTC" in ex.currencies
