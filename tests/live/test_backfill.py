"""Trade backfill against the loopback exchange as Binance serves it: the stream's own trade ids
from recent and historical trades, never aggregate-trade ids, with the user's instance unchanged.

The server's trade history is filled from the capture as if it had sent every trade (its replay
is held back), so each test can ask for any range."""

import asyncio
import copy

import ccxt.pro as ccxtpro
import pytest

from backtrader_channels.live.backfill import trade_source
from backtrader_channels.live.ccxt_feed import CCXTLiveFeed
from backtrader_channels.loopback import ReplayExchange, point_ccxt_at
from backtrader_channels.venues.binance.stream import BinanceTrades

from .conftest import FIRST_TRADE_ID, LAST_TRADE_ID, gap_ranges

KEYS = {"apiKey": "test-key", "secret": "test-secret"}


def _history_server(keep_trades=100_000):
    srv = ReplayExchange(start_when=99, keep_trades=keep_trades)  # no replay: nobody subscribes
    for _, stream, data in srv.frames:
        if stream.endswith("@trade"):
            srv.history.add(data)
    srv.start()
    return srv


@pytest.fixture(scope="module")
def history():  # read only: the tests share one
    srv = _history_server()
    yield srv
    srv.stop()


def _backfill(srv, first, last, keys=None):
    """Run the feed's own backfill for ``first..last``; return (trade ids, gap ranges, feed)."""
    ex = point_ccxt_at(ccxtpro.binance(dict(keys or {})), srv.port)
    feed = CCXTLiveFeed(ex, ["BTC/USDT"], channels=("tick",))

    async def go():
        try:
            await ex.load_markets()
            return await feed.trades.backfill("BTC/USDT", first, last, 0)
        finally:
            await ex.close()

    events = asyncio.run(go())
    return [e.trade_id for e in events], gap_ranges(feed), feed


def test_a_short_gap_is_filled_from_recent_trades(history):
    first, last = LAST_TRADE_ID - 500, LAST_TRADE_ID - 100
    ids, gaps, feed = _backfill(history, first, last)
    assert ids == list(range(first, last + 1))
    assert gaps == []
    assert feed.anomaly_report()["tick:BTC/USDT"]["backfilled"] == 1


def test_a_gap_older_than_the_recent_window_is_paged_through_from_id(history):
    first, last = FIRST_TRADE_ID + 10, FIRST_TRADE_ID + 4_321  # > 4,000 trades before the last
    ids, gaps, _feed = _backfill(history, first, last, keys=KEYS)
    assert ids == list(range(first, last + 1))
    assert gaps == []


def test_without_keys_an_old_gap_is_reported_with_its_exact_range(history):
    first, last = FIRST_TRADE_ID + 10, FIRST_TRADE_ID + 20
    ids, gaps, _feed = _backfill(history, first, last)
    assert ids == []
    assert gaps == [(first, last)]


def test_a_gap_beyond_what_the_venue_keeps_is_reported_exactly():
    srv = _history_server(keep_trades=3_000)
    try:
        oldest_kept = LAST_TRADE_ID - 2_999
        first, last = FIRST_TRADE_ID, oldest_kept + 499
        ids, gaps, _feed = _backfill(srv, first, last, keys=KEYS)
    finally:
        srv.stop()
    assert ids == list(range(oldest_kept, last + 1))
    assert gaps == [(first, oldest_kept - 1)]


def test_the_default_fetch_trades_is_aggregate_trades_with_other_ids(history):
    """What ccxt's default ``fetch_trades`` asks on spot: aggTrades, whose ids are not trade
    ids; a feed that used it would fill nothing."""

    async def go():
        ex = point_ccxt_at(ccxtpro.binance(), history.port)
        try:
            return await ex.fetch_trades("BTC/USDT", limit=1000)
        finally:
            await ex.close()

    agg = asyncio.run(go())
    assert agg
    assert all(int(t["id"]) < FIRST_TRADE_ID for t in agg)


