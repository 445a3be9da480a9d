"""Order latencies: entry (an order becomes active only after it) and response (the strategy
hears of an ack, fill or cancel only after it), as a model the broker is given.

A :class:`LatencyModel` answers both with a number of ns, from the market event being handled.
:class:`OrderLatency` is the one ``TickBroker(latency_ns=..., response_latency_ns=...)`` builds:
each latency constant, or ``"feed"``, the latency of the market data at the moment
(``recv_timestamp - timestamp`` of the event being handled; 0 when the data has no receive
times). The entry latency is fixed when the order is submitted, a notification's response
latency when the broker sends it.

Notifications that are still on their way wait in :class:`DelayedNotifications`. The engine
delivers a notification at the first event at or after its due time, and delivers all of them
when the data ends.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from ..events import OrderBookEvent, QuoteEvent, TickEvent

if TYPE_CHECKING:
    import backtrader as bt

    from .tickbroker import TickBroker

#: a latency as the broker's parameters take it: ns >= 0, or the feed's own
Latency = int | Literal["feed"]
#: the market event being handled when an order or a notification leaves
MarketEvent = TickEvent | QuoteEvent | OrderBookEvent


class Clock(Protocol):
    """What the broker reads "now" from: the channel being dispatched (its latest event)."""

    @property
    def channel_type(self) -> str: ...

    @property
    def latest(self) -> MarketEvent | None: ...

    @property
    def latest_ts(self) -> int | None:
        """The time (ns) of ``latest`` without reading it (a columnar book builds it then)."""
        ...


@runtime_checkable
class LatencyModel(Protocol):
    """How long an order takes to reach the market, and its news to come back.

    Both methods get the market event being handled (None while a timer or a user event is),
    and return ns >= 0.
    """

    def entry(self, event: MarketEvent | None) -> int:
        """Entry latency: an order submitted now becomes active at the first event at or after
        its creation time plus this."""
        ...

    def response(self, event: MarketEvent | None) -> int:
        """Response latency: a notification sent now reaches the strategy at the first event
        at or after the current event time plus this."""
        ...


def check_latency(name: str, value: object) -> Latency:
    """``value`` if it is a latency (ns >= 0, or ``"feed"``); else a ValueError naming it."""
    if value == "feed":
        return "feed"
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ValueError(f"{name}={value!r}: must be an int of ns >= 0 or 'feed'")


def feed_latency(event: MarketEvent | None) -> int:
    """``recv_timestamp - timestamp`` of ``event`` (0 without one, or without receive times)."""
    if event is None:
        return 0
    recv = getattr(event, "recv_timestamp", None)  # (any channel's event: a user's has none)
    if recv is None:
        return 0
    return max(int(recv) - int(event[0]), 0)


class OrderLatency:
    """Constant entry and response latencies, or the feed's own (``"feed"``).

    Parameters
    ----------
    entry_ns : int or "feed", default 0
        Entry latency in ns; ``"feed"``: the data's own latency when the order is submitted.
    response_ns : int or "feed", default 0
        Response latency in ns; ``"feed"``: the data's own latency when the broker sends the
        notification.

    Examples
    --------
    >>> btch.TickBroker(latency=OrderLatency(entry_ns=2_000_000, response_ns="feed"))
    """

    __slots__ = ("entry_ns", "response_ns")

    def __init__(self, entry_ns: Latency = 0, response_ns: Latency = 0) -> None:
        self.entry_ns = check_latency("entry_ns", entry_ns)
        self.response_ns = check_latency("response_ns", response_ns)

    def entry(self, event: MarketEvent | None) -> int:
        ns = self.entry_ns
        return feed_latency(event) if ns == "feed" else ns

    def response(self, event: MarketEvent | None) -> int:
        ns = self.response_ns
        return feed_latency(event) if ns == "feed" else ns

    def __repr__(self) -> str:
        return f"OrderLatency(entry_ns={self.entry_ns!r}, response_ns={self.response_ns!r})"


def constant_latencies(model: LatencyModel) -> tuple[int | None, int | None]:
    """The entry and response latencies of ``model`` when they are constants (an
    :class:`OrderLatency` of ints, not a subclass), each None when the model must be asked."""
    if type(model) is not OrderLatency:  # (a subclass may read the event: ask it each time)
        return None, None
    entry, response = model.entry_ns, model.response_ns
    return (
        None if isinstance(entry, str) else entry,
        None if isinstance(response, str) else response,
    )


def latency_model(
    model: object, latency_ns: object = 0, response_latency_ns: object = 0
) -> LatencyModel:
    """The broker's latency model: ``model`` (``TickBroker(latency=...)``) when given, else the
    :class:`OrderLatency` of ``latency_ns`` and ``response_latency_ns``. A ValueError names
    the parameter that is wrong."""
    entry = check_latency("latency_ns", latency_ns)
    response = check_latency("response_latency_ns", response_latency_ns)
    if model is None:
        return OrderLatency(entry, response)
    if not isinstance(model, LatencyModel):
        raise ValueError(
            f"latency={model!r}: must be None or a LatencyModel (entry and response methods, "
            "e.g. OrderLatency(entry_ns=..., response_ns=...)); constant latencies are "
            "latency_ns= and response_latency_ns="
        )
    if entry != 0 or response != 0:
        raise ValueError(
            f"latency={model!r} with latency_ns={entry!r}, response_latency_ns={response!r}: "
            "give the model or the ns parameters, not both"
        )
    return model


class DelayedNotifications(deque):
    """The broker's notification deque, holding each notification until its due time.

    ``append`` stamps each notification with ``now + response latency`` (the broker's
    :class:`LatencyModel`); the engine's notifier takes the due ones with :meth:`due`. The
    deque is truthy while anything waits, so the engine looks at it on every event until it
    is empty."""

    def __init__(self, broker: TickBroker) -> None:
        super().__init__()
        self.broker = broker
        self.stamps: deque[int] = deque()

    def append(self, order: bt.Order) -> None:
        broker = self.broker
        clock = broker.clock
        latency = broker.response_ns
        if latency is None:  # (a model that reads the event)
            latency = broker.latency_model.response(None if clock is None else clock.latest)
        self.stamps.append(broker.current_ns() + latency)
        super().append(order)

    def due(self, final: bool = False) -> list[bt.Order]:
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
