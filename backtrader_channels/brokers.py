"""Brokers by their first names: ``btch.brokers.CCXTBroker`` (real orders through ccxt) beside
``btch.brokers.TickBroker`` (paper fills on recorded or live ticks)."""

from .broker import PerpetualCommInfo, TickBroker
from .execution.broker import CCXTBroker
from .execution.risk import RiskLimits

__all__ = ["CCXTBroker", "PerpetualCommInfo", "RiskLimits", "TickBroker"]
