"""What the plot of a tick-mode run draws: series, fills and closed trades, from the run's trace
(:mod:`.trace`) and its recorded trades and quotes, decimated for display.

The price line is the trades themselves when the symbol's tick channel was read from a file, a
DataFrame or a Table (read again here, only the run's span, as whole columns: at most
``MAX_REREAD_ROWS`` rows), else the last price the trace sampled. Best bid and ask are a recorded
quote channel's quotes, else the trace's samples of the book or quote. Nothing here runs a
strategy or touches the run's objects: it reads what the run left.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ChannelError
from ..events import ChannelType
from ..sources import SkipReport
from ..sources.build import columns_from_streams
from ..sources.formats import batch_streams
from .trace import RunTrace

if TYPE_CHECKING:
    from .core import Cerebro

#: a tick or quote channel with more rows than this is drawn from the trace's samples
MAX_REREAD_ROWS = 20_000_000
#: time buckets per figure; a bucket shows at most two points (its lowest and highest)
DISPLAY_BUCKETS = 2000


@dataclass
class Series:
    """A line over time: ``ts`` (int64 ns, ascending) and ``values``."""

    ts: np.ndarray
    values: np.ndarray
    label: str

    def between(self, t0: int, t1: int, buckets: int = DISPLAY_BUCKETS) -> Series:
        """The points in ``[t0, t1]``, decimated to ``buckets`` (see :func:`decimate`)."""
        lo = np.searchsorted(self.ts, t0, side="left")
        hi = np.searchsorted(self.ts, t1, side="right")
        ts, values = decimate(self.ts[lo:hi], self.values[lo:hi], buckets)
        return Series(ts, values, self.label)


@dataclass
class Marks:
    """Points in time (fills, closed trades): ``ts`` (int64 ns) and ``values``, with ``size``
    (a fill's signed size; a trade's gross PnL)."""

    ts: np.ndarray
    values: np.ndarray
    size: np.ndarray

    def between(self, t0: int, t1: int, end: bool = True) -> Marks:
        """The marks in ``[t0, t1]`` (``[t0, t1)`` unless ``end``: figures that split a run
        share their bounds, and a mark belongs to one of them), every one of them."""
        keep = (self.ts >= t0) & ((self.ts <= t1) if end else (self.ts < t1))
        return Marks(self.ts[keep], self.values[keep], self.size[keep])


@dataclass
class Instrument:
    """One symbol's lines: price (None without trades), best bid/ask (None without a book or
    quote), position."""

    name: str
    price: Series | None
    bid: Series | None
    ask: Series | None
    position: Series
    #: per strategy (owner index): its fills of this symbol
    fills: dict[int, Marks] = field(default_factory=dict)


@dataclass
class RunPlotData:
    """Everything one tick run's plot draws."""

    first_ts: int
    last_ts: int
    sample_ns: int
    strategies: list[str]
    instruments: list[Instrument]
    value: Series
    cash: Series
    #: per strategy (owner index): its closed trades, PnL net of commission at close time
    trades: dict[int, Marks]


