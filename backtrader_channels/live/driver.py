"""LoopDriver: live feeds' asyncio work on the engine's own thread, served while it waits.

With a feed in its own thread, every frame is handed across threads: the engine sleeps on the
queue's condition, is woken by the push and then waits for the GIL, which the feed thread is
holding for ccxt's next frame. Driving the feeds' event loop from the engine's thread removes
that hand-over: when the queue is empty the engine runs the loop, a feed that delivers events
stops it, and the engine dispatches them at once (frame -> ``on_tick`` at 10k trades/s: p50
~750 -> ~415 us, ``benchmarks/test_live.py``). The price: while a strategy callback runs, no
socket is read (frames wait in the kernel, as with any single-threaded client). That time is
not counted towards the feeds' stall timeouts, but a long callback lets ccxt.pro's trade cache
overflow (the feed backfills or reports the gap); ``Cerebro(live_threads=True)`` keeps each feed
in its own thread instead.

A feed takes part by implementing :class:`~.feed.DrivenFeed`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from .feed import DrivenFeed
from .queue import LiveEventQueue

#: pauses shorter than this are not reported to the feeds (their stall timeouts are seconds)
_PAUSE_REPORT_S = 0.1


class LoopDriver:
    """Runs attached feeds' asyncio loop on the calling thread, while the engine waits."""

    def __init__(self, feeds: Sequence[DrivenFeed]):
        self.feeds = list(feeds)
        self.loop = asyncio.new_event_loop()
        self._left_at = time.monotonic()  # when the loop last stopped running

    def start(self, queue: LiveEventQueue) -> None:
        """Attach the feeds. Nothing waits for them to connect: the engine serves their loop
        while it waits for events, and checks its stop conditions between (a feed that never
        connects cannot hold the run past its ``duration``, ``runstop()`` or Ctrl-C)."""
        queue.driver = self.wait
        for feed in self.feeds:
            feed.attach(queue, self.loop)

    def wait(self, timeout: float | None) -> None:
        """Serve the feeds until one delivers (it stops the loop) or ``timeout`` seconds pass."""
        loop = self.loop
        now = time.monotonic()
        paused = now - self._left_at
        if paused > _PAUSE_REPORT_S:
            for feed in self.feeds:
                feed.loop_paused(paused)
        timer = loop.call_later(timeout, loop.stop) if timeout is not None else None
        try:
            loop.run_forever()
        finally:
            self._left_at = time.monotonic()
            if timer is not None:
                timer.cancel()

    def stop(self) -> None:
        """Stop every feed (each runs the loop until its sockets are closed), close the loop."""
        try:
            for feed in self.feeds:
                feed.detach()  # a late delivery must not stop the loop another feed's stop runs
            for feed in self.feeds:
                feed.stop()
        finally:
            close_loop(self.loop)


def close_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Close a feed's or a venue session's loop (not running) as ``asyncio.run`` closes its
    own: the tasks still pending are cancelled and let end first. ccxt leaves one while it
    rate-limits (its throttler waits out the window for a request cancelled at the stop);
    closed pending, it printed "Task was destroyed but it is pending!" at exit."""
    try:
        left = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in left:
            task.cancel()
        if left:
            loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()
