"""Fill models by hand-computed cases: maker/taker fees, walking the book, queue position."""

from __future__ import annotations

import backtrader as bt
import pytest

import backtrader_channels as btch
from backtrader_channels import OrderBookEvent, TickEvent
from backtrader_channels.broker.models import MakerTaker, ProbQueue, RiskAverseQueue

from .test_tickbroker import Scripted, completed


def T(ts, price, volume=1.0, side="sell"):
    return TickEvent(ts, price, volume, side, None, "X", ts)


def B(ts, bids, asks, snapshot=False):
    return OrderBookEvent(ts, tuple(bids), tuple(asks), snapshot, "X", ts)


def run(actions, events, **broker_kw):
    c = btch.Cerebro(stdstats=False)
    c.setbroker(btch.TickBroker(**broker_kw))
    c.broker.setcash(10_000.0)
    ticks = [e for e in events if isinstance(e, TickEvent)]
    books = [e for e in events if isinstance(e, OrderBookEvent)]
    if ticks:
        c.add_channel(btch.TickChannel, symbol="X", dataname=ticks)
    if books:
        c.add_channel(btch.OrderBookChannel, symbol="X", dataname=books)
    c.addstrategy(Scripted, actions=actions)
    strat = c.run(mode=btch.RunMode.TICK)[0]
    return c, strat


SNAP = B(1, [(99.0, 5.0)], [(101.0, 5.0)], snapshot=True)


def test_maker_and_taker_fees_by_hand():
    """A taker buy at 101 (5 bp) and a maker sell at 105 (2 bp)."""
    events = [SNAP, T(2, 100.0), T(3, 106.0), T(4, 100.0)]
    actions = {
        1: lambda s: s.buy(size=1.0),  # taker: fills at the ask, 101, on event 2
        3: lambda s: s.sell(size=1.0, price=105.0, exectype=bt.Order.Limit),
    }
    c, s = run(actions, [*events, T(5, 106.0)], fees=MakerTaker(maker=0.0002, taker=0.0005))
    assert completed(s) == [(2, 101.0, 1.0), (5, 105.0, -1.0)]  # event of the fill
    taker, maker = 101.0 * 0.0005, 105.0 * 0.0002
    assert s.trades == [(pytest.approx(4.0), pytest.approx(4.0 - taker - maker))]
    assert c.broker.getcash() == pytest.approx(10_000.0 + 4.0 - taker - maker)


def test_fees_none_charges_the_commission_info_as_backtrader():
    events = [SNAP, T(2, 100.0), T(3, 106.0)]
    c = btch.Cerebro(stdstats=False)
    c.setbroker(btch.TickBroker())
    c.broker.setcommission(commission=0.001)
    c.add_channel(btch.TickChannel, symbol="X", dataname=[e for e in events[1:]])
    c.add_channel(btch.OrderBookChannel, symbol="X", dataname=[SNAP])
    c.addstrategy(Scripted, actions={1: lambda s: s.buy(size=1.0)})
    s = c.run(mode=btch.RunMode.TICK)[0]
    assert c.broker.getcash() == pytest.approx(10_000.0 - 101.0 - 0.101)
    assert completed(s) == [(2, 101.0, 1.0)]


