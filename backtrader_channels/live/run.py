"""Running the tick loop on live feeds: start them, feed a LiveEventQueue, stop cleanly."""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from types import FrameType
from typing import TYPE_CHECKING

from ..dispatch.queue import Run
from .driver import LoopDriver
from .feed import DrivenFeed, LiveFeed
from .queue import LiveEventQueue

if TYPE_CHECKING:
    from ..dispatch.targets import SourceTarget

SWITCH_INTERVAL_S = 0.0002


def live_runs(
    stop_requested: Callable[[], bool],
    queue: LiveEventQueue,
    targets: Mapping[tuple[str, ...], SourceTarget],
    feeds: Sequence[LiveFeed],
    duration: float | None,
    max_events: int | None,
    threads: bool = False,
    outcome: dict[str, str] | None = None,
) -> Generator[Run, None, None]:
    """Start ``feeds`` into ``queue`` and yield its runs until ``stop_requested()``, ``duration``
    seconds, ``max_events`` events, Ctrl-C or a feed's death; then stop everything.

    Feeds run on this thread's asyncio loop, served while the engine waits (:class:`LoopDriver`),
    unless ``threads`` is true or a feed cannot; then each feed runs in its own thread.
    ``outcome["ended"]`` says how the run ended: ``"interrupted"`` (Ctrl-C), ``"stopped"``
    (``runstop``: the strategy, the kill switch), ``"duration"``, ``"max_events"``, ``"feed
    failed"``, or ``"feeds ended"``."""
    deadline = time.monotonic() + duration if duration else None
    interrupted: list[bool] = []
    ended = outcome if outcome is not None else {}

    def keep_going() -> bool:
        if interrupted:
            ended["ended"] = "interrupted"
            return False
        if stop_requested():
            ended["ended"] = "stopped"
            return False
        if deadline is not None and time.monotonic() >= deadline:
            ended["ended"] = "duration"
            return False
        for feed in feeds:
            if feed.error is not None:
                ended["ended"] = "feed failed"
                raise RuntimeError(f"live feed {feed!r} failed: {feed.error!r}")
        return True

    # Feed threads and the engine share the GIL; with CPython's default 5 ms switch interval an
    # event could wait up to 5 ms for the engine to be scheduled. Restored when the run ends.
    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(min(old_interval, SWITCH_INTERVAL_S))
    driven = [f for f in feeds if isinstance(f, DrivenFeed)]
    driver = LoopDriver(driven) if not threads and len(driven) == len(feeds) else None
    restore_ctrl_c = _ctrl_c_asks_to_stop(interrupted)
    try:
        if driver is not None:
            driver.start(queue)
        else:
            for feed in feeds:
                feed.start(queue)
        yield from queue.runs(targets, keep_going, max_events=max_events)
        ended.setdefault("ended", "max_events" if max_events is not None else "feeds ended")
    except KeyboardInterrupt:
        ended["ended"] = "interrupted"  # Ctrl-C ends a live run like runstop()
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
            restore_ctrl_c()


def _ctrl_c_asks_to_stop(interrupted: list[bool]) -> Callable[[], None]:
    """Make Ctrl-C (SIGINT) a request to stop, seen with the run's other stop conditions within
    a poll (0.2 s), instead of a KeyboardInterrupt raised wherever the main thread is: raised
    inside a ccxt or aiohttp task it left them half-done (their clean-up awaited with the
    interrupt pending). A second Ctrl-C raises as usual. Only on the main thread and over
    Python's default handler (an application's own is left alone). Returns what puts the
    handler back (called once the feeds are stopped)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.getsignal(signal.SIGINT)
    if previous is not signal.default_int_handler:
        return lambda: None

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        interrupted.append(True)
        signal.signal(signal.SIGINT, previous)  # the next Ctrl-C: KeyboardInterrupt

    def restore() -> None:
        if signal.getsignal(signal.SIGINT) is on_sigint:
            signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, on_sigint)
    return restore
