"""Delivering broker notifications to strategies in tick mode.

Same outcome as backtrader's ``Strategy._addnotification`` + ``Strategy._notify``: trades are
opened, updated and closed from the order's execution bits, then ``notify_order`` (strategy, then
analyzers) for every order and ``notify_trade`` for every trade that opened or closed. What
differs: ``notify_cashvalue``/``notify_fund`` are sent on the sampling clock rather than with
every batch of order notifications, order notifications are not accumulated in
``strategy._orders`` (unless ``keep_orders``), and trades are copied without the ``copy`` module.
"""

from __future__ import annotations

from typing import Any

from backtrader.trade import Trade


def _copy(obj: Any) -> Any:
    new = object.__new__(type(obj))
    new.__dict__.update(obj.__dict__)
    return new


def _update_trades(strat: Any, order: Any, out: list[Any]) -> None:
    """Apply the order's pending execution bits to the strategy's trades; collect notifications."""
    data = order.data._compensate
    if data is None:
        data = order.data
    datatrades = strat._trades[data][order.tradeid]
    if not datatrades:
        trade = Trade(data=data, tradeid=order.tradeid, historyon=strat._tradehistoryon)
        datatrades.append(trade)
    else:
        trade = datatrades[-1]
    comminfo = order.comminfo
    for exbit in order.executed.iterpending():
        if exbit is None:
            break
        if exbit.closed:
            trade.update(
                order,
                exbit.closed,
                exbit.price,
                exbit.closedvalue,
                exbit.closedcomm,
                exbit.pnl,
                comminfo=comminfo,
            )
            if trade.isclosed:
                out.append(_copy(trade))
        if exbit.opened:
            if trade.isclosed:
                trade = Trade(data=data, tradeid=order.tradeid, historyon=strat._tradehistoryon)
                datatrades.append(trade)
            trade.update(
                order,
                exbit.opened,
                exbit.price,
                exbit.openedvalue,
                exbit.openedcomm,
                exbit.pnl,
                comminfo=comminfo,
            )
            if trade.isclosed:
                out.append(_copy(trade))
        if trade.justopened:
            out.append(_copy(trade))


class Notifier:
    """Routes the broker's notification deque to the strategies that own the orders."""

    def __init__(self, broker: Any, strats: list[Any], keep_orders: bool):
        self.notifs = broker.notifs
        self.default = strats[0]
        self.keep_orders = keep_orders
        self.single = len(strats) == 1
        #: notifications held for a response latency (``broker.latency.DelayedNotifications``)
        self.delayed = hasattr(self.notifs, "due")

    def deliver(self, final: bool = False) -> None:
        """Deliver every pending notification (orders first, then trades, per strategy); with
        a response latency, those due (all of them when ``final``: the data has ended)."""
        notifs = self.notifs
        if self.delayed:
            due = notifs.due(final)
            if due:
                self._route(due)
            return
        if self.single:  # one strategy: no grouping needed
            orders = list(notifs)
            notifs.clear()
            trades: list[Any] = []
            strat = self.default
            for order in orders:
                if order.executed.size:
                    _update_trades(strat, order, trades)
            self._notify(strat, orders, trades)
            return
        orders = list(notifs)
        notifs.clear()
        self._route(orders)

    def _route(self, orders: list[Any]) -> None:
        """Deliver ``orders`` to their strategies, with the trades they open or close."""
        batches: dict[Any, tuple[list[Any], list[Any]]] = {}
        for order in orders:
            strat = order.owner
            if strat is None:  # (a Strategy's truth value is a line operation: avoid it)
                strat = self.default
            batch = batches.get(strat)
            if batch is None:
                batch = batches[strat] = ([], [])
            batch[0].append(order)
            if order.executed.size:
                _update_trades(strat, order, batch[1])
        for strat, (orders, trades) in batches.items():
            self._notify(strat, orders, trades)

    def _notify(self, strat: Any, orders: list[Any], trades: list[Any]) -> None:
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
