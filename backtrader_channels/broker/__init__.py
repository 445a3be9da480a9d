"""Tick-level broker: BackBroker accounting, event-by-event fills, and its fill models."""

from .comminfo import FractionalCommInfo
from .models import FeeModel, MakerTaker, ProbQueue, QueueModel, RiskAverseQueue
from .orders import TickBuyOrder, TickSellOrder
from .tickbroker import TickBroker

__all__ = [
    "FeeModel",
    "FractionalCommInfo",
    "MakerTaker",
    "ProbQueue",
    "QueueModel",
    "RiskAverseQueue",
    "TickBroker",
    "TickBuyOrder",
    "TickSellOrder",
]
