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
    quotes: str | None = None
    #: the venue the recording stands for
    venue: str = "binance"
    #: mark prices and funding (a perpetual's ``derivative`` channel), if the sample has them
    derivative: str | None = None
    #: the venue's market (``spot``, ``linear``, ``inverse``)
    market: str = "spot"


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


def bybit_btcusdt_sample() -> Sample:
    """The Binance sample re-framed in Bybit's public-archive formats, 150 ms later (a second
    venue for multi-venue runs; not Bybit's market, see ``data/README.md``): a derivatives
    trade file (9,757 trades) and an ``ob500`` book archive (3,453 messages)."""
    base = os.path.join(_DATA_DIR, "bybit_btcusdt_20240808")
    return Sample(
        symbol="BTC/USDT",
        trades=os.path.join(base, "BTCUSDT2024-08-08.csv.gz"),
        orderbook=os.path.join(base, "2024-08-08_BTCUSDT_ob500.data.zip"),
        venue="bybit",
    )


def binance_ethusdt_perp_sample() -> Sample:
    """Binance USDⓈ-M perpetual ETH/USDT:USDT, the last 100 s of a real capture (2024-08-08
    23:58:21 to 2024-08-09 00:00:01 UTC, exchange time): 5,366 trades, 1,900 book updates (a
    snapshot, then the capture's diffs) and 16,558 best bid/ask updates; and **generated** mark
    prices and funding consistent with the book (101 events: one a second, and the funding
    settlement at 00:00:00 UTC at 0.01%), see ``data/README.md``."""
    base = os.path.join(_DATA_DIR, "binance_ethusdt_perp_20240808")
    return Sample(
        symbol="ETH/USDT:USDT",
        trades=os.path.join(base, "trades.parquet"),
        orderbook=os.path.join(base, "orderbook.parquet"),
        quotes=os.path.join(base, "quotes.parquet"),
        derivative=os.path.join(base, "derivative.parquet"),
        market="linear",
    )


def binance_ethusdt_perp_capture_head() -> str:
    """The first 1,000 lines (6.5 s) of the raw Binance USDⓈ-M ETHUSDT WebSocket capture the
    perp sample was made from (``<receive_ns> <json>`` lines: depth diffs chained by ``pu``,
    the REST snapshot on line 41, read after the diff that straddles it)."""
    return os.path.join(_DATA_DIR, "binance_ethusdt_perp_20240808_head_capture.jsonl.gz")


def binance_btcusdt_capture() -> str:
    """The raw Binance WebSocket capture the sample was converted from (``<receive_ns> <json>``
    lines: the REST depth snapshot, then trade, depth and bookTicker frames); what the loopback
    replay exchange replays."""
    return os.path.join(_DATA_DIR, "binance_btcusdt_20240808_capture.jsonl.gz")


def binance_exchange_info() -> str:
    """A subset of Binance's ``exchangeInfo`` (spot, USD-M, COIN-M) for the loopback exchange."""
    return os.path.join(_DATA_DIR, "binance_exchangeInfo_subset_2021.json")
