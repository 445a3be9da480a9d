"""Kept for compatibility: now :mod:`backtrader_channels.loopback.base`."""

from ..loopback.base import LoopbackServer, SendTimes, pace_to, quiet_collector

__all__ = ["LoopbackServer", "SendTimes", "pace_to", "quiet_collector"]
