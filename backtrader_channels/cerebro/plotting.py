"""``cerebro.plot()`` after a tick-mode run: the backend users chose, and bar channels only."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..lines.instrument import InstrumentData


@contextmanager
def bars_only_plot(runstrats: list[list[Any]]) -> Iterator[None]:
    """While plotting a tick-mode run: hide the per-symbol instrument feeds (one slot rewritten
    in place, no bars) and the observers on them, and drop the strategies' first line slot
    (the one before the first bar), so every plotted line is one point per bar."""
    hidden: list[Any] = []
    trimmed: list[tuple[Any, Any, int]] = []
    try:
        for strat in (s for lst in runstrats for s in lst):
            for obj in (*strat.datas, *strat.getobservers()):
                data = getattr(obj, "data", obj)  # an observer's data, or the feed itself
                if isinstance(data, InstrumentData) and len(obj) <= 1 and obj.plotinfo.plot:
                    obj.plotinfo.plot = False
                    hidden.append(obj)
            bars = [len(d) for d in strat.datas if not isinstance(d, InstrumentData)]
            extra = len(strat) - max(bars, default=len(strat))
            if extra > 0:
                for line in strat.lines:
                    trimmed.append((line, line.array[:extra], extra))
                    del line.array[:extra]
                    line.idx -= extra
                    line.lencount -= extra
        yield
    finally:
        for obj in hidden:
            obj.plotinfo.plot = True
        for line, head, extra in trimmed:
            line.array[:0] = head
            line.idx += extra
            line.lencount += extra


def plot_backend(use: str | None) -> str | None:
    """The matplotlib backend to plot with: ``use``, ``MPLBACKEND``, Agg without a display on
    Linux, else None (matplotlib's own choice)."""
    if use:
        return use
    if os.environ.get("MPLBACKEND"):
        return os.environ["MPLBACKEND"]
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return "Agg"
    return None
