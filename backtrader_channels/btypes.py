"""backtrader's objects under names: the types the package's signatures use for them.

backtrader has no type hints, so to a type checker each alias stays untyped (the package's
``mypy`` runs with ``ignore_missing_imports``); to a reader, ``order: BtOrder`` says which
backtrader object a value is. Each alias is the backtrader class itself, so ``isinstance``
works too. They live on the ground layer, beside :mod:`.events`, so that every folder can use
them."""

from __future__ import annotations

from typing import Any, TypeAlias

import backtrader as bt

#: an order (``bt.Order``: a ``BuyOrder``/``SellOrder``, the tick broker's ``TickBuyOrder``, a
#: notification's clone)
BtOrder: TypeAlias = bt.Order
#: what an order has executed or still asks (``order.created``, ``order.executed``)
BtOrderData: TypeAlias = bt.OrderData
#: one fill of an order (``order.executed.exbits``)
BtExecutionBit: TypeAlias = bt.OrderExecutionBit
#: a strategy instance (a ``bt.Strategy`` subclass)
BtStrategy: TypeAlias = bt.Strategy
#: an analyzer instance
BtAnalyzer: TypeAlias = bt.Analyzer
#: an indicator instance
BtIndicator: TypeAlias = bt.Indicator
#: a data feed (``InstrumentData``, a ``BarChannel``, any ``bt.feeds`` feed)
BtData: TypeAlias = bt.AbstractDataBase
#: one line of a data feed or indicator (``data.lines.close``), with ``array`` and ``idx``
BtLine: TypeAlias = bt.LineBuffer
#: a position (``broker.getposition(data)``): ``size`` and ``price``
BtPosition: TypeAlias = bt.Position
#: a commission scheme (``CommissionInfo``, ``FractionalCommInfo``)
BtCommInfo: TypeAlias = bt.CommInfoBase
#: a trade (``strategy._trades``, ``notify_trade``)
BtTrade: TypeAlias = bt.Trade
#: a broker (``BackBroker``, the package's ``TickBroker``)
BtBroker: TypeAlias = bt.BrokerBase
#: a Cerebro (``bt.Cerebro``, the package's ``Cerebro``)
BtCerebro: TypeAlias = bt.Cerebro
#: a strategy class (what ``addstrategy``/``optstrategy`` take)
BtStrategyClass: TypeAlias = type[bt.Strategy]
#: a backtrader ``params`` object (``strategy.p``, ``broker.p``): attributes named by the class
BtParams: TypeAlias = Any

#: a JSON object as it comes or goes: a venue's message, a ccxt structure (an order, a trade, a
#: market, a balance), a report section. Its values are whatever the JSON holds.
JsonDict: TypeAlias = dict[str, Any]
#: keyword arguments passed on unchanged (to backtrader, to ccxt, to a user's class)
Kwargs: TypeAlias = Any

__all__ = [
    "BtAnalyzer",
    "BtBroker",
    "BtCerebro",
    "BtCommInfo",
    "BtData",
    "BtExecutionBit",
    "BtIndicator",
    "BtLine",
    "BtOrder",
    "BtOrderData",
    "BtParams",
    "BtPosition",
    "BtStrategy",
    "BtStrategyClass",
    "BtTrade",
    "JsonDict",
    "Kwargs",
]
