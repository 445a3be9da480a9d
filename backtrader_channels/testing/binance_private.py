"""Kept for compatibility: now :mod:`backtrader_channels.loopback.binance.private`."""

from ..loopback.binance.private import BinancePrivate
from ..loopback.private_side import PrivateFaults

__all__ = ["BinancePrivate", "PrivateFaults"]
