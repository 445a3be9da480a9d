"""Recorded channels for one run: what ``add_channel`` stored, and how the run opens it
(streamed chunks, a time window, column blocks for precomputed bridges, a progress bar)."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeAlias

from ..channels.base import Channel
from ..dispatch.queue import BacktestEventQueue, Chunk, Run, chunk_events, window_chunks
from ..errors import ChannelError
from ..log import logger
from ..sources import SkipReport
from ..sources.column_blocks import column_blocks
from ..sources.formats import is_partitioned, open_source, source_files
from ..sources.progress import MeterSum, ReadMeter
from ..sources.schema import Format, OnError

if TYPE_CHECKING:
    import numpy as np

    from ..lines.bridge import ChannelBridge

#: what ``add_channel`` reads a channel from: a file, directory or glob, a list of them, a
#: DataFrame, an arrow Table, or an iterable of events; told apart at run time
#: (:func:`_is_recorded`), each kind read its own way
DataName: TypeAlias = Any
#: a time as ``add_channel`` and ``plot`` take it: ns since the epoch, a datetime (naive: UTC)
#: or an ISO string
When: TypeAlias = "int | str | dt.datetime"


class ChannelSpec:
    """What ``add_channel`` was given for one channel, until the run opens it."""

    __slots__ = (
        "channel",
        "chunk_rows",
        "dataname",
        "format",
        "market",
        "meter",
        "on_error",
        "opened",
        "recorded",
        "window",
    )

    def __init__(
        self,
        channel: Channel,
        dataname: DataName,
        fmt: Format | None,
        chunk_rows: int,
        on_error: OnError,
        market: str | None = None,
    ):
        self.channel, self.dataname, self.format = channel, dataname, fmt
        self.chunk_rows, self.on_error = chunk_rows, on_error
        #: the market asked for (``spot``, ``linear``, ``inverse``; the venue is the channel's)
        self.market = market
        self.window: tuple[int | None, int | None] = (None, None)
        #: a file/dir/glob (or a list of them), a DataFrame or a Table; else an event iterable
        self.recorded = _is_recorded(dataname)
        #: this run's: how much of the files is read (None: not files), the windowed source
        self.meter: ReadMeter | None = None
        self.opened: Windowed | None = None

    @property
    def empty(self) -> bool:
        """Whether this run's windowed source has no event in its window."""
        return self.opened is not None and self.opened.empty


