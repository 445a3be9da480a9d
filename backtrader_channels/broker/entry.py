"""The tick broker's ``buy`` and ``sell``: one order path for both sides (``BackBroker``'s
arguments; outside tick mode, backtrader's own)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..btypes import BtData, BtOrder, BtStrategy, Kwargs
from ..events import ns_to_num
from .flags import apply_flags
from .orders import TickBuyOrder, Valid, new_order

if TYPE_CHECKING:
    from .tickbroker import TickBroker


def order_entry(side: type[BtOrder], stock: Callable[..., BtOrder]) -> Callable[..., BtOrder]:
    """``TickBroker.buy`` (``side`` TickBuyOrder, ``stock`` BackBroker.buy) or ``sell``: one
    order path for both sides. Outside tick mode it is ``stock``."""

    def entry(
        self: TickBroker,
        owner: BtStrategy,
        data: BtData,
        size: float,
        price: float | None = None,
        plimit: float | None = None,
        exectype: int | None = None,
        valid: Valid = None,
        tradeid: int = 0,
        oco: BtOrder | None = None,
        trailamount: float | None = None,
        trailpercent: float | None = None,
        parent: BtOrder | None = None,
        transmit: bool = True,
        histnotify: bool = False,
        _checksubmit: bool = True,
        **kwargs: Kwargs,
    ) -> BtOrder:
        if not self.tick_mode:
            return stock(
                self, owner, data, size, price, plimit, exectype, valid, tradeid, oco,
                trailamount, trailpercent, parent, transmit, histnotify, _checksubmit, **kwargs,
            )  # fmt: skip
        if parent is not None or not transmit:
            raise NotImplementedError(
                "bracket orders (parent/transmit) are not supported by the tick broker"
            )
        if trailamount is not None or trailpercent is not None:
            raise NotImplementedError("trailing orders are not supported by the tick broker")
        data = self._trades_as.get(data, data)  # a bar feed trades its symbol
        clock = self.clock
        ts = None if clock is None else clock.latest_ts
        now = self.now_ns if ts is None else int(ts)
        slots = self._slots.get(data)
        if slots is None:
            slots = self._lines(data)
        dtnum = ns_to_num(now) if now else slots[0][slots[1]]
        order = new_order(
            side, owner, data, size, price, plimit, exectype, valid, tradeid, now, dtnum,
            slots[2][slots[3]],
        )  # fmt: skip
        if kwargs:
            order.addinfo(**kwargs)
            apply_flags(order, kwargs)
        if oco is not None:
            self._join_oco(order, oco)
        return self.submit(order, check=_checksubmit)

    what = "buy" if side is TickBuyOrder else "sell"
    entry.__name__ = what
    entry.__qualname__ = f"TickBroker.{what}"
    entry.__doc__ = _ENTRY_DOC.format(what=what)
    return entry


_ENTRY_DOC = """Create and submit a {what} order (``BackBroker.{what}``'s arguments).

    Parameters
    ----------
    owner : bt.Strategy
        The strategy placing it.
    data : data feed
        What it trades (a bar feed: its symbol's instrument, ``trade_as``).
    size : float
        The size (> 0).
    price, plimit : float, optional
        The limit of a Limit order, the stop of a Stop or StopLimit, and a StopLimit's limit.
    exectype : int, optional
        ``bt.Order.Market`` (default), ``Close``, ``Limit``, ``Stop`` or ``StopLimit``.
    valid : datetime, date, timedelta or float, optional
        Good until then (a timedelta: from now); None: until cancelled.
    tradeid : int, default 0
        The trade it belongs to.
    oco : Order, optional
        One cancels the other: the first of the group to end cancels the rest.
    **kwargs
        Kept in ``order.info``; ``reduce_only=True`` and ``tif`` ("gtc", "ioc", "fok",
        "post_only") are order flags (:mod:`~backtrader_channels.broker.flags`).

    Returns
    -------
    Order
        The submitted order: active after the current event and the entry latency.

    Raises
    ------
    NotImplementedError
        Brackets (``parent``, ``transmit=False``), trailing orders and other order types.
    """
