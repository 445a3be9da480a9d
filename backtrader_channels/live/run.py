"""Running the tick loop on live feeds: start them, feed a LiveEventQueue, stop cleanly."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import Any

from ..engine.queue import EventSource
from .driver import LoopDriver
from .queue import LiveEventQueue

SWITCH_INTERVAL_S = 0.0002


def live_runs(
    cerebro: Any,
    queue: LiveEventQueue,
    targets: dict[Any, Any],
    feeds: list[Any],
    duration: float | None,
    max_events: int | None,
    threads: bool = False,
) -> Iterator[tuple[EventSource, int, int]]:
    """Start ``feeds`` into ``queue`` and yield its runs until ``runstop()``, ``duration``
    seconds, ``max_events`` events, Ctrl-C or a feed's death; then stop everything.

    Feeds run on this thread's asyncio loop, served while the engine waits (:class:`LoopDriver`),
    unless ``threads`` is true or a feed cannot; then each feed runs in its own thread."""
    deadline = time.monotonic() + duration if duration else None

    def keep_going() -> bool:
        if cerebro._event_stop:
            return False
        if deadline is not None and time.monotonic() >= deadline:
            return False
        for feed in feeds:
            if feed.error is not None:
                raise RuntimeError(f"live feed {feed!r} failed: {feed.error!r}")
        return True

    # Feed threads and the engine share the GIL; with CPython's default 5 ms switch interval an
    # event could wait up to 5 ms for the engine to be scheduled. Restored when the run ends.
    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(min(old_interval, SWITCH_INTERVAL_S))
    driver = None if threads or not LoopDriver.supports(feeds) else LoopDriver(feeds)
    try:
        if driver is not None:
            driver.start(queue)
        else:
            for feed in feeds:
                feed.start(queue)
        yield from queue.runs(targets, keep_going, max_events=max_events)
    except KeyboardInterrupt:
        pass  # Ctrl-C ends a live run like runstop()
    finally:
        queue.stop()
        try:
            if driver is not None:
                driver.stop()
            else:
                for feed in feeds:
                    feed.stop()
        finally:
            sys.setswitchinterval(old_interval)
