"""Drawing one strategy's figure of a tick-mode run (matplotlib): price with the best bid/ask
and its buy and sell fills, the position, cash and value, the closed trades' PnL, over UTC
time."""

from __future__ import annotations

import datetime as dt
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from ..btypes import Kwargs
from .plotdata import Instrument, Marks, RunPlotData, Series

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

BUY, SELL = "tab:green", "tab:red"


def draw_figure(
    plt: ModuleType,
    data: RunPlotData,
    owner: int,
    t0: int,
    t1: int,
    figsize: tuple[float, float],
    dpi: float | None,
    end: bool = True,
) -> Figure:
    """The figure of strategy ``owner`` over ``[t0, t1]`` (ns): one price panel per symbol,
    then position, cash and value, and closed trades; fills and trades at ``t1`` only when
    ``end`` (the last of figures splitting a run). Its axes carry ``gid``s for tests and
    tools: ``"price:SYMBOL"``, ``"position"``, ``"value"`` (and ``"cash"``, its twin),
    ``"trades"``; the fill markers ``"buy"`` and ``"sell"``."""
    n = len(data.instruments)
    ratios = [3.0] * n + [1.0, 1.4, 1.2]
    kw: dict[str, object] = {"figsize": figsize}
    if dpi is not None:
        kw["dpi"] = dpi
    fig, axes = plt.subplots(
        n + 3, 1, sharex=True, gridspec_kw={"height_ratios": ratios}, layout="constrained", **kw
    )
    fills = 0
    for ax, inst in zip(axes, data.instruments):
        marks = inst.fills.get(owner)
        marks = None if marks is None else marks.between(t0, t1, end)
        fills += 0 if marks is None else len(marks.ts)
        _price(ax, inst, marks, t0, t1)
    _position(axes[n], data.instruments, t0, t1)
    _value(axes[n + 1], data.value.between(t0, t1), data.cash.between(t0, t1))
    trades = data.trades.get(owner)
    _trades(axes[n + 2], None if trades is None else trades.between(t0, t1, end))
    _time_axis(axes[-1], t0, t1)
    fig.suptitle(
        f"{data.strategies[owner]}: tick run {_utc(t0)} to {_utc(t1)} UTC, {fills} fills",
        fontsize=11,
    )
    return fig


def _dates(ts: np.ndarray) -> np.ndarray:
    return ts.astype("datetime64[ns]")


def _utc(ns: int) -> str:
    when = dt.datetime.fromtimestamp(ns / 1e9, tz=dt.timezone.utc)
    return when.strftime("%Y-%m-%d %H:%M:%S")


def _line(ax: Axes, s: Series | None, **kw: Kwargs) -> None:
    if s is not None and len(s.ts):
        ax.plot(_dates(s.ts), s.values, label=s.label, **kw)


def _plain(ax: Axes) -> None:
    """Prices and amounts as they are (no offset, no scientific notation)."""
    ax.ticklabel_format(axis="y", useOffset=False, style="plain")
    ax.grid(True, lw=0.3, alpha=0.5)


def _price(ax: Axes, inst: Instrument, fills: Marks | None, t0: int, t1: int) -> None:
    ax.set_gid(f"price:{inst.name}")
    if inst.price is not None:
        _line(ax, inst.price.between(t0, t1), color="0.2", lw=0.7, zorder=2)
    for s, color in ((inst.bid, "tab:blue"), (inst.ask, "tab:orange")):
        if s is not None:
            _line(ax, s.between(t0, t1), color=color, lw=0.6, alpha=0.7, drawstyle="steps-post")
    if fills is not None:
        for gid, side, marker, color in (
            ("buy", fills.size > 0, "^", BUY),
            ("sell", fills.size < 0, "v", SELL),
        ):
            ts, prices = fills.ts[side], fills.values[side]
            ax.scatter(
                _dates(ts),
                prices,
                marker=marker,
                s=40,
                color=color,
                edgecolors="black",
                linewidths=0.4,
                zorder=4,
                label=f"{gid} ({len(ts)})",
                gid=gid,
            )
    ax.set_ylabel(inst.name)
    _plain(ax)
    ax.legend(loc="upper left", fontsize=8, ncol=5, framealpha=0.8)