def test_models_of_ones_own_are_taken_for_what_they_do():
    """A fee or queue model is any object with the protocol's method (``FeeModel`` and
    ``QueueModel`` are runtime-checkable protocols): no base class to inherit."""

    class Flat:
        def commission(self, size, price, maker):
            return 0.5

    class Front:
        def on_decrease(self, ahead, before, after):
            return 0.0  # every cancellation was ahead of us

    assert isinstance(Flat(), btch.broker.FeeModel)
    assert isinstance(Front(), btch.broker.QueueModel)
    assert not isinstance(Flat(), btch.broker.QueueModel)
    c, s = run({1: lambda s: s.buy(size=1.0)}, [SNAP, T(2, 100.0)], fees=Flat())
    assert completed(s) == [(2, 101.0, 1.0)]
    assert c.broker.getcash() == pytest.approx(10_000.0 - 101.0 - 0.5)
    events = [SNAP, T(2, 100.0), B(3, [(99.0, 5.0)], []), B(4, [(99.0, 2.0)], []), T(5, 99.0, 0.5)]
    buy = {2: lambda s: s.buy(size=0.5, price=99.0, exectype=bt.Order.Limit)}
    _, s = run(buy, events, queue=Front())
    assert completed(s) == [(5, 99.0, 0.5)]  # first in the queue after the decrease
    _, s = run(buy, events, queue="risk_averse")
    assert completed(s) == []  # 2.0 still ahead of it


DEEP = B(1, [(99.0, 5.0)], [(101.0, 1.0), (102.0, 2.0), (103.0, 5.0)], snapshot=True)


def test_a_market_order_walks_the_book_and_counts_its_slippage():
    events = [DEEP, T(2, 100.0)]
    c, s = run({1: lambda s: s.buy(size=2.5)}, events, market_depth="walk")
    statuses = [(st, px, size) for _, st, px, size in s.log if st in ("Partial", "Completed")]
    # 1 at 101, then 1.5 at 102: average (101 + 153) / 2.5
    assert statuses == [("Partial", 101.0, 1.0), ("Completed", pytest.approx(101.6), 2.5)]
    assert c.broker.slippage == pytest.approx(1.5)  # 1.5 paid 1 above the best
    assert c.broker.getposition(s.data).size == pytest.approx(2.5)
    top, ts = run({1: lambda s: s.buy(size=2.5)}, events)  # the default: all at the best
    assert completed(ts) == [(2, 101.0, 2.5)]
    assert top.broker.slippage == 0.0


def test_a_marketable_limit_walks_to_its_limit_then_rests():
    events = [DEEP, T(2, 100.0), B(3, [], [(101.0, 0.0), (102.0, 0.0)]), T(4, 102.0)]
    events.append(T(5, 101.5))
    c, s = run(
        {1: lambda s: s.buy(size=4.0, price=102.0, exectype=bt.Order.Limit)},
        events,
        market_depth="walk",
    )
    fills = [(n, st, px, size) for n, st, px, size in s.log if st in ("Partial", "Completed")]
    # 1 at 101 and 2 at 102 taken at once; the book then empties to 103, so 1 rests at 102:
    # a trade at 102 does not go through it, the trade at 101.5 fills it at 102
    assert fills == [
        (2, "Partial", 101.0, 1.0),
        (2, "Partial", pytest.approx(305.0 / 3), 3.0),
        (5, "Completed", pytest.approx(407.0 / 4), 4.0),
    ]
    assert c.broker.slippage == pytest.approx(2.0)


QBOOK = B(1, [(100.0, 3.0)], [(101.0, 2.0)], snapshot=True)


def _queue_run(events, **kw):
    actions = {1: lambda s: s.buy(size=1.0, price=100.0, exectype=bt.Order.Limit)}
    return run(actions, [QBOOK, B(2, [], [(101.0, 2.5)]), *events], **kw)


def test_risk_averse_queue_by_hand():
    """3 ahead at 100; a trade of 2 at 100 leaves 1; the level shrinking to 1.5 does not move
    the order up (cancels come off the back); a trade of 1.5 eats the 1 ahead and fills it."""
    events = [T(3, 100.0, 2.0), B(4, [(100.0, 1.5)], []), T(5, 100.0, 1.5), T(6, 100.5)]
    _, s = _queue_run(events, queue="risk_averse")
    assert completed(s) == [(5, 100.0, 1.0)]
    _, plain = _queue_run(events)  # no model, "through": a trade at the limit never fills
    assert completed(plain) == []
    _, touch = _queue_run(events, limit_fill="touch")  # touch: the first trade at 100 fills
    assert completed(touch) == [(3, 100.0, 1.0)]


