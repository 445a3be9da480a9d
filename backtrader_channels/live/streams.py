"""A live feed's settings, the state of each of its streams, and the back-off every retry loop
of the live side shares (the feed's streams and markets, the venue session's start and private
streams)."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass


@dataclass(frozen=True)
class FeedConfig:
    """How a :class:`~.ccxt_feed.CCXTLiveFeed` watches its streams (its parameters of the same
    names; checked when made).

    Parameters
    ----------
    book_depth : int
        Levels per side in each order-book event.
    stall_timeout : float
        Seconds without a message after which a stream's socket is replaced.
    backoff_initial, backoff_max : float
        The reconnect back-off: first delay and cap (doubling in between).
    backfill : bool
        Fill gaps in trade ids from REST where the venue has them.
    connect_timeout : float
        Seconds after which a stream that delivered nothing is logged and reported.
    max_failures : int
        Errors in a row, other than network errors, after which the feed gives up.
    trade_cache : int or None
        Trades ccxt keeps per symbol between two watch calls (None: as the exchange has it).
    """

    book_depth: int = 20
    stall_timeout: float = 10.0
    backoff_initial: float = 0.25
    backoff_max: float = 30.0
    backfill: bool = True
    connect_timeout: float = 10.0
    max_failures: int = 5
    trade_cache: int | None = 10_000

    def __post_init__(self) -> None:
        for name in ("stall_timeout", "backoff_initial", "backoff_max", "connect_timeout"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"{name}={value!r}: must be a number of seconds > 0")
        if self.backoff_max < self.backoff_initial:
            raise ValueError(
                f"backoff_max={self.backoff_max!r} is below backoff_initial="
                f"{self.backoff_initial!r}"
            )
        if self.book_depth < 1:
            raise ValueError(f"book_depth={self.book_depth!r}: must be at least 1")
        if self.max_failures < 1:
            raise ValueError(f"max_failures={self.max_failures!r}: must be at least 1")
        if self.trade_cache is not None and self.trade_cache < 1:
            raise ValueError(f"trade_cache={self.trade_cache!r}: must be at least 1, or None")


class StreamState:
    """One stream of a feed, ``(channel type, symbol)``: its task, the watch call it waits in,
    why it is down, its last error and the events it delivered."""

    __slots__ = ("down", "events", "key", "last_error", "since", "stalled", "task")

    def __init__(self, key: tuple[str, str]) -> None:
        self.key = key
        self.task: asyncio.Future[None] | None = None
        #: loop time the pending watch call began (None: not waiting on ccxt)
        self.since: float | None = None
        self.stalled = False  # the watchdog (or a book gap) cancelled its watch
        self.down = ""  # why it is failing or reconnecting ("": healthy)
        self.last_error = ""  # its last error, redacted, for the report
        self.events = 0  # events delivered


class Backoff:
    """A capped exponential back-off, with jitter where many clients may retry at once.

    Parameters
    ----------
    initial, cap : float
        The first delay and the largest, in seconds (doubling in between).
    jitter : bool, default True
        Sleep a random 50-100% of each delay.
    """

    __slots__ = ("cap", "delay", "initial", "jitter")

    def __init__(self, initial: float, cap: float, jitter: bool = True) -> None:
        self.initial, self.cap, self.jitter = initial, cap, jitter
        self.delay = initial

    async def wait(self) -> None:
        """Sleep the current delay, then double it (up to the cap)."""
        delay = self.delay * (0.5 + random.random() / 2) if self.jitter else self.delay
        self.delay = min(self.delay * 2, self.cap)
        await asyncio.sleep(delay)

    def reset(self) -> None:
        """Back to the first delay (after a success)."""
        self.delay = self.initial
