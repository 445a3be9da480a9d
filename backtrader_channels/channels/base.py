"""Channel base class: the latest event of one (channel type, symbol) plus a bounded history."""

from __future__ import annotations

from collections import deque
from typing import Any, ClassVar


class Channel:
    """State of one stream of events, keyed ``(channel_type, symbol)``.

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
        self.key: tuple[str, str] = (self.channel_type, symbol)
        self.latest: Any = None
        self.history: deque[Any] = deque(maxlen=history_size)
        self.count = 0

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
        return f"<{type(self).__name__} {self.symbol} events={self.count}>"
