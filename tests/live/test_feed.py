"""The live-feed protocol: what Cerebro and the loop driver accept as a feed."""

import pytest

import backtrader_channels as btch
from backtrader_channels.live.ccxt_feed import CCXTLiveFeed
from backtrader_channels.live.feed import DrivenFeed, LiveFeed


class ThreadOnlyFeed:
    """A minimal feed with no driven-loop support: it gets a thread of its own."""

    error = None
    channel_keys = [("tick", "X")]  # noqa: RUF012

    def start(self, queue):
        self.queue = queue

    def stop(self):
        pass

    def anomaly_report(self):
        return {}

    def silent_streams(self):
        return {}


def test_ccxt_feed_is_a_driven_feed():
    feed = CCXTLiveFeed("binance", ["BTC/USDT"])
    assert isinstance(feed, LiveFeed)
    assert isinstance(feed, DrivenFeed)


def test_a_feed_without_attach_runs_in_a_thread():
    feed = ThreadOnlyFeed()
    assert isinstance(feed, LiveFeed)
    assert not isinstance(feed, DrivenFeed)
    cerebro = btch.Cerebro()
    assert cerebro.add_live_feed(feed) is feed
    assert ("tick", "X") in cerebro.channels


def test_add_live_feed_refuses_what_is_not_a_feed():
    with pytest.raises(btch.ChannelError, match="is not a live feed"):
        btch.Cerebro().add_live_feed(object())


def test_the_feed_raises_ccxts_trade_cache_and_never_lowers_it():
    import ccxt.pro as ccxtpro

    assert CCXTLiveFeed("binance", ["BTC/USDT"]).exchange.options["tradesLimit"] == 10_000
    ex = ccxtpro.binance({"options": {"tradesLimit": 50_000}})
    assert CCXTLiveFeed(ex, ["BTC/USDT"]).exchange.options["tradesLimit"] == 50_000
    ex = ccxtpro.binance()
    assert CCXTLiveFeed(ex, ["BTC/USDT"], trade_cache=None).exchange.options["tradesLimit"] == 1000


def test_a_book_handed_over_twice_unchanged_is_delivered_once():
    """ccxt.pro can resolve two watch calls with the same book (seen on Bybit at its
    snapshot); the strategy hears of it once, and of any change at the same nonce."""
    feed = CCXTLiveFeed("bybit", ["BTC/USDT"], venue="bybit")
    ob = {"bids": [[100.0, 1.0]], "asks": [[101.0, 2.0]], "timestamp": 1, "nonce": 7}
    first = feed.latest.book_event(ob, "BTC/USDT", 5)
    assert len(first) == 1
    assert first[0].last_update_id == 7
    assert feed.latest.book_event(ob, "BTC/USDT", 6) == []
    changed = dict(ob, asks=[[101.0, 3.0]])  # a venue that restarted its ids: a new book
    assert feed.latest.book_event(changed, "BTC/USDT", 7)[0].asks == ((101.0, 3.0),)
    assert len(feed.latest.book_event(dict(changed, nonce=8), "BTC/USDT", 8)) == 1
