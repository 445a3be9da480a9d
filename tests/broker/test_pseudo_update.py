"""``pseudo_update`` (the fill accounting's position arithmetic) is backtrader's
``Position.pseudoupdate``, value for value, for every kind of update; ``record_execution`` (its
inline ``Order.execute``) stores what backtrader's does, field for field."""

from __future__ import annotations

import backtrader as bt
from hypothesis import given
from hypothesis import strategies as st

from backtrader_channels.broker.execution import pseudo_update, record_execution
from backtrader_channels.broker.orders import TickBuyOrder, new_order

sizes = st.one_of(
    st.sampled_from([0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5]),
    st.floats(-1e6, 1e6, allow_nan=False),
)
prices = st.floats(0.01, 1e6, allow_nan=False)


@given(oldsize=sizes, oldprice=prices, size=sizes, price=prices)
def test_pseudo_update_is_backtraders(oldsize, oldprice, size, price):
    position = bt.Position(oldsize, oldprice)
    expected = position.pseudoupdate(size, price)
    assert pseudo_update(position.size, position.price, size, price) == expected
    assert (position.size, position.price) == (oldsize, oldprice if oldsize else 0.0)


def test_hand_cases():
    assert pseudo_update(0, 0.0, 2.0, 10.0) == (2.0, 10.0, 2.0, 0)  # opened from flat
    assert pseudo_update(2.0, 10.0, 2.0, 20.0) == (4.0, 15.0, 2.0, 0)  # increased
    assert pseudo_update(2.0, 10.0, -1.0, 20.0) == (1.0, 10.0, 0, -1.0)  # reduced
    assert pseudo_update(2.0, 10.0, -2.0, 20.0) == (0.0, 0.0, 0, -2.0)  # closed
    assert pseudo_update(1.0, 10.0, -3.0, 20.0) == (-2.0, 20.0, -2.0, -1.0)  # reversed
    assert pseudo_update(-1.0, 10.0, 3.0, 20.0) == (2.0, 20.0, 2.0, 1.0)  # reversed up


def _orders(size):
    """A tick-broker order and a stock backtrader order of the same size."""
    data = bt.feeds.DataBase()
    tick = new_order(TickBuyOrder, None, data, size, None, None, None, None, 0, 0, 1.0, 10.0)
    tick.executed.remsize = size
    stock = bt.BuyOrder(simulated=True, owner=None, data=data, size=size)
    stock.executed.remsize = size
    return tick, stock


def _state(order):
    ex = order.executed
    fields = ("dt", "size", "price", "remsize", "value", "comm", "pnl", "psize", "pprice")
    bits = [tuple(sorted(vars(b).items())) for b in ex.exbits]
    return (order.status, order.comminfo, ex.margin, bits, [getattr(ex, f) for f in fields])


fill = st.tuples(st.floats(0.01, 5.0), prices, st.floats(-1e3, 1e3), st.floats(0.0, 10.0))


@given(fills=st.lists(fill, min_size=1, max_size=4))
def test_record_execution_is_order_execute(fills):
    comminfo = bt.CommissionInfo()
    tick, stock = _orders(sum(f[0] for f in fills))
    for i, (size, price, pnl, comm) in enumerate(fills):
        args = (i + 1.0, size, price, 0, 0.0, 0.0, size, size * price, comm)
        record_execution(tick, comminfo, *args, pnl, size, price)
        stock.execute(*args, comminfo.margin, pnl, size, price)
        stock.addcomminfo(comminfo)
        assert _state(tick) == _state(stock)
