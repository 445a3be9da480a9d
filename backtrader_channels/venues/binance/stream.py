"""Binance on a live stream: its public frames told apart, and the REST trades that carry the
stream's own trade ids (the backfill source of a gap in them).

Binance's ``/api/v3/trades`` (the last 1,000 trades) and ``/api/v3/historicalTrades`` with
``fromId`` (older ones, paged) carry the stream's ids; its ``aggTrades``, ccxt's default for
``fetch_trades`` on spot, are aggregate trades with ids of their own and must never fill a trade
gap. The endpoint is chosen per call (``params``): the exchange instance the user passed in is
never changed. USDⓈ-M and COIN-M have the same endpoints under ``fapi`` and ``dapi``.
"""

from __future__ import annotations

import ccxt

from ...btypes import JsonDict
from ...events import CcxtDict
from ...live.backfill import by_id, int_id
from ...live.venue_parts import CcxtExchange

_BINANCE = {"trade": "tick", "depthUpdate": "orderbook", "markPriceUpdate": "derivative"}


def frame_kind(message: JsonDict) -> tuple[str, str] | None:
    """``(channel type, market id)`` of a public frame (raw or combined streams: ``trade``,
    ``depthUpdate``, ``bookTicker``, a contract's ``markPriceUpdate``), else None."""
    data = message.get("data", message) if "stream" in message else message
    if type(data) is not dict:
        return None
    e = data.get("e")
    if e is None:  # bookTicker carries no event type: its update id and both sides
        return ("quote", data["s"]) if "u" in data and "b" in data and "s" in data else None
    kind = _BINANCE.get(e)
    return (kind, data.get("s", "")) if kind is not None else None


class BinanceTrades:
    """Binance's recent trades for short gaps, ``historicalTrades`` paged by ``fromId`` for
    longer ones (ccxt sends the API key that endpoint asks for; without one it is not tried)."""

    PAGE = 1000  # Binance's largest ``limit`` for both endpoints

    def __init__(self, exchange: CcxtExchange, max_pages: int = 100):
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

    async def _page(self, symbol: str, name: str, **params: object) -> list[CcxtDict]:
        params["fetchTradesMethod"] = self._method(symbol, name)
        return list(await self.exchange.fetch_trades(symbol, limit=self.PAGE, params=params))

    async def between(
        self, symbol: str, first: int, last: int
    ) -> tuple[list[CcxtDict], str | None]:
        """See :meth:`TradeSource.between`."""
        try:
            recent = await self._page(symbol, "Trades")
        except ccxt.BaseError as exc:
            return [], f"recent trades: {type(exc).__name__}"
        found = by_id(recent, first, last)
        ids = [i for i in map(int_id, recent) if i is not None]
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
        self, symbol: str, first: int, last: int, found: dict[int, CcxtDict]
    ) -> str | None:
        """Page ``historicalTrades`` from ``first`` up to ``last`` into ``found``; why it
        stopped short, or None."""
        cursor, pruned = first, None
        for _ in range(self.max_pages):
            try:
                page = await self._page(symbol, "HistoricalTrades", fromId=cursor)
            except ccxt.BaseError as exc:
                return f"historicalTrades: {type(exc).__name__}"
            ids = [i for i in map(int_id, page) if i is not None]
            if not ids:
                return pruned or "historicalTrades returned nothing"
            if min(ids) > cursor:  # ids from cursor on are gone; later ones may follow
                pruned = "the venue no longer keeps the oldest of these trades"
            found.update(by_id(page, cursor, last))
            cursor = max(ids) + 1
            if cursor > last:
                return pruned
        return f"more than {self.max_pages} pages of {self.PAGE}"