def iso(ns: int) -> str:
    """A time in ns as an ISO UTC date: ``2020-02-22T00:00:00Z`` (ms when it has them)."""
    when = dt.datetime.fromtimestamp(ns // 1_000_000_000, tz=dt.timezone.utc)
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    ms = ns % 1_000_000_000 // 1_000_000
    return f"{text}.{ms:03d}Z" if ns % 1_000_000_000 else f"{text}Z"


def window_text(window: tuple[int | None, int | None]) -> str:
    start, end = window
    return f"{iso(start) if start is not None else 'the start'} to " + (
        iso(end) if end is not None else "the end"
    )


class Windowed:
    """The chunks of a source inside its window. It reads up to its first event in the window
    at once (as the merge would at its start), so a source with none is known before the run;
    it remembers the first and last time of what it read, to say what the data covers."""

    def __init__(self, spec: ChannelSpec, chunks: Iterable[Chunk]):
        self.spec = spec
        self.first: int | None = None
        self.last: int | None = None
        self.ended = False  # whether every chunk of the source was read
        self._raw = iter(chunks)
        self._inside = window_chunks(self._seen(), *spec.window)
        self._head = next(self._inside, None)
        self.empty = self._head is None

    def _seen(self) -> Iterator[Chunk]:
        for ts, events in self._raw:
            if ts:
                if self.first is None:
                    self.first = ts[0]
                self.last = ts[-1]
            yield ts, events
        self.ended = True

    def __iter__(self) -> Windowed:
        return self

    def __next__(self) -> Chunk:
        head = self._head
        if head is not None:
            self._head = None
            return head
        return next(self._inside)

    def span(self, complete: bool) -> tuple[int | None, int | None]:
        """The first and last time of the data (``complete``: reads what is left, to know its
        end; else None for an end not reached)."""
        if self.first is None:  # nothing read: a partitioned directory, no day in the window
            return _partition_span(self.spec)
        if complete and not self.ended:
            for ts, _ in self._raw:
                if ts:
                    self.last = ts[-1]
            self.ended = True
        return self.first, self.last if self.ended else None

    def covers(self, complete: bool = False) -> str:
        """What the data covers, in words."""
        first, last = self.span(complete)
        if first is None:
            return "it has no data at all"
        if last is None:
            return f"its data starts at {iso(first)}"
        return f"its data covers {iso(first)} to {iso(last)}"


def _partition_span(spec: ChannelSpec) -> tuple[int | None, int | None]:
    """The span of a partitioned channel's files, from their Parquet statistics."""
    from ..sources.batches import parquet_span

    ch, d = spec.channel, spec.dataname
    if not isinstance(d, str) or not is_partitioned(d):
        return None, None
    files = source_files(d, ch.channel_type, ch.symbol, None, ch.venue, spec.market) or []
    span = parquet_span(files) if files else None
    return span if span is not None else (None, None)


def with_progress(runs: Iterable[Run], meter: ReadMeter | MeterSum | None = None) -> Iterator[Run]:
    """Pass runs through, counting handled events on a tqdm bar (updated every 256 runs).

    With a ``meter`` that knows the size of every source (``ReadMeter`` or ``MeterSum``), the
    bar counts the bytes of the recorded files read against their total, with a percentage and
    an ETA, and the events in its postfix."""
    from tqdm import tqdm

    sized = meter is not None and meter.known and meter.total > 0
    bar = tqdm(
        total=meter.total if sized else None,  # type: ignore[union-attr]  # (sized: a meter)
        unit="B" if sized else " events",
        unit_scale=True,
        file=sys.stderr,
        desc="backtest",
        mininterval=0.5,
    )
    done = k = 0
    finished = False

    def show() -> None:
        if sized:
            bar.update(meter.position - bar.n)  # type: ignore[union-attr]  # (sized: a meter)
            bar.set_postfix_str(f"{done:,} events", refresh=False)
        else:
            bar.update(done - bar.n)

    try:
        for src, start, end in runs:
            yield src, start, end
            done += src.pos - start
            k += 1
            if not k & 255:
                show()
        finished = True
    finally:
        show()
        if finished and sized:  # every source read to its end (or its window's)
            bar.update(bar.total - bar.n)
        bar.close()


def recorded_runs(
    queue: BacktestEventQueue, specs: list[ChannelSpec], progress: bool | None
) -> Iterator[Run]:
    """The runs of a recorded run's queue: a ChannelError when every channel has a window with
    no event in it (naming each and what its data covers), with a progress bar when asked
    (``progress``; None: when stderr is a terminal)."""
    empty = [(s, s.opened) for s in specs if s.opened is not None and s.opened.empty]
    if specs and len(empty) == len(specs):
        same = len({spec.window for spec in specs}) == 1
        lines = [
            f"  {_name(s)}: "
            + ("" if same else f"window {window_text(s.window)}, ")
            + opened.covers(complete=True)
            for s, opened in empty
        ]
        where = window_text(specs[0].window) if same else "its window"
        raise ChannelError(f"no channel has data in {where}:\n" + "\n".join(lines))
    for spec, opened in empty:
        logger.warning(
            "channel %s has no data in %s; it is skipped (%s)",
            _name(spec),
            window_text(spec.window),
            opened.covers(),
        )
    runs = queue.runs()
    if progress or (progress is None and sys.stderr.isatty()):
        runs = with_progress(runs, MeterSum(spec.meter for spec in specs))
    return runs


def _name(spec: ChannelSpec) -> str:
    key = ":".join(spec.channel.key)
    return f"{key} ({source_name(spec)})"


def to_ns(when: object) -> int | None:
    """ns since the epoch from an int (ns), a datetime (naive = UTC) or an ISO string."""
    if when is None or isinstance(when, int):
        return when
    if isinstance(when, str):
        when = dt.datetime.fromisoformat(when)
    if isinstance(when, dt.datetime):
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
        return int(when.timestamp() * 1_000_000) * 1000
    raise ChannelError(f"cannot read a time from {when!r}")


def source_name(spec: ChannelSpec) -> str:
    d = spec.dataname
    return d if isinstance(d, str) else f"<{type(d).__name__}:{spec.channel.key}>"


def _is_recorded(d: object) -> bool:
    """Whether a dataname is a file/dir/glob (or list of them), a DataFrame or a Table."""
    return (
        _is_path(d)
        or hasattr(d, "columns")
        or (isinstance(d, (list, tuple)) and bool(d) and all(_is_path(p) for p in d))
    )


def column_values(
    spec: ChannelSpec, bridge: ChannelBridge
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """A bridge's values over the recorded source's window, block by block with their
    timestamps, read as the run reaches them (see
    :meth:`~backtrader_channels.lines.groups.BridgeGroup.precompute`)."""
    ch = spec.channel
    blocks = column_blocks(
        spec.dataname,
        ch.channel_type,
        ch.symbol,
        ["timestamp", *bridge.column_names()],
        spec.format,
        spec.chunk_rows,
        spec.on_error,
        spec.window,
        ch.venue,
        spec.market,
    )
    return ((cols["timestamp"], bridge.values_from(cols)) for cols in blocks)


def _is_path(d: object) -> bool:
    return isinstance(d, str) or hasattr(d, "__fspath__")


def open_recorded(spec: ChannelSpec, skip: SkipReport) -> Iterator[Chunk]:
    """The chunks of one channel for this run. With a window, the source is read up to its
    first event in it at once: :func:`recorded_runs` then skips a channel with none, with a
    warning naming it, its data, the window and what its data covers."""
    ch, d = spec.channel, spec.dataname
    spec.meter, spec.opened = None, None
    if spec.recorded:
        spec.meter = ReadMeter()
        chunks: Iterable[Chunk] = open_source(
            d,
            ch.channel_type,
            ch.symbol,
            spec.format,
            spec.chunk_rows,
            spec.on_error,
            skip,
            spec.window,  # a partitioned directory's days outside the window stay unread
            ch.venue,
            spec.market,
            spec.meter,
            columnar=hasattr(ch, "apply_columns"),  # (a ColumnarBookChannel: hear=...)
        )
    else:
        chunks = chunk_events(d, source_name(spec), spec.chunk_rows)
    if spec.window == (None, None):
        return iter(chunks)
    spec.opened = Windowed(spec, chunks)
    return spec.opened
