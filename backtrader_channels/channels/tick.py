"""TickChannel: the trade stream of one symbol."""

from __future__ import annotations

from ..events import ChannelType, EventPriority, TickEvent
from .base import Channel


class TickChannel(Channel[TickEvent]):
    """Trades of one symbol; ``latest`` is the last :class:`~backtrader_channels.TickEvent`."""

    channel_type = ChannelType.TICK
    priority = int(EventPriority.TICK)
    latest: TickEvent | None

    @property
    def last_price(self) -> float | None:
        """Price of the last trade, ``None`` before the first."""
        return None if self.latest is None else self.latest.price
