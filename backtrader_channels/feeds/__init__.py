"""Live feeds by their first names: ``btch.feeds.CCXTLiveFeed``, ``ReplayExchange``, ... .

The code lives in :mod:`backtrader_channels.live` (the ccxt.pro feed) and
:mod:`backtrader_channels.loopback` (the loopback exchanges); this module keeps the names
users already import (``ReplayExchange`` is ``BinanceLoopback``, ``point_ccxt_at`` is
``point_binance_at``).
"""

from ..live.ccxt_feed import CCXTLiveFeed
from ..live.faults import FeedError
from ..loopback.binance.exchange import BinanceLoopback, point_binance_at
from ..loopback.bybit.exchange import BybitLoopback, point_bybit_at

ReplayExchange = BinanceLoopback
point_ccxt_at = point_binance_at

__all__ = [
    "BinanceLoopback",
    "BybitLoopback",
    "CCXTLiveFeed",
    "FeedError",
    "ReplayExchange",
    "point_binance_at",
    "point_bybit_at",
    "point_ccxt_at",
]
