"""backtrader-channels: tick and order-book channels and an event-ordered tick mode for backtrader.

``import backtrader_channels as btch`` changes nothing in backtrader; use ``btch.Cerebro`` and
``run(mode=btch.RunMode.TICK)`` to dispatch recorded events to ``on_tick``/``on_quote``/
``on_orderbook``/``on_event`` callbacks of ordinary ``bt.Strategy`` subclasses.
"""

from . import datasets
from .broker import (
    Bracket,
    FractionalCommInfo,
    Instrument,
    Instruments,
    MakerTaker,
    PerpetualCommInfo,
    ProbQueue,
    RiskAverseQueue,
    TickBroker,
)
from .cerebro import Cerebro, RunMode
from .channels import Channel, OrderBookChannel, QuoteChannel, TickChannel
from .dispatch.queue import BacktestEventQueue
from .errors import BacktraderChannelsError, ChannelError, DataError
from .events import (
    ChannelType,
    Event,
    EventPriority,
    Level,
    OrderBookEvent,
    QuoteEvent,
    TickEvent,
    channel_key,
    instrument_name,
    ns_to_num,
)
from .execution.risk import RiskLimits
from .lines.bars import BarChannel, PartialBar
from .lines.bridge import ChannelBridge
from .lines.instrument import InstrumentData
from .live.queue import LiveEventQueue
from .live.validator import LiveDataValidator
from .venues import PROFILES as _VENUES  # noqa: F401 - registers every venue's profile

__version__ = "0.2.0"


#: modules imported on first use: ``feeds``/``live``/``loopback``/``testing`` bring ccxt (about
#: 0.9 s to import); ``report``, ``recorder`` and ``plot`` are the names they had before ``app/``;
#: ``sweep`` holds the parameter sweeps (grids, per-day splits, walk-forward, search).
_LAZY = {
    "feeds": ".feeds",
    "brokers": ".brokers",
    "live": ".live",
    "loopback": ".loopback",
    "testing": ".testing",
    "app": ".app",
    "report": ".app.report",
    "recorder": ".app.recorder",
    "plot": ".app.plot",
    "sweep": ".sweep",
    "spread": ".spread",
    "alerts": ".alerts",
    "dashboard": ".dashboard",
    "download": ".download",
    "html_report": ".app.html_report",
}


def __getattr__(name: str) -> object:
    """Import the modules of ``_LAZY`` on first use."""
    if name in _LAZY:
        import importlib

        module = importlib.import_module(_LAZY[name], __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BacktestEventQueue",
    "BacktraderChannelsError",
    "BarChannel",
    "Bracket",
    "Cerebro",
    "Channel",
    "ChannelBridge",
    "ChannelError",
    "ChannelType",
    "DataError",
    "Event",
    "EventPriority",
    "FractionalCommInfo",
    "Instrument",
    "InstrumentData",
    "Instruments",
    "Level",
    "LiveDataValidator",
    "LiveEventQueue",
    "MakerTaker",
    "OrderBookChannel",
    "OrderBookEvent",
    "PartialBar",
    "PerpetualCommInfo",
    "ProbQueue",
    "QuoteChannel",
    "QuoteEvent",
    "RiskAverseQueue",
    "RiskLimits",
    "RunMode",
    "TickBroker",
    "TickChannel",
    "TickEvent",
    "brokers",
    "channel_key",
    "datasets",
    "feeds",
    "instrument_name",
    "ns_to_num",
    "spread",
]
