"""One test per fault: the run goes on, the fault is reported, no trade is duplicated, every
missing trade is backfilled or reported, and a resynced book equals the exchange's."""

from itertools import pairwise

import pytest

from .conftest import (
    BOTH_MODES,
    FIRST_TRADE_ID,
    LAST_QUOTE_ID,
    LAST_TRADE_ID,
    Collector,
    arm,
    assert_trades_accounted,
    gap_ranges,
    run_live,
)

N_CAPTURE_TRADES = LAST_TRADE_ID - FIRST_TRADE_ID + 1
N_QUOTE_FRAMES, N_DEPTH_FRAMES = 28_040, 3_449  # the capture's bookTicker and depth frames

DATA_ANOMALIES = (
    "out_of_order",
    "non_positive_price",
    "negative_size",
    "duplicate_trade",
    "trade_gap",
    "book_resync",
    "snapshot_failed",
    "disconnect",
)


class ToTheLastQuote(Collector):
    to_last_quote = True


@BOTH_MODES
def test_clean_replay_delivers_everything(server, threads):
    cerebro, feed, strat = run_live(server, ToTheLastQuote, threads=threads)
    assert strat.trade_ids == list(range(FIRST_TRADE_ID, LAST_TRADE_ID + 1))
    assert strat.books > 100
    # ccxt.pro hands over its latest best bid/ask when asked: how many of the 28,040 updates
    # merge into the next depends on how fast the client reads, but the last one always comes
    # (if no watch call was waiting for it, the feed takes it from ccxt's cache at the stall)
    assert strat.quotes > 100
    assert strat.last_quote_u == LAST_QUOTE_ID
    # each update once, in order: one taken from ccxt's cache is not handed over again
    for ids in (strat.quote_ids, strat.book_ids):
        assert all(a < b for a, b in pairwise(ids))
    # every frame the exchange sent is counted, beside the events the feed made of them
    frames = cerebro.last_run["stream_frames"]
    n_trades = len(strat.trade_ids)
    assert frames["tick:BTC/USDT"] == {"frames": n_trades, "events": n_trades}
    assert frames["quote:BTC/USDT"] == {"frames": N_QUOTE_FRAMES, "events": strat.quotes}
    assert frames["orderbook:BTC/USDT"]["frames"] == N_DEPTH_FRAMES
    assert frames["orderbook:BTC/USDT"]["events"] == strat.books
    for channel, counts in feed.anomaly_report().items():
        assert not any(counts.get(a) for a in DATA_ANOMALIES), (channel, counts)
    assert cerebro.last_run["queue_dropped"] == 0


@pytest.mark.parametrize(
    ("abrupt", "threads"),
    [(False, False), (True, False), (False, True)],
    ids=["close_frame", "tcp_reset", "close_frame-threads"],
)
def test_disconnect_reconnects_and_backfills(server, abrupt, threads):
    # the drop comes early enough that trades still flow after the reconnect (the backfill
    # starts at the first trade after it: were the replay over by then, nothing would come);
    # with an API key, a reconnect slower than Binance's 1,000 recent trades (a loaded
    # machine) is still backfilled, through historicalTrades
    arm(server, 3000, drop_after=1, abrupt_drop=abrupt)
    _cerebro, feed, strat = run_live(
        server, channels=("tick",), threads=threads, api_key="loopback-key"
    )
    report = feed.anomaly_report()["tick:BTC/USDT"]
    assert report.get("disconnect", 0) + report.get("stale", 0) >= 1
    assert report.get("backfilled", 0) >= 1
    assert strat.trade_ids[-1] == LAST_TRADE_ID
    assert_trades_accounted(feed, strat)
    # the exchange instance had only its URLs rewritten (and a key), and the venue still has
    # every trade: each missing id was backfilled, in order, none reported lost
    assert gap_ranges(feed) == []
    assert strat.trade_ids == list(range(FIRST_TRADE_ID, LAST_TRADE_ID + 1))


def test_a_reconnect_after_the_markets_last_trade_catches_up_at_once(server):
    # the stream drops at the capture's end: no trade follows the reconnect to show the gap,
    # so the feed asks the venue what it missed as soon as it is back
    # (armed from the start, counting frames: a helper thread arming it 100 frames, ~17 ms,
    # before the end was late on a loaded machine, and the run ended with no drop at all)
    server.faults.drop_after = N_CAPTURE_TRADES - 100
    _cerebro, feed, strat = run_live(server, channels=("tick",), duration=30)
    report = feed.anomaly_report()["tick:BTC/USDT"]
    assert report.get("disconnect", 0) + report.get("stale", 0) >= 1
    assert report.get("backfilled", 0) >= 1
    assert gap_ranges(feed) == []
    assert strat.trade_ids == list(range(FIRST_TRADE_ID, LAST_TRADE_ID + 1))
    assert not report.get("duplicate_trade")


