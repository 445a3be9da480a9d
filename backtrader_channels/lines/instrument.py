"""InstrumentData: the backtrader data feed that stands for one symbol in tick mode.

Orders, positions and ``self.datas`` need a data feed. In tick mode each symbol gets one, named
after the symbol, holding a single bar that the engine rewrites in place: ``close[0]`` is the last
trade price (the mark for portfolio value) and ``datetime[0]`` the time of the last trade.
"""

from __future__ import annotations

import backtrader as bt


class InstrumentData(bt.feed.DataBase):
    """A one-bar, rewritten-in-place data feed for one symbol (no bars of its own)."""

    # Seconds, not Ticks: analyzers take their default period from here, and backtrader's
    # period logic fails on Ticks; the engine samples analyzers every second by default.
    params = (("timeframe", bt.TimeFrame.Seconds),)
    #: its lines have one slot, rewritten in place: the broker may keep where it is
    one_slot = True

    def _start(self) -> None:
        super()._start()
        if len(self) == 0:
            self.forward()  # one slot, NaN until the first event

    def preload(self) -> None:
        """Nothing to preload: the engine writes the current slot."""

    def load(self) -> bool:
        """No bars: tick mode never asks for one."""
        return False

    def _load(self) -> bool:
        return False
