"""Channels: per (channel type, symbol) state that strategies read."""

from .base import Channel
from .keys import ChannelMap
from .orderbook import OrderBookChannel
from .quote import QuoteChannel
from .tick import TickChannel

CHANNEL_CLASSES: dict[str, type[Channel]] = {
    TickChannel.channel_type: TickChannel,
    QuoteChannel.channel_type: QuoteChannel,
    OrderBookChannel.channel_type: OrderBookChannel,
}

__all__ = [
    "CHANNEL_CLASSES",
    "Channel",
    "ChannelMap",
    "OrderBookChannel",
    "QuoteChannel",
    "TickChannel",
]
