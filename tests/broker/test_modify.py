"""Amends and in-flight cancels in the tick broker, by hand-computed cases (broker/modify.py):
one identity across an amend, the venue's queue-priority rule, refusals, and a fill racing a
cancel that has not arrived yet."""

from __future__ import annotations

import backtrader as bt
import pytest

from .test_models import B, T, run
from .test_tickbroker import completed

BOOK = B(1, [(100.0, 3.0)], [(101.0, 2.0)], snapshot=True)
LIMIT = bt.Order.Limit


def _bid(s, price=100.0, size=1.0, **kw):
    s.o = s.buy(size=size, price=price, exectype=LIMIT, **kw)


def statuses(s):
    return [(n, st) for n, st, _, _ in s.log]


def test_an_amended_price_fills_the_same_order_at_its_new_limit():
    actions = {1: _bid, 2: lambda s: s.broker.amend(s.o, price=100.5)}
    events = [BOOK, B(2, [(100.0, 3.0)], []), T(3, 100.2, 1.0, "sell")]
    _, s = run(actions, events)
    assert completed(s) == [(3, 100.5, 1.0)]
    assert s.o.info.amended == 1
    assert s.o.price == s.o.created.price == 100.5
    # Submitted, Accepted, the amend's acknowledgement (Accepted again), Completed: one order
    assert [st for _, st in statuses(s)] == ["Submitted", "Accepted", "Accepted", "Completed"]


def test_a_smaller_size_keeps_the_queue_a_larger_one_goes_to_the_back():
    """3 ahead at 100; a trade of 2 leaves 1 ahead; the level then shows 2.5 (1.5 joined
    behind us). Down to 0.5: still 1 ahead, so a trade of 1.2 fills it. Up to 2 instead: to
    the back, behind the 2.5 shown: the same trade does not fill it, 1.4 more does."""
    base = [BOOK, B(2, [], [(101.0, 2.5)]), T(3, 100.0, 2.0), B(4, [(100.0, 2.5)], [])]
    down = {1: _bid, 4: lambda s: s.broker.amend(s.o, size=0.5)}
    _, s = run(down, [*base, T(5, 100.0, 1.2)], queue="risk_averse")
    assert completed(s) == [(5, 100.0, 0.5)]
    up = {1: _bid, 4: lambda s: s.broker.amend(s.o, size=2.0)}
    _, s = run(up, [*base, T(5, 100.0, 1.2)], queue="risk_averse")
    assert completed(s) == []
    _, s = run(up, [*base, T(5, 100.0, 1.2), T(6, 100.0, 1.4)], queue="risk_averse")
    assert completed(s) == [(6, 100.0, 2.0)]  # 2.5 ahead after rejoining: 1.2 + 1.4 pass it


def test_a_new_price_goes_to_the_back_of_the_queue_there():
    book = B(1, [(100.0, 3.0), (99.0, 4.0)], [(101.0, 2.0)], snapshot=True)
    actions = {1: _bid, 2: lambda s: s.broker.amend(s.o, price=99.0)}
    events = [book, B(2, [], [(101.0, 2.5)]), T(3, 99.0, 3.9), T(4, 99.0, 0.2)]
    _, s = run(actions, events, queue="risk_averse")
    assert completed(s) == [(4, 99.0, 1.0)]  # 4 ahead at 99: 3.9 then 0.2 pass it


def test_refused_amends_leave_the_order_as_it_was():
    """Partially filled 0.4 of 1: an amend to 0.4 (not above the filled size) is refused; a
    post-only bid amended to take at 101 is refused; an ended order's amend returns False."""
    actions = {
        1: _bid,
        3: lambda s: s.broker.amend(s.o, size=0.4),
        4: lambda s: _bid(s, price=99.0, tif="post_only"),
        5: lambda s: s.broker.amend(s.o, price=101.0),
    }
    events = [BOOK, B(2, [], [(101.0, 2.5)]), T(3, 99.5, 0.4, "sell"), B(4, [], []), B(5, [], [])]
    c, s = run(actions, events, partial_fills=True)
    assert c.broker.amends_refused == {
        "size not above the filled size": 1,
        "post-only would take": 1,
    }
    assert s.o.price == 99.0
    assert s.o.info.amend_refused == "post-only would take"
    with pytest.raises(ValueError, match="give a new price, a new size or both"):
        c.broker.amend(s.o)
    with pytest.raises(ValueError, match="size=0 must be > 0"):
        c.broker.amend(s.o, size=0)


def test_a_fill_races_a_cancel_that_has_not_arrived():
    """Cancel asked at t=2 with a 5 ns cancel latency: the sell print at t=4 still fills the
    bid (the cancel arrives at t=7 and finds nothing); asked at t=2 with a print at t=8: the
    cancel wins."""
    actions = {1: _bid, 2: lambda s: s.cancel(s.o)}
    race = [BOOK, B(2, [], [(101.0, 2.5)]), T(4, 99.0, 1.0, "sell"), T(9, 98.0)]
    c, s = run(actions, race, cancel_latency_ns=5)
    assert completed(s) == [(3, 100.0, 1.0)]
    assert c.broker.cancels_too_late == 1
    late = [BOOK, B(2, [], [(101.0, 2.5)]), T(8, 99.0, 1.0, "sell")]
    c, s = run(actions, late, cancel_latency_ns=5)
    assert completed(s) == []
    assert statuses(s)[-1] == (3, "Canceled")  # it arrived at t=7, before the print at t=8
    c, s = run(actions, race)  # no latency: the cancel is at once, as before
    assert completed(s) == []


def test_an_amend_in_flight_leaves_the_old_terms_until_it_arrives():
    actions = {1: _bid, 2: lambda s: s.broker.amend(s.o, price=99.0)}
    events = [BOOK, B(2, [], [(101.0, 2.5)]), T(4, 99.5, 1.0, "sell")]
    _, s = run(actions, events, cancel_latency_ns=5)
    assert completed(s) == [(3, 100.0, 1.0)]  # at the old limit: the amend was on its way
    _, s = run(actions, [*events[:2], T(8, 99.5, 1.0, "sell")], cancel_latency_ns=5)
    assert completed(s) == []  # it arrived at t=7: 99.5 is above the new limit


def test_a_cancel_under_order_entry_timestamp_races_the_rest_of_its_timestamp():
    """hftbacktest's rule: a cancel reaches the venue after every event of its timestamp."""
    actions = {2: _bid, 3: lambda s: s.cancel(s.o)}
    events = [BOOK, B(2, [], [(101.0, 2.5)]), B(3, [], []), T(3, 99.0, 1.0, "sell")]
    _, s = run(actions, [*events, T(4, 99.0, 1.0, "sell")], order_entry="timestamp")
    assert completed(s) == [(4, 100.0, 1.0)]
