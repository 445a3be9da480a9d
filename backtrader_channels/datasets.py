"""Bundled real sample data (see ``backtrader_channels/data/README.md`` for its origin)."""

from __future__ import annotations

import os
from dataclasses import dataclass

_DATA_DIR = os.path.join(os.path.dirname(__file__), "data")


@dataclass(frozen=True)
class Sample:
    """Paths of one bundled recording in the native Parquet schema."""

    symbol: str
    trades: str
    orderbook: str
    quotes: str


def binance_btcusdt_sample() -> Sample:
    """Binance spot BTC/USDT, 2024-08-08 23:54-23:59 UTC: 9,757 trades, 3,450 book updates
    (snapshot + diffs) and 28,040 best bid/ask updates."""
    base = os.path.join(_DATA_DIR, "binance_btcusdt_20240808")
    return Sample(
        symbol="BTC/USDT",
        trades=os.path.join(base, "trades.parquet"),
        orderbook=os.path.join(base, "orderbook.parquet"),
        quotes=os.path.join(base, "quotes.parquet"),
    )
