"""Live feeds by their first names: ``btch.feeds.CCXTLiveFeed``, ``ReplayExchange``, ... .

The code lives in :mod:`backtrader_channels.live` (the ccxt.pro feed) and
:mod:`backtrader_channels.testing` (the loopback replay exchange); this module keeps the names
users already import.
"""

from ..live.ccxt_feed import CCXTLiveFeed
from ..live.faults import FeedError
from ..testing.replay_exchange import ReplayExchange, point_ccxt_at

__all__ = ["CCXTLiveFeed", "FeedError", "ReplayExchange", "point_ccxt_at"]
