"""backtrader-channels: tick and order-book channels and an event-ordered tick mode for backtrader.

``import backtrader_channels as btch`` changes nothing in backtrader; use ``btch.Cerebro`` and
``run(mode=btch.RunMode.TICK)`` to dispatch recorded events to ``on_tick``/``on_quote``/
``on_orderbook``/``on_event`` callbacks of ordinary ``bt.Strategy`` subclasses.
"""

from . import datasets
from .broker import TickBroker
from .channels import Channel, OrderBookChannel, QuoteChannel, TickChannel
from .engine.bars import BarChannel, PartialBar
from .engine.bridge import ChannelBridge
from .engine.cerebro import Cerebro, RunMode
from .engine.instrument import InstrumentData
from .engine.queue import BacktestEventQueue
from .errors import ChannelError, DataError
from .events import (
    ChannelType,
    Event,
    EventPriority,
    Level,
    OrderBookEvent,
    QuoteEvent,
    TickEvent,
    ns_to_num,
)

__version__ = "0.1.0"

__all__ = [
    "BacktestEventQueue",
    "BarChannel",
    "PartialBar",
    "Cerebro",
    "Channel",
    "ChannelBridge",
    "ChannelError",
    "ChannelType",
    "DataError",
    "Event",
    "EventPriority",
    "InstrumentData",
    "Level",
    "OrderBookChannel",
    "OrderBookEvent",
    "QuoteChannel",
    "QuoteEvent",
    "RunMode",
    "TickBroker",
    "TickChannel",
    "TickEvent",
    "datasets",
    "ns_to_num",
]
