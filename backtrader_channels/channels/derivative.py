"""DerivativeChannel: a perpetual contract's mark price, index price and funding."""

from __future__ import annotations

import math

from ..events import ChannelType, DerivativeEvent, EventPriority
from .base import Channel


class DerivativeChannel(Channel):
    """Mark price, index price, funding rate and next funding time of one perpetual contract.

    Sources give some of these fields at a time (Binance's ``markPriceKlines`` only the mark,
    its ``fundingRate`` history only settled rates): each attribute keeps the last value any
    event gave, NaN (``next_funding_ts``: None) before one did. ``latest`` is the last event,
    ``last_settlement`` the last funding settlement (an event with ``funding_ts``).
    """

    channel_type = ChannelType.DERIVATIVE
    priority = int(EventPriority.DERIVATIVE)
    latest: DerivativeEvent | None

    def __init__(self, symbol: str, history_size: int = 1000) -> None:
        super().__init__(symbol, history_size)
        self.reset()

    def reset(self) -> None:
        """Forget all events and values."""
        super().reset()
        self.mark_price = math.nan
        self.index_price = math.nan
        self.funding_rate = math.nan
        self.next_funding_ts: int | None = None
        self.last_settlement: DerivativeEvent | None = None

    def push(self, event: DerivativeEvent) -> bool:
        """Apply one event: the fields it gives replace the channel's."""
        self.latest = event
        self.history.append(event)
        self.count += 1
        if event.mark_price == event.mark_price:  # not NaN
            self.mark_price = event.mark_price
        if event.index_price == event.index_price:
            self.index_price = event.index_price
        if event.funding_ts is not None:
            self.last_settlement = event
        elif event.funding_rate == event.funding_rate:
            self.funding_rate = event.funding_rate
        if event.next_funding_ts is not None:
            self.next_funding_ts = event.next_funding_ts
        return True

    @property
    def premium(self) -> float | None:
        """Mark minus index, None until both are known."""
        value = self.mark_price - self.index_price
        return None if math.isnan(value) else value
