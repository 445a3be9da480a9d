"""Book updates as columns: the fast L2 path's chunks.

The event path builds one :class:`~backtrader_channels.events.OrderBookEvent` per message (a
tuple of ``(price, size)`` pairs per side): about half of a book replay's time. Here a chunk
keeps its checked rows as numpy columns, with the messages as row ranges (rows with equal
``timestamp``, ``is_snapshot``, ``update_id`` and ``recv_timestamp`` form one message, as
:func:`.build._book_events` groups them), and the dispatch loop hands the columns to the
channel's book (:class:`~backtrader_channels.channels.l2book.L2Book`, compiled) a stretch of
messages at a time. An event object is built only for a message someone reads
(:meth:`BookColumns.__getitem__`): the one a strategy hears, or a caller iterating the chunk.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import overload

import numpy as np
import pyarrow as pa

from ..events import Levels, OrderBookEvent
from .batches import SkipReport
from .build import BatchStream, checked_batches
from .checks import Rows, StreamChecker, in_values
from .schema import OnError

#: the update id of a message without one (None in an ``OrderBookEvent``)
NO_ID = -(1 << 63)
#: a chunk of messages: their timestamps (the queue's) and the columns
BookChunk = tuple[list[int], "BookColumns"]


class BookColumns(Sequence[OrderBookEvent]):
    """The messages of one chunk as columns (per message: ``ts``, ``start`` (row offsets, one
    more than the messages), ``snapshot``, ``first_id``, ``last_id``, ``recv``; per level row:
    ``is_bid``, ``price``, ``size``), a sequence of events built on demand.

    Parameters
    ----------
    ts, start, snapshot, first_id, last_id, recv : numpy arrays
        Per message (``start`` has one more entry: the end of the last message's rows).
    is_bid, price, size : numpy arrays
        Per level row: the side (uint8, 1 a bid), the price and the absolute size (0 deletes).
    symbol, venue : str
        What the built events carry.
    """

    __slots__ = (
        "first_id",
        "is_bid",
        "last_id",
        "price",
        "recv",
        "size",
        "snapshot",
        "start",
        "symbol",
        "ts",
        "venue",
    )

    def __init__(
        self,
        ts: np.ndarray,
        start: np.ndarray,
        snapshot: np.ndarray,
        first_id: np.ndarray,
        last_id: np.ndarray,
        recv: np.ndarray,
        is_bid: np.ndarray,
        price: np.ndarray,
        size: np.ndarray,
        symbol: str,
        venue: str = "",
    ) -> None:
        self.ts, self.start, self.snapshot = ts, start, snapshot
        self.first_id, self.last_id, self.recv = first_id, last_id, recv
        self.is_bid, self.price, self.size = is_bid, price, size
        self.symbol, self.venue = symbol, venue

    def __len__(self) -> int:
        return len(self.ts)

    def event(self, i: int) -> OrderBookEvent:
        """Message ``i`` as an :class:`OrderBookEvent`."""
        a, b = int(self.start[i]), int(self.start[i + 1])
        # the message's own copy (an event kept in a history must not keep the chunk alive);
        # each side a Levels: pairs built when read
        px, sz = self.price[a:b].copy(), self.size[a:b].copy()
        bid = self.is_bid[a:b].view(np.bool_)
        nb = int(np.count_nonzero(bid))
        if not bid[:nb].all():  # (sides mixed: writers put the bids first, then the asks)
            order = np.argsort(~bid, kind="stable")
            px, sz = px[order], sz[order]
        bids: Sequence[tuple[float, float]] = Levels(px[:nb], sz[:nb]) if nb else ()
        asks: Sequence[tuple[float, float]] = Levels(px[nb:], sz[nb:]) if nb < b - a else ()
        fid, lid = int(self.first_id[i]), int(self.last_id[i])
        return OrderBookEvent(
            int(self.ts[i]),
            bids,
            asks,
            bool(self.snapshot[i]),
            self.symbol,
            int(self.recv[i]),
            None if fid == NO_ID else fid,
            None if lid == NO_ID else lid,
            self.venue,
        )

    @overload
    def __getitem__(self, i: int) -> OrderBookEvent: ...

    @overload
    def __getitem__(self, i: slice) -> list[OrderBookEvent]: ...

    def __getitem__(self, i: int | slice) -> OrderBookEvent | list[OrderBookEvent]:
        if isinstance(i, slice):
            return [self.event(k) for k in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self.event(i)

    def __iter__(self) -> Iterator[OrderBookEvent]:
        return (self.event(k) for k in range(len(self)))

    def __repr__(self) -> str:
        return f"BookColumns({len(self)} messages, {len(self.price)} levels, {self.symbol!r})"


def _ids(batch: pa.RecordBatch, name: str, cur: StreamChecker, rows: Rows) -> np.ndarray:
    from .build import _present  # (the shared column reader: a partly null column raises)

    col = _present(batch, name, cur, rows)
    if col is None:
        return np.full(batch.num_rows, NO_ID, dtype=np.int64)
    return col.astype(np.int64, copy=False)


class _Rows:
    """One batch's rows as the columns a chunk is cut from (and the carry between batches)."""

    __slots__ = ("fid", "is_bid", "lid", "price", "recv", "size", "snap", "ts")
    ts: np.ndarray
    recv: np.ndarray
    snap: np.ndarray
    lid: np.ndarray
    fid: np.ndarray
    is_bid: np.ndarray
    price: np.ndarray
    size: np.ndarray

    def __init__(self, batch: pa.RecordBatch, rows: Rows, cur: StreamChecker) -> None:
        from .build import _present

        n = batch.num_rows
        ts = _present(batch, "timestamp", cur, rows)
        assert ts is not None  # (a checked batch always has its timestamps)
        self.ts = ts
        recv = _present(batch, "recv_timestamp", cur, rows)
        self.recv = self.ts if recv is None else recv
        snap = _present(batch, "is_snapshot", cur, rows)
        self.snap = np.zeros(n, np.uint8) if snap is None else snap.astype(np.uint8)
        self.lid = _ids(batch, "update_id", cur, rows)
        fid = _ids(batch, "first_update_id", cur, rows)
        self.fid = self.lid if "first_update_id" not in batch.schema.names else fid
        if (self.fid == NO_ID).all():
            self.fid = self.lid
        self.is_bid = in_values(batch.column("side"), ("bid",)).astype(np.uint8)
        self.price = batch.column("price").to_numpy().astype(np.float64, copy=False)
        self.size = batch.column("size").to_numpy().astype(np.float64, copy=False)

    def continues(self, carry: _Rows) -> bool:
        """Whether row 0 belongs to ``carry``'s message (the same timestamp, snapshot flag,
        update id and receive time as its last row)."""
        return bool(
            self.ts[0] == carry.ts[-1]
            and self.snap[0] == carry.snap[-1]
            and self.lid[0] == carry.lid[-1]
            and self.recv[0] == carry.recv[-1]
        )

    def join(self, more: _Rows) -> _Rows:
        """These rows, then ``more``'s (a message going on in the next batch)."""
        for name in self.__slots__:
            setattr(self, name, np.concatenate((getattr(self, name), getattr(more, name))))
        return self

    def cut(self, a: int, b: int | None = None) -> _Rows:
        """Rows ``a:b`` as a new carry."""
        out = object.__new__(_Rows)
        for name in self.__slots__:
            setattr(out, name, getattr(self, name)[a:b])
        return out


def _chunk(r: _Rows, starts: np.ndarray, end: int, symbol: str, venue: str) -> BookChunk:
    """The messages starting at ``starts`` (rows up to ``end``) as a chunk."""
    bounds = np.append(starts, end).astype(np.int64)
    cols = BookColumns(
        r.ts[starts],
        bounds,
        r.snap[starts],
        r.fid[starts],
        r.lid[starts],
        r.recv[starts],
        np.ascontiguousarray(r.is_bid[:end]),
        np.ascontiguousarray(r.price[:end]),
        np.ascontiguousarray(r.size[:end]),
        symbol,
        venue,
    )
    return cols.ts.tolist(), cols


def book_column_chunks(
    streams: Iterable[BatchStream],
    symbol: str,
    on_error: OnError = "raise",
    skip: SkipReport | None = None,
    venue: str = "",
    market: str | None = None,
) -> Iterator[BookChunk]:
    """Checked book batches as :class:`BookColumns` chunks: the columnar twin of
    :func:`.build.events_from_streams` for order book channels (the same messages, in the
    same order, with the same checks)."""
    carry: _Rows | None = None
    carry_cur: StreamChecker | None = None
    checked = checked_batches(streams, "orderbook", symbol, on_error, skip, venue, market)
    for batch, rows, cur in checked:
        if carry is not None and cur is not carry_cur:  # a new stream: the last one's end
            yield _chunk(carry, np.zeros(1, np.int64), len(carry.ts), symbol, venue)
            carry = None
        if not batch.num_rows:
            continue
        r = _Rows(batch, rows, cur)
        n = len(r.ts)
        change = np.empty(n, dtype=bool)
        change[0] = True
        np.not_equal(r.ts[1:], r.ts[:-1], out=change[1:])
        change[1:] |= r.snap[1:] != r.snap[:-1]
        change[1:] |= r.lid[1:] != r.lid[:-1]
        change[1:] |= r.recv[1:] != r.recv[:-1]
        starts = np.flatnonzero(change)
        if carry is not None:  # the last batch's unfinished message: does it go on here?
            if r.continues(carry):
                k = int(starts[1]) if len(starts) > 1 else n
                carry = carry.join(r.cut(0, k))  # (its rows only: the batch is not copied)
                if k == n:
                    continue
                r, starts = r.cut(k), starts[1:] - k
            yield _chunk(carry, np.zeros(1, np.int64), len(carry.ts), symbol, venue)
        last = int(starts[-1])  # the last message may go on in the next batch
        if len(starts) > 1:
            yield _chunk(r, starts[:-1], last, symbol, venue)
        carry, carry_cur = r.cut(last), cur
    if carry is not None:
        yield _chunk(carry, np.zeros(1, np.int64), len(carry.ts), symbol, venue)
