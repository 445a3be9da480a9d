"""QuoteChannel: best bid and ask (BBO) of one symbol."""

from __future__ import annotations

from ..events import ChannelType, EventPriority, Level, QuoteEvent
from .base import Channel


class QuoteChannel(Channel[QuoteEvent]):
    """Best bid/ask updates of one symbol; ``latest`` is the last :class:`QuoteEvent`."""

    channel_type = ChannelType.QUOTE
    priority = int(EventPriority.QUOTE)
    latest: QuoteEvent | None

    @property
    def best_bid(self) -> Level | None:
        """Best bid level, ``None`` before the first quote."""
        q = self.latest
        return None if q is None else Level(q.bid_price, q.bid_size)

    @property
    def best_ask(self) -> Level | None:
        """Best ask level, ``None`` before the first quote."""
        q = self.latest
        return None if q is None else Level(q.ask_price, q.ask_size)

    @property
    def mid_price(self) -> float | None:
        """Midpoint of the last quote."""
        q = self.latest
        return None if q is None else (q.bid_price + q.ask_price) * 0.5

    @property
    def spread(self) -> float | None:
        """Ask minus bid of the last quote."""
        q = self.latest
        return None if q is None else q.ask_price - q.bid_price

    @property
    def is_crossed(self) -> bool:
        """True when the last quote has bid >= ask."""
        q = self.latest
        return q is not None and q.bid_price >= q.ask_price
