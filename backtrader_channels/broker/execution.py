"""One fill's accounting: position, cash, commission, margin, executed bits, notification.

This is the real-execution branch of ``BackBroker._execute`` with the same arithmetic (through the
same ``CommissionInfo`` methods), minus what tick mode does not use: the pseudo-execution branch,
``_compensate`` datas, credit interest (``int2pnl``) and the per-fill ``datetime`` conversion for
``Position.update``. It is about three times cheaper, which matters when a strategy trades every
few ticks.
"""

from __future__ import annotations

from typing import Any

import backtrader as bt
from backtrader.order import OrderExecutionBit

from .orders import TickBuyOrder, TickSellOrder

_TICK_ORDERS = (TickBuyOrder, TickSellOrder)
_PARTIAL, _COMPLETED = bt.Order.Partial, bt.Order.Completed


def pseudo_update(
    oldsize: float, oldprice: float, size: float, price: float
) -> tuple[float, float, float, float]:
    """``Position(oldsize, oldprice).update(size, price)`` (backtrader's ``pseudoupdate``)
    without building a Position: the new size and price, and the parts of ``size`` that
    opened and closed; the same branches and arithmetic."""
    if not oldsize:
        oldprice = 0.0  # Position(0, price) starts at 0.0
    new = oldsize + size
    if not new:
        return new, 0.0, 0, size
    if not oldsize:
        return new, price, size, 0
    if oldsize > 0:
        if size > 0:
            return new, (oldprice * oldsize + size * price) / new, size, 0
        if new > 0:
            return new, oldprice, 0, size
        return new, price, new, -oldsize
    if size < 0:
        return new, (oldprice * oldsize + size * price) / new, size, 0
    if new < 0:
        return new, oldprice, 0, size
    return new, price, new, -oldsize


def execute_fill(
    broker: Any,
    order: Any,
    size: float,
    price: float,
    dtnum: float,
    fees: Any = None,
    maker: bool = False,
) -> None:
    """Fill ``size`` (unsigned) of ``order`` at ``price``; ``dtnum`` is the fill time (bt days).
    ``fees`` (a ``FeeModel``) replaces the ``CommissionInfo``'s commission, by ``maker``."""
    if not order.isbuy():
        size = -size
    data = order.data
    comminfo = broker.getcommissioninfo(data)
    position = broker.positions[data]
    pprice_orig = position.price
    psize, pprice, opened, closed = pseudo_update(position.size, pprice_orig, size, price)
    pnl = comminfo.profitandloss(-closed, pprice_orig, price)
    cash = broker.cash
    shortcash = broker.p.shortcash

    if closed:
        if shortcash:
            closedvalue = comminfo.getvaluesize(-closed, pprice_orig)
        else:
            closedvalue = comminfo.getoperationcost(closed, pprice_orig)
        closecash = closedvalue
        if closedvalue > 0:  # long position closed
            closecash /= comminfo.get_leverage()
        cash += closecash + pnl * comminfo.stocklike
        closedcomm = (
            comminfo.getcommission(closed, price)
            if fees is None
            else fees.commission(closed, price, maker)
        )
        cash -= closedcomm
        cash += comminfo.cashadjust(-closed, position.adjbase, price)
        broker.cash = cash
    else:
        closedvalue = closedcomm = 0.0

    popened = opened
    if opened:
        if shortcash:
            openedvalue = comminfo.getvaluesize(opened, price)
        else:
            openedvalue = comminfo.getoperationcost(opened, price)
        opencash = openedvalue
        if openedvalue > 0:  # long position opened
            opencash /= comminfo.get_leverage()
        cash -= opencash
        openedcomm = (
            comminfo.getcommission(opened, price)
            if fees is None
            else fees.commission(opened, price, maker)
        )
        cash -= openedcomm
        if cash < 0.0:  # not enough cash: nothing opens
            opened = 0
            openedvalue = openedcomm = 0.0
        else:
            if abs(psize) > abs(opened):
                cash += comminfo.cashadjust(psize - opened, position.adjbase, price)
            position.adjbase = price
            broker.cash = cash
    else:
        openedvalue = openedcomm = 0.0

    execsize = closed + opened
    if execsize:
        comminfo.confirmexec(execsize, price)
        position.update(execsize, price)
        record_execution(
            order,
            comminfo,
            dtnum,
            execsize,
            price,
            closed,
            closedvalue,
            closedcomm,
            opened,
            openedvalue,
            openedcomm,
            pnl,
            psize,
            pprice,
        )
        broker.fees_paid += closedcomm + openedcomm
        broker.notify(order)
        broker._ococheck(order)

    if popened and not opened:
        order.margin()
        broker.notify(order)
        broker._ococheck(order)


def record_execution(
    order: Any,
    comminfo: Any,
    dt: float,
    size: float,
    price: float,
    closed: float,
    closedvalue: float,
    closedcomm: float,
    opened: float,
    openedvalue: float,
    openedcomm: float,
    pnl: float,
    psize: float,
    pprice: float,
) -> None:
    """``order.execute(...)`` and ``order.addcomminfo(comminfo)``: for the tick broker's own
    order classes (which override neither) ``Order.execute`` -> ``OrderData.add`` ->
    ``addbit`` inline, the same stores in their order."""
    if type(order) not in _TICK_ORDERS:
        order.execute(
            dt,
            size,
            price,
            closed,
            closedvalue,
            closedcomm,
            opened,
            openedvalue,
            openedcomm,
            comminfo.margin,
            pnl,
            psize,
            pprice,
        )
        order.addcomminfo(comminfo)
        return
    ex = order.executed
    bit = OrderExecutionBit(
        dt,
        size,
        price,
        closed,
        closedvalue,
        closedcomm,
        opened,
        openedvalue,
        openedcomm,
        pnl,
        psize,
        pprice,
    )
    ex.exbits.append(bit)
    ex.remsize -= size
    ex.dt = dt
    oldvalue = ex.size * ex.price
    ex.size += size
    ex.price = (oldvalue + size * price) / ex.size
    ex.value += bit.value
    ex.comm += bit.comm
    ex.pnl += pnl
    ex.psize = psize
    ex.pprice = pprice
    ex.margin = comminfo.margin
    order.status = _PARTIAL if ex.remsize else _COMPLETED
    order.comminfo = comminfo
