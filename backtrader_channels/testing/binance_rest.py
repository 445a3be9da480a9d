"""Kept for compatibility: now :mod:`backtrader_channels.loopback.binance.rest`."""

from ..loopback.binance.rest import RECENT, BinanceRest, TradeHistory

__all__ = ["RECENT", "BinanceRest", "TradeHistory"]