@BOTH_MODES
def test_silent_stall_is_detected_and_healed(server, threads):
    arm(server, 5000, stall_seconds=2.5)
    _cerebro, feed, strat = run_live(server, channels=("tick", "quote"), threads=threads)
    report = feed.anomaly_report()
    assert report["tick:BTC/USDT"].get("stale", 0) >= 1
    assert strat.trade_ids[-1] == LAST_TRADE_ID
    assert_trades_accounted(feed, strat)


def test_malformed_frame_hang_is_healed(server):
    arm(server, 6000, malformed=1)
    # every frame replayed: the replay must outlast the stall timeout and the reconnect
    _cerebro, feed, strat = run_live(server, channels=("tick",), trades_only=False)
    report = feed.anomaly_report()["tick:BTC/USDT"]
    assert report.get("stale", 0) >= 1
    assert report.get("reconnect", 0) >= 1
    assert strat.trade_ids[-1] == LAST_TRADE_ID
    assert_trades_accounted(feed, strat)


@pytest.mark.parametrize(
    ("fault", "anomaly"),
    [("out_of_order", "out_of_order"), ("negative_price", "non_positive_price")],
)
def test_bad_values_are_rejected_and_counted(server, fault, anomaly):
    arm(server, 4000, **{fault: 1})
    _cerebro, feed, strat = run_live(server, channels=("tick",))
    assert feed.anomaly_report()["tick:BTC/USDT"][anomaly] == 1
    ids = strat.trade_ids
    assert ids == sorted(set(ids))
    assert len(ids) == LAST_TRADE_ID - FIRST_TRADE_ID


def test_book_gap_resyncs_to_the_exchange_book(server):
    arm(server, 6000, skip_depth=1)
    cerebro, feed, _strat = run_live(server, channels=("orderbook", "tick"))
    assert feed.anomaly_report()["orderbook:BTC/USDT"]["book_resync"] >= 1
    _assert_book_equals_exchange(cerebro, server)


def test_failing_depth_snapshot_recovers(server):
    server.faults.fail_depth_rest = 5  # more than ccxt's own 3 silent retries
    # a watchdog longer than ccxt's retries, so ccxt's own error surfaces
    cerebro, feed, strat = run_live(server, channels=("orderbook", "tick"), stall_timeout=6.0)
    assert feed.anomaly_report()["orderbook:BTC/USDT"]["snapshot_failed"] >= 1
    assert strat.books > 100
    _assert_book_equals_exchange(cerebro, server)


def _assert_book_equals_exchange(cerebro, server):
    import time

    book = cerebro.channels[("orderbook", "BTC/USDT")]
    deadline = time.time() + 5
    while not server.done.is_set() and time.time() < deadline:
        time.sleep(0.05)
    assert book.last_update_id == server.book.last_id
    exchange = server.book.snapshot(20)
    bids, asks = book.levels(20)
    assert [(p, s) for p, s in bids] == [(float(p), float(s)) for p, s in exchange["bids"]]
    assert [(p, s) for p, s in asks] == [(float(p), float(s)) for p, s in exchange["asks"]]


class Explodes:
    """A validator that raises (a bug in a hook) on its first ``n`` calls, then accepts."""

    def __init__(self, n):
        from backtrader_channels.live.validator import LiveDataValidator

        self.inner, self.n = LiveDataValidator(), n

    def validate(self, event):
        if self.n:
            self.n -= 1
            raise RuntimeError("hook bug")
        return self.inner.validate(event)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_a_quote_with_no_bid_is_reported_and_the_stream_goes_on(server):
    """``watch_bids_asks`` returning bid=None used to kill the quote stream silently (a
    TypeError in the conversion) while the feed stayed alive with no error and no report."""
    # ccxt keeps the latest quote only, and a loaded machine reads less often: many in a row
    arm(server, 3000, null_bid=300)
    _cerebro, feed, strat = run_live(server, channels=("tick", "quote"))
    report = feed.anomaly_report()["quote:BTC/USDT"]
    assert 1 <= report["missing_value"] <= 300
    assert feed.error is None
    assert len(server.faults.nulled_u) == 300
    assert strat.last_quote_u > server.faults.nulled_u[-1]  # it kept going after the bad frames
    assert strat.trade_ids[-1] == LAST_TRADE_ID


