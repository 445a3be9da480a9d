"""``cerebro.plot()`` after a tick-mode run: the backend users chose; with bar channels,
backtrader's plot of them; without, the figure of what the run did (:func:`plot_tick_run`)."""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeAlias

from ..btypes import BtLine, BtStrategy, Kwargs
from ..errors import ChannelError
from ..lines.instrument import InstrumentData
from .recorded import When, to_ns

if TYPE_CHECKING:
    from array import array

    from matplotlib.figure import Figure

    from ..lines.blocks import LineNode
    from .core import Cerebro

#: what ``cerebro.plot()`` returns: per strategy, its figures
Figures: TypeAlias = "list[list[Figure]]"
#: what ``cerebro.plot()`` takes after a tick-mode run without bars
TICK_PLOT_OPTIONS = ("numfigs", "iplot", "start", "end", "width", "height", "dpi", "tight", "use")


def plot_cerebro(
    cerebro: Cerebro,
    bt_plot: Callable[..., Figures],
    plotter: object,
    numfigs: int,
    iplot: bool,
    **kwargs: Kwargs,
) -> Figures:
    """What ``Cerebro.plot`` does: the backend users chose kept (backtrader forces TkAgg when
    its plotting module loads, which fails without a display); a bar run, or a tick run with
    bar channels: backtrader's plot (``bt_plot``, one point per bar); a tick run without bars:
    the figure of what the run did (:func:`plot_tick_run`)."""
    import matplotlib

    backend = plot_backend(kwargs.get("use"))
    import backtrader.plot  # noqa: F401 - loading it switches the backend to TkAgg

    if backend is not None:
        matplotlib.use(backend, force=True)
    if not cerebro._ticked:
        return bt_plot(plotter, numfigs, iplot, **kwargs)
    if not cerebro._bars:  # the run's own record: prices, fills, position, value, trades
        return plot_tick_run(cerebro, plotter, numfigs, iplot, **kwargs)
    with bars_only_plot(cerebro.runstrats):
        return bt_plot(plotter, numfigs, iplot, **kwargs)


@contextmanager
def bars_only_plot(runstrats: list[list[BtStrategy]]) -> Iterator[None]:
    """While plotting a tick-mode run: hide the per-symbol instrument feeds (one slot rewritten
    in place, no bars) and the observers on them, and drop the strategies' first line slot
    (the one before the first bar), so every plotted line is one point per bar."""
    hidden: list[LineNode] = []
    trimmed: list[tuple[BtLine, array[float], int]] = []
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


def plot_tick_run(
    cerebro: Cerebro,
    plotter: object = None,
    numfigs: int = 1,
    iplot: bool = True,
    start: When | dt.date | None = None,
    end: When | dt.date | None = None,
    width: float | None = None,
    height: float | None = None,
    dpi: float | None = None,
    tight: bool = True,
    use: str | None = None,
    **kwargs: object,
) -> Figures:
    """``cerebro.plot()`` after a tick-mode run without bars: a figure of what the run did.

    Per strategy: the trades' price (decimated for display, every fill kept) with the best bid
    and ask where a quote or book channel exists, buy and sell markers at the fills, the
    position, cash and value, and the closed trades' PnL, over UTC time. It reads what the run
    recorded (``cerebro.trace``, ``cerebro.last_run``, the recorded channels): the strategy is
    not run again and nothing it saw changes.

    Parameters
    ----------
    cerebro : Cerebro
        A Cerebro after ``run(mode=RunMode.TICK)``.
    plotter : None
        backtrader's plotter draws bars; a tick run without bars has none (an error if given).
    numfigs : int, default 1
        Split the run's span into this many figures of equal time.
    iplot : bool, default True
        As backtrader's (the figures are shown with ``plt.show()``, which does nothing on a
        headless backend such as Agg).
    start, end : datetime, date, ISO string or int (ns), optional
        Draw only this part of the run (naive times are UTC).
    width, height : float, optional
        The figure size in inches (default 12 x 8, taller with several symbols).
    dpi : float, optional
        The figures' resolution.
    tight : bool, default True
        Accepted as backtrader's ``plot`` accepts it (for its ``savefig``).
    use : str, optional
        The matplotlib backend (chosen by ``Cerebro.plot`` before this runs).

    Returns
    -------
    list of list of matplotlib.figure.Figure
        One list per strategy, of ``numfigs`` figures, as backtrader's ``cerebro.plot()``:
        ``cerebro.plot(iplot=False)[0][0].savefig("run.png")``.
    """
    from .plotdata import run_plot_data
    from .tickplot import draw_figure

    if kwargs:
        raise ChannelError(
            f"cerebro.plot({', '.join(f'{k}=' for k in sorted(kwargs))}) after a tick-mode "
            "run without bars: these style backtrader's bar plot; the tick-run plot takes "
            f"{', '.join(TICK_PLOT_OPTIONS)} (or add_bars for backtrader's plot)"
        )
    if plotter is not None:
        raise ChannelError(
            "cerebro.plot(plotter=...) draws bars, and this tick-mode run has none: drop "
            "plotter= for the plot of the run, or add_bars(...) for backtrader's plot"
        )
    if isinstance(numfigs, bool) or not isinstance(numfigs, int) or numfigs < 1:
        raise ChannelError(f"cerebro.plot(numfigs={numfigs!r}): must be an int >= 1")
    if cerebro._dooptimize:
        raise ChannelError(
            "cerebro.plot() draws one run, and optstrategy ran one per parameter set: run the "
            "parameter set you want to see with addstrategy"
        )
    data = run_plot_data(cerebro)
    t0, t1 = _span(data.first_ts, data.last_ts, start, end)
    rows = len(data.instruments)
    figsize = (width or 12.0, height or 5.0 + 3.0 * rows)
    import matplotlib.pyplot as plt

    step = (t1 - t0) / numfigs
    windows = [
        (t0 + round(step * k), t1 if k == numfigs - 1 else t0 + round(step * (k + 1)))
        for k in range(numfigs)
    ]
    figs = [
        [
            draw_figure(plt, data, owner, a, b, figsize, dpi, end=k == numfigs - 1)
            for k, (a, b) in enumerate(windows)
        ]
        for owner in range(len(data.strategies))
    ]
    plt.show()
    return figs


def _span(first: int, last: int, start: object, end: object) -> tuple[int, int]:
    """The part of the run ``[first, last]`` (ns) that ``start`` and ``end`` keep."""
    t0, t1 = first, last
    if start is not None:
        t0 = max(t0, _when("start", start))
    if end is not None:
        t1 = min(t1, _when("end", end))
    if t0 > t1:
        raise ChannelError(
            f"cerebro.plot(start={start!r}, end={end!r}): nothing of the run is left to draw "
            f"(it ran from {_iso(first)} to {_iso(last)})"
        )
    return t0, t1


def _when(name: str, value: object) -> int:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    try:
        ns = to_ns(value)
    except (ChannelError, ValueError) as exc:
        raise ChannelError(
            f"cerebro.plot({name}={value!r}): a datetime, date, ISO string or ns ({exc})"
        ) from None
    assert ns is not None
    return ns


def _iso(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.timezone.utc).isoformat()
