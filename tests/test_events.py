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


def test_levels_read_as_the_tuple_of_pairs_they_stand_for():
    import pickle

    import numpy as np

    from backtrader_channels.events import Levels

    pairs = ((100.5, 2.0), (100.0, 0.0), (99.5, 1.25))
    lv = Levels(np.array([p for p, _ in pairs]), np.array([s for _, s in pairs]))
    assert len(lv) == 3
    assert bool(lv)
    assert lv == pairs
    assert pairs == lv
    assert not (lv != pairs)
    assert lv != list(pairs)  # as a tuple is: a list is not equal to it
    assert lv == Levels(np.array([100.5, 100.0, 99.5]), np.array([2.0, 0.0, 1.25]))
    assert hash(lv) == hash(pairs)
    assert lv[0] == (100.5, 2.0)
    assert lv[-1] == (99.5, 1.25)
    assert lv[1:] == pairs[1:]
    assert list(lv) == list(pairs)
    assert dict(lv) == dict(pairs)
    assert [p for p, _ in lv] == [100.5, 100.0, 99.5]
    assert lv + ((1.0, 1.0),) == pairs + ((1.0, 1.0),)  # noqa: RUF005 - what is tested
    assert ((1.0, 1.0),) + lv == ((1.0, 1.0),) + pairs  # noqa: RUF005 - what is tested
    assert repr(lv) == repr(pairs)
    assert pickle.loads(pickle.dumps(lv)) == pairs
    assert type(pickle.loads(pickle.dumps(lv))) is tuple
    assert (100.0, 0.0) in lv
    assert lv.index((99.5, 1.25)) == 2
    assert not Levels(np.empty(0), np.empty(0))
    # an event holding them equals the event holding the tuples
    ev = btch.OrderBookEvent(1, lv, (), False, "X")
    assert ev == btch.OrderBookEvent(1, pairs, (), False, "X")
