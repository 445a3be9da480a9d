"""LiveEventQueue: the thread-safe, bounded queue between live feeds and the dispatch loop.

Feeds push from their own threads (``push`` or, cheaper per event, ``push_many``); the engine pops
in batches. Events leave ordered by (timestamp, priority, arrival) among those waiting. When full,
the overflow policy decides what goes: ``"drop_oldest"`` (default: the earliest waiting event,
so the strategy stays current) or ``"drop_newest"`` (the incoming one). Every drop is counted in
``dropped``; nothing is lost silently. ``stop()`` wakes a waiting consumer.
"""

from __future__ import annotations

import heapq
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from itertools import count
from typing import Any

from .queue import EventSource


class LiveEventQueue:
    """Bounded, thread-safe priority queue of live events (see module doc)."""

    def __init__(self, maxsize: int = 1_000_000, overflow: str = "drop_oldest"):
        if overflow not in ("drop_oldest", "drop_newest"):
            raise ValueError("overflow must be 'drop_oldest' or 'drop_newest'")
        self.maxsize, self.overflow = maxsize, overflow
        # events arriving in key order (the usual case) queue in a deque, O(1) both ends;
        # only late arrivals go through the heap. pop merges the two heads.
        self._fifo: deque[tuple[int, int, int, Any]] = deque()
        self._heap: list[tuple[int, int, int, Any]] = []
        self._seq = count()
        self._cond = threading.Condition(threading.Lock())
        self.stopped = False
        self.dropped = 0
        self.pushed = 0
        #: non-empty when the consumer must leave its current run (a stop request)
        self.attention: list[Any] = []
        self.sources: list[EventSource] = []

    def __len__(self) -> int:
        return len(self._fifo) + len(self._heap)

    def push(self, event: Any) -> bool:
        """Add one event (any thread); False if it was dropped."""
        return self.push_many((event,)) == 1

    def push_many(self, events: Iterable[Any]) -> int:
        """Add events under one lock; return how many were kept."""
        kept = 0
        with self._cond:
            if self.stopped:
                return 0
            fifo, heap, seq = self._fifo, self._heap, self._seq
            tail = fifo[-1] if fifo else None
            append, hpush = fifo.append, heapq.heappush
            for ev in events:
                item = (ev[0], ev.priority, next(seq), ev)
                if tail is None or item >= tail:
                    append(item)
                    tail = item
                else:
                    hpush(heap, item)
                kept += 1
            self.pushed += kept
            over = len(fifo) + len(heap) - self.maxsize
            if over > 0:
                self.dropped += over
                kept -= over
                self._drop(over)
            self._cond.notify()
        return kept

    def _drop(self, n: int) -> None:
        fifo, heap = self._fifo, self._heap
        if self.overflow == "drop_oldest":
            for _ in range(n):
                if heap and (not fifo or heap[0] < fifo[0]):
                    heapq.heappop(heap)
                else:
                    fifo.popleft()
            return
        items = sorted([*fifo, *heap], key=lambda e: e[2])[:-n]  # drop the newest arrivals
        items.sort()
        self._fifo, self._heap = deque(items), []

    def pop_many(self, max_items: int = 4096, timeout: float | None = None) -> list[Any]:
        """Up to ``max_items`` events in order, waiting up to ``timeout`` s for the first."""
        with self._cond:
            fifo, heap = self._fifo, self._heap
            if not fifo and not heap and not self.stopped:
                self._cond.wait(timeout)
            if not heap:
                n = min(max_items, len(fifo))
                pop = fifo.popleft
                return [pop()[3] for _ in range(n)]
            out: list[Any] = []
            hpop = heapq.heappop
            while len(out) < max_items and (fifo or heap):
                if heap and (not fifo or heap[0] < fifo[0]):
                    out.append(hpop(heap)[3])
                else:
                    out.append(fifo.popleft()[3])
            return out

    def pop(self, timeout: float | None = None) -> Any:
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
        targets: dict[Any, Any],
        keep_going: Any,
        poll: float = 0.2,
        max_events: int | None = None,
    ) -> Iterator[tuple[EventSource, int, int]]:
        """Runs of consecutive events of one target, for the dispatch loop. ``targets`` maps
        ``(channel_type, symbol)`` to a SourceTarget; ``keep_going()`` is asked after every
        batch and every ``poll`` seconds without events; events of unknown channels go out as
        pushed events (target None)."""
        sources: dict[Any, EventSource] = {}
        for key, target in targets.items():
            src = EventSource(
                (),
                int(getattr(target.channel, "priority", 0)),
                len(sources),
                f"live:{key[0]}:{key[1]}",
                target,
            )
            sources[key] = src
        self.sources = list(sources.values())
        loose = EventSource((), 0, 1 << 30, "pushed", None)
        left = max_events if max_events is not None else -1
        while keep_going() and left != 0:
            batch = self.pop_many(4096 if left < 0 else min(4096, left), poll)
            if left > 0:
                left -= len(batch)
            if not batch:
                if self.stopped:
                    return
                yield loose, 0, 0  # heartbeat: lets the loop check its clocks
                continue
            i, n = 0, len(batch)
            while i < n:
                ev = batch[i]
                found = sources.get((ev.channel_type, ev.channel_name))
                if found is None:
                    loose.events, loose.ts = [ev], [ev[0]]
                    yield loose, 0, 1
                    i += 1
                    continue
                j = i + 1
                while (
                    j < n
                    and batch[j].channel_type is ev.channel_type
                    and (batch[j].channel_name == ev.channel_name)
                ):
                    j += 1
                src = found
                src.events = batch
                src.pos = j
                yield src, i, j
                src.count += src.pos - i
                if src.pos < j:  # the loop stopped early: the rest goes back
                    self.push_many(batch[src.pos :])
                    break
                i = j
