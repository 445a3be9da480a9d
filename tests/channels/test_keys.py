"""ChannelMap: one symbol rule for channel keys."""

import pytest

from backtrader_channels import QuoteChannel, TickChannel
from backtrader_channels.channels import ChannelMap
from backtrader_channels.symbols import same_symbol, symbol_aliases


def test_any_spelling_finds_the_channel():
    m = ChannelMap()
    tick = m[("tick", "BTCUSDT")] = TickChannel("BTCUSDT")
    quote = m[("quote", "BTC/USDT")] = QuoteChannel("BTC/USDT")
    assert m[("tick", "BTC/USDT")] is tick
    assert m[("tick", "btcusdt")] is tick
    assert m.get(("quote", "BTCUSDT")) is quote
    assert ("quote", "BTC-USDT") in m
    assert ("tick", "ETH/USDT") not in m
    assert m.get(("tick", "ETH/USDT"), "none") == "none"
    with pytest.raises(KeyError, match="no channel"):
        m[("orderbook", "BTC/USDT")]


def test_symbol_spellings():
    assert same_symbol("BTC/USDT:USDT", "btcusdt")
    assert not same_symbol("BTC/USDT", "BTC/USDC")
    assert set(symbol_aliases("BTC/USDT")) >= {"BTC/USDT", "BTCUSDT", "btcusdt", "BTC-USDT"}
