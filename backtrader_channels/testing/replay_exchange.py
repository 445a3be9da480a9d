"""Kept for compatibility: the loopback Binance is now :mod:`backtrader_channels.loopback.binance`
(``ReplayExchange`` is ``BinanceLoopback``, ``point_ccxt_at`` is ``point_binance_at``,
``serve_in_subprocess`` is ``serve_binance_in_subprocess``)."""

from ..loopback.base import Faults, pace_to
from ..loopback.binance.exchange import (
    DEFAULT_CAPTURE,
    DEFAULT_EXCHANGE_INFO,
    LAP_ID_GAP,
    exchange_times,
    load_capture,
)
from ..loopback.binance.exchange import BinanceLoopback as ReplayExchange
from ..loopback.binance.exchange import point_binance_at as point_ccxt_at
from ..loopback.serve import serve_binance_in_subprocess as serve_in_subprocess

__all__ = [
    "DEFAULT_CAPTURE",
    "DEFAULT_EXCHANGE_INFO",
    "LAP_ID_GAP",
    "Faults",
    "ReplayExchange",
    "exchange_times",
    "load_capture",
    "pace_to",
    "point_ccxt_at",
    "serve_in_subprocess",
]
