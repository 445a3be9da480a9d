"""Tick-level broker: BackBroker accounting, event-by-event fills, and its fill models."""

from .book import BookTop
from .comminfo import FractionalCommInfo
from .latency import LatencyModel, OrderLatency
from .models import FeeModel, MakerTaker, ProbQueue, QueueModel, RiskAverseQueue
from .orders import TickBuyOrder, TickSellOrder
from .tickbroker import TickBroker

__all__ = [
    "BookTop",
    "FeeModel",
    "FractionalCommInfo",
    "LatencyModel",
    "MakerTaker",
    "OrderLatency",
    "ProbQueue",
    "QueueModel",
    "RiskAverseQueue",
    "TickBroker",
    "TickBuyOrder",
    "TickSellOrder",
]
