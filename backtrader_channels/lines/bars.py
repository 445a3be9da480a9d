"""BarChannel: bars built from a symbol's trades, as an ordinary backtrader data feed.

``cerebro.add_bars(symbol, every="1s")`` (time), ``ticks=N``, ``volume=V`` or ``value=X``
(notional) returns a feed in ``self.datas``: open, high, low, close, volume, datetime, with
indicators, ``next()``, analyzers and observers working on bars while the strategy still gets
every tick. No look-ahead: a time bar ``[t, t + every)`` closes on the first event of the symbol
(any channel) at or after ``t + every`` and is stamped with its end time; a tick-count, volume or
value bar closes on the trade that completes it (that trade is included, never split) and is
stamped with that trade's time. ``bars.partial`` shows the bar being built.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple, TypeAlias

import backtrader as bt

from ..btypes import BtStrategy, Kwargs
from ..errors import ChannelError
from ..events import ns_to_num

#: a bar channel's step, as the engine wires it: called with each event of the bars' symbol
#: (the bars bound as a default argument)
BarStep: TypeAlias = Callable[..., None]
_UNITS = {
    "ns": 1,
    "us": 1_000,
    "ms": 1_000_000,
    "s": 10**9,
    "min": 60 * 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
    "d": 86_400 * 10**9,
}


def parse_every(every: str | int) -> int:
    """``"250ms"``, ``"1s"``, ``"5min"``, ``"1h"`` or integer nanoseconds -> nanoseconds."""
    if isinstance(every, int):
        ns = every
    else:
        m = re.fullmatch(r"\s*(\d+)\s*(ns|us|ms|s|min|m|h|d)\s*", str(every))
        if not m:
            raise ChannelError(f"bar interval {every!r}: use e.g. '500ms', '1s', '5min', '1h'")
        ns = int(m.group(1)) * _UNITS[m.group(2)]
    if ns <= 0:
        raise ChannelError("bar interval must be positive")
    return ns


class PartialBar(NamedTuple):
    """The bar being built: first and last trade time (ns), OHLC, volume, notional, trades."""

    start_ns: int
    last_ns: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    value: float
    ticks: int


def bar_timeframe(every_ns: int | None) -> tuple[int, int]:
    """backtrader's ``(timeframe, compression)`` for bars of ``every_ns`` (None: bars by
    count, volume or value, which backtrader calls Ticks)."""
    if every_ns is None:
        return bt.TimeFrame.Ticks, 1
    for unit_ns, frame in (
        (86_400_000_000_000, bt.TimeFrame.Days),
        (60_000_000_000, bt.TimeFrame.Minutes),
        (1_000_000_000, bt.TimeFrame.Seconds),
        (1_000, bt.TimeFrame.MicroSeconds),
    ):
        if every_ns % unit_ns == 0:
            return frame, every_ns // unit_ns
    return bt.TimeFrame.MicroSeconds, max(every_ns // 1_000, 1)


class BarChannel(bt.feed.DataBase):
    """Bars of one symbol built from its trades (see module doc); a backtrader data feed."""

    is_bar_channel = True
    channel_type = "bar"
    params = (
        ("every_ns", None),
        ("ticks", None),
        ("volume", None),
        ("value", None),
        ("symbol", ""),
        ("venue", ""),
    )

    def __init__(self, **kwargs: Kwargs) -> None:  # kwargs: backtrader params, consumed already
        modes = [k for k in ("every_ns", "ticks", "volume", "value") if getattr(self.p, k)]
        if len(modes) != 1:
            raise ChannelError("a bar channel needs exactly one of every=, ticks=, volume=, value=")
        self.mode = modes[0]
        self.limit = getattr(self.p, self.mode)
        if self.limit <= 0:
            raise ChannelError(f"bar {self.mode} must be positive")
        self.symbol = self.p.symbol
        self.venue = self.p.venue or ""
        self.key = ("bar", self._name or self.symbol)
        self.strategies: list[BtStrategy] = []  # set by the engine: whose _next runs on each bar
        self.count = 0
        self._reset_partial()

    # feed plumbing: bars come from the engine, never from load()
    def preload(self) -> None:
        """Nothing to preload: bars are delivered by the engine."""

    def load(self) -> bool:
        return False

    def _load(self) -> bool:
        return False

    def _reset_partial(self) -> None:
        self._open: float | None = None
        self._high = self._low = self._close = 0.0
        self._vol = self._value = 0.0
        self._ticks = 0
        self._t0 = self._t1 = 0
        self._bucket: int | None = None

    @property
    def partial(self) -> PartialBar | None:
        """The bar being built, or None before its first trade."""
        if self._open is None:
            return None
        return PartialBar(
            self._t0,
            self._t1,
            self._open,
            self._high,
            self._low,
            self._close,
            self._vol,
            self._value,
            self._ticks,
        )

    def on_time(self, ts: int) -> None:
        """Each event of the symbol: close a time bar whose end has been reached."""
        if self._bucket is not None and ts // self.limit != self._bucket:
            self._deliver((self._bucket + 1) * self.limit)

    def on_trade(self, ts: int, price: float, volume: float) -> None:
        """A trade of the symbol: extend the partial bar, close it when complete."""
        if self.mode == "every_ns":
            self.on_time(ts)
            if self._open is None:
                self._bucket = ts // self.limit
        if self._open is None:
            self._open = self._high = self._low = price
            self._t0 = ts
        elif price > self._high:
            self._high = price
        elif price < self._low:
            self._low = price
        self._close = price
        self._t1 = ts
        self._vol += volume
        self._value += price * volume
        self._ticks += 1
        if self.mode == "ticks":
            if self._ticks >= self.limit:
                self._deliver(ts)
        elif self.mode == "volume":
            if self._vol >= self.limit:
                self._deliver(ts)
        elif self.mode == "value" and self._value >= self.limit:
            self._deliver(ts)

    def _deliver(self, stamp_ns: int) -> None:
        lines = self.lines
        self.forward()
        lines.datetime[0] = ns_to_num(stamp_ns)
        lines.open[0] = self._open
        lines.high[0] = self._high
        lines.low[0] = self._low
        lines.close[0] = self._close
        lines.volume[0] = self._vol
        lines.openinterest[0] = 0.0
        self.count += 1
        self._reset_partial()
        for strat in self.strategies:
            strat._next()
