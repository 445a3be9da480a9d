"""LiveEventQueue: the thread-safe, bounded queue between live feeds and the dispatch loop.

Feeds push from their own threads (``push`` or, cheaper per event, ``push_many`` with a frame's
events and their channel key); the engine pops in batches. Batches arriving in order are kept
whole, so the queue's cost is per batch rather than per event. Events leave ordered by
(timestamp, priority, arrival) among those waiting. When full, the overflow policy decides what
goes: ``"drop_oldest"`` (default: the earliest waiting events, so the strategy stays current) or
``"drop_newest"`` (the incoming ones). Every drop is counted in ``dropped``; nothing is lost
silently. ``stop()`` wakes a waiting consumer.
"""

from __future__ import annotations

import heapq
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, TypeVar, get_args

from ..dispatch.queue import EventSource, Run, Timed
from ..errors import check_choice
from ..events import (
    BrokerUpdate,
    Event,
    OrderBookEvent,
    QuoteEvent,
    TickEvent,
    event_key,
    key_label,
)

if TYPE_CHECKING:
    from _typeshed import SupportsRichComparison

    from ..dispatch.targets import SourceTarget

#: what a full queue drops: the earliest waiting events, or the incoming ones
Overflow = Literal["drop_oldest", "drop_newest"]
OVERFLOW: tuple[Overflow, ...] = get_args(Overflow)

_timestamp_of = itemgetter(0)
_Key = TypeVar("_Key", bound="SupportsRichComparison")

#: what the queue carries: market events, a live broker's news, timers and user events (each a
#: NamedTuple whose first field is its timestamp)
LiveEvent: TypeAlias = TickEvent | QuoteEvent | OrderBookEvent | BrokerUpdate | Event
#: a channel key, ``(channel_type, symbol[, venue])``, or None when not known
_ChannelKey: TypeAlias = "tuple[str, ...] | None"


