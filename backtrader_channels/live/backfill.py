"""Filling gaps in a live trade stream from REST, with trades whose ids are the stream's own.

A gap in trade ids after a reconnect can only be filled from an endpoint that returns the same
ids as the WebSocket stream. On Binance that is ``/api/v3/trades`` (the last 1,000 trades) and
``/api/v3/historicalTrades`` with ``fromId`` (older ones, paged); its ``aggTrades``, ccxt's
default for ``fetch_trades`` on spot, are aggregate trades with ids of their own, and must never
fill a trade gap. The endpoint is chosen per call (``params``): the exchange instance the user
passed in is never changed. A venue with no such endpoint gets no source: its gaps are reported
at once, never filled with trades whose ids mean something else.
"""

from __future__ import annotations

from typing import Any, Protocol

import ccxt

#: ccxt exchange ids whose REST trades carry the WebSocket stream's trade ids
_BINANCE_LIKE = ("binance", "binanceus")


class TradeSource(Protocol):
    """Where a feed gets the trades of an id range it missed."""

    async def between(self, symbol: str, first: int, last: int) -> tuple[list[Any], str | None]:
        """The venue's trades with ``first <= id <= last`` (ccxt trade dicts, in id order), and
        why some are missing (None when nothing is)."""
        ...


def trade_source(exchange: Any) -> TradeSource | None:
    """The backfill source for ``exchange``, or None when ccxt offers no endpoint with the
    stream's trade ids."""
    if getattr(exchange, "id", None) in _BINANCE_LIKE:
        return BinanceTrades(exchange)
    if getattr(exchange, "id", None) == "bybit":
        return RecentTrades(exchange, 1000)
    return None


def _int_id(trade: Any) -> int | None:
    try:
        return int(trade.get("id"))
    except (TypeError, ValueError):
        return None


def _by_id(trades: list[Any], first: int, last: int) -> dict[int, Any]:
    """The trades with ``first <= id <= last``, by id."""
    out = {}
    for t in trades:
        i = _int_id(t)
        if i is not None and first <= i <= last:
            out[i] = t
    return out


class BinanceTrades:
    """Binance's recent trades for short gaps, ``historicalTrades`` paged by ``fromId`` for
    longer ones (ccxt sends the API key that endpoint asks for; without one it is not tried)."""

    PAGE = 1000  # Binance's largest ``limit`` for both endpoints

    def __init__(self, exchange: Any, max_pages: int = 100):
        self.exchange = exchange
        self.max_pages = max_pages

    def _method(self, symbol: str, name: str) -> str:
        """``publicGetTrades`` (spot), ``fapiPublicGetTrades`` (USD-M), ``dapiPublic...``."""
        market = self.exchange.market(symbol)
        if market.get("linear"):
            prefix = "fapiPublic"
        elif market.get("inverse"):
            prefix = "dapiPublic"
        else:
            prefix = "public"
        return f"{prefix}Get{name}"

    async def _page(self, symbol: str, name: str, **params: Any) -> list[Any]:
        params["fetchTradesMethod"] = self._method(symbol, name)
        return list(await self.exchange.fetch_trades(symbol, limit=self.PAGE, params=params))

    async def between(self, symbol: str, first: int, last: int) -> tuple[list[Any], str | None]:
        """See :meth:`TradeSource.between`."""
        try:
            recent = await self._page(symbol, "Trades")
        except ccxt.BaseError as exc:
            return [], f"recent trades: {type(exc).__name__}"
        found = _by_id(recent, first, last)
        ids = [i for i in map(_int_id, recent) if i is not None]
        oldest = min(ids) if ids else None
        if oldest is not None and oldest <= first:
            return [found[i] for i in sorted(found)], None
        upto = min(oldest - 1, last) if oldest is not None else last  # older than the window
        if not getattr(self.exchange, "apiKey", None):
            reason: str | None = "older than the recent trades; historicalTrades needs an API key"
        else:
            reason = await self._historical(symbol, first, upto, found)
        return [found[i] for i in sorted(found)], reason

    async def _historical(
        self, symbol: str, first: int, last: int, found: dict[int, Any]
    ) -> str | None:
        """Page ``historicalTrades`` from ``first`` up to ``last`` into ``found``; why it
        stopped short, or None."""
        cursor, pruned = first, None
        for _ in range(self.max_pages):
            try:
                page = await self._page(symbol, "HistoricalTrades", fromId=cursor)
            except ccxt.BaseError as exc:
                return f"historicalTrades: {type(exc).__name__}"
            ids = [i for i in map(_int_id, page) if i is not None]
            if not ids:
                return pruned or "historicalTrades returned nothing"
            if min(ids) > cursor:  # ids from cursor on are gone; later ones may follow
                pruned = "the venue no longer keeps the oldest of these trades"
            found.update(_by_id(page, cursor, last))
            cursor = max(ids) + 1
            if cursor > last:
                return pruned
        return f"more than {self.max_pages} pages of {self.PAGE}"


class RecentTrades:
    """A venue's recent trades only (Bybit's ``/v5/market/recent-trade``: its ``execId`` is
    the stream's trade id ``i``; up to 60 trades on spot, 1,000 on contracts). What is older
    than the window is reported, not filled."""

    def __init__(self, exchange: Any, limit: int):
        self.exchange, self.limit = exchange, limit

    async def between(self, symbol: str, first: int, last: int) -> tuple[list[Any], str | None]:
        """See :meth:`TradeSource.between`."""
        try:
            recent = list(await self.exchange.fetch_trades(symbol, limit=self.limit))
        except ccxt.BaseError as exc:
            return [], f"recent trades: {type(exc).__name__}"
        found = _by_id(recent, first, last)
        ids = [i for i in map(_int_id, recent) if i is not None]
        if ids and min(ids) <= first:
            return [found[i] for i in sorted(found)], None
        return [found[i] for i in sorted(found)], "older than the venue's recent trades"
