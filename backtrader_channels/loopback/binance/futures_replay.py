"""What the loopback Binance USDⓈ-M replays: a recording in the package's Parquet schema (the
bundled perpetual sample by default) turned into Binance USDⓈ-M's own WebSocket frames, in the
order the backtest's merge gives them (exchange time, then the channel's priority: mark prices,
book diffs, best bid/ask, trades).

* book: the recording's first book event is the REST snapshot (``lastUpdateId``); each later one
  a ``depthUpdate`` with ``U``, ``u`` and ``pu`` (the previous diff's ``u``: the futures
  chaining rule);
* trades: ``trade`` frames (``t``, ``p``, ``q``, ``m``: the buyer is the maker when the
  aggressor sold);
* best bid/ask: ``bookTicker`` frames;
* mark prices: ``markPriceUpdate`` frames (``p`` mark, ``i`` index, ``r`` funding rate, ``T``
  next funding time); a settlement row (``funding_ts`` set) sends no frame: the venue settles
  the account then (:class:`Item` ``kind`` ``"settle"``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ...btypes import JsonDict
from ...datasets import Sample
from ...events import ChannelType, DerivativeEvent, OrderBookEvent, QuoteEvent, TickEvent
from ...sources.formats import open_source

_MS = 1_000_000
#: kind -> its rank among items of the same millisecond (the backtest's priorities)
_RANK = {"settle": 0, "mark": 1, "depth": 2, "bookTicker": 3, "trade": 4}


@dataclass(frozen=True)
class Item:
    """One replayed item: exchange time (ms), kind (``depth``, ``trade``, ``bookTicker``,
    ``mark``, ``settle``) and its Binance frame data (times unshifted)."""

    ms: int
    kind: str
    data: JsonDict


def _text(x: float) -> str:
    return repr(float(x))


def _read(path: str, kind: str, symbol: str) -> list[Any]:
    return [e for _, chunk in open_source(path, kind, symbol) for e in chunk]


def load_replay(sample: Sample, market_id: str) -> tuple[JsonDict, list[Item]]:
    """The REST depth snapshot and the items of ``sample`` (see module doc), for the venue's
    market id ``market_id`` (``ETHUSDT``)."""
    items: list[Item] = []
    sym = sample.symbol
    snapshot = _book(_read(sample.orderbook, ChannelType.ORDERBOOK, sym), sample.orderbook,
                     market_id, items)  # fmt: skip
    trades: list[TickEvent] = _read(sample.trades, ChannelType.TICK, sym)
    for t in trades:
        ms = t.timestamp // _MS
        data = {
            "e": "trade",
            "E": ms,
            "T": ms,
            "s": market_id,
            "t": int(t.trade_id or 0),
            "p": _text(t.price),
            "q": _text(t.volume),
            "X": "MARKET",
            "m": t.direction == "sell",
        }
        items.append(Item(ms, "trade", data))
    if sample.quotes:
        quotes: list[QuoteEvent] = _read(sample.quotes, ChannelType.QUOTE, sym)
        for q in quotes:
            ms = q.timestamp // _MS
            data = {
                "e": "bookTicker",
                "u": int(getattr(q, "update_id", None) or 0),
                "s": market_id,
                "b": _text(q.bid_price),
                "B": _text(q.bid_size),
                "a": _text(q.ask_price),
                "A": _text(q.ask_size),
                "T": ms,
                "E": ms,
            }
            items.append(Item(ms, "bookTicker", data))
    if sample.derivative:
        marks: list[DerivativeEvent] = _read(sample.derivative, ChannelType.DERIVATIVE, sym)
        items.extend(_derivative(d, market_id) for d in marks)
    items.sort(key=lambda it: (it.ms, _RANK[it.kind]))  # stable: arrival order within a kind
    return snapshot, items


def _nan0(x: float) -> float:
    return 0.0 if x is None or math.isnan(x) else float(x)


def _derivative(d: DerivativeEvent, market_id: str) -> Item:
    ms = d.timestamp // _MS
    if d.funding_ts is not None:
        data: JsonDict = {"s": market_id, "fundingTime": d.funding_ts // _MS}
        data["r"] = _nan0(d.funding_rate)
        data["p"] = _nan0(d.mark_price)
        return Item(ms, "settle", data)
    index = d.index_price if not math.isnan(d.index_price) else d.mark_price
    data = {
        "e": "markPriceUpdate",
        "E": ms,
        "s": market_id,
        "p": _text(d.mark_price),
        "ap": _text(d.mark_price),
        "P": _text(d.mark_price),
        "i": _text(index),
        "r": _text(_nan0(d.funding_rate)),
        "T": d.next_funding_ts // _MS if d.next_funding_ts is not None else 0,
    }
    return Item(ms, "mark", data)


def _book(events: list[OrderBookEvent], path: str, market_id: str, items: list[Item]) -> JsonDict:
    """The book's items, appended to ``items``; its first (snapshot) event as a REST snapshot."""
    if not events or not events[0].is_snapshot:
        raise ValueError(f"{path}: the book must open with a snapshot")
    first = events[0]
    ms0 = first.timestamp // _MS
    levels = lambda side: [[_text(p), _text(q)] for p, q in side]  # noqa: E731
    snapshot = {"lastUpdateId": int(first.last_update_id or 0), "E": ms0, "T": ms0,
                "bids": levels(first.bids), "asks": levels(first.asks)}  # fmt: skip
    prev_u = int(first.last_update_id or 0)
    for ev in events[1:]:
        ms = ev.timestamp // _MS
        u = int(ev.last_update_id or 0)
        data = {
            "e": "depthUpdate",
            "E": ms,
            "T": ms,
            "s": market_id,
            "U": int(ev.first_update_id or u),
            "u": u,
            "pu": prev_u,
            "b": levels(ev.bids),
            "a": levels(ev.asks),
        }
        items.append(Item(ms, "depth", data))
        prev_u = u
    return snapshot
