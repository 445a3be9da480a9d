"""Channels: per (channel type, symbol) state that strategies read."""

from .base import Channel
from .derivative import DerivativeChannel
from .keys import ChannelMap
from .orderbook import OrderBookChannel
from .quote import QuoteChannel
from .tick import TickChannel

CHANNEL_CLASSES: dict[str, type[Channel]] = {
    TickChannel.channel_type: TickChannel,
    QuoteChannel.channel_type: QuoteChannel,
    OrderBookChannel.channel_type: OrderBookChannel,
    DerivativeChannel.channel_type: DerivativeChannel,
}

__all__ = [
    "CHANNEL_CLASSES",
    "Channel",
    "ChannelMap",
    "DerivativeChannel",
    "OrderBookChannel",
    "QuoteChannel",
    "TickChannel",
]
