"""The conditions alerts watch, as probes polled by :class:`~.hub.Alerts` (no execution types:
the real broker's own conditions are read by ``execution/alerting.py``).

* :class:`StreamsDown`: streams reported unhealthy (a feed's ``health()``, the private stream)
  for longer than ``after_s``: one alert per outage, re-armed once the stream is back.
* :class:`NearLiquidation`: a perpetual position whose mark is within ``pct`` percent of its
  liquidation price: one alert on entering the zone, re-armed once the mark is 1.5 times as far.
* :func:`stop_reason`, :func:`stop_summary`: the run-stopped alert's reason and one-line P&L.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping

from ..broker.tickbroker import TickBroker
from .hub import Notice

#: what a feed reports of a stream that has not delivered yet: not an outage (a quiet market)
NOT_AN_OUTAGE = ("no data yet",)


class StreamsDown:
    """Streams down longer than ``after_s`` seconds.

    Parameters
    ----------
    sources : iterable of callables
        Each returns the streams unhealthy now, ``{label: why}`` (a live feed's ``health``).
    after_s : float
        How long a stream must stay down before the alert.
    """

    def __init__(self, sources: Iterable[Callable[[], Mapping[str, str]]], after_s: float):
        self.sources = list(sources)
        self.after_s = after_s
        self._since: dict[str, float] = {}  # label -> when first seen down (monotonic)
        self._fired: set[str] = set()

    def sick(self) -> dict[str, str]:
        """Every source's unhealthy streams now (``NOT_AN_OUTAGE`` left out)."""
        out: dict[str, str] = {}
        for source in self.sources:
            for label, why in dict(source()).items():
                if not str(why).startswith(NOT_AN_OUTAGE):
                    out[label] = str(why)
        return out

    def __call__(self, now: float) -> list[Notice]:
        sick = self.sick()
        for label in list(self._since):
            if label not in sick:  # back up: the next outage is a new one
                del self._since[label]
                self._fired.discard(label)
        out = []
        for label, why in sick.items():
            since = self._since.setdefault(label, now)
            if label not in self._fired and now - since >= self.after_s:
                self._fired.add(label)
                text = f"stream down for {now - since:.0f} s: {label} ({why})"
                out.append(("stream_down", text, f"stream_down:{label}"))
        return out


class NearLiquidation:
    """Perpetual positions within ``pct`` percent of their liquidation price.

    Parameters
    ----------
    broker : TickBroker
        The broker whose perpetual positions are read (``perp_position``).
    pct : float
        The distance, in percent of the mark, that raises the alert.
    """

    def __init__(self, broker: TickBroker, pct: float):
        self.broker = broker
        self.pct = pct
        self._near: set[str] = set()

    def __call__(self, now: float) -> list[Notice]:
        out = []
        for data in list(self.broker.positions):
            pos = self.broker.perp_position(data)
            name = str(getattr(data, "_name", "") or data)
            liq = pos.liquidation_price if pos is not None else None
            mark = pos.mark_price if pos is not None else math.nan
            if pos is None or not pos.size or liq is None or not math.isfinite(liq):
                self._near.discard(name)
                continue
            if not mark or mark != mark:
                continue
            distance = abs(mark - liq) / mark * 100.0
            if distance >= self.pct * 1.5:
                self._near.discard(name)
            elif distance < self.pct and name not in self._near:
                self._near.add(name)
                side = "long" if pos.size > 0 else "short"
                text = (
                    f"{name}: {side} {abs(pos.size):g} is {distance:.2f}% from liquidation "
                    f"(mark {mark:g}, liquidation {liq:g}, leverage {pos.leverage:g})"
                )
                out.append(("liquidation", text, f"liquidation:{name}"))
        return out


def stop_reason(report: Mapping[str, object]) -> str:
    """Why a run stopped, from its report (``cerebro.last_run``): the kill switch's reason,
    else how it ended."""
    execution = report.get("execution")
    if isinstance(execution, Mapping) and execution.get("kill_switch"):
        return str(execution["kill_switch"])
    return str(report.get("ended") or "ended")


def stop_summary(report: Mapping[str, object]) -> str:
    """One line of P&L from a run's report: pnl, fees, orders, fills, open positions."""
    parts = []
    pnl, fees = report.get("pnl"), report.get("fees")
    if isinstance(pnl, int | float):
        parts.append(f"pnl {pnl:+.2f}")
    if isinstance(fees, int | float):
        parts.append(f"fees {fees:.2f}")
    for key in ("orders", "fills"):
        value = report.get(key)
        if isinstance(value, int):
            parts.append(f"{key} {value}")
    opened = report.get("open_positions")
    if isinstance(opened, Mapping) and opened:
        sizes = []
        for name, info in opened.items():
            size = info.get("size") if isinstance(info, Mapping) else None
            sizes.append(f"{name} {size:g}" if isinstance(size, int | float) else str(name))
        parts.append("open: " + ", ".join(sizes))
    return ", ".join(parts)


def paper_probe(
    feeds: Iterable[object], broker: TickBroker, after_s: float, pct: float
) -> Callable[[float], list[Notice]]:
    """A paper run's conditions: market-data streams down (the feeds' ``health``) and
    perpetuals near liquidation (a real broker's are ``execution/alerting.py``'s)."""
    sources = [h for h in (getattr(f, "health", None) for f in feeds) if h is not None]
    streams = StreamsDown(sources, after_s)
    liquidation = NearLiquidation(broker, pct)

    def probe(now: float) -> list[Notice]:
        return [*streams(now), *liquidation(now)]

    return probe
