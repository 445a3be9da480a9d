"""Order latencies: entry (an order becomes active only after it) and response (the strategy
hears of an ack, fill or cancel only after it), constant or the recording's own feed latency.

``"feed"`` takes the latency of the market data at the moment: ``recv_timestamp - timestamp``
of the latest event of the channel being dispatched (0 when the data has no receive times).
The entry latency is fixed when the order is submitted. A notification's response latency is
fixed when the broker sends it.

Notifications that are still on their way wait in :class:`DelayedNotifications`. The engine
delivers a notification at the first event at or after its due time, and delivers all of them
when the data ends.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Literal

Latency = int | Literal["feed"]


def check_latency(name: str, value: Any) -> Any:
    """``value`` if it is a latency (ns >= 0, or ``"feed"``); else a ValueError naming it."""
    if value == "feed" or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        return value
    raise ValueError(f"{name}={value!r}: must be an int of ns >= 0 or 'feed'")


def feed_latency(clock: Any) -> int:
    """``recv_timestamp - timestamp`` of ``clock``'s latest event (0 without receive times)."""
    latest = getattr(clock, "latest", None)
    if latest is None:
        return 0
    recv = getattr(latest, "recv_timestamp", None)
    if recv is None:
        return 0
    return max(int(recv) - int(latest[0]), 0)


class DelayedNotifications(deque):
    """The broker's notification deque, holding each notification until its due time.

    ``append`` stamps each notification with ``now + response latency``; the engine's
    notifier takes the due ones with :meth:`due`. The deque is truthy while anything waits,
    so the engine looks at it on every event until it is empty."""

    def __init__(self, broker: Any) -> None:
        super().__init__()
        self.broker = broker
        self.stamps: deque[int] = deque()

    def append(self, order: Any) -> None:
        broker = self.broker
        latency = broker.p.response_latency_ns
        if latency == "feed":
            latency = feed_latency(broker.clock)
        self.stamps.append(broker.current_ns() + latency)
        super().append(order)

    def due(self, final: bool = False) -> list[Any]:
        """Take the notifications due at the current event (all of them when ``final``)."""
        now = self.broker.current_ns()
        stamps, out = self.stamps, []
        while stamps and (final or stamps[0] <= now):
            stamps.popleft()
            out.append(self.popleft())
        return out

    def clear(self) -> None:
        super().clear()
        self.stamps.clear()
