"""Delivering broker notifications to strategies in tick mode.

Same outcome as backtrader's ``Strategy._addnotification`` + ``Strategy._notify``: trades are
opened, updated and closed from the order's execution bits, then ``notify_order`` (strategy, then
analyzers) for every order and ``notify_trade`` for every trade that opened or closed. What
differs: ``notify_cashvalue``/``notify_fund`` are sent on the sampling clock rather than with
every batch of order notifications, order notifications are not accumulated in
``strategy._orders`` (unless ``keep_orders``), and trades are copied without the ``copy`` module.
"""

from __future__ import annotations

from collections.abc import MutableSequence

from ..broker.latency import DelayedNotifications
from ..btypes import (
    BtAnalyzer,
    BtCommInfo,
    BtData,
    BtExecutionBit,
    BtOrder,
    BtStrategy,
    BtTrade,
)
from .protocols import LoopBroker

#: where a one-slot data's length and datetime are: (length, datetime array, index)
Slots = dict[BtData, tuple[int, MutableSequence[float], int]]


def _copy(trade: BtTrade) -> BtTrade:
    new = object.__new__(type(trade))
    new.__dict__ = trade.__dict__.copy()
    return new


def _trade_update(
    trade: BtTrade,
    order: BtOrder,
    size: float,
    price: float,
    commission: float,
    comminfo: BtCommInfo,
    bars: int,
    dt: float,
) -> None:
    """``Trade.update`` for a trade without history, with the data's length (``bars``) and
    datetime (``dt``) read once per order instead of up to three times per update; the same
    arithmetic in the same order."""
    if not size:
        return
    trade.commission += commission
    oldsize = trade.size
    new = trade.size = oldsize + size
    trade.justopened = justopened = bool(not oldsize and size)
    if justopened:
        trade.baropen = bars
        trade.dtopen = 0.0 if order.p.simulated else dt
        trade.long = new > 0
    trade.isopen = bool(new)
    trade.barlen = bars - trade.baropen
    trade.isclosed = closed = bool(oldsize and not new)
    if closed:
        trade.isopen = False
        trade.barclose = bars
        trade.dtclose = dt
        trade.status = BtTrade.Closed
    elif trade.isopen:
        trade.status = BtTrade.Open
    if abs(new) > abs(oldsize):
        trade.price = (oldsize * trade.price + size * price) / new
        pnl = 0.0
    else:
        pnl = comminfo.profitandloss(-size, trade.price, price)
    trade.pnl += pnl
    trade.pnlcomm = trade.pnl - trade.commission
    trade.value = comminfo.getvaluesize(new, trade.price)


def _now(data: BtData, slots: Slots) -> tuple[int, float]:
    """``(len(data), data.datetime[0])``, read through the buffers; for a symbol's one-slot data
    (``InstrumentData``: its one slot rewritten in place, its length fixed) where they are is
    kept in ``slots``."""
    slot = slots.get(data)
    if slot is None:
        dt = data.lines.datetime
        if not getattr(type(data), "one_slot", False):
            return len(dt), dt.array[dt.idx]
        slot = slots[data] = (dt.lencount, dt.array, dt.idx)
    return slot[0], slot[1][slot[2]]


def _update_trades(
    strat: BtStrategy, order: BtOrder, out: list[BtTrade] | None, slots: Slots
) -> None:
    """Apply the order's pending execution bits to the strategy's trades; collect notifications
    (a copy of each trade opened or closed) in ``out``, unless it is None (nobody reads them).
    ``slots``: the cache of :func:`_now`."""
    data = order.data._compensate
    if data is None:
        data = order.data
    datatrades = strat._trades[data][order.tradeid]
    if not datatrades:
        trade = BtTrade(data=data, tradeid=order.tradeid, historyon=strat._tradehistoryon)
        datatrades.append(trade)
    else:
        trade = datatrades[-1]
    bars = _now(data, slots)
    for exbit in order.executed.iterpending():
        if exbit is None:
            break
        if exbit.closed:
            _update(trade, order, exbit, exbit.closed, exbit.closedvalue, exbit.closedcomm, bars)
            if trade.isclosed and out is not None:
                out.append(_copy(trade))
        if exbit.opened:
            if trade.isclosed:
                trade = BtTrade(data=data, tradeid=order.tradeid, historyon=strat._tradehistoryon)
                datatrades.append(trade)
            _update(trade, order, exbit, exbit.opened, exbit.openedvalue, exbit.openedcomm, bars)
            if trade.isclosed and out is not None:
                out.append(_copy(trade))
        if trade.justopened and out is not None:
            out.append(_copy(trade))


def _update(
    trade: BtTrade,
    order: BtOrder,
    exbit: BtExecutionBit,
    size: float,
    value: float,
    comm: float,
    bars: tuple[int, float],
) -> None:
    """One update of ``trade`` from an execution bit: the lean one, or backtrader's own for a
    trade keeping history (or of a subclass). ``bars``: the data's length and datetime."""
    comminfo = order.comminfo
    if trade.historyon or type(trade) is not BtTrade:
        trade.update(order, size, exbit.price, value, comm, exbit.pnl, comminfo=comminfo)
    else:
        _trade_update(trade, order, size, exbit.price, comm, comminfo, bars[0], bars[1])


