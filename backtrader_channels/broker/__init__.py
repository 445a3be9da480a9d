"""Tick-level broker: BackBroker accounting, event-by-event fills, its fill models, and
perpetual contracts (margin, funding, liquidation)."""

from .book import BookTop
from .comminfo import FractionalCommInfo
from .flags import TIFS, TimeInForce
from .instruments import Bracket, Instrument, InstrumentError, Instruments
from .latency import LatencyModel, OrderLatency
from .models import FeeModel, MakerTaker, ProbQueue, QueueModel, RiskAverseQueue
from .orders import TickBuyOrder, TickSellOrder
from .perpcomm import PerpetualCommInfo
from .perpetual import PerpPosition
from .tickbroker import TickBroker

__all__ = [
    "TIFS",
    "BookTop",
    "Bracket",
    "FeeModel",
    "FractionalCommInfo",
    "Instrument",
    "InstrumentError",
    "Instruments",
    "LatencyModel",
    "MakerTaker",
    "OrderLatency",
    "PerpPosition",
    "PerpetualCommInfo",
    "ProbQueue",
    "QueueModel",
    "RiskAverseQueue",
    "TickBroker",
    "TickBuyOrder",
    "TickSellOrder",
    "TimeInForce",
]
