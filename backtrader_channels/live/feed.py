"""The live-feed protocol: what the live run and the loop driver need from a feed.

A feed delivers events of its ``channel_keys`` into a :class:`~.queue.LiveEventQueue`. It runs
either in a thread of its own (:meth:`LiveFeed.start`) or, when it also offers the
:class:`DrivenFeed` methods, as tasks on the engine thread's asyncio loop, which the
:class:`~.driver.LoopDriver` runs while the engine waits for events. ``CCXTLiveFeed`` is both.
"""

from __future__ import annotations

import asyncio
from typing import Protocol, runtime_checkable

from .queue import LiveEventQueue
from .validator import AnomalyReport


@runtime_checkable
class LiveFeed(Protocol):
    """A source of live events that runs in a thread of its own."""

    #: why the feed died (the run raises it), or None while it is healthy
    error: BaseException | None

    @property
    def channel_keys(self) -> list[tuple[str, ...]]:
        """The ``(channel_type, symbol)`` keys whose events the feed delivers."""
        ...

    def start(self, queue: LiveEventQueue) -> None:
        """Connect and deliver into ``queue`` from a thread of the feed's own."""
        ...

    def stop(self) -> None:
        """Stop delivering; close sockets and files. Called once, at the end of the run."""
        ...

    def anomaly_report(self) -> AnomalyReport:
        """What went wrong per channel (counts, details), for ``cerebro.last_run``."""
        ...

    def silent_streams(self) -> dict[str, str]:
        """Streams (``"type:symbol"``) that have delivered nothing yet, with the reason."""
        ...


@runtime_checkable
class DrivenFeed(LiveFeed, Protocol):
    """A feed that can also run on the engine's thread, on a loop the driver runs.

    The contract: :meth:`attach` schedules the feed's work on ``loop`` and the feed stops the
    loop after each delivery into ``queue`` (so the engine dispatches at once); :attr:`ready` is
    true once it is connected or has failed; :meth:`loop_paused` says the loop did not run for a
    while (the engine was busy), which must not count as a stall; :meth:`stop` runs the loop
    until the feed's sockets are closed."""

    @property
    def ready(self) -> bool:
        """Connected (streams started), or failed."""
        ...

    def attach(self, queue: LiveEventQueue, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver into ``queue`` from tasks on ``loop``."""
        ...

    def loop_paused(self, seconds: float) -> None:
        """The driven loop did not run for ``seconds``."""
        ...

    def detach(self) -> None:
        """The run is ending: deliver without stopping the loop any more."""
        ...