def _own(obj: object, base: type, name: str) -> bool:
    """Whether ``obj`` has a ``name`` method of its own (also one set on the instance)."""
    return getattr(getattr(obj, name), "__func__", None) is not getattr(base, name)


def _reads(strat: BtStrategy, name: str) -> bool:
    """Whether the strategy or any of its analyzers (their children too) defines ``name``."""

    def analyzer_reads(analyzer: BtAnalyzer) -> bool:
        return _own(analyzer, BtAnalyzer, name) or any(
            analyzer_reads(child) for child in analyzer._children
        )

    return _own(strat, BtStrategy, name) or any(analyzer_reads(a) for a in strat.analyzers)


class Notifier:
    """Routes the broker's notification deque to the strategies that own the orders."""

    def __init__(self, broker: LoopBroker, strats: list[BtStrategy], keep_orders: bool):
        self.notifs = notifs = broker.notifs
        self.default = strats[0]
        self.keep_orders = keep_orders
        self.single = len(strats) == 1
        #: where each one-slot data's length and datetime are (``_now``)
        self.slots: Slots = {}
        #: notifications held for a response latency (``broker.latency.DelayedNotifications``)
        self.delayed: DelayedNotifications | None = (
            notifs if isinstance(notifs, DelayedNotifications) else None
        )
        lean = self.single and self._unread(strats, broker)
        broker.lean_notifications = lean
        #: one strategy, and nothing reads its order or trade notifications: trades are kept
        #: up to date, but no notification is copied or delivered
        self.unheard = lean and not _reads(strats[0], "notify_trade")
        broker.trade_keeper = self._keep_trades if self.unheard else None

    def _keep_trades(self, order: BtOrder) -> None:
        """A fill nobody hears (``unheard``): the strategy's trades from its new execution
        bits, at once, with the values ``deliver`` would give them right after the event."""
        ex = order.executed
        ex.p1, ex.p2 = ex.p2, len(ex.exbits)  # (OrderData.markpending)
        _update_trades(self.default, order, None, self.slots)

    def _unread(self, strats: list[BtStrategy], broker: LoopBroker) -> bool:
        """Whether nothing reads order notifications in this run: no ``notify_order`` on the
        strategy or any analyzer, no kept orders, no response latency, no trade history (which
        keeps the orders), and the tick broker's own notify and submit."""
        from ..broker.tickbroker import TickBroker

        return not (
            self.keep_orders
            or self.delayed is not None
            or _reads(strats[0], "notify_order")
            or strats[0]._tradehistoryon
            or type(broker).notify is not TickBroker.notify
            or type(broker).submit is not TickBroker.submit
        )

    def deliver(self, final: bool = False) -> None:
        """Deliver every pending notification (orders first, then trades, per strategy); with
        a response latency, those due (all of them when ``final``: the data has ended)."""
        delayed = self.delayed
        if delayed is not None:
            due = delayed.due(final)
            if due:
                self._route(due)
            return
        notifs = self.notifs
        if self.single:  # one strategy: no grouping needed
            orders = list(notifs)
            notifs.clear()
            strat = self.default
            if self.unheard:
                for order in orders:
                    if order.executed.size:
                        _update_trades(strat, order, None, self.slots)
                return
            trades: list[BtTrade] = []
            for order in orders:
                if order.executed.size:
                    _update_trades(strat, order, trades, self.slots)
            self._notify(strat, orders, trades)
            return
        orders = list(notifs)
        notifs.clear()
        self._route(orders)

    def _route(self, orders: list[BtOrder]) -> None:
        """Deliver ``orders`` to their strategies, with the trades they open or close."""
        batches: dict[BtStrategy, tuple[list[BtOrder], list[BtTrade]]] = {}
        for order in orders:
            strat = order.owner
            if strat is None:  # (a Strategy's truth value is a line operation: avoid it)
                strat = self.default
            batch = batches.get(strat)
            if batch is None:
                batch = batches[strat] = ([], [])
            batch[0].append(order)
            if order.executed.size:
                _update_trades(strat, order, batch[1], self.slots)
        for strat, (orders, trades) in batches.items():
            self._notify(strat, orders, trades)

    def _notify(self, strat: BtStrategy, orders: list[BtOrder], trades: list[BtTrade]) -> None:
        """``notify_order`` for each order, then ``notify_trade`` for each trade (the strategy,
        then its analyzers)."""
        analyzers = strat.analyzers
        notify_order = strat.notify_order
        for order in orders:
            notify_order(order)
            for analyzer in analyzers:
                analyzer._notify_order(order)
        for trade in trades:
            strat.notify_trade(trade)
            for analyzer in analyzers:
                analyzer._notify_trade(trade)
        if self.keep_orders:
            strat._orders.extend(orders)
