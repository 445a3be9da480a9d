"""Channel base class: the latest event of one (channel type, symbol[, venue]) plus a bounded
history."""

from __future__ import annotations

from collections import deque
from typing import Any, ClassVar

from ..events import channel_key, instrument_name


class Channel:
    """State of one stream of events, keyed ``(channel_type, symbol)``, or
    ``(channel_type, symbol, venue)`` once :meth:`set_venue` named its venue.

    ``latest`` is the last event pushed (``None`` before the first), ``history`` a deque of the
    last ``history_size`` events, ``count`` the number of events pushed so far.
    """

    channel_type: ClassVar[str] = ""
    priority: ClassVar[int] = 0

    def __init__(self, symbol: str, history_size: int = 1000) -> None:
        if not symbol:
            raise ValueError(f"{type(self).__name__} needs a symbol")
        if history_size < 0:
            raise ValueError("history_size must be >= 0")
        self.symbol = symbol
        #: the venue (``"bybit"``), or ``""`` in a run that names none
        self.venue = ""
        self.key: tuple[str, ...] = (self.channel_type, symbol)
        self.latest: Any = None
        self.history: deque[Any] = deque(maxlen=history_size)
        self.count = 0

    def set_venue(self, venue: str | None) -> None:
        """Name the channel's venue: its key becomes ``(type, symbol, venue)``."""
        if venue is not None and (not isinstance(venue, str) or not venue.strip()):
            raise ValueError(f"a venue is a non-empty name such as 'bybit', got {venue!r}")
        self.venue = venue or ""
        self.key = channel_key(self.channel_type, self.symbol, venue)

    @property
    def instrument_name(self) -> str:
        """The name of the data feed this channel's orders and positions belong to:
        ``"BTC/USDT"``, or ``"BTC/USDT@bybit"`` on a named venue."""
        return instrument_name(self.symbol, self.venue)

    def reset(self) -> None:
        """Forget all events (a new run starts from an empty channel)."""
        self.latest = None
        self.history.clear()
        self.count = 0

    def push(self, event: Any) -> None:
        """Apply one event: it becomes ``latest`` and joins the history."""
        self.latest = event
        self.history.append(event)
        self.count += 1

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.instrument_name} events={self.count}>"
