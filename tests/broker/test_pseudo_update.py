"""``pseudo_update`` (the fill accounting's position arithmetic) is backtrader's
``Position.pseudoupdate``, value for value, for every kind of update."""

from __future__ import annotations

import backtrader as bt
from hypothesis import given
from hypothesis import strategies as st

from backtrader_channels.broker.execution import pseudo_update

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
