"""The loopback Bybit: v5 public spot market data (:mod:`.exchange`) and the private side
(:mod:`.private`) on 127.0.0.1; what both share is in :mod:`.protocol`."""

from .exchange import BybitLoopback, point_bybit_at

__all__ = ["BybitLoopback", "point_bybit_at"]
