"""Lean backtrader orders: real ``bt.BuyOrder``/``bt.SellOrder`` subclasses built without the
metaclass machinery, with a cheap ``clone``. ``notify_order``, analyzers and user code see the
usual ``Order`` API (``ref``, ``status``, ``created``, ``executed``, ``isbuy()``, ``alive()``...).

Extra attributes, all integer nanoseconds: ``created_ns`` (event time at creation) and
``active_ns`` (the earliest event time at which it may fill, after the broker's latency).
"""

from __future__ import annotations

import datetime as _dt
import itertools
from collections.abc import Iterator

import backtrader as bt
from backtrader.order import OrderBase, OrderData
from backtrader.utils import AutoOrderedDict

from ..btypes import BtData, BtExecutionBit, BtOrder, BtOrderData, BtStrategy

_ALIVE = (bt.Order.Created, bt.Order.Submitted, bt.Order.Partial, bt.Order.Accepted)
#: an order's ``valid``: until a datetime (or date), for a timedelta from now, as backtrader
#: float days, or None (good till cancelled)
Valid = _dt.date | _dt.timedelta | float | None


class _TickOrderMixin:
    """Fast clone (no ``copy`` module) and ``alive()`` (no list built per call) shared by
    the tick order classes."""

    executed: BtOrderData
    status: int
    #: order flags (:mod:`.flags`), set from ``buy``/``sell``'s ``reduce_only`` and ``tif``
    reduce_only = False
    tif = "gtc"

    def alive(self) -> bool:
        """True while the order can still be executed (``Order.alive``)."""
        return self.status in _ALIVE

    def clone(self) -> BtOrder:
        obj = object.__new__(type(self))
        obj.__dict__ = self.__dict__.copy()  # (a dict copy: faster than update into a new one)
        ex = self.executed
        ex.markpending()
        exc = object.__new__(OrderData)
        exc.__dict__ = ex.__dict__.copy()
        obj.executed = exc
        return obj


class PendingBits:
    """What trade bookkeeping reads of an order notification, without the snapshot: queued
    instead of a clone when nothing reads order notifications (no ``notify_order`` anywhere).
    ``executed`` is the object itself: ``size`` and ``iterpending()`` as ``OrderData`` has."""

    __slots__ = ("_p1", "_p2", "comminfo", "data", "order", "owner", "p", "size", "tradeid")

    def __init__(self, order: BtOrder) -> None:
        ex = order.executed
        ex.markpending()  # what a clone does: the bits since the last notification
        self.order, self.data, self.tradeid = order, order.data, order.tradeid
        self.comminfo, self.p, self.owner = order.comminfo, order.p, order.owner
        self.size, self._p1, self._p2 = ex.size, ex.p1, ex.p2

    @property
    def executed(self) -> PendingBits:
        return self

    def iterpending(self) -> Iterator[BtExecutionBit]:
        return itertools.islice(self.order.executed.exbits, self._p1, self._p2)


class TickBuyOrder(_TickOrderMixin, bt.BuyOrder):
    """A buy order of the tick broker."""


class TickSellOrder(_TickOrderMixin, bt.SellOrder):
    """A sell order of the tick broker."""


SUPPORTED_EXECTYPES = (
    bt.Order.Market,
    bt.Order.Close,
    bt.Order.Limit,
    bt.Order.Stop,
    bt.Order.StopLimit,
)


def new_order(
    cls: type[BtOrder],
    owner: BtStrategy,
    data: BtData,
    size: float,
    price: float | None,
    plimit: float | None,
    exectype: int | None,
    valid: Valid,
    tradeid: int,
    now_ns: int,
    dtnum: float,
    pclose: float,
) -> BtOrder:
    """Build an order the way ``Order.__init__`` would, minus the costly parts it does not need.
    ``pclose`` is the data's close now (``data.close[0]``)."""
    asked = exectype  # (kept in params, as Order.__init__ does)
    if exectype is None:
        exectype = bt.Order.Market
    if exectype not in SUPPORTED_EXECTYPES:
        raise NotImplementedError(
            f"exectype {bt.Order.ExecTypes[exectype]} is not supported by the tick broker "
            "(supported: Market, Close, Limit, Stop, StopLimit)"
        )
    o = object.__new__(cls)
    p = object.__new__(cls.params)  # (what params() does for a class without recursion)
    p.owner, p.data, p.size, p.price, p.pricelimit = owner, data, size, price, plimit
    p.exectype, p.valid, p.tradeid = asked, valid, tradeid
    o.params = o.p = p
    # read on every fill and notification: plain attributes skip Order.__getattr__
    o.owner, o.data, o.tradeid, o.price, o.pricelimit = owner, data, tradeid, price, plimit
    o.ref = next(OrderBase.refbasis)
    o.broker = None
    o.info = AutoOrderedDict()
    o.comminfo = None
    o.triggered = False
    o._active = True
    o.status = bt.Order.Created
    o._plimit = plimit
    o.exectype = exectype
    if cls.ordtype:  # a sell (Order.isbuy(), without the call)
        size = -size
    o.size = size
    ref_price = pclose if not price and not plimit else price
    o.created = OrderData(dt=dtnum, size=size, price=ref_price, pricelimit=plimit, pclose=pclose)
    o._limitoffset = 0.0
    o.executed = OrderData(remsize=size)
    o.position = 0
    o.dteos = 0.0
    o.plen = 0
    o.valid = None if valid is None else _valid_num(valid, data, dtnum)
    o.created_ns = now_ns
    o.active_ns = now_ns
    o.rested = False  # a limit order that has been checked once and left resting
    o.queue_ahead = None  # with a queue model: the size ahead of it at its price
    o.queue_shown = 0.0  # the size shown at its price when last looked at
    return o


def _valid_num(valid: Valid, data: BtData, dtnum: float) -> float | None:
    """``valid`` as backtrader float days: a datetime/date, a timedelta from now, or None."""
    if valid is None:
        return None
    if isinstance(valid, _dt.timedelta):
        return dtnum + valid.total_seconds() / 86400.0
    if isinstance(valid, (_dt.datetime, _dt.date)):
        return float(data.date2num(valid))
    return float(valid)
