"""Filling gaps in a live trade stream from REST, with trades whose ids are the stream's own.

A gap in trade ids after a reconnect can only be filled from an endpoint that returns the same
ids as the WebSocket stream. Which endpoint that is, if any, is the venue's to say: its module
registers a :class:`TradeSource` factory (``live/venue_parts.py``; Binance's recent and
historical trades, ``venues/binance``; a window of recent trades, :class:`RecentTrades`, for
Bybit). A venue with no such endpoint gets no source: its gaps are reported at once, never
filled with trades whose ids mean something else.
"""

from __future__ import annotations

import ccxt

from ..events import CcxtDict
from .venue_parts import CcxtExchange, TradeSource, live_parts

__all__ = ["RecentTrades", "TradeSource", "by_id", "int_id", "trade_source"]


def int_id(trade: CcxtDict) -> int | None:
    try:
        return int(trade.get("id"))  # type: ignore[arg-type]  # (None: a TypeError, below)
    except (TypeError, ValueError):
        return None


def by_id(trades: list[CcxtDict], first: int, last: int) -> dict[int, CcxtDict]:
    """The trades with ``first <= id <= last``, by id."""
    out = {}
    for t in trades:
        i = int_id(t)
        if i is not None and first <= i <= last:
            out[i] = t
    return out


class RecentTrades:
    """A venue's recent trades only (Bybit's ``/v5/market/recent-trade``: its ``execId`` is
    the stream's trade id ``i``; up to 60 trades on spot, 1,000 on contracts). What is older
    than the window is reported, not filled."""

    def __init__(self, exchange: CcxtExchange, limit: int):
        self.exchange, self.limit = exchange, limit

    async def between(
        self, symbol: str, first: int, last: int
    ) -> tuple[list[CcxtDict], str | None]:
        """See :meth:`TradeSource.between`."""
        try:
            recent = list(await self.exchange.fetch_trades(symbol, limit=self.limit))
        except ccxt.BaseError as exc:
            return [], f"recent trades: {type(exc).__name__}"
        found = by_id(recent, first, last)
        ids = [i for i in map(int_id, recent) if i is not None]
        if ids and min(ids) <= first:
            return [found[i] for i in sorted(found)], None
        return [found[i] for i in sorted(found)], "older than the venue's recent trades"


def trade_source(exchange: CcxtExchange) -> TradeSource | None:
    """The backfill source ``exchange``'s venue registered, or None (its gaps are reported,
    never filled with trades whose ids mean something else)."""
    factory = live_parts(exchange).trade_source
    return factory(exchange) if factory is not None else None
