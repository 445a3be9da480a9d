"""Recorded channels for one run: what ``add_channel`` stored, and how the run opens it
(streamed chunks, a time window, whole columns for precomputed bridges)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from ..channels.base import Channel
from ..engine.queue import chunk_events, window_chunks
from ..errors import ChannelError
from ..sources import SkipReport
from ..sources.formats import open_columns, open_source
from ..sources.schema import Format, OnError


class ChannelSpec:
    """What ``add_channel`` was given for one channel, until the run opens it."""

    __slots__ = ("channel", "chunk_rows", "dataname", "format", "on_error", "recorded", "window")

    def __init__(
        self,
        channel: Channel,
        dataname: Any,
        fmt: Format | None,
        chunk_rows: int,
        on_error: OnError,
    ):
        self.channel, self.dataname, self.format = channel, dataname, fmt
        self.chunk_rows, self.on_error = chunk_rows, on_error
        self.window: tuple[int | None, int | None] = (None, None)
        #: a file/dir/glob (or a list of them), a DataFrame or a Table; else an event iterable
        self.recorded = _is_recorded(dataname)


def with_progress(runs: Any) -> Iterator[Any]:
    """Pass runs through, counting handled events on a tqdm bar (updated every 256 runs)."""
    from tqdm import tqdm

    bar = tqdm(unit=" events", unit_scale=True, file=sys.stderr, desc="backtest", mininterval=0.5)
    done = k = 0
    try:
        for src, start, end in runs:
            yield src, start, end
            done += src.pos - start
            k += 1
            if not k & 255:
                bar.update(done - bar.n)
    finally:
        bar.update(done - bar.n)
        bar.close()


def to_ns(when: Any) -> int | None:
    """ns since the epoch from an int (ns), a datetime (naive = UTC) or an ISO string."""
    import datetime as dt

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


def _is_recorded(d: Any) -> bool:
    """Whether a dataname is a file/dir/glob (or list of them), a DataFrame or a Table."""
    return (
        _is_path(d)
        or hasattr(d, "columns")
        or (isinstance(d, (list, tuple)) and bool(d) and all(_is_path(p) for p in d))
    )


def column_values(spec: ChannelSpec, field_spec: Any) -> Any:
    """A bridge field's values over the whole recorded source."""
    ch = spec.channel
    names = [field_spec] if isinstance(field_spec, str) else list(field_spec[:2])
    cols = open_columns(
        spec.dataname,
        ch.channel_type,
        ch.symbol,
        names,
        spec.format,
        spec.chunk_rows,
        spec.on_error,
    )
    if isinstance(field_spec, str):
        return cols[field_spec]
    return field_spec[2](cols[names[0]], cols[names[1]])


def _is_path(d: Any) -> bool:
    return isinstance(d, str) or hasattr(d, "__fspath__")


def open_recorded(spec: ChannelSpec, skip: SkipReport) -> Iterator[Any]:
    ch, d = spec.channel, spec.dataname
    if spec.recorded:
        chunks = open_source(
            d,
            ch.channel_type,
            ch.symbol,
            spec.format,
            spec.chunk_rows,
            spec.on_error,
            skip,
            spec.window,  # a partitioned directory's days outside the window stay unread
            ch.venue,
        )
    else:
        chunks = chunk_events(d, source_name(spec), spec.chunk_rows)
    if spec.window != (None, None):
        return window_chunks(chunks, *spec.window)
    return chunks
