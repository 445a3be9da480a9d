"""What the run does with the user's strategies: channels reachable from ``__init__``, and
what decides whether ``next()`` follows bridges."""

from __future__ import annotations

from typing import Any

import backtrader as bt


class RunChannels:
    """``strategy.channels`` (and ``_channels``) from ``__init__`` on: the run's channels,
    read through ``strategy.cerebro``. A non-data descriptor on the user's strategy class (not
    on ``bt.Strategy``: nothing of backtrader is patched); an instance attribute wins."""

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        channels = getattr(getattr(obj, "cerebro", None), "channels", None)
        if channels is None:
            raise AttributeError("channels exist in tick-mode runs of btch.Cerebro")
        return channels


def give_channels(stratcls: Any) -> None:
    """Let ``stratcls`` reach the channels in ``__init__`` (unless it defines the names).
    Backtrader's own classes (``bt.Strategy`` run as is) are left alone."""
    if stratcls.__module__.partition(".")[0] == "backtrader":
        return
    for name in ("channels", "_channels"):
        if not any(name in vars(k) for k in stratcls.__mro__):
            setattr(stratcls, name, RunChannels())


def has_bars(strat: Any) -> bool:
    return any(getattr(d, "is_bar_channel", False) for d in strat.datas)


def overrides_next(strat: Any) -> bool:
    cls = type(strat)
    return any(
        getattr(cls, n) is not getattr(bt.Strategy, n) for n in ("next", "prenext", "nextstart")
    )
