"""What waits in ccxt.pro's best bid/ask cache is delivered once: the real client's state, fed
real bookTicker frames through its own message handler (markets from the loopback exchange)."""

from backtrader_channels.live.latest import LatestState
from backtrader_channels.live.validator import LiveDataValidator

from .conftest import with_binance_client


def test_a_quote_no_watch_call_returned_comes_from_the_cache_once(server):
    def body(ex, receive):
        latest = LatestState(20, "binance", LiveDataValidator())
        assert latest.quote_from_cache(ex, "BTC/USDT", 1) == []  # nothing yet
        receive(0)
        first = latest.quote_from_cache(ex, "BTC/USDT", 1)
        assert [q.update_id for q in first] == [int(ex.bidsasks["BTC/USDT"]["info"]["u"])]
        assert first[0].venue == "binance"
        assert latest.quote_from_cache(ex, "BTC/USDT", 2) == []  # delivered already
        receive(1)
        u = receive(2)  # two frames while nobody watched: ccxt keeps the last one only
        assert [q.update_id for q in latest.quote_from_cache(ex, "BTC/USDT", 3)] == [u]
        assert latest.quote_from_cache(ex, "BTC/USDT", 4) == []

    with_binance_client(server, body)


def test_a_quote_a_watch_call_returned_is_not_delivered_again(server):
    def body(ex, receive):
        latest = LatestState(20, "", LiveDataValidator())
        u = receive(0)
        q = ex.bidsasks["BTC/USDT"]  # what watch_bids_asks hands over
        assert [e.update_id for e in latest.quote_event(q, "BTC/USDT", 1)] == [u]
        assert latest.quote_from_cache(ex, "BTC/USDT", 2) == []

    with_binance_client(server, body)


def test_a_cached_quote_with_an_empty_side_is_recorded_not_delivered(server):
    def body(ex, receive):
        validator = LiveDataValidator()
        latest = LatestState(20, "", validator)
        receive(0, b=None)
        assert latest.quote_from_cache(ex, "BTC/USDT", 1) == []
        assert validator.report()["quote:BTC/USDT"]["missing_value"] == 1
        assert latest.quote_from_cache(ex, "BTC/USDT", 2) == []  # recorded once, too

    with_binance_client(server, body)