class LiveEventQueue:
    """Bounded, thread-safe priority queue of live events (see module doc)."""

    def __init__(self, maxsize: int = 1_000_000, overflow: Overflow = "drop_oldest"):
        check_choice("overflow", overflow, OVERFLOW)
        self.maxsize, self.overflow = maxsize, overflow
        # Batches pushed in key order (the usual case: a frame's events, later than what waits)
        # queue whole in a deque as [events, next index, seq of events[0], channel key]: pushing
        # and popping them costs per batch, not per event. Late or unordered arrivals go through
        # a heap of (timestamp, priority, seq, event); pop merges the two by full key. (A batch
        # is a list, not a record type, for speed: mypy has no type for such a list.)
        self._fifo: deque[list[Any]] = deque()
        self._tail: tuple[int, int] | None = None  # key of the last event in the deque
        self._heap: list[tuple[int, int, int, LiveEvent]] = []
        self._seq = 0
        self._size = 0
        self._cond = threading.Condition(threading.Lock())
        self._waiting = 0  # consumers in _cond.wait (changed with the lock held)
        self.stopped = False
        self.dropped = 0
        self.pushed = 0
        #: non-empty when the consumer must leave its current run (a stop request)
        self.attention: list[Timed | None] = []
        self.sources: list[EventSource] = []
        #: called with the timeout instead of sleeping when the queue is empty: it serves the
        #: feeds that run on the consumer's thread until one pushes (see LoopDriver)
        self.driver: Callable[[float | None], None] | None = None

    def __len__(self) -> int:
        return self._size

    def push(self, event: LiveEvent) -> bool:
        """Add one event (any thread); False if it was dropped."""
        return self.push_many([event]) == 1

    def push_many(  # noqa: C901 - per frame on the live hot path: one pass, no helper calls
        self, events: Iterable[LiveEvent], key: tuple[str, ...] | None = None
    ) -> int:
        """Add events under one lock; return how many were kept.

        ``key`` = ``(channel_type, symbol[, venue])`` says that every event belongs to that
        channel (a feed's frame usually does); the engine then dispatches the batch without
        looking at each event's channel. The first and last events are checked against it."""
        evs = list(events)  # a copy: the queue keeps it, the caller may reuse its list
        if not evs:
            return 0
        if key is not None:
            for ev in (evs[0], evs[-1]) if len(evs) > 1 else evs:
                if event_key(ev) != key:
                    raise ValueError(
                        f"event of {ev.channel_type}:{ev.channel_name} in a {key} batch"
                    )
        prio = getattr(type(evs[0]), "priority", None)  # an int on the event classes
        if len(evs) == 1:  # a best bid/ask or a book: most frames are one event
            ev = evs[0]
            first_key = last_key = (ev[0], prio if type(prio) is int else int(ev.priority))
            in_order = True
        elif type(prio) is int and len(set(map(type, evs))) == 1:
            stamps = list(map(_timestamp_of, evs))
            in_order = _non_decreasing(stamps)
            first_key, last_key = (stamps[0], prio), (stamps[-1], prio)
        else:
            keys = [(e[0], int(e.priority)) for e in evs]
            in_order = _non_decreasing(keys)
            first_key, last_key = keys[0], keys[-1]
        with self._cond:
            if self.stopped:
                return 0
            n = len(evs)
            if self.overflow == "drop_newest":
                room = max(self.maxsize - self._size, 0)
                if n > room:  # the newest arrivals are this push's last events
                    self.dropped += n - room
                    self.pushed += n - room
                    evs, n = evs[:room], room
                    if not n:
                        return 0
                    last_key = (evs[-1][0], int(evs[-1].priority))
            seq0 = self._seq
            self._seq += n
            if in_order and (self._tail is None or first_key >= self._tail):
                self._fifo.append([evs, 0, seq0, key])
                self._tail = last_key
            else:
                heap, hpush = self._heap, heapq.heappush
                for i, ev in enumerate(evs):
                    hpush(heap, (ev[0], int(ev.priority), seq0 + i, ev))
            self._size += n
            self.pushed += n
            kept = n
            over = self._size - self.maxsize
            if over > 0:  # drop_oldest: the earliest waiting events go
                self.dropped += over
                kept = max(n - over, 0)
                self._take(over)
            if self._waiting:  # (a consumer on a driven loop never waits on the lock)
                self._cond.notify()
        return kept

    def _take(self, max_items: int) -> list[tuple[list[LiveEvent], _ChannelKey]]:
        """Up to ``max_items`` events in key order as (events, channel key or None) segments;
        call with the lock held."""
        fifo, heap = self._fifo, self._heap
        out: list[tuple[list[LiveEvent], _ChannelKey]] = []
        left = min(max_items, self._size)
        self._size -= left
        if not heap:  # the usual case: whole batches, no per-event work
            while left:
                b = fifo[0]
                evs, i = b[0], b[1]
                avail = len(evs) - i
                if avail <= left:
                    fifo.popleft()
                    out.append((evs if i == 0 else evs[i:], b[3]))
                    left -= avail
                else:
                    out.append((evs[i : i + left], b[3]))
                    b[1] = i + left
                    left = 0
        else:
            merged: list[LiveEvent] = []
            append, hpop = merged.append, heapq.heappop
            for _ in range(left):
                if fifo:
                    b = fifo[0]
                    i = b[1]
                    ev = b[0][i]
                    if heap and heap[0] < (ev[0], int(ev.priority), b[2] + i):
                        append(hpop(heap)[3])
                        continue
                    append(ev)
                    b[1] = i + 1
                    if i + 1 == len(b[0]):
                        fifo.popleft()
                else:
                    append(hpop(heap)[3])
            out.append((merged, None))
        if not fifo:
            self._tail = None
        return out

    def pop_many(self, max_items: int = 4096, timeout: float | None = None) -> list[LiveEvent]:
        """Up to ``max_items`` events in order, waiting up to ``timeout`` s for the first."""
        segments = self.pop_segments(max_items, timeout)
        if len(segments) == 1:
            return segments[0][0]
        return [ev for evs, _ in segments for ev in evs]

    def pop_segments(
        self, max_items: int = 4096, timeout: float | None = None
    ) -> list[tuple[list[LiveEvent], _ChannelKey]]:
        """Like :meth:`pop_many`, as ``(events, key)`` segments; ``key`` is the channel all the
        segment's events belong to, or None when unknown."""
        driver = self.driver
        if driver is not None and not self._size and not self.stopped:
            driver(timeout)  # the feeds on this thread push (or the timeout passes) meanwhile
            timeout = 0
        with self._cond:
            if not self._size and not self.stopped:
                self._waiting += 1
                try:
                    self._cond.wait(timeout)
                finally:
                    self._waiting -= 1
            return self._take(max_items)

    def pop(self, timeout: float | None = None) -> LiveEvent | None:
        """One event, or None after ``timeout`` seconds (or once stopped and empty)."""
        out = self.pop_many(1, timeout)
        return out[0] if out else None

    def stop(self) -> None:
        """Refuse further pushes and wake the consumer."""
        with self._cond:
            self.stopped = True
            self.attention.append(None)
            self._cond.notify_all()

    def runs(
        self,
        targets: Mapping[tuple[str, ...], SourceTarget],
        keep_going: Callable[[], bool],
        poll: float = 0.2,
        max_events: int | None = None,
    ) -> Iterator[Run]:
        """Runs of consecutive events of one target, for the dispatch loop. ``targets`` maps
        ``(channel_type, symbol)`` to a SourceTarget; ``keep_going()`` is asked after every
        batch and every ``poll`` seconds without events; events of unknown channels go out as
        pushed events (target None)."""
        sources: dict[_ChannelKey, EventSource] = {}
        for key, target in targets.items():
            src = EventSource(
                (),
                int(getattr(target.channel, "priority", 0)),
                len(sources),
                f"live:{key_label(key)}",
                target,
            )
            sources[key] = src
        self.sources = list(sources.values())
        loose = EventSource((), 0, 1 << 30, "pushed", None)
        left = max_events if max_events is not None else -1
        while keep_going() and left != 0:
            segments = self.pop_segments(4096 if left < 0 else min(4096, left), poll)
            if not segments:
                if self.stopped:
                    return
                yield loose, 0, 0  # heartbeat: lets the loop check its clocks
                continue
            for k, (batch, batch_key) in enumerate(segments):
                if left > 0:
                    left -= len(batch)
                rest = yield from _segment_runs(batch, sources.get(batch_key), sources, loose)
                if rest is not None:  # the loop stopped early: the rest goes back
                    for evs in (rest, *(seg[0] for seg in segments[k + 1 :])):
                        if evs:
                            self.push_many(evs)
                    break


