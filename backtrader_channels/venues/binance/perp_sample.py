"""The bundled perpetual sample (``backtrader_channels/data/binance_ethusdt_perp_20240808/``), made
from the real Binance USDⓈ-M ETHUSDT WebSocket capture: how it was made, so it can be made again.

* ``trades.parquet``, ``quotes.parquet``, ``orderbook.parquet``: the capture's last ``seconds``
  (real data, read by the capture reader with Binance's futures rule). The book starts with a
  snapshot of the book the reader built from the whole capture up to the window's start (its
  update id is the last diff's before it), then the capture's own diffs.
* ``derivative.parquet``: **generated** mark prices and funding (the capture has no
  ``markPrice`` frames), one a second of exchange time, consistent with the book: the mark is
  the best bid/ask mid smoothed (an exponential mean, :data:`SMOOTHING` a second), the index the
  mark less a premium of :data:`PREMIUM`, the funding rate :data:`FUNDING_RATE`, the next funding
  2024-08-09 00:00:00 UTC (then 08:00), and one settlement at 00:00:00 at that rate; the
  capture's exchange time crosses midnight by about 1.15 s.
* the head of the raw capture (its first ``head_lines`` lines: the REST snapshot, the diff that
  straddles it read before it, the ``pu`` chain) as ``<receive_ns> <json>`` lines, for the
  reader's own tests.

``python -c "from backtrader_channels.venues.binance.perp_sample import write_sample;
write_sample('CAPTURE.jsonl.gz', 'backtrader_channels/data')"``
"""

from __future__ import annotations

import gzip
import os

import pyarrow.parquet as pq

from ...channels.orderbook import OrderBookChannel
from ...events import ChannelType, DerivativeEvent, OrderBookEvent, QuoteEvent
from ...sources.formats import open_source
from ...sources.schema import ChannelEvent
from ...sources.writer import events_table

SYMBOL = "ETH/USDT:USDT"
NAME = "binance_ethusdt_perp_20240808"
SMOOTHING = 0.2
PREMIUM = 0.0002
FUNDING_RATE = 0.0001
_S = 1_000_000_000
_MIDNIGHT = 1_723_161_600 * _S  # 2024-08-09 00:00:00 UTC
_FUNDING_GAP = 8 * 3600 * _S


def _events(path: str, kind: str) -> list[ChannelEvent]:
    return [e for _, chunk in open_source(path, kind, SYMBOL) for e in chunk]


def _book(book_events: list[OrderBookEvent], start: int) -> list[OrderBookEvent]:
    """The book events from ``start`` on, led by a snapshot of the book built before it."""
    chan = OrderBookChannel(SYMBOL)
    i = 0
    while i < len(book_events) and book_events[i].timestamp < start:
        chan.push(book_events[i])
        i += 1
    uid = chan.last_update_id
    snap = OrderBookEvent(
        start,
        tuple(sorted(chan.bids.items(), reverse=True)),
        tuple(sorted(chan.asks.items())),
        True,
        SYMBOL,
        start,
        uid,
        uid,
    )
    return [snap, *book_events[i:]]


def _derivative(quotes: list[QuoteEvent], start: int, end: int) -> list[DerivativeEvent]:
    """Generated mark prices (module doc), one a second from ``start`` to ``end``, and the
    settlement at midnight if the span crosses it."""
    out: list[DerivativeEvent] = []
    mark = None
    q = 0
    t = (start // _S + 1) * _S
    settled = False
    while t <= end:
        while q + 1 < len(quotes) and quotes[q + 1].timestamp <= t:
            q += 1
        mid = (quotes[q].bid_price + quotes[q].ask_price) / 2
        mark = mid if mark is None else mark + SMOOTHING * (mid - mark)
        if not settled and t >= _MIDNIGHT:
            out.append(
                DerivativeEvent(
                    _MIDNIGHT, funding_rate=FUNDING_RATE, symbol=SYMBOL, funding_ts=_MIDNIGHT
                )
            )
            settled = True
        nxt = _MIDNIGHT if t < _MIDNIGHT else _MIDNIGHT + _FUNDING_GAP
        rounded = round(mark, 2)
        out.append(
            DerivativeEvent(
                t,
                rounded,
                round(rounded / (1 + PREMIUM), 2),
                FUNDING_RATE,
                nxt,
                SYMBOL,
            )
        )
        t += _S
    return out


def write_sample(capture: str, data_dir: str, seconds: int = 100, head_lines: int = 1000) -> str:
    """Write the sample (module doc) from the USDⓈ-M capture into ``data_dir``; returns its
    folder."""
    book = _events(capture, ChannelType.ORDERBOOK)
    trades = _events(capture, ChannelType.TICK)
    quotes = _events(capture, ChannelType.QUOTE)
    end = max(book[-1].timestamp, trades[-1].timestamp, quotes[-1].timestamp)
    start = end - seconds * _S
    folder = os.path.join(data_dir, NAME)
    os.makedirs(folder, exist_ok=True)
    parts = {
        "orderbook": (_book(book, start), ChannelType.ORDERBOOK),
        "trades": ([e for e in trades if e.timestamp >= start], ChannelType.TICK),
        "quotes": ([e for e in quotes if e.timestamp >= start], ChannelType.QUOTE),
        "derivative": (_derivative(quotes, start, end), ChannelType.DERIVATIVE),
    }
    for name, (events, kind) in parts.items():
        table = events_table(events, kind, "binance", "linear")
        pq.write_table(table, os.path.join(folder, f"{name}.parquet"), compression="zstd")
    with gzip.open(capture, "rt", encoding="utf-8") as src:
        head = [next(src) for _ in range(head_lines)]
    out = os.path.join(data_dir, f"{NAME}_head_capture.jsonl.gz")
    with gzip.GzipFile(out, "wb", mtime=0) as dst:
        dst.write("".join(head).encode())
    return folder
