"""RunRecorder: an analyzer keeping what the run report and its plot show.

Per sampling step (tick mode: every ``sample_ns``; bar mode: every bar) it keeps the time, the last
price of each data, the portfolio value and the position of each data; per fill, its time, data,
side, price and size. Memory grows with the number of samples and fills, not with ticks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

import backtrader as bt

from ..btypes import BtOrder

if TYPE_CHECKING:
    from datetime import datetime


class Recording(TypedDict):
    """What a :class:`RunRecorder` kept (``get_analysis()``), what :func:`.plot.plot_run` draws."""

    #: each sampling step's time, and the portfolio value then
    times: list[datetime]
    values: list[float]
    #: per data (by name): its last price, and the position in it, at each step
    prices: dict[str, list[float]]
    positions: dict[str, list[float]]
    #: every fill: (time, data name, is a buy, price, size)
    fills: list[tuple[datetime, str, bool, float, float]]


class RunRecorder(bt.Analyzer):
    """Equity, prices, positions per step and every fill (see module doc)."""

    def start(self) -> None:
        self.times: list[datetime] = []
        self.values: list[float] = []
        self.prices: dict[str, list[float]] = {
            d._name or f"data{i}": [] for i, d in enumerate(self.strategy.datas)
        }
        self.positions: dict[str, list[float]] = {k: [] for k in self.prices}
        self.fills: list[tuple[datetime, str, bool, float, float]] = []
        self._value = float("nan")

    def notify_fund(self, cash: float, value: float, fundvalue: float, shares: float) -> None:
        self._value = value

    def notify_order(self, order: BtOrder) -> None:
        if order.status in (order.Completed, order.Partial):
            bit = order.executed.exbits[-1] if order.executed.exbits else None
            size = bit.size if bit is not None else order.executed.size
            price = bit.price if bit is not None else order.executed.price
            dt = bt.num2date(bit.dt if bit is not None else order.executed.dt)
            self.fills.append((dt, order.data._name, order.isbuy(), price, abs(size)))

    def next(self) -> None:
        self.times.append(self.strategy.datetime.datetime(0))
        self.values.append(self._value)
        broker = self.strategy.broker
        for i, d in enumerate(self.strategy.datas):
            name = d._name or f"data{i}"
            self.prices[name].append(d.close[0] if len(d) else float("nan"))
            self.positions[name].append(broker.getposition(d).size)

    def get_analysis(self) -> Recording:
        return {
            "times": self.times,
            "values": self.values,
            "prices": self.prices,
            "positions": self.positions,
            "fills": self.fills,
        }