def _segment_runs(
    batch: list[LiveEvent],
    src: EventSource | None,
    sources: dict[_ChannelKey, EventSource],
    loose: EventSource,
) -> Generator[Run, None, list[LiveEvent] | None]:
    """Yield the runs of one popped segment; return the events left unhandled if the loop
    stopped early. ``src`` is the segment's source when all its events are of one channel."""
    if src is not None:  # one channel: one run, no per-event look-up
        n = src.pos = len(batch)
        src.events = batch
        try:
            yield src, 0, n
        finally:  # (also when the loop stopped here: what it dispatched counts)
            src.count += src.pos
        return batch[src.pos :] if src.pos < n else None
    i, n = 0, len(batch)
    while i < n:
        ev = batch[i]
        key = event_key(ev)
        found = sources.get(key)
        if found is None:
            loose.events, loose.ts = [ev], [ev[0]]
            yield loose, 0, 1
            i += 1
            continue
        j = i + 1
        kind, name, venue = ev.channel_type, ev.channel_name, getattr(ev, "venue", "")
        while j < n:
            nxt = batch[j]
            if not (
                nxt.channel_type is kind
                and nxt.channel_name == name
                and getattr(nxt, "venue", "") == venue
            ):
                break
            j += 1
        found.events = batch
        found.pos = j
        try:
            yield found, i, j
        finally:
            found.count += found.pos - i
        if found.pos < j:
            return batch[found.pos :]
        i = j
    return None


def _non_decreasing(values: list[_Key]) -> bool:
    return values == sorted(values)  # timsort on sorted input: one C-level pass
