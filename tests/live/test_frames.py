"""Venue frames counted per stream: the real ``ccxt.pro.binance`` handler fed the capture's
frames, raw (as Binance's ``/ws`` sends them) and wrapped (its combined streams)."""

from backtrader_channels.live.frames import FrameCounter

from .conftest import with_binance_client


def test_every_market_data_frame_is_counted_by_stream_raw_or_wrapped(server):
    by_kind = {"@trade": [], "@depth": [], "@bookTicker": []}
    for _, stream, data in server.frames:
        for suffix, out in by_kind.items():
            if suffix in stream:
                out.append((stream, data))

    def body(ex, receive):
        counter = FrameCounter(ex)
        for i in range(3):
            receive(i)  # bookTicker, wrapped
            receive(i, raw=True)  # bookTicker, raw: no event type, its u and both sides
        for i in range(2):
            receive(i, frames=by_kind["@trade"])
            receive(i, raw=True, frames=by_kind["@trade"])
        receive(0, raw=True, frames=by_kind["@depth"])  # (before any snapshot: ccxt keeps it)
        receive.message({"result": None, "id": 1})  # a subscription's answer
        assert counter.frames("quote", "BTC/USDT") == 6
        assert counter.frames("tick", "BTC/USDT") == 4
        assert counter.frames("orderbook", "BTC/USDT") == 1
        assert counter.frames("quote", "ETH/USDT") == 0
        assert counter.frames("quote", "NOT/LISTED") == 0  # an unknown symbol: nothing, no error
        assert sum(counter.counts.values()) == 11  # the answer is not a market-data frame

    with_binance_client(server, body)
