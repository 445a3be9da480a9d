"""What ccxt does not unify across venues, for the venue session: finding and cancelling an
order by its client id, the private stream's login, and what to ask once before the first order.

ccxt's unified ``params={"clientOrderId": ...}`` works for Binance's queries and cancels; Bybit
takes ``orderLinkId``, and its ``fetch_order`` refuses to run on a unified account without an
``acknowledged`` flag (it can see only the last 500 orders), so the Bybit dialect asks the
endpoints themselves: ``/v5/order/realtime`` (open and recent orders), then
``/v5/order/history``.
"""

from __future__ import annotations

from typing import Any, Protocol

import ccxt


class Dialect(Protocol):
    """How a venue session asks one venue's ccxt client what ccxt leaves venue-specific."""

    async def prepare(self, ex: Any, fast: Any) -> None:
        """Once, after ``load_markets``: what every order would otherwise ask first."""

    async def fetch_by_client_id(self, ex: Any, cid: str, symbol: str) -> dict[str, Any]:
        """The order with client id ``cid`` (``ccxt.OrderNotFound`` when the venue has none)."""

    async def cancel_by_client_id(self, ex: Any, cid: str, symbol: str) -> dict[str, Any]:
        """Cancel the order with client id ``cid``."""

    async def authenticate(self, ex: Any) -> None:
        """Log the private stream in, where the venue needs it done before watching."""


class UnifiedDialect:
    """ccxt's unified client-id parameter (Binance and most venues)."""

    async def prepare(self, ex: Any, fast: Any) -> None:
        return None

    async def fetch_by_client_id(self, ex: Any, cid: str, symbol: str) -> dict[str, Any]:
        return dict(await ex.fetch_order(None, symbol, {"clientOrderId": cid}))

    async def cancel_by_client_id(self, ex: Any, cid: str, symbol: str) -> dict[str, Any]:
        order = dict(await ex.cancel_order(None, symbol, {"clientOrderId": cid}))
        info = order.get("info") or {}
        return dict(order, clientOrderId=info.get("origClientOrderId") or cid)

    async def authenticate(self, ex: Any) -> None:
        return None


class BinanceDialect(UnifiedDialect):
    """Binance: the user data stream logs in on the WebSocket API first."""

    async def authenticate(self, ex: Any) -> None:
        await ex.authenticate()


class BybitDialect(UnifiedDialect):
    """Bybit v5 (unified trading account): ``orderLinkId``, and the order endpoints asked
    directly (see module doc)."""

    async def prepare(self, ex: Any, fast: Any) -> None:
        # create_order asks whether the account is unified (two requests) unless it is known
        await ex.is_unified_enabled()
        for key in ("enableUnifiedMargin", "enableUnifiedAccount", "unifiedMarginStatus"):
            fast.options[key] = ex.options.get(key)

    async def fetch_by_client_id(self, ex: Any, cid: str, symbol: str) -> dict[str, Any]:
        market = ex.market(symbol)
        request = {"category": ex.get_bybit_type("fetchOrder", market, {})[0],
                   "symbol": market["id"], "orderLinkId": cid}  # fmt: skip
        for ask in (ex.privateGetV5OrderRealtime, ex.privateGetV5OrderHistory):
            rows = ((await ask(request)).get("result") or {}).get("list") or []
            if rows:
                return dict(ex.parse_order(rows[0], market))
        raise ccxt.OrderNotFound(f"{ex.id}: no order with orderLinkId {cid}")

    async def cancel_by_client_id(self, ex: Any, cid: str, symbol: str) -> dict[str, Any]:
        order = dict(await ex.cancel_order(None, symbol, {"orderLinkId": cid}))
        return dict(order, clientOrderId=order.get("clientOrderId") or cid)


def dialect_for(exchange: Any) -> Dialect:
    """The dialect of ``exchange`` (by its ccxt id; ccxt's unified parameters otherwise)."""
    return {"binance": BinanceDialect, "bybit": BybitDialect}.get(
        str(getattr(exchange, "id", "")), UnifiedDialect
    )()