def test_the_users_exchange_options_are_left_unchanged(history):
    ex = point_ccxt_at(ccxtpro.binance(), history.port)
    assert "fetchTradesMethod" not in ex.options  # point_ccxt_at rewrites URLs only
    feed = CCXTLiveFeed(ex, ["BTC/USDT"], channels=("tick",))
    assert isinstance(feed.trades.source, BinanceTrades)

    async def go():
        try:
            await ex.load_markets()
            before = copy.deepcopy(ex.options)
            events = await feed.trades.backfill("BTC/USDT", LAST_TRADE_ID - 10, LAST_TRADE_ID, 0)
            return before, events
        finally:
            await ex.close()

    before, events = asyncio.run(go())
    assert len(events) == 11
    assert ex.options == before


def test_a_venue_without_stream_ids_over_rest_reports_gaps_at_once():
    ex = ccxtpro.okx()
    assert trade_source(ex) is None
    feed = CCXTLiveFeed(ex, ["BTC/USDT"], channels=("tick",))
    events = asyncio.run(feed.trades.backfill("BTC/USDT", 10, 12, 0))
    assert events == []
    assert gap_ranges(feed) == [(10, 12)]


def _catch_up(port, last_id, keys=None, then_stream=(), before=lambda: None):
    """The feed's catch-up after a reconnect (after ``before()``), its last delivered trade
    ``last_id``; then the stream's ``then_stream`` trade ids as a watch call would return them.
    Returns (caught-up ids, stream ids delivered, feed)."""
    ex = point_ccxt_at(ccxtpro.binance(dict(keys or {})), port)
    feed = CCXTLiveFeed(ex, ["BTC/USDT"], channels=("tick",))
    feed.trades.last_id["BTC/USDT"] = last_id
    stream = [{"id": str(i), "timestamp": 1, "price": 1.0, "amount": 1.0} for i in then_stream]

    async def go():
        try:
            await ex.load_markets()
            before()
            caught = await feed.trades.catch_up("BTC/USDT", 0)
            return caught, await feed.trades.from_watch(stream, "BTC/USDT", 0)
        finally:
            await ex.close()

    caught, after = asyncio.run(go())
    return [e.trade_id for e in caught], [e.trade_id for e in after], feed


def test_a_reconnect_catches_up_to_the_venues_newest_trade(history):
    # the stream sends the last trades again after the catch-up: dropped, not duplicates
    ids, after, feed = _catch_up(
        history.port, LAST_TRADE_ID - 300, then_stream=range(LAST_TRADE_ID - 5, LAST_TRADE_ID + 3)
    )
    assert ids == list(range(LAST_TRADE_ID - 299, LAST_TRADE_ID + 1))
    assert after == [LAST_TRADE_ID + 1, LAST_TRADE_ID + 2]
    report = feed.anomaly_report()["tick:BTC/USDT"]
    assert report["backfilled"] == 1
    assert not report.get("duplicate_trade")
    assert gap_ranges(feed) == []


def test_a_reconnect_that_missed_nothing_asks_and_reports_nothing(history):
    ids, _after, feed = _catch_up(history.port, LAST_TRADE_ID)
    assert ids == []
    assert feed.anomaly_report() == {}


def test_a_long_outage_without_keys_catches_up_the_recent_trades_and_names_the_rest(history):
    ids, _after, feed = _catch_up(history.port, FIRST_TRADE_ID + 99)
    assert ids == list(range(LAST_TRADE_ID - 999, LAST_TRADE_ID + 1))  # Binance's recent 1,000
    assert gap_ranges(feed) == [(FIRST_TRADE_ID + 100, LAST_TRADE_ID - 1000)]


def test_a_venue_that_cannot_be_asked_leaves_the_gap_to_the_stream():
    # the venue is gone by the catch-up: the next trade on the stream shows the gap (and,
    # with the venue still gone, it is reported)
    srv = _history_server()
    ids, after, feed = _catch_up(
        srv.port, LAST_TRADE_ID - 300, then_stream=[LAST_TRADE_ID], before=srv.stop
    )
    assert ids == []
    assert after == [LAST_TRADE_ID]
    assert gap_ranges(feed) == [(LAST_TRADE_ID - 299, LAST_TRADE_ID - 1)]
