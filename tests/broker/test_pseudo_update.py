"""``pseudo_update`` (the fill accounting's position arithmetic) is backtrader's
``Position.pseudoupdate``, value for value, for every kind of update; ``record_execution`` (its
inline ``Order.execute``) stores what backtrader's does, field for field."""

from __future__ import annotations

import backtrader as bt
from hypothesis import given
from hypothesis import strategies as st

from backtrader_channels.broker.fills import pseudo_update, record_execution
from backtrader_channels.broker.orders import TickBuyOrder, TickSellOrder, new_order

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


maybe_price = st.one_of(st.none(), st.just(0.0), prices)


@given(
    cls=st.sampled_from([TickBuyOrder, TickSellOrder]),
    exectype=st.sampled_from([None, bt.Order.Market, bt.Order.Limit, bt.Order.Stop]),
    price=prices,
    plimit=maybe_price,
    size=st.floats(0.01, 10),
)
def test_new_order_is_backtraders(cls, exectype, price, plimit, size):
    """A simulated backtrader order (its close and datetime are its price and 0.0) has the
    attributes of ours, with the same values."""
    data = bt.feeds.DataBase()
    stock_cls = bt.BuyOrder if cls is TickBuyOrder else bt.SellOrder
    stock = stock_cls(
        simulated=True,
        owner=None,
        data=data,
        size=size,
        price=price,
        pricelimit=plimit,
        exectype=exectype,
    )
    tick = new_order(cls, None, data, size, price, plimit, exectype, None, 0, 0, 0.0, price)
    ours = {"created_ns", "active_ns", "rested", "queue_ahead", "queue_shown", "plen"}
    from_params = {"owner", "data", "size", "price", "pricelimit", "exectype", "valid", "tradeid"}
    assert set(vars(stock)) <= set(vars(tick))
    assert set(vars(tick)) - set(vars(stock)) <= ours | from_params | {"params", "p"}
    for name in (
        "size",
        "status",
        "exectype",
        "triggered",
        "_active",
        "plimit",
        "ordtype",
        "valid",
        "dteos",
        "position",
        "_limitoffset",
        "comminfo",
        "broker",
    ):
        assert getattr(tick, name) == getattr(stock, name), name
    for name in ("created", "executed"):
        a, b = vars(getattr(tick, name)).copy(), vars(getattr(stock, name)).copy()
        assert list(a.pop("exbits")) == list(b.pop("exbits")) == []
        for field in ("trailamount", "trailpercent"):  # (no trailing orders in the tick broker)
            assert not a.pop(field)
            assert not b.pop(field)
        assert a == b, name
    assert tick.isbuy() == stock.isbuy()
    assert tick.alive() == stock.alive()
    assert tick.p.data is stock.p.data is data  # (== on a data builds a line operation)
    assert tick.p.owner is stock.p.owner is None
    for name in ("size", "price", "pricelimit", "exectype", "valid", "tradeid"):
        assert getattr(tick.p, name) == getattr(stock.p, name), name
    assert tick.ref == stock.ref + 1