def test_a_stream_that_raises_anything_is_restarted_and_reported(server):
    _cerebro, feed, strat = run_live(server, channels=("tick",), validator=Explodes(2))
    report = feed.anomaly_report()["tick:BTC/USDT"]
    assert report["stream_error"] == 2
    assert ("stream_error", "RuntimeError: hook bug") in report["details"]
    assert feed.error is None
    assert strat.trade_ids[-1] == LAST_TRADE_ID
    assert_trades_accounted(feed, strat)


class ExplodesAt(Explodes):
    """A validator that raises once, on its ``at``-th event."""

    def __init__(self, at):
        super().__init__(0)
        self.at = at

    def validate(self, event):
        self.at -= 1
        if self.at == 0:
            raise RuntimeError("hook bug")
        return self.inner.validate(event)


def test_a_batch_that_fails_on_its_way_to_the_queue_is_backfilled(server):
    """A watch's trades counted as delivered when the hook (or the recording) raised on their
    way to the queue were lost without a report; now the next watch sees them as a gap."""
    _cerebro, feed, strat = run_live(
        server, channels=("tick",), validator=ExplodesAt(2000), api_key="loopback-key"
    )
    report = feed.anomaly_report()["tick:BTC/USDT"]
    assert report["stream_error"] == 1
    assert report.get("backfilled", 0) >= 1
    assert gap_ranges(feed) == []
    assert strat.trade_ids == list(range(FIRST_TRADE_ID, LAST_TRADE_ID + 1))


def test_a_stream_that_keeps_failing_fails_the_run_loudly(server):
    # trades for 20 s: each failure's retry waits for the next batch (after a back-off and a
    # REST catch-up), and a slow 2-core run needed more than the 1.6 s of the default pace
    server.rate = 500
    with pytest.raises(RuntimeError, match=r"5 errors in a row, the last RuntimeError: hook bug"):
        run_live(server, channels=("tick",), validator=Explodes(10**9), max_failures=5)


def test_an_unknown_symbol_fails_at_once(server):
    import backtrader as bt
    import ccxt.pro as ccxtpro

    import backtrader_channels as btch
    from backtrader_channels.feeds import CCXTLiveFeed, point_ccxt_at

    feed = CCXTLiveFeed(point_ccxt_at(ccxtpro.binance(), server.port), ["BTC/USDX"])
    cerebro = btch.Cerebro()
    cerebro.add_live_feed(feed)
    cerebro.addstrategy(bt.Strategy)
    with pytest.raises(RuntimeError, match=r"binance has no market BTC/USDX \(similar: BTC/"):
        cerebro.run(mode=btch.RunMode.TICK, duration=20)


def test_a_book_on_a_venue_whose_clock_is_a_day_behind(server):
    """The first book event (a REST snapshot, no exchange time) used to be stamped with the
    local clock; every later update, on the venue's clock, was then rejected as out_of_order."""
    server.clock_skew_ms = -86_400_000
    cerebro, feed, strat = run_live(server, channels=("orderbook", "tick"))
    report = feed.anomaly_report().get("orderbook:BTC/USDT", {})
    assert not report.get("out_of_order"), report
    assert strat.books > 100
    _assert_book_equals_exchange(cerebro, server)


def _spin(until):
    import time

    while time.time() < until:
        pass


@BOTH_MODES
def test_everything_arrives_with_cpu_hogs_beside_the_run(server, threads):
    """A loaded machine makes trades late, not lost: three busy processes on two cores, and
    every trade still arrives, in order, once. (Under a tenfold slowdown, such as coverage
    tracing plus the hogs, ccxt's 1,000-trade cache can overflow: those trades are reported as
    trade_gap ranges, never dropped silently.)"""
    import multiprocessing
    import time

    ctx = multiprocessing.get_context("spawn")
    hogs = [ctx.Process(target=_spin, args=(time.time() + 60,), daemon=True) for _ in range(3)]
    for hog in hogs:
        hog.start()
    try:
        cerebro, feed, strat = run_live(server, threads=threads)
    finally:
        for hog in hogs:
            hog.terminate()
            hog.join(5)
    assert strat.trade_ids == list(range(FIRST_TRADE_ID, LAST_TRADE_ID + 1))
    assert gap_ranges(feed) == []
    assert cerebro.last_run["queue_dropped"] == 0
