"""Channel base class: the latest event of one (channel type, symbol[, venue]) plus a bounded
history."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from types import MappingProxyType
from typing import ClassVar, Generic, TypeAlias, TypeVar

from ..events import OrderBookEvent, QuoteEvent, TickEvent, channel_key, instrument_name

#: an event a channel applies: a trade, a quote or an order book update
MarketEvent: TypeAlias = TickEvent | QuoteEvent | OrderBookEvent
#: a channel's key: ``(type, symbol)``, or ``(type, symbol, venue)``
ChannelKey: TypeAlias = tuple[str, ...]
#: the type of event a channel holds (``TickEvent`` for a ``TickChannel``, ...); a bare
#: ``Channel`` is a channel of any type
EventT = TypeVar("EventT")

#: the refusals of a channel that refuses nothing (every channel but the order book)
_NO_REFUSALS: Mapping[str, int] = MappingProxyType({})


class Channel(Generic[EventT]):
    """State of one stream of events, keyed ``(channel_type, symbol)``, or
    ``(channel_type, symbol, venue)`` once :meth:`set_venue` named its venue.

    ``latest`` is the last event pushed (``None`` before the first), ``history`` a deque of the
    last ``history_size`` events, ``count`` the number of events pushed so far.

    A subclass may override :meth:`push` (and return False for an event it refuses). The
    dispatch loop applies a trade to a channel whose ``plain_push`` is True without calling
    ``push`` (it does what ``Channel.push`` does, inline); ``plain_push`` turns False by
    itself in every subclass that defines its own ``push``, so an override is always called.
    """

    channel_type: ClassVar[str] = ""
    priority: ClassVar[int] = 0
    #: True while ``push`` is :meth:`Channel.push` (the loop may apply events inline); set to
    #: False for every subclass that overrides ``push`` (:meth:`__init_subclass__`)
    plain_push: ClassVar[bool] = True
    #: events refused, by reason (only an order book refuses: ``OrderBookChannel.refused``)
    refused: Mapping[str, int] = _NO_REFUSALS

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "push" in cls.__dict__:
            cls.plain_push = False

    def __init__(self, symbol: str, history_size: int = 1000) -> None:
        if not symbol:
            raise ValueError(f"{type(self).__name__} needs a symbol")
        if history_size < 0:
            raise ValueError("history_size must be >= 0")
        self.symbol = symbol
        #: the venue (``"bybit"``), or ``""`` in a run that names none
        self.venue = ""
        self.key: tuple[str, ...] = (self.channel_type, symbol)
        self.latest: EventT | None = None
        self.history: deque[EventT] = deque(maxlen=history_size)
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

    @property
    def latest_ts(self) -> int | None:
        """The time (ns) of the latest event, None before the first."""
        ev = self.latest
        return None if ev is None else ev[0]  # type: ignore[index]

    @property
    def mid_price(self) -> float | None:
        """The mid of the best bid and ask: None here (a channel of trades has no book); a
        quote or order book channel says it."""
        return None

    def push(self, event: EventT) -> bool:
        """Apply one event: it becomes ``latest`` and joins the history. Returns True; a
        subclass returns False for an event it refuses (it then reaches no strategy)."""
        self.latest = event
        self.history.append(event)
        self.count += 1
        return True

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.instrument_name} events={self.count}>"