def _position(ax: Axes, instruments: list[Instrument], t0: int, t1: int) -> None:
    ax.set_gid("position")
    for inst in instruments:
        s = inst.position.between(t0, t1)
        if len(s.ts):
            ax.plot(_dates(s.ts), s.values, drawstyle="steps-post", lw=0.9, label=inst.name)
    ax.axhline(0.0, color="0.5", lw=0.5)
    ax.set_ylabel("position")
    _plain(ax)
    if len(instruments) > 1:
        ax.legend(loc="upper left", fontsize=8)


def _value(ax: Axes, value: Series, cash: Series) -> None:
    """Value on the left axis, cash on its own right axis (cash swings by a position's whole
    cost, value by its PnL: on one axis, the value would look flat)."""
    ax.set_gid("value")
    _line(ax, value, color="tab:blue", lw=1.0)
    ax.set_ylabel("value", color="tab:blue")
    _plain(ax)
    right = ax.twinx()
    right.set_gid("cash")
    _line(right, cash, color="tab:gray", lw=0.6, ls="--", alpha=0.6, drawstyle="steps-post")
    right.set_ylabel("cash", color="tab:gray")
    right.ticklabel_format(axis="y", useOffset=False, style="plain")
    ax.set_zorder(right.get_zorder() + 1)  # the value over the cash
    ax.patch.set_visible(False)
    lines = ax.get_lines() + right.get_lines()
    # (matplotlib's stubs type a label as object: these are the lines' str labels)
    ax.legend(lines, [ln.get_label() for ln in lines], loc="upper left", fontsize=8, ncol=2)  # type: ignore[call-overload]


def _trades(ax: Axes, trades: Marks | None) -> None:
    ax.set_gid("trades")
    ax.axhline(0.0, color="0.5", lw=0.5)
    if trades is not None:
        x, pnl = _dates(trades.ts), trades.values
        colors = np.where(pnl >= 0, BUY, SELL)
        ax.vlines(x, 0.0, pnl, colors=colors, lw=0.8)  # type: ignore[arg-type]  # (colour names)
        ax.scatter(x, pnl, c=colors, s=14, zorder=3)
        ax.text(
            0.005,
            0.95,
            f"closed trades: {len(pnl)}, PnL after commission {pnl.sum():+.2f}",
            transform=ax.transAxes,
            fontsize=8,
            va="top",
            bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"},
        )
    ax.set_ylabel("trade PnL")
    _plain(ax)


def _time_axis(ax: Axes, t0: int, t1: int) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(tz=dt.timezone.utc, minticks=4, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    # the day is in the title; a tick at a new day (or hour) says which day it is; seconds
    # with their minute (fractions in a run or window of a few seconds)
    seconds = "%H:%M:%S" if t1 - t0 >= 5_000_000_000 else "%H:%M:%S.%f"
    formatter = mdates.ConciseDateFormatter(
        locator,
        tz=dt.timezone.utc,
        formats=["%Y", "%b", "%b-%d", "%H:%M", "%H:%M", seconds],
        zero_formats=["", "%Y", "%b", "%b-%d", "%b-%d %H:%M", "%H:%M"],
        show_offset=False,
    )
    ax.xaxis.set_major_formatter(formatter)
    pad = max((t1 - t0) // 100, 100_000_000)  # (a run of one instant still has a width)
    # (times as datetime64: matplotlib's date units take them, its stubs say float)
    ax.set_xlim(np.datetime64(t0 - pad, "ns"), np.datetime64(t1 + pad, "ns"))  # type: ignore[arg-type]
    ax.set_xlabel("time (UTC)")
