"""Tick-level broker: BackBroker accounting, event-by-event fills, and its fill models."""

from .models import FeeModel, MakerTaker, ProbQueue, QueueModel, RiskAverseQueue
from .orders import TickBuyOrder, TickSellOrder
from .tickbroker import TickBroker

__all__ = [
    "FeeModel",
    "MakerTaker",
    "ProbQueue",
    "QueueModel",
    "RiskAverseQueue",
    "TickBroker",
    "TickBuyOrder",
    "TickSellOrder",
]
