"""Order flags of the tick broker: ``reduce_only`` and the time in force (``tif``).

They come as backtrader's extra keyword arguments of ``buy``/``sell`` (kept in ``order.info``):
``self.buy(size=1, reduce_only=True)``, ``self.sell(size=1, price=p, exectype=Limit,
tif="post_only")``.

* ``reduce_only=True``: refused (``Rejected``) when it would increase or flip the position at
  submission; at a fill, cut to what is left of the position (cancelled when nothing is).
* ``tif``: ``"gtc"`` (default, good till cancelled); ``"ioc"`` (immediate or cancel: what the
  first event after it becomes active does not fill expires); ``"fok"`` (fill or kill: all of
  it on that event, or it expires); ``"post_only"`` (a limit order refused when it would take
  liquidity when it arrives).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, get_args

import backtrader as bt

from ..btypes import BtOrder, Kwargs
from ..errors import check_choice

if TYPE_CHECKING:
    from .tickbroker import TickBroker

_Limit = bt.Order.Limit

#: an order's time in force
TimeInForce = Literal["gtc", "ioc", "fok", "post_only"]
TIFS: tuple[TimeInForce, ...] = get_args(TimeInForce)


def apply_flags(order: BtOrder, kwargs: dict[str, Kwargs]) -> None:
    """Read ``reduce_only`` and ``tif`` of the order's extra arguments onto the order
    (``order.reduce_only``, ``order.tif``); an unknown ``tif`` is a ValueError naming the
    allowed ones."""
    tif = kwargs.get("tif")
    if tif is not None:
        order.tif = check_choice("tif", tif, TIFS)
    if kwargs.get("reduce_only"):
        order.reduce_only = True


def increases(position: float, signed_size: float) -> bool:
    """Whether an order of ``signed_size`` would increase or flip ``position``."""
    if not position or (position > 0) == (signed_size > 0):
        return True
    return abs(signed_size) > abs(position)


def reducible(position: float, signed_size: float) -> float:
    """What of ``signed_size`` (unsigned) reduces ``position`` without flipping it."""
    if not position or (position > 0) == (signed_size > 0):
        return 0.0
    return min(abs(signed_size), abs(position))


def refused_at_submission(broker: TickBroker, order: BtOrder) -> bool:
    """Refuse ``order`` when it is submitted, notified: ``Rejected`` for a ``reduce_only``
    that would increase or flip the position, ``Margin`` for a perpetual's order beyond the
    available balance (``PerpAccount.admit``). True when refused."""
    if order.reduce_only and increases(broker.getposition(order.data).size, order.size):
        order.reject(broker)
    elif broker.perp is not None and not broker.perp.admit(order):
        order.margin()
    else:
        return False
    broker.notify(order)
    broker._ococheck(order)
    return True


def refused_while_paused(broker: TickBroker, order: BtOrder) -> None:
    """Refuse ``order`` (``Rejected``, its ``info.reason`` the pause's) while new orders are
    paused (``broker.paused``: the dashboard's pause); counted in ``paused_refusals``."""
    order.addinfo(reason=broker.paused)
    order.reject(broker)
    broker.notify(order)
    broker._ococheck(order)
    broker.paused_refusals += 1


def refused_at_activation(broker: TickBroker, order: BtOrder) -> bool:
    """A ``post_only`` order that is not a limit or would take liquidity now is rejected
    (True); an ``ioc``/``fok`` order is watched until its first matching event."""
    if order.tif == "post_only":
        if order.exectype == _Limit and not broker.marketable(order):
            return False
        order.reject(broker)
        broker.notify(order)
        broker._ococheck(order)
        return True
    broker.immediate.append(order)
    return False


def end_immediate(broker: TickBroker, pending: list[BtOrder], now: int) -> None:
    """After a matching event: the ioc/fok orders of ``pending`` that were active on it
    expire with what they did not fill."""
    watched = broker.immediate
    for order in list(watched):
        if not order.alive():
            watched.remove(order)
        elif now >= order.active_ns and order in pending:
            watched.remove(order)
            pending.remove(order)
            order.status = order.Expired
            broker.notify(order)
            broker._ococheck(order)


def cut_to_position(
    broker: TickBroker, order: BtOrder, size: float, price: float, now: int, maker: bool
) -> bool:
    """A ``reduce_only`` fill of ``size`` beyond what is left of the position: what is left
    fills, the rest of the order is cancelled (True); False: ``size`` reduces, fill it."""
    left = reducible(broker.getposition(order.data).size, -size if order.ordtype else size)
    if left >= size:
        return False
    if left > 0:
        broker._fill(order, left, price, now, maker)
    if order.alive():
        order.cancel()  # (the matcher takes it out of its pending list)
        broker.notify(order)
    return True
