"""Entry and response latency by hand, and the property that no notification comes early."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import backtrader_channels as btch
from backtrader_channels import TickEvent

from .test_tickbroker import Scripted


def T(ts, price, recv=None):
    return TickEvent(ts, price, 1.0, "buy", None, "X", ts if recv is None else recv)


class Timed(Scripted):
    """Scripted, and each notification with the time of the event it arrived on."""

    def notify_order(self, order):
        super().notify_order(order)
        self.log[-1] = (*self.log[-1], self.broker.current_ns())


def run(actions, ticks, **broker):
    c = btch.Cerebro(stdstats=False)
    c.setbroker(btch.TickBroker(**broker))
    c.add_channel(btch.TickChannel, symbol="X", dataname=list(ticks))
    c.addstrategy(Timed, actions=actions)
    return c.run(mode=btch.RunMode.TICK)[0]


TICKS = [T(1000, 100.0), T(2000, 101.0), T(3000, 102.0), T(4000, 103.0), T(5000, 104.0)]
BUY = {1: lambda s: s.buy(size=1.0)}


def _heard(strat):
    return [(st, ts) for _, st, _, _, ts in strat.log]


def test_without_response_latency_the_strategy_hears_at_once():
    s = run(BUY, TICKS)
    assert _heard(s) == [("Submitted", 2000), ("Accepted", 2000), ("Completed", 2000)]


def test_response_latency_by_hand():
    """Acks sent at 1000 are due at 2500: heard at 3000. The fill at 2000 is due at 3500: heard
    at 4000. The fill itself is not delayed (the exchange filled it at 2000, at 101)."""
    s = run(BUY, TICKS, response_latency_ns=1500)
    assert _heard(s) == [("Submitted", 3000), ("Accepted", 3000), ("Completed", 4000)]
    assert [px for _, st, px, _, _ in s.log if st == "Completed"] == [101.0]


def test_what_is_still_on_its_way_at_the_end_arrives_with_the_end():
    s = run(BUY, TICKS[:3], response_latency_ns=10_000)
    assert [st for st, _ in _heard(s)] == ["Submitted", "Accepted", "Completed"]
    assert {ts for _, ts in _heard(s)} == {3000}  # the last event


def test_entry_latency_from_the_feed_by_hand():
    """The data arrived 1,500 ns after its timestamps: the order placed at 1000 is active from
    2500, so it fills at the trade of 3000, at 102."""
    ticks = [T(t.timestamp, t.price, t.timestamp + 1500) for t in TICKS]
    s = run(BUY, ticks, latency_ns="feed")
    assert [(px, ts) for _, st, px, _, ts in s.log if st == "Completed"] == [(102.0, 3000)]
    s = run(BUY, TICKS, latency_ns="feed")  # no delay in the data: at once
    assert [(px, ts) for _, st, px, _, ts in s.log if st == "Completed"] == [(101.0, 2000)]


def test_response_latency_from_the_feed():
    ticks = [T(t.timestamp, t.price, t.timestamp + 1500) for t in TICKS]
    s = run(BUY, ticks, response_latency_ns="feed")
    assert _heard(s) == [("Submitted", 3000), ("Accepted", 3000), ("Completed", 4000)]


@pytest.mark.parametrize("bad", [-1, 1.5, "fast", True])
def test_a_bad_latency_names_the_parameter(bad):
    with pytest.raises(ValueError, match=r"latency_ns=.*: must be an int of ns >= 0 or 'feed'"):
        btch.TickBroker(latency_ns=bad)
    with pytest.raises(ValueError, match="response_latency_ns="):
        btch.TickBroker(response_latency_ns=bad)


class Spiky:
    """A latency model of one's own: 2,500 ns to enter, 1,500 ns to respond, and the events
    each was asked at."""

    def __init__(self):
        self.asked = []

    def entry(self, event):
        self.asked.append(("entry", event.timestamp))
        return 2_500

    def response(self, event):
        self.asked.append(("response", event.timestamp))
        return 1_500


def test_a_latency_model_of_ones_own():
    """``latency=`` takes any object with ``entry`` and ``response`` (a ``LatencyModel``); the
    broker asks it with the event being handled, and fills and notifies as the ns parameters
    would for the same numbers."""
    model = Spiky()
    assert isinstance(model, btch.broker.LatencyModel)
    s = run(BUY, TICKS, latency=model)
    same = run(BUY, TICKS, latency_ns=2_500, response_latency_ns=1_500)
    assert s.log == same.log
    assert _heard(s) == [("Submitted", 3000), ("Accepted", 3000), ("Completed", 5000)]
    assert ("entry", 1000) in model.asked
    assert ("response", 4000) in model.asked


def test_a_subclass_of_order_latency_is_asked_each_time():
    """A model built on ``OrderLatency`` (its ns left at 0) that reads the event is asked for
    every order and notification, as any model is: the broker does not take its ns as
    constants."""

    class Jitter(Spiky, btch.broker.OrderLatency):  # (Spiky's entry and response)
        def __init__(self):
            Spiky.__init__(self)
            btch.broker.OrderLatency.__init__(self)

    model = Jitter()
    s = run(BUY, TICKS, latency=model)
    same = run(BUY, TICKS, latency_ns=2_500, response_latency_ns=1_500)
    assert s.log == same.log
    assert ("entry", 1000) in model.asked
    assert ("response", 4000) in model.asked


def test_the_ns_parameters_build_an_order_latency():
    feed = [T(t.timestamp, t.price, t.timestamp + 1500) for t in TICKS]
    model = btch.broker.OrderLatency(entry_ns="feed", response_ns=1500)
    assert (
        run(BUY, feed, latency=model).log
        == run(BUY, feed, latency_ns="feed", response_latency_ns=1500).log
    )
    broker = btch.TickBroker(latency_ns=7, response_latency_ns="feed")
    assert repr(broker.latency_model) == "OrderLatency(entry_ns=7, response_ns='feed')"


def test_a_bad_latency_model_says_what_it_needs():
    with pytest.raises(ValueError, match=r"latency=5: must be None or a LatencyModel"):
        btch.TickBroker(latency=5)
    with pytest.raises(ValueError, match="not both"):
        btch.TickBroker(latency=btch.broker.OrderLatency(), latency_ns=5)
    with pytest.raises(ValueError, match="entry_ns=-1: must be an int of ns >= 0 or 'feed'"):
        btch.broker.OrderLatency(entry_ns=-1)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.integers(1, 5_000), min_size=3, max_size=40),
    st.sets(st.integers(1, 40), max_size=10),
    st.integers(0, 10_000),
)
def test_no_notification_before_the_response_latency(gaps, when, latency):
    ts, ticks = 0, []
    for gap in gaps:
        ts += gap
        ticks.append(T(ts, 100.0 + len(ticks)))
    sent = {}

    def order(s):
        o = s.sell(size=1.0) if s.position else s.buy(size=1.0)
        sent[o.ref] = s.broker.current_ns()

    s = run({n: order for n in when}, ticks, response_latency_ns=latency)
    last = ticks[-1].timestamp
    assert all(entry[-1] <= last for entry in s.log)
    acks = [heard for _, status, _, _, heard in s.log if status == "Accepted"]
    for heard, placed in zip(acks, sorted(v for v in sent.values())):
        assert heard >= min(placed + latency, last)
