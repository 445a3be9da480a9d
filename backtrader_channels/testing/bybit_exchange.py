"""Kept for compatibility: the loopback Bybit is now :mod:`backtrader_channels.loopback.bybit`
(``BybitExchange`` is ``BybitLoopback``)."""

from ..loopback.bybit.exchange import INSTRUMENT, SYMBOL, load_recording, point_bybit_at
from ..loopback.bybit.exchange import BybitLoopback as BybitExchange
from ..loopback.serve import serve_bybit_in_subprocess

__all__ = [
    "INSTRUMENT",
    "SYMBOL",
    "BybitExchange",
    "load_recording",
    "point_bybit_at",
    "serve_bybit_in_subprocess",
]
