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


class SmaFlipNotified(SmaFlipTicks):
    """(b) with a ``notify_order`` counting the completed orders."""

    last_completed = 0

    def start(self):
        super().start()
        self.completed = 0

    def notify_order(self, order):
        if order.status == order.Completed:
            self.completed += 1

    def stop(self):
        type(self).last_completed = self.completed  # read by the benchmark


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


class RawSmaTicks(bt.Strategy):
    """Issue 4 baseline: a 20-tick SMA computed by hand in ``on_tick``; counts price > SMA."""

    def start(self):
        self.window = deque(maxlen=20)
        self.total = 0.0
        self.above = 0

    def on_tick(self, tick):
        price, window = tick.price, self.window
        if len(window) == 20:
            self.total -= window[0]
        window.append(price)
        self.total += price
        if len(window) == 20 and price > self.total / 20:
            self.above += 1


class BridgeSmaTicks(bt.Strategy):
    """The same, reading ``SMA(bridge, 20)`` in ``on_tick``."""

    def make_average(self, px):
        return bt.ind.SMA(px, period=20)

    def __init__(self):
        from backtrader_channels import ChannelBridge

        self.px = ChannelBridge(channel=("tick", "BTC/USDT"), field="price")
        self.avg = self.make_average(self.px)
        self.above = 0

    def on_tick(self, tick):
        if tick.price > self.avg[0]:  # NaN before the 20th tick: False
            self.above += 1


class BridgeSmaNext(bt.Strategy):
    """The same, the plain backtrader way: ``next()`` over bridged lines."""

    def __init__(self):
        from backtrader_channels import ChannelBridge

        self.px = ChannelBridge(channel=("tick", "BTC/USDT"), field="price")
        self.sma = bt.ind.SMA(self.px, period=20)
        self.above = 0

    def next(self):
        if self.px[0] > self.sma[0]:
            self.above += 1


class StockSmaBars(bt.Strategy):
    """The same in stock backtrader, one bar per tick."""

    def __init__(self):
        self.sma = bt.ind.SMA(self.data.close, period=20)
        self.above = 0

    def next(self):
        if self.data.close[0] > self.sma[0]:
            self.above += 1


class SmaFlipPeriod(bt.Strategy):
    """(b) with the SMA's length as a parameter: what a sweep varies."""

    params = (("period", 20),)

    def start(self):
        self.window = deque(maxlen=self.p.period)
        self.total = 0.0
        self.side = 0

    def on_tick(self, tick):
        price, window, n = tick.price, self.window, self.p.period
        if len(window) == n:
            self.total -= window[0]
        window.append(price)
        self.total += price
        if len(window) < n:
            return
        flip(self, price, self.total / n)


class RawRsiTicks(bt.Strategy):
    """A 14-tick RSI computed by hand in ``on_tick`` (Wilder's smoothing, as ``bt.ind.RSI``);
    counts RSI > 70."""

    def start(self):
        self.prev = None
        self.n = 0
        self.up = self.down = 0.0
        self.above = 0

    def on_tick(self, tick):
        price, prev = tick.price, self.prev
        self.prev = price
        if prev is None:
            return
        d = price - prev
        up, down = max(d, 0.0), max(-d, 0.0)
        self.n += 1
        if self.n <= 14:
            self.up += up
            self.down += down
            if self.n < 14:
                return
            self.up /= 14
            self.down /= 14
        else:
            self.up = self.up * (13 / 14) + up / 14
            self.down = self.down * (13 / 14) + down / 14
        if self.down and 100.0 - 100.0 / (1.0 + self.up / self.down) > 70.0:
            self.above += 1


class BridgeRsiTicks(bt.Strategy):
    """The same, reading ``RSI(bridge, 14)`` in ``on_tick``."""

    def __init__(self):
        from backtrader_channels import ChannelBridge

        self.px = ChannelBridge(channel=("tick", "BTC/USDT"), field="price")
        self.rsi = bt.ind.RSI(self.px, period=14, safediv=True)
        self.above = 0

    def on_tick(self, tick):
        if self.rsi[0] > 70.0:
            self.above += 1


class RawCrossTicks(bt.Strategy):
    """Price crossing its 20-tick SMA, by hand in ``on_tick``; counts the upward crossings."""

    def start(self):
        self.window = deque(maxlen=20)
        self.total = 0.0
        self.last = 0.0  # the last non-zero price - SMA
        self.above = 0

    def on_tick(self, tick):
        price, window = tick.price, self.window
        if len(window) == 20:
            self.total -= window[0]
        window.append(price)
        self.total += price
        if len(window) < 20:
            return
        d = price - self.total / 20
        if d:
            if d > 0.0 and self.last < 0.0:
                self.above += 1
            self.last = d


class BridgeCrossTicks(bt.Strategy):
    """The same, reading ``CrossOver(bridge, SMA(bridge, 20))`` in ``on_tick``."""

    def __init__(self):
        from backtrader_channels import ChannelBridge

        self.px = ChannelBridge(channel=("tick", "BTC/USDT"), field="price")
        self.cross = bt.ind.CrossOver(self.px, bt.ind.SMA(self.px, period=20))
        self.above = 0

    def on_tick(self, tick):
        if self.cross[0] > 0.0:
            self.above += 1


class RawEmaTicks(bt.Strategy):
    """A 20-tick EMA by hand in ``on_tick`` (seeded with the mean, as ``bt.ind.EMA``); counts
    price > EMA."""

    def start(self):
        self.n = 0
        self.ema = 0.0
        self.above = 0

    def on_tick(self, tick):
        price = tick.price
        self.n += 1
        if self.n > 20:
            self.ema = self.ema * (1.0 - 2.0 / 21.0) + price * (2.0 / 21.0)
        else:
            self.ema += price / 20
            if self.n < 20:
                return
        if price > self.ema:
            self.above += 1


class BridgeEmaTicks(BridgeSmaTicks):
    """The same, reading ``EMA(bridge, 20)`` in ``on_tick``."""

    def make_average(self, px):
        return bt.ind.EMA(px, period=20)
