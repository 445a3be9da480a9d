"""Live feeds: ccxt.pro WebSocket streams, and the loopback replay exchange."""

from .ccxt_feed import CCXTLiveFeed
from .replay_server import ReplayExchange, point_ccxt_at

__all__ = ["CCXTLiveFeed", "ReplayExchange", "point_ccxt_at"]
