"""The benchmark strategies, written once for tick mode and once the stock backtrader way."""

from __future__ import annotations

from collections import deque

import backtrader as bt


class CountTicks(bt.Strategy):
    """(a) counts ticks in ``on_tick``."""

    def start(self):
        self.n = 0

    def on_tick(self, tick):
        self.n += 1


def flip(strategy: bt.Strategy, price: float, sma: float) -> None:
    """Go long (short) with a market order when price crosses above (below) the SMA."""
    if price > sma and strategy.side <= 0:
        strategy.buy(size=1 if strategy.side == 0 else 2)
        strategy.side = 1
    elif price < sma and strategy.side >= 0:
        strategy.sell(size=1 if strategy.side == 0 else 2)
        strategy.side = -1


class SmaFlipTicks(bt.Strategy):
    """(b) 20-tick SMA of price; flips long/short with market orders on every crossing."""

    def start(self):
        self.window = deque(maxlen=20)
        self.total = 0.0
        self.side = 0

    def on_tick(self, tick):
        price, window = tick.price, self.window
        if len(window) == 20:
            self.total -= window[0]
        window.append(price)
        self.total += price
        if len(window) < 20:
            return
        flip(self, price, self.total / 20)


class CountBars(bt.Strategy):
    """(a) the stock way: one bar per tick, counted in ``next``."""

    def start(self):
        self.n = 0

    def next(self):
        self.n += 1


class SmaFlipBars(bt.Strategy):
    """(b) the stock way: ``bt.ind.SMA`` on close, flipping in ``next``."""

    def __init__(self):
        self.sma = bt.ind.SMA(self.data.close, period=20)
        self.side = 0

    def next(self):
        flip(self, self.data.close[0], self.sma[0])


class TickBars(bt.feed.DataBase):
    """Stock backtrader feed: one bar per tick (o=h=l=c=price) from in-memory lists."""

    params = (("ticks", None), ("timeframe", bt.TimeFrame.Ticks))

    def start(self):
        super().start()
        self._rows = iter(self.p.ticks)

    def _load(self):
        row = next(self._rows, None)
        if row is None:
            return False
        dt, price, volume = row
        lines = self.lines
        lines.datetime[0] = dt
        lines.open[0] = lines.high[0] = lines.low[0] = lines.close[0] = price
        lines.volume[0] = volume
        return True
