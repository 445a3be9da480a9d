"""BacktestEventQueue: a heap-based k-way merge of chunked, time-sorted event sources.

Events leave in the order (timestamp, priority, source, sequence): deterministic and stable, with
nothing lost or duplicated. The heap holds one entry per source (its head key), and the merge
hands out *runs*: the longest stretch of one source that precedes every other source's head, found
with a bisect on the chunk's timestamps. A single source is therefore streamed at list speed, and
interleaved sources cost one heap operation per run. Events pushed during the run (timers, order
events) are merged from a second heap, ordered after recorded sources on ties.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any, Protocol, TypeAlias

from ..errors import DataError
from ..events import Event
from .targets import SourceTarget

#: an event as a source holds it: a market event of the source's channel (the loop reads
#: ``ev[0]``, ``ev[1]``) or, in the source of pushed events, whatever was pushed (a timer, a
#: user's event, a ``BrokerUpdate``: anything with a ``timestamp``); which one it is, the
#: source's ``target`` says (None: pushed), not the event's type
QueuedEvent: TypeAlias = Any
#: ``(timestamps, events)``: a chunk of one source (events of its channel's type, or pushed)
Chunk = tuple[list[int], Sequence[QueuedEvent]]
#: what the loop iterates: ``source.events[start:end]`` is handed out next
Run = tuple["EventSource", int, int]


class Timed(Protocol):
    """What the queue orders an event by: its time (ns since the epoch) and its priority at
    that time (``EventPriority``). Every event type has both; a pushed event needs them."""

    @property
    def timestamp(self) -> int: ...

    @property
    def priority(self) -> int: ...


class EventQueue(Protocol):
    """What the tick loop and ``Cerebro`` need from a queue: :class:`BacktestEventQueue` for
    recorded sources, ``live.queue.LiveEventQueue`` for live feeds. The runs themselves come
    from an iterator the caller builds (``queue.runs()``, or the live run's)."""

    #: the sources whose runs are handed out (their ``count`` is the run's event count)
    sources: list[EventSource]
    #: non-empty when the consumer must leave its current run (a push, or None: a stop)
    attention: list[Timed | None]

    def push(self, event: Event) -> object:
        """Insert a pushed event (a timer, a user's event) during the run: an :class:`Event`
        is what both queues take (the recorded one takes anything :class:`Timed`)."""
        ...


class EventSource:
    """One time-sorted stream: its chunks, current chunk, read position and counters."""

    __slots__ = (
        "_chunks",
        "_last_ts",
        "count",
        "events",
        "index",
        "name",
        "pos",
        "priority",
        "target",
        "ts",
    )

    def __init__(
        self,
        chunks: Iterable[Chunk],
        priority: int,
        index: int,
        name: str,
        target: SourceTarget | None,
    ):
        self.name, self.priority, self.index, self.target = name, int(priority), index, target
        self._chunks = iter(chunks)
        self.ts: list[int] = []
        self.events: Sequence[QueuedEvent] = []
        self.pos = 0
        self.count = 0  # events handed out
        self._last_ts: int | None = None

    def load(self) -> bool:
        """Load the next non-empty chunk; False when the source is exhausted."""
        for ts, events in self._chunks:
            if not ts:
                continue
            if len(ts) != len(events):
                raise DataError(self.name, "chunk timestamps and events differ in length")
            if self._last_ts is not None and ts[0] < self._last_ts:
                raise DataError(
                    self.name,
                    "timestamp goes backwards between chunks",
                    column="timestamp",
                    value=ts[0],
                )
            self._last_ts = ts[-1]
            self.ts, self.events, self.pos = ts, events, 0
            return True
        self.ts, self.events, self.pos = [], [], 0
        return False


def chunk_events(events: Iterable[Timed], name: str, size: int = 65_536) -> Iterator[Chunk]:
    """Chunk an iterable of events (anything with ``.timestamp``), checking time order."""
    it = iter(events)
    last: int | None = None
    row = 0
    while True:
        batch = list(islice(it, size))
        if not batch:
            return
        ts = [e.timestamp for e in batch]
        for i, t in enumerate(ts):
            if last is not None and t < last:
                raise DataError(
                    name, "timestamp goes backwards", row=row + i, column="timestamp", value=t
                )
            last = t
        row += len(batch)
        yield ts, batch


def window_chunks(
    chunks: Iterable[Chunk], start_ns: int | None, end_ns: int | None
) -> Iterator[Chunk]:
    """Only the events with ``start_ns <= timestamp < end_ns`` (either bound optional)."""
    for ts, events in chunks:
        if not ts:
            continue
        if end_ns is not None and ts[0] >= end_ns:
            return
        lo = bisect_left(ts, start_ns) if start_ns is not None else 0
        hi = bisect_left(ts, end_ns) if end_ns is not None else len(ts)
        if lo < hi:
            yield (ts, events) if (lo, hi) == (0, len(ts)) else (ts[lo:hi], events[lo:hi])


class BacktestEventQueue:
    """Merge recorded sources and pushed events in (timestamp, priority, source, seq) order."""

    PUSHED = 1 << 30  # source index of pushed events: after every recorded source on ties

    def __init__(self) -> None:
        self.sources: list[EventSource] = []
        self._pushed: list[tuple[int, int, int, Timed]] = []
        self._push_seq = 0
        #: non-empty when the consumer must leave its current run (a push or a stop request)
        self.attention: list[Timed | None] = []
        self._started = False

    def add_source(
        self,
        chunks: Iterable[Chunk],
        priority: int,
        name: str = "",
        target: SourceTarget | None = None,
    ) -> EventSource:
        """Add a stream of ``(timestamps, events)`` chunks; ``target`` is handed back with runs."""
        if self._started:
            raise RuntimeError("sources must be added before the merge starts")
        src = EventSource(
            chunks, priority, len(self.sources), name or f"source{len(self.sources)}", target
        )
        self.sources.append(src)
        return src

    def push(self, event: Timed) -> None:
        """Insert an event (``timestamp`` and ``priority`` attributes) at any time."""
        heapq.heappush(self._pushed, (event.timestamp, int(event.priority), self._push_seq, event))
        self._push_seq += 1
        self.attention.append(event)

    def runs(self) -> Iterator[Run]:
        """Yield ``(source, start, end)``: hand out ``source.events[start:end]`` in order.

        A consumer that stops early sets ``source.pos`` to the first event it did not handle;
        the events before it count in ``source.count`` once the consumer takes the next run or
        closes the iterator (``close()``, as ``Cerebro`` does when the loop returns). Pushed
        events come as runs of length one from a source whose ``target`` is ``None``.
        """
        self._started = True
        heap = [(src.ts[0], src.priority, src.index) for src in self.sources if src.load()]
        heapq.heapify(heap)
        pushed = self._pushed
        one = EventSource((), 0, self.PUSHED, "pushed", None)
        sources = self.sources
        attention = self.attention
        while heap or pushed:
            attention.clear()
            if pushed and (not heap or (pushed[0][0], pushed[0][1], self.PUSHED) < heap[0]):
                ev = heapq.heappop(pushed)[3]
                one.ts, one.events, one.pos = [ev.timestamp], [ev], 1
                yield one, 0, 1
                continue
            _ts0, prio, idx = heap[0]
            src = sources[idx]
            start = src.pos
            stamps = src.ts
            end = len(stamps)
            nxt = None
            if len(heap) > 1:
                nxt = heap[1] if len(heap) == 2 or heap[1] < heap[2] else heap[2]
            if pushed and (nxt is None or (pushed[0][0], pushed[0][1], self.PUSHED) < nxt):
                nxt = (pushed[0][0], pushed[0][1], self.PUSHED)
            if nxt is not None:
                ots, oprio, oidx = nxt
                if stamps[end - 1] > ots or (
                    stamps[end - 1] == ots and (prio, idx) > (oprio, oidx)
                ):
                    if (prio, idx) < (oprio, oidx):
                        end = bisect_right(stamps, ots, start)
                    else:
                        end = bisect_left(stamps, ots, start)
            src.pos = end
            try:
                yield src, start, end
            finally:  # also when the consumer stops here (the run's events are counted)
                src.count += src.pos - start
            if src.pos >= len(src.ts) and not src.load():
                heapq.heappop(heap)
            else:
                heapq.heapreplace(heap, (src.ts[src.pos], prio, idx))

    def __iter__(self) -> Iterator[QueuedEvent]:
        """Every event in order, one at a time (convenient; the engine uses :meth:`runs`)."""
        attention = self.attention
        for src, start, end in self.runs():
            events = src.events
            for i in range(start, end):
                yield events[i]
                if attention:  # something was pushed: let the merge look again
                    src.pos = i + 1
                    break
