"""Trade backfill against the loopback exchange as Binance serves it: the stream's own trade ids
from recent and historical trades, never aggregate-trade ids, with the user's instance unchanged.

The server's trade history is filled from the capture as if it had sent every trade (its replay
is held back), so each test can ask for any range."""

import asyncio
import copy

import ccxt.pro as ccxtpro
import pytest

from backtrader_channels.live.backfill import BinanceTrades, trade_source
from backtrader_channels.live.ccxt_feed import CCXTLiveFeed
from backtrader_channels.testing.replay_exchange import ReplayExchange, point_ccxt_at

from .conftest import FIRST_TRADE_ID, LAST_TRADE_ID, gap_ranges

KEYS = {"apiKey": "test-key", "secret": "test-secret"}


def _history_server(keep_trades=100_000):
    srv = ReplayExchange(start_when=99, keep_trades=keep_trades)  # no replay: nobody subscribes
    for _, stream, data in srv.frames:
        if stream.endswith("@trade"):
            srv.history.add(data)
    srv.start()
    return srv


@pytest.fixture
def history():
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
