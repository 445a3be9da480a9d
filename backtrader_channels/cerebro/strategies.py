"""What the run does with the user's strategies: channels reachable from ``__init__``, and
what decides whether ``next()`` follows bridges."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import backtrader as bt

from ..btypes import BtData, BtStrategy, BtStrategyClass

if TYPE_CHECKING:
    from ..channels import ChannelMap
    from ..lines.blocks import LineNode


class RunChannels:
    """``strategy.channels`` (and ``_channels``) from ``__init__`` on: the run's channels,
    read through ``strategy.cerebro``. A non-data descriptor on the user's strategy class (not
    on ``bt.Strategy``: nothing of backtrader is patched); an instance attribute wins."""

    def __get__(self, obj: object, owner: object = None) -> RunChannels | ChannelMap:
        if obj is None:
            return self
        channels = getattr(getattr(obj, "cerebro", None), "channels", None)
        if channels is None:
            raise AttributeError("channels exist in tick-mode runs of btch.Cerebro")
        return channels


def give_channels(stratcls: BtStrategyClass) -> None:
    """Let ``stratcls`` reach the channels in ``__init__`` (unless it defines the names).
    Backtrader's own classes (``bt.Strategy`` run as is) are left alone."""
    if stratcls.__module__.partition(".")[0] == "backtrader":
        return
    for name in ("channels", "_channels"):
        if not any(name in vars(k) for k in stratcls.__mro__):
            setattr(stratcls, name, RunChannels())


def has_bars(strat: BtStrategy) -> bool:
    return any(getattr(d, "is_bar_channel", False) for d in strat.datas)


def overrides_next(strat: BtStrategy) -> bool:
    cls = type(strat)
    return any(
        getattr(cls, n) is not getattr(bt.Strategy, n) for n in ("next", "prenext", "nextstart")
    )


def _clock_feed(it: LineNode) -> BtData | None:
    """The data feed that clocks indicator ``it`` (through indicators on indicators, line
    stubs and buffers), or None."""
    clk = it
    for _ in range(1000):  # (a clock chain is as deep as the indicators are nested)
        nxt = getattr(clk, "_clock", None)
        if nxt is None or nxt is clk:
            break
        clk = nxt
        if isinstance(clk, bt.feed.AbstractDataBase):
            return clk
    return getattr(clk, "_owner", None)


def warn_frozen_indicators(strat: BtStrategy) -> None:
    """Warn of indicators clocked by an ``InstrumentData``: its one slot never grows, so they
    never get a value, and with bars the strategy's ``next()`` is never called either."""
    from ..lines.instrument import InstrumentData

    frozen: dict[str, list[str]] = {}
    for it in strat._lineiterators[bt.LineIterator.IndType]:
        feed = _clock_feed(it)
        if isinstance(feed, InstrumentData):
            frozen.setdefault(feed._name, []).append(type(it).__name__)
    for name, kinds in frozen.items():
        index = next(i for i, d in enumerate(strat.datas) if d._name == name)
        warnings.warn(
            f"{type(strat).__name__}: {', '.join(kinds)} on {name!r} (self.datas[{index}], the "
            f"symbol's InstrumentData) never {'gets' if len(kinds) == 1 else 'get'} a value in "
            "tick mode: that feed holds the latest trade in one slot that does not grow"
            + (", and next() waits for them, so it is never called" if has_bars(strat) else "")
            + ". Put indicators on a bar feed (cerebro.add_bars(...)) or on a "
            "btch.ChannelBridge.",
            UserWarning,
            stacklevel=2,
        )


def params_of(strats: list[BtStrategy]) -> dict[str, dict[str, object]]:
    """Each strategy's parameters by class name (what ``optstrategy`` varied)."""
    return {
        type(s).__name__: {k: getattr(s.params, k) for k in s.params._getkeys()} for s in strats
    }
