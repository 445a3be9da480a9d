"""The three fill rules a market maker's results hang on, by hand-computed cases: when an order
placed on an event may first fill (``order_entry``), which trades fill a resting limit
(``trade_side``), and when a trade "uses up" the queue ahead (``queue_tolerance``); and the
``fill_profile="hftbacktest"`` that sets them as hftbacktest does (docs/concepts.md)."""

from __future__ import annotations

import backtrader as bt
import pytest

import backtrader_channels as btch
from backtrader_channels.broker.tickbroker import HFTBACKTEST_RULES

from .test_models import B, T, run
from .test_tickbroker import completed

BOOK = B(1, [(100.0, 3.0)], [(101.0, 2.0)], snapshot=True)


def _bid_on_book_event(events, **kw):
    """A buy limit at 100.5 placed on the book event at t=2, then ``events``."""
    actions = {2: lambda s: s.buy(size=1.0, price=100.5, exectype=bt.Order.Limit)}
    return run(actions, [BOOK, B(2, [(100.0, 3.0)], []), *events], **kw)


def test_an_order_placed_at_t_fills_on_a_trade_of_t_only_with_order_entry_event():
    """A sell print through 100.5 at the same millisecond as the book event the order was
    placed on: "event" (the default) fills it there; "timestamp" waits for a later time."""
    events = [T(2, 100.2, 1.0, "sell"), T(3, 100.1, 1.0, "sell")]
    _, s = _bid_on_book_event(events)
    assert completed(s) == [(3, 100.5, 1.0)]  # (the event number: the 3rd event, at t=2)
    _, s = _bid_on_book_event(events, order_entry="timestamp")
    assert completed(s) == [(4, 100.5, 1.0)]  # the trade at t=3


def test_a_buy_print_never_fills_a_resting_bid_with_trade_side_aggressor():
    """A resting bid at 100.5: a *buy* print at 100.2 took an ask, not our bid. "any" (the
    default) fills on it; "aggressor" waits for a sell print through the limit."""
    events = [T(3, 100.2, 1.0, "buy"), T(4, 100.1, 1.0, "sell")]
    _, s = _bid_on_book_event(events)
    assert completed(s) == [(3, 100.5, 1.0)]  # (the event number: the buy print)
    _, s = _bid_on_book_event(events, trade_side="aggressor")
    assert completed(s) == [(4, 100.5, 1.0)]


def test_an_ask_fills_only_on_buy_prints_with_trade_side_aggressor():
    actions = {2: lambda s: s.sell(size=1.0, price=100.8, exectype=bt.Order.Limit)}
    events = [BOOK, B(2, [(100.0, 3.0)], []), T(3, 101.0, 1.0, "sell"), T(4, 101.0, 1.0, "buy")]
    _, s = run(actions, events, trade_side="aggressor")
    assert completed(s) == [(4, 100.8, -1.0)]


def test_the_queue_is_used_up_by_trades_not_by_a_float_remainder():
    """0.3 ahead at 100. Trades of 0.1 and 0.2 leave 0.3 - 0.1 - 0.2 = 2.8e-17 in floats:
    that is not a fill (it was before: the remainder counted as the trade going past us); the
    next trade at 100 fills."""
    assert 0.2 - (0.3 - 0.1) > 0  # the remainder this case is about
    book = B(1, [(100.0, 0.3)], [(101.0, 2.0)], snapshot=True)
    actions = {1: lambda s: s.buy(size=0.01, price=100.0, exectype=bt.Order.Limit)}
    events = [book, B(2, [], [(101.0, 2.5)]), T(3, 100.0, 0.1), T(4, 100.0, 0.2)]
    _, s = run(actions, events, queue="risk_averse")
    assert completed(s) == []
    _, s = run(actions, [*events, T(5, 100.0, 0.005)], queue="risk_averse")
    assert completed(s) == [(5, 100.0, 0.01)]


def test_queue_tolerance_as_a_quantity_is_hftbacktests_half_a_lot():
    """hftbacktest fills when round(queue ahead / lot) < 0: the trade must pass the queue by
    more than half a lot. With lot 0.01 (tolerance 0.005) a trade of 0.004 past the queue does
    not fill, one of 0.006 does."""
    book = B(1, [(100.0, 0.3)], [(101.0, 2.0)], snapshot=True)
    actions = {1: lambda s: s.buy(size=0.01, price=100.0, exectype=bt.Order.Limit)}
    base = [book, B(2, [], [(101.0, 2.5)])]
    _, s = run(actions, [*base, T(3, 100.0, 0.304)], queue="risk_averse", queue_tolerance=0.005)
    assert completed(s) == []
    _, s = run(actions, [*base, T(3, 100.0, 0.306)], queue="risk_averse", queue_tolerance=0.005)
    assert completed(s) == [(3, 100.0, 0.01)]


def test_the_hftbacktest_profile_sets_what_was_left_at_its_default():
    b = btch.TickBroker(fill_profile="hftbacktest")
    assert {k: getattr(b.p, k) for k in HFTBACKTEST_RULES} == HFTBACKTEST_RULES
    assert type(b.queue_model).__name__ == "RiskAverseQueue"
    b = btch.TickBroker(fill_profile="hftbacktest", queue="prob", order_entry="event")
    assert (b.p.queue, b.p.order_entry, b.p.trade_side) == ("prob", "event", "aggressor")
    d = btch.TickBroker()
    assert (d.p.order_entry, d.p.trade_side, d.p.queue_tolerance) == ("event", "any", None)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"order_entry": "later"}, "order_entry='later': must be one of 'event', 'timestamp'"),
        ({"trade_side": "buy"}, "trade_side='buy': must be one of 'any', 'aggressor'"),
        ({"fill_profile": "nautilus"}, "fill_profile='nautilus'"),
    ],
)
def test_unknown_rule_values_name_the_allowed_ones(kwargs, message):
    with pytest.raises(ValueError, match=message):
        btch.TickBroker(**kwargs)
