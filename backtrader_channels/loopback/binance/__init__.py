"""The loopback Binance: public spot market data (:mod:`.exchange`, :mod:`.rest`) and the
private side (:mod:`.private`) on 127.0.0.1."""

from .exchange import LAP_ID_GAP, BinanceLoopback, point_binance_at

__all__ = ["LAP_ID_GAP", "BinanceLoopback", "point_binance_at"]
