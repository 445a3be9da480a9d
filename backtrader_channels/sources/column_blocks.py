"""Checked columns block by block, inside a time window: what precomputed bridges read.

A precomputed bridge reads its field from the recorded columns instead of from the events: the
same checked rows (:func:`~.build.checked_batches`, the same drops with ``on_error="skip"``),
one block per batch, as the run reaches them, so memory stays flat. With a window, only the
rows with ``start <= timestamp < end`` are given, as the run's events are.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..events import ChannelType
from .batches import SkipReport
from .build import _numpy, checked_batches
from .formats import batch_streams
from .layout import Window
from .native import DEFAULT_CHUNK_ROWS
from .schema import DataName, Format, OnError


def column_blocks(
    dataname: DataName,
    channel_type: str,
    symbol: str,
    columns: list[str],
    format: Format | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    on_error: OnError = "raise",
    window: Window | None = None,
    venue: str = "",
    market: str | None = None,
) -> Iterator[dict[str, np.ndarray]]:
    """The native ``columns`` of the rows :func:`~.formats.open_source` turns into events
    (tick and quote data), one dict of arrays per checked batch.

    Parameters
    ----------
    dataname, channel_type, symbol, format, chunk_rows, on_error, venue, market
        As for :func:`~.formats.open_source`.
    columns : list of str
        Native column names (``price``, ``bid_price``, ...).
    window : tuple of (int or None, int or None), optional
        ``(start_ns, end_ns)``: only rows with ``start_ns <= timestamp < end_ns``.
    """
    if channel_type == ChannelType.ORDERBOOK:
        raise ValueError("book rows are not one row per event")
    row_skip = SkipReport() if on_error == "skip" else None
    streams = batch_streams(
        dataname, channel_type, symbol, format, chunk_rows, row_skip, window, venue, market
    )
    start, end = window or (None, None)
    skip = SkipReport()  # counted once, by the events' pass
    checked = checked_batches(streams, channel_type, symbol, on_error, skip, venue, market)
    for batch, _, _ in checked:
        lo, hi = 0, batch.num_rows
        if start is not None or end is not None:
            ts = _numpy(batch, "timestamp")
            if end is not None and ts[0] >= end:
                return
            lo = int(np.searchsorted(ts, start)) if start is not None else 0
            hi = int(np.searchsorted(ts, end)) if end is not None else hi
        if lo < hi:
            yield {c: _numpy(batch, c)[lo:hi] for c in columns}
