"""One fill's accounting: position, cash, commission, margin, executed bits, notification.

This is the real-execution branch of ``BackBroker._execute`` with the same arithmetic (through the
same ``CommissionInfo`` methods), minus what tick mode does not use: the pseudo-execution branch,
credit interest (``int2pnl``) and the per-fill ``datetime`` conversion for ``Position.update``.
The fill's size is an argument (``BackBroker`` asks its ``filler``). A ``_compensate`` data moves
the compensating data's position and pays that data's commission on what opens, as in
``BackBroker``. It is about three times cheaper, which matters when a strategy trades every few
ticks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import backtrader as bt
from backtrader.order import OrderExecutionBit

from ..btypes import BtCommInfo, BtOrder
from .models import FeeModel
from .orders import TickBuyOrder, TickSellOrder

if TYPE_CHECKING:
    from .tickbroker import TickBroker

_TICK_ORDERS = (TickBuyOrder, TickSellOrder)
_PARTIAL, _COMPLETED = bt.Order.Partial, bt.Order.Completed
_COMM_PERC = bt.CommInfoBase.COMM_PERC

#: the ``CommInfoBase`` methods a fill calls; a scheme overriding none has its arithmetic inline
_FILL_METHODS = (
    "profitandloss",
    "getvaluesize",
    "getoperationcost",
    "get_leverage",
    "getcommission",
    "_getcommission",
    "cashadjust",
    "confirmexec",
    "stocklike",
)
_PLAIN: dict[type, bool] = {}


def _plain(cls: type) -> bool:
    """Whether the scheme class ``cls`` keeps ``CommInfoBase``'s fill methods (cached)."""
    plain = _PLAIN.get(cls)
    if plain is None:
        base = bt.CommInfoBase
        plain = _PLAIN[cls] = all(
            getattr(cls, name) is getattr(base, name) for name in _FILL_METHODS
        )
    return plain


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


def execute_fill(  # noqa: C901 - backtrader's _execute, branch for branch, with its stock-like arithmetic inline
    broker: TickBroker,
    order: BtOrder,
    size: float,
    price: float,
    dtnum: float,
    fees: FeeModel | None = None,
    maker: bool = False,
) -> None:
    """Fill ``size`` (unsigned) of ``order`` at ``price``; ``dtnum`` is the fill time (bt days).
    ``fees`` (a ``FeeModel``) replaces the ``CommissionInfo``'s commission, by ``maker``."""
    if order.ordtype:  # a sell (Order.isbuy(), without the call)
        size = -size
    data = order.data
    comminfo = opener = broker.getcommissioninfo(data)
    held = data._compensate  # (backtrader's compensating data, rare) holds the position
    if held is None:
        held = data
    else:
        opener = broker.getcommissioninfo(held)  # charges what opens
    # a stock-like scheme with backtrader's own arithmetic: its formulas inline, the same
    # operations in the same order (profitandloss, getvaluesize/getoperationcost, get_leverage,
    # getcommission; cashadjust is 0.0 and confirmexec does nothing for it)
    plain = comminfo._stocklike and opener is comminfo and _plain(type(comminfo))
    if plain:
        cp = comminfo.p
        perc = comminfo._commtype == _COMM_PERC
    position = broker.positions[held]
    pprice_orig = position.price
    psize, pprice, opened, closed = pseudo_update(position.size, pprice_orig, size, price)
    pnl = (
        -closed * (price - pprice_orig) * cp.mult
        if plain
        else comminfo.profitandloss(-closed, pprice_orig, price)
    )
    cash = broker.cash
    shortcash = broker.p.shortcash

    if closed:
        if plain:
            closedvalue = -closed * pprice_orig if shortcash else abs(closed) * pprice_orig
        elif shortcash:
            closedvalue = comminfo.getvaluesize(-closed, pprice_orig)
        else:
            closedvalue = comminfo.getoperationcost(closed, pprice_orig)
        closecash = closedvalue
        if closedvalue > 0:  # long position closed
            closecash /= cp.leverage if plain else comminfo.get_leverage()
        cash += closecash + pnl * comminfo.stocklike
        if fees is not None:
            closedcomm = fees.commission(closed, price, maker)
        elif plain:
            closedcomm = (
                abs(closed) * cp.commission * price if perc else abs(closed) * cp.commission
            )
        else:
            closedcomm = comminfo.getcommission(closed, price)
        cash -= closedcomm
        cash += 0.0 if plain else comminfo.cashadjust(-closed, position.adjbase, price)
        broker.cash = cash
    else:
        closedvalue = closedcomm = 0.0

    popened = opened
    if opened:
        if plain:
            openedvalue = opened * price if shortcash else abs(opened) * price
        elif shortcash:
            openedvalue = comminfo.getvaluesize(opened, price)
        else:
            openedvalue = comminfo.getoperationcost(opened, price)
        opencash = openedvalue
        if openedvalue > 0:  # long position opened
            opencash /= cp.leverage if plain else comminfo.get_leverage()
        cash -= opencash
        if fees is not None:
            openedcomm = fees.commission(opened, price, maker)
        elif plain:
            openedcomm = (
                abs(opened) * cp.commission * price if perc else abs(opened) * cp.commission
            )
        else:
            openedcomm = opener.getcommission(opened, price)
        cash -= openedcomm
        if cash < 0.0:  # not enough cash: nothing opens
            opened = 0
            openedvalue = openedcomm = 0.0
        else:
            if abs(psize) > abs(opened):
                cash += (
                    0.0 if plain else comminfo.cashadjust(psize - opened, position.adjbase, price)
                )
            position.adjbase = price
            broker.cash = cash
    else:
        openedvalue = openedcomm = 0.0

    execsize = closed + opened
    if execsize:
        if not plain:
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
        if broker.fill_hook is not None:  # the run's trace (cerebro.trace): once per fill
            broker.fill_hook(order, order.executed.exbits[-1])
        broker.notify(order)
        if broker._oco_groups:
            broker._ococheck(order)

    if popened and not opened:
        order.margin()
        broker.notify(order)
        broker._ococheck(order)


def record_execution(
    order: BtOrder,
    comminfo: BtCommInfo,
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
