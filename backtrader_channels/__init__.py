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
from .engine.live_queue import LiveEventQueue
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
from .live.validator import LiveDataValidator

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """``btch.feeds`` is imported on first use (it brings ccxt, about 0.9 s to import)."""
    if name == "feeds":
        import importlib

        module = importlib.import_module(".feeds", __name__)
        globals()["feeds"] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    "LiveDataValidator",
    "LiveEventQueue",
    "OrderBookChannel",
    "OrderBookEvent",
    "QuoteChannel",
    "QuoteEvent",
    "RunMode",
    "TickBroker",
    "TickChannel",
    "TickEvent",
    "datasets",
    "feeds",
    "ns_to_num",
]
