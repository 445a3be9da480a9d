"""The event builder every reader shares: checked arrow batches in, ``(timestamps, events)``
chunks (or whole columns, for precomputed bridges) out.

A chunk is two lists of equal length, timestamps ascending. Each reader turns its format into
*batch streams* (``(label, line offset, batches)``) in the native schema; this module checks
them (:class:`~.checks.StreamChecker`: bad rows raise a located
:class:`~backtrader_channels.errors.DataError`, or are dropped and counted with
``on_error="skip"``) and builds the events.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from functools import partial
from itertools import repeat
from typing import Literal, overload

import numpy as np
import pyarrow as pa

from ..events import ChannelType, DerivativeEvent, OrderBookEvent, QuoteEvent, TickEvent
from .batches import SkipReport
from .checks import BookRow, Rows, StreamChecker, _as_int64_ns, in_values
from .lazy import LazyEvents
from .schema import Batches, ChannelEvent, OnError

#: timestamps, ascending, and their events (of the channel type read)
Chunk = tuple[list[int], Sequence[ChannelEvent]]

_make_tick = partial(tuple.__new__, TickEvent)
_make_quote = partial(tuple.__new__, QuoteEvent)
_make_derivative = partial(tuple.__new__, DerivativeEvent)

# a stream of checked-to-be batches: (label, line offset or None, iterator of (batch, first row))
BatchStream = tuple[str, "int | None", Batches]


def _numpy(batch: pa.RecordBatch, name: str) -> np.ndarray:
    arr = batch.column(name)
    if name.endswith("timestamp"):
        arr = _as_int64_ns(arr)
    return arr.to_numpy(zero_copy_only=False)


def _present(batch: pa.RecordBatch, name: str, cur: StreamChecker, rows: Rows) -> np.ndarray | None:
    """A column as a numpy array (timestamps as int64 ns), or ``None`` if the column is absent
    (or has no value at all: an all-null optional column, as some writers leave, is absent)."""
    if name not in batch.schema.names:
        return None
    arr = batch.column(name)
    if arr.null_count == len(arr):
        return None
    if arr.null_count:  # optional columns: a gap in them is as bad as in required ones
        i = int(np.flatnonzero(arr.is_null().to_numpy(zero_copy_only=False))[0])
        raise cur.error("missing value", int(rows[i]), name)
    return _numpy(batch, name)


@overload
def _col_list(
    batch: pa.RecordBatch, name: Literal["timestamp"], cur: StreamChecker, rows: Rows
) -> list[int]: ...


@overload
def _col_list(
    batch: pa.RecordBatch, name: str, cur: StreamChecker, rows: Rows
) -> list[int] | None: ...


def _col_list(batch: pa.RecordBatch, name: str, cur: StreamChecker, rows: Rows) -> list[int] | None:
    """An integer (or bool) column as a Python list, or ``None`` if the column is absent (a
    checked batch always has its timestamps)."""
    col = _present(batch, name, cur, rows)
    return None if col is None else col.tolist()


def _side_labels(side: pa.Array) -> Iterable[str]:
    """Interned side strings, one per row (an iterator when only buy/sell occur)."""
    if in_values(side, ("unknown",)).any():
        return [sys.intern(s) for s in side.to_pylist()]
    return map(("sell", "buy").__getitem__, in_values(side, ("buy",)).tolist())


def _tick_events(batch: pa.RecordBatch, rows: Rows, cur: StreamChecker, venue: str) -> Chunk:
    """Timestamps now; the TickEvents when first read (see :mod:`.lazy`)."""
    ts = _col_list(batch, "timestamp", cur, rows)
    recv = _present(batch, "recv_timestamp", cur, rows)
    ids = _present(batch, "trade_id", cur, rows)
    price, volume, side = batch.column("price"), batch.column("volume"), batch.column("side")
    symbol = cur.symbol

    def build() -> list[TickEvent]:
        return list(
            map(
                _make_tick,
                zip(
                    ts,
                    price.to_numpy().tolist(),
                    volume.to_numpy().tolist(),
                    _side_labels(side),
                    repeat(None) if ids is None else ids.tolist(),
                    repeat(symbol),
                    ts if recv is None else recv.tolist(),
                    repeat(venue),
                ),
            )
        )

    return ts, LazyEvents(len(ts), build)


def _quote_events(batch: pa.RecordBatch, rows: Rows, cur: StreamChecker, venue: str) -> Chunk:
    """Timestamps now; the QuoteEvents when first read (see :mod:`.lazy`)."""
    ts = _col_list(batch, "timestamp", cur, rows)
    recv = _present(batch, "recv_timestamp", cur, rows)
    uid = _present(batch, "update_id", cur, rows)
    cols = [batch.column(c) for c in ("bid_price", "bid_size", "ask_price", "ask_size")]
    symbol = cur.symbol

    def build() -> list[QuoteEvent]:
        bp, bs, ap, asz = (c.to_numpy().tolist() for c in cols)
        return list(
            map(
                _make_quote,
                zip(
                    ts,
                    bp,
                    bs,
                    ap,
                    asz,
                    repeat(symbol),
                    ts if recv is None else recv.tolist(),
                    repeat(None) if uid is None else uid.tolist(),
                    repeat(venue),
                ),
            )
        )

    return ts, LazyEvents(len(ts), build)


def _floats_or_nan(batch: pa.RecordBatch, name: str) -> Iterable[float]:
    """A float column as a list, a missing value (null) as NaN; all NaN when it is absent."""
    if name not in batch.schema.names:
        return repeat(float("nan"))
    return batch.column(name).cast(pa.float64()).to_numpy(zero_copy_only=False).tolist()


def _ints_or_none(batch: pa.RecordBatch, name: str) -> Iterable[int | None]:
    """An integer (or timestamp) column as a list, a missing value as None; all None when it
    is absent."""
    if name not in batch.schema.names:
        return repeat(None)
    return _as_int64_ns(batch.column(name)).to_pylist()


def _derivative_events(batch: pa.RecordBatch, rows: Rows, cur: StreamChecker, venue: str) -> Chunk:
    """One DerivativeEvent per row (about one a second: built at once); a value a row leaves
    out is NaN (times: None)."""
    ts = _col_list(batch, "timestamp", cur, rows)
    recv = _present(batch, "recv_timestamp", cur, rows)
    events = list(
        map(
            _make_derivative,
            zip(
                ts,
                _floats_or_nan(batch, "mark_price"),
                _floats_or_nan(batch, "index_price"),
                _floats_or_nan(batch, "funding_rate"),
                _ints_or_none(batch, "next_funding_ts"),
                repeat(cur.symbol),
                ts if recv is None else recv.tolist(),
                repeat(venue),
                _ints_or_none(batch, "funding_ts"),
            ),
        )
    )
    return ts, events


def _book_events(
    batch: pa.RecordBatch, rows: Rows, cur: StreamChecker, final: bool, venue: str
) -> Chunk:
    """Group consecutive rows with equal (timestamp, is_snapshot, update_id, recv_timestamp)
    into one event."""
    n = batch.num_rows
    ts = _col_list(batch, "timestamp", cur, rows) or []
    recv = _col_list(batch, "recv_timestamp", cur, rows) or ts
    snap = _col_list(batch, "is_snapshot", cur, rows) or [False] * n
    uid: Sequence[int | None] = _col_list(batch, "update_id", cur, rows) or [None] * n
    fuid: Sequence[int | None] = _col_list(batch, "first_update_id", cur, rows) or uid
    is_bid = in_values(batch.column("side"), ("bid",)).tolist()
    px = batch.column("price").to_numpy().tolist() if n else []
    sz = batch.column("size").to_numpy().tolist() if n else []
    out_ts: list[int] = []
    out: list[OrderBookEvent] = []
    group = cur.book_carry
    head = group[0] if group else None
    for row in zip(ts, snap, uid, recv, fuid, is_bid, px, sz):
        if head is not None and (
            row[0] != head[0] or row[1] != head[1] or row[2] != head[2] or row[3] != head[3]
        ):
            out_ts.append(head[0])
            out.append(_book_event(group, cur.symbol, venue))
            group = []
            head = None
        if head is None:
            head = row
        group.append(row)
    if final and group:
        out_ts.append(group[0][0])
        out.append(_book_event(group, cur.symbol, venue))
        group = []
    cur.book_carry = group
    return out_ts, out


def _book_event(group: list[BookRow], symbol: str, venue: str = "") -> OrderBookEvent:
    first = group[0]
    bids = tuple((r[6], r[7]) for r in group if r[5])
    asks = tuple((r[6], r[7]) for r in group if not r[5])
    return OrderBookEvent(
        first[0], bids, asks, bool(first[1]), symbol, first[3], first[4], first[2], venue
    )


def checked_batches(
    streams: Iterable[BatchStream],
    channel_type: str,
    symbol: str,
    on_error: OnError = "raise",
    skip: SkipReport | None = None,
    venue: str = "",
    market: str | None = None,
) -> Iterator[tuple[pa.RecordBatch, Rows, StreamChecker]]:
    """Each stream's checked, non-empty batches; the streams continue one another in time.
    ``venue`` and ``market`` select the rows of files that name theirs (:mod:`.checks`)."""
    last_ts: int | None = None
    for label, line_offset, batches in streams:
        cur = StreamChecker(
            label, channel_type, symbol, on_error, skip, line_offset, venue or None, market
        )
        cur.last_ts = last_ts  # files of one stream must continue in time
        for batch, base in batches:
            batch, rows = cur.check(batch, base)
            if batch.num_rows:
                yield batch, rows, cur
        if cur.book_carry:
            yield pa.RecordBatch.from_pylist([]), np.empty(0, dtype=np.int64), cur
        last_ts = cur.last_ts


def events_from_streams(
    streams: Iterable[BatchStream],
    channel_type: str,
    symbol: str,
    on_error: OnError = "raise",
    skip: SkipReport | None = None,
    venue: str = "",
    market: str | None = None,
) -> Iterator[Chunk]:
    """Check batches and build event chunks (each event carrying ``venue``)."""
    checked = checked_batches(streams, channel_type, symbol, on_error, skip, venue, market)
    for batch, rows, cur in checked:
        if not batch.num_rows:  # end of a book stream: its last, pending update
            group, cur.book_carry = cur.book_carry, []
            yield [group[0][0]], [_book_event(group, symbol, venue)]
            continue
        if channel_type == ChannelType.TICK:
            chunk = _tick_events(batch, rows, cur, venue)
        elif channel_type == ChannelType.QUOTE:
            chunk = _quote_events(batch, rows, cur, venue)
        elif channel_type == ChannelType.DERIVATIVE:
            chunk = _derivative_events(batch, rows, cur, venue)
        else:
            chunk = _book_events(batch, rows, cur, False, venue)
        if chunk[0]:
            yield chunk


def columns_from_streams(
    streams: Iterable[BatchStream],
    channel_type: str,
    symbol: str,
    columns: list[str],
    on_error: OnError = "raise",
    venue: str = "",
    market: str | None = None,
) -> dict[str, np.ndarray]:
    """Whole checked columns (the rows events would be built from), for one-row-one-event
    channel types (tick, quote, derivative)."""
    if channel_type == ChannelType.ORDERBOOK:
        raise ValueError("book rows are not one row per event")
    parts: dict[str, list[np.ndarray]] = {c: [] for c in columns}
    skip = SkipReport()  # counted once, by the events pass
    checked = checked_batches(streams, channel_type, symbol, on_error, skip, venue, market)
    for batch, _, _ in checked:
        for c in columns:
            parts[c].append(_numpy(batch, c))
    return {c: (np.concatenate(v) if v else np.empty(0)) for c, v in parts.items()}
