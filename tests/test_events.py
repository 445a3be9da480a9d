"""Event types: envelope interface, immutability, cheap construction."""

import datetime as dt

import backtrader as bt
import pytest

import backtrader_channels as btch
from backtrader_channels.events import ns_to_num


def test_tick_event_answers_to_the_envelope_interface():
    ev = btch.TickEvent(1_700_000_000_123_456_789, 100.5, 2.0, "sell", 7, "BTC/USDT", 5)
    assert ev.priority == btch.EventPriority.TICK
    assert ev.channel_type == "tick"
    assert ev.channel_name == "BTC/USDT"
    assert ev.data is ev
    assert ev.timestamp == 1_700_000_000_123_456_789  # exact integer ns
    assert ev.recv_timestamp == 5
    with pytest.raises(AttributeError):
        ev.price = 1.0  # type: ignore[misc]
    assert not hasattr(ev, "__dict__")


def test_book_before_trades_at_same_timestamp():
    assert btch.EventPriority.ORDERBOOK < btch.EventPriority.QUOTE < btch.EventPriority.TICK
    assert btch.OrderBookEvent.priority < btch.TickEvent.priority


def test_quote_event_derived_fields():
    q = btch.QuoteEvent(1, 99.0, 2.0, 101.0, 1.0, "X")
    assert q.mid_price == 100.0
    assert q.spread == 2.0
    assert q.best_bid == btch.Level(99.0, 2.0)
    assert q.best_ask.price == 101.0


def test_generic_event_envelope():
    ev = btch.Event(10, btch.EventPriority.TIMER, "timer", "t1", {"k": 1})
    assert ev.timestamp == 10
    assert ev.data == {"k": 1}


def test_ns_to_num_matches_backtrader_date2num():
    when = dt.datetime(2024, 8, 8, 23, 54, 13, 250000)
    ns = int((when - dt.datetime(1970, 1, 1)).total_seconds()) * 10**9 + 250_000_000
    ns = int(when.replace(tzinfo=dt.timezone.utc).timestamp()) * 10**9 + 250_000_000
    assert abs(ns_to_num(ns) - bt.date2num(when)) < 1e-9