def test_risk_averse_queue_waits_while_trades_only_eat_the_queue():
    events = [T(3, 100.0, 2.0), T(4, 100.0, 0.5), T(5, 100.0, 0.5)]
    _, s = _queue_run(events, queue=RiskAverseQueue())
    assert completed(s) == []  # 3 ahead: 2 + 0.5 traded, 0.5 left ahead; the last 0.5 clears it
    _, s = _queue_run([*events, T(6, 100.0, 0.1)], queue=RiskAverseQueue())
    assert completed(s) == [(6, 100.0, 1.0)]


def test_prob_queue_moves_up_on_a_decrease_by_hand():
    """After the trade of 2: 1 ahead, 2 behind (the level still shows 3). The level drops to 2:
    with power 2 the share from ahead is 2^2 / (1^2 + 2^2) = 0.8, so 1 - 0.8 = 0.2 stays ahead
    and a trade of 0.5 at 100 fills the order. Risk-averse keeps 1 ahead and does not fill."""
    events = [T(3, 100.0, 2.0), B(4, [(100.0, 2.0)], []), T(5, 100.0, 0.5)]
    _, s = _queue_run(events, queue=ProbQueue(power=2.0))
    assert completed(s) == [(5, 100.0, 1.0)]
    _, s = _queue_run(events, queue="risk_averse")
    assert completed(s) == []
    assert ProbQueue(2.0).on_decrease(1.0, 3.0, 2.0) == pytest.approx(0.2)
    assert ProbQueue(2.0).on_decrease(3.0, 3.0, 1.0) == pytest.approx(1.0)  # nothing behind


def test_a_partial_queue_fill_takes_what_the_trade_left():
    events = [T(3, 100.0, 3.4), T(4, 100.5)]
    _, s = _queue_run(events, queue="risk_averse", partial_fills=True)
    fills = [(st, px, size) for _, st, px, size in s.log if st in ("Partial", "Completed")]
    assert fills == [("Partial", 100.0, pytest.approx(0.4))]


def test_without_a_book_the_queue_model_changes_nothing():
    ticks = [T(1, 100.5), T(2, 100.0, 5.0), T(3, 99.5)]
    actions = {1: lambda s: s.buy(size=1.0, price=100.0, exectype=bt.Order.Limit)}
    _, with_model = run(actions, ticks, queue="risk_averse")
    _, without = run(actions, ticks)
    assert completed(with_model) == completed(without) == [(3, 100.0, 1.0)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"queue": "fifo"}, "queue='fifo': must be one of None, 'risk_averse', 'prob'"),
        ({"queue": 3}, "queue=3: must be None, 'risk_averse', 'prob' or a QueueModel"),
        ({"market_depth": "deep"}, "market_depth='deep': must be one of 'top', 'walk'"),
        ({"fees": 0.001}, "fees=0.001: must be None or a FeeModel"),
    ],
)
def test_unknown_model_options_name_the_allowed_ones(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        btch.TickBroker(**kwargs)
    with pytest.raises(ValueError, match="power=0"):
        ProbQueue(0)


def test_a_book_that_is_never_stale_with_max_book_age_none():
    """A trade at 95 contradicts the book (bid 99): by default the market order fills at the
    next trade; with ``max_book_age_ns=None`` (hftbacktest's assumption) at the book's bid."""
    events = [SNAP, T(2, 95.0), T(3, 94.0)]
    actions = {2: lambda s: s.sell(size=1.0)}
    c, s = run(actions, events)
    assert completed(s) == [(3, 94.0, -1.0)]
    assert c.last_run["stale_book_fills"] == 1
    c, s = run(actions, events, max_book_age_ns=None)
    assert completed(s) == [(3, 99.0, -1.0)]
    assert c.last_run["stale_book_fills"] == 0