def decimate(ts: np.ndarray, values: np.ndarray, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """At most two points per each of ``buckets`` equal stretches of time: the lowest and the
    highest of the stretch, in time order (the envelope a screen would show); fewer than
    ``2 * buckets`` points are returned as they are."""
    n = len(ts)
    if n <= 2 * buckets:
        return ts, values
    span = float(ts[-1] - ts[0]) + 1.0
    bucket = ((ts - ts[0]) / span * buckets).astype(np.int64)
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    ends = np.r_[starts[1:], n]
    order = np.lexsort((values, np.repeat(np.arange(len(starts)), ends - starts)))
    keep = np.unique(np.r_[order[starts], order[ends - 1]])
    return ts[keep], values[keep]


def run_plot_data(cerebro: Cerebro) -> RunPlotData:
    """What ``cerebro``'s latest tick-mode run left to draw (``cerebro.trace``, ``last_run``,
    its recorded channels)."""
    trace: RunTrace | None = cerebro.trace
    last = cerebro.last_run
    if trace is None:
        raise ChannelError("cerebro.plot(): no tick-mode run has recorded anything to draw")
    if last.get("first_ts") is None:
        raise ChannelError(
            "cerebro.plot(): the tick-mode run has no events to draw (no event was dispatched)"
        )
    first_ts, last_ts = int(last["first_ts"]), int(last["last_ts"])
    counts = last.get("events_by_channel", {})
    samples = np.array(trace.sample_ts, dtype=np.int64)
    fills = {k: np.array(v) for k, v in trace.fill_columns().items()}
    # a fill's time comes back from backtrader's float days (about 10 us off): every fill was
    # made during the run, so it is put back inside it
    fills["ts"] = np.clip(fills["ts"].astype(np.int64), first_ts, last_ts)
    instruments = []
    for i, name in enumerate(trace.names):
        price = _recorded(cerebro, ChannelType.TICK, name, ["price"], counts, first_ts, last_ts)
        quotes = _recorded(
            cerebro, ChannelType.QUOTE, name, ["bid_price", "ask_price"], counts, first_ts, last_ts
        )
        every = _seconds(cerebro.p.sample_ns)
        sampled = Series(samples, _arr(trace.price[i]), f"last price ({every})")
        inst = Instrument(
            name,
            price[0] if price else sampled if trace.traded[i] else None,
            quotes[0] if quotes else _sampled(trace, i, samples, "bid", every),
            quotes[1] if quotes else _sampled(trace, i, samples, "ask", every),
            _position(fills, i, samples, _arr(trace.position[i])),
        )
        mine = fills["instrument"] == i
        for owner in range(len(trace.strategies)):
            keep = mine & (fills["owner"] == owner)
            inst.fills[owner] = Marks(fills["ts"][keep], fills["price"][keep], fills["size"][keep])
        instruments.append(inst)
    return RunPlotData(
        first_ts,
        last_ts,
        int(cerebro.p.sample_ns),
        list(trace.strategies),
        instruments,
        Series(samples, _arr(trace.value), "value"),
        Series(samples, _arr(trace.cash), "cash"),
        closed_trades(fills, len(trace.strategies)),
    )


def closed_trades(fills: dict[str, np.ndarray], owners: int) -> dict[int, Marks]:
    """Each strategy's closed trades from its fills, as backtrader keeps trades (one per
    strategy, symbol and ``tradeid``; a fill's closing part first, then its opening part):
    at close time, the PnL net of the trade's commissions (``size``: the gross PnL)."""
    out: dict[int, tuple[list[int], list[float], list[float]]] = {
        o: ([], [], []) for o in range(owners)
    }
    state: dict[tuple[int, int, int], list[float]] = {}  # size, pnl, commission
    columns = zip(
        fills["owner"].tolist(),
        fills["instrument"].tolist(),
        fills["tradeid"].tolist(),
        fills["ts"].tolist(),
        fills["closed"].tolist(),
        fills["opened"].tolist(),
        fills["pnl"].tolist(),
        fills["closedcomm"].tolist(),
        fills["openedcomm"].tolist(),
    )
    for owner, inst, tradeid, ts, closed, opened, pnl, closedcomm, openedcomm in columns:
        st = state.setdefault((owner, inst, tradeid), [0.0, 0.0, 0.0])
        if closed:
            st[0] += closed
            st[1] += pnl
            st[2] += closedcomm
            if not st[0] and owner in out:
                times, net, gross = out[owner]
                times.append(ts)
                net.append(st[1] - st[2])
                gross.append(st[1])
            if not st[0]:
                st[:] = [0.0, 0.0, 0.0]
        if opened:
            st[0] += opened
            st[2] += openedcomm
    return {
        o: Marks(np.array(t, dtype=np.int64), np.array(n, dtype=float), np.array(g, dtype=float))
        for o, (t, n, g) in out.items()
    }


def _arr(col: Sequence[float]) -> np.ndarray:
    return np.array(col, dtype=float)


def _seconds(ns: int) -> str:
    return f"every {ns / 1e9:g} s"


def _sampled(trace: RunTrace, i: int, samples: np.ndarray, side: str, every: str) -> Series | None:
    if not trace.quoted[i]:
        return None
    col = trace.bid[i] if side == "bid" else trace.ask[i]
    return Series(samples, _arr(col), f"best {side} ({every})")


def _position(
    fills: dict[str, np.ndarray], i: int, samples: np.ndarray, sampled: np.ndarray
) -> Series:
    """The position after every fill and at every sample, in time order (a fill before the
    sample of its own event time)."""
    mine = fills["instrument"] == i
    ts = np.concatenate([fills["ts"][mine].astype(np.int64), samples])
    values = np.concatenate([fills["position"][mine], sampled])
    order = np.argsort(ts, kind="stable")
    return Series(ts[order], values[order], "position")


def _recorded(
    cerebro: Cerebro,
    channel_type: str,
    name: str,
    columns: list[str],
    counts: Mapping[tuple[str, ...], int],
    first_ts: int,
    last_ts: int,
) -> list[Series]:
    """The ``columns`` of symbol ``name``'s recorded ``channel_type`` channel over the run's
    span, one Series each; empty when there is none to read again (live, an iterable of
    events) or it holds more than ``MAX_REREAD_ROWS`` rows."""
    spec = next(
        (
            s
            for s in cerebro._specs
            if s.channel.channel_type == channel_type and s.channel.instrument_name == name
        ),
        None,
    )
    if spec is None or not spec.recorded or counts.get(spec.channel.key, 0) > MAX_REREAD_ROWS:
        return []
    ch = spec.channel
    streams = batch_streams(
        spec.dataname,
        ch.channel_type,
        ch.symbol,
        spec.format,
        spec.chunk_rows,
        SkipReport() if spec.on_error == "skip" else None,
        (first_ts, last_ts + 1),
    )
    cols = columns_from_streams(
        streams, ch.channel_type, ch.symbol, ["timestamp", *columns], spec.on_error
    )
    ts = cols["timestamp"].astype(np.int64)
    keep = (ts >= first_ts) & (ts <= last_ts)
    labels = {"price": "trades", "bid_price": "best bid", "ask_price": "best ask"}
    return [Series(ts[keep], cols[c][keep].astype(float), labels[c]) for c in columns]
