"""Properties of the tick broker that hold for any trades and any orders (hypothesis)."""

from __future__ import annotations

import backtrader as bt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import backtrader_channels as btch
from backtrader_channels import OrderBookEvent, TickEvent

EXEC = {"market": bt.Order.Market, "limit": bt.Order.Limit, "stop": bt.Order.Stop}


class Random(bt.Strategy):
    """Places ``plan[n]`` = (side, type, size, offset) at event ``n``; records every fill."""

    params = (("plan", {}),)

    def start(self):
        self.n = 0
        self.fills = []  # (order ref, created ns, fill ns, signed size, price)
        self.created = {}

    def on_event(self, ev):
        self.n += 1
        step = self.p.plan.get(self.n)
        if step is None:
            return
        side, kind, size, offset = step
        price = ev.price + offset if hasattr(ev, "price") else None
        order = (self.buy if side == "buy" else self.sell)(
            size=size, price=price, exectype=EXEC[kind]
        )
        self.created[order.ref] = ev.timestamp

    def notify_order(self, order):
        for bit in order.executed.iterpending():
            self.fills.append((order.ref, bit.dt, bit.size, bit.price))


trades = st.lists(
    st.tuples(st.integers(1, 3), st.integers(9_900, 10_100), st.integers(1, 30)),
    min_size=5,
    max_size=60,
)
plans = st.dictionaries(
    st.integers(1, 60),
    st.tuples(
        st.sampled_from(["buy", "sell"]),
        st.sampled_from(["market", "limit", "stop"]),
        st.integers(1, 40).map(lambda k: k / 10),
        st.integers(-30, 30).map(float),
    ),
    max_size=25,
)


def _events(raw):
    ts, out = 1_000_000_000, []
    for gap, price, vol in raw:
        ts += gap * 1_000_000
        out.append(TickEvent(ts, float(price), vol / 10, "buy", None, "X", ts))
    return out


def _run(events, plan, books=(), **broker):
    c = btch.Cerebro(stdstats=False)
    c.setbroker(btch.TickBroker(**broker))
    c.broker.setcash(1e9)
    c.add_channel(btch.TickChannel, symbol="X", dataname=events)
    if books:
        c.add_channel(btch.OrderBookChannel, symbol="X", dataname=list(books))
    c.addstrategy(Random, plan=plan)
    strat = c.run(mode=btch.RunMode.TICK)[0]
    return c, strat


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(trades, plans)
def test_cash_plus_positions_is_conserved_at_zero_fees(raw, plan):
    """Value moves only with prices: start + sum of each fill's size x (last price - fill)."""
    events = _events(raw)
    c, s = _run(events, plan)
    last = events[-1].price
    expected = 1e9 + sum(size * (last - price) for _, _, size, price in s.fills)
    assert c.broker.getvalue() == pytest.approx(expected, rel=1e-12, abs=1e-6)


@SETTINGS
@given(trades, plans, st.integers(0, 5))
def test_no_fill_before_the_entry_latency(raw, plan, latency_ms):
    latency = latency_ms * 1_000_000
    events = _events(raw)
    _, s = _run(events, plan, latency_ns=latency)
    by_ns = {btch.ns_to_num(e.timestamp): e.timestamp for e in events}
    for ref, dt, _, _ in s.fills:
        filled = by_ns.get(dt)
        assert filled is not None  # every fill happens at an event of the run
        assert filled >= s.created[ref] + latency
        assert filled > s.created[ref]  # never on the event the order was placed on


@SETTINGS
@given(trades, plans)
def test_partial_fills_never_exceed_the_size_traded(raw, plan):
    events = _events(raw)
    _, s = _run(events, plan, partial_fills=True)
    traded = {}
    for e in events:
        key = btch.ns_to_num(e.timestamp)
        traded[key] = traded.get(key, 0.0) + e.volume
    for _, dt, size, _ in s.fills:
        assert abs(size) <= traded[dt] + 1e-12


@SETTINGS
@given(trades, plans, st.sampled_from(["top", "walk"]), st.sampled_from([None, "risk_averse"]))
def test_book_fills_never_exceed_the_size_shown(raw, plan, depth, queue):
    """On a book that shows 0.5 at each of three levels, no single fill is larger than one
    level's size, or than the trade that filled it (a trade through a resting limit), with
    partial fills, however the orders walk or queue."""
    events = _events(raw)
    books = []
    for e in events:
        p = e.price
        bids = tuple((p - k, 0.5) for k in (1, 2, 3))
        asks = tuple((p + k, 0.5) for k in (1, 2, 3))
        ts = e.timestamp - 1
        books.append(OrderBookEvent(ts, bids, asks, True, "X", ts))
    _, s = _run(events, plan, books, partial_fills=True, market_depth=depth, queue=queue)
    traded = {btch.ns_to_num(e.timestamp): e.volume for e in events}
    for _, dt, size, _ in s.fills:
        assert abs(size) <= max(0.5, traded.get(dt, 0.0)) + 1e-12
