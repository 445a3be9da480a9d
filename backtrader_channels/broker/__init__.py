"""Tick-level broker: BackBroker accounting, event-by-event fills."""

from .orders import TickBuyOrder, TickSellOrder
from .tickbroker import TickBroker

__all__ = ["TickBroker", "TickBuyOrder", "TickSellOrder"]
