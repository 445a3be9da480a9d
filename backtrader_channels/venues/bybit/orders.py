"""Bybit v5's orders through ccxt: ``orderLinkId``, and the order endpoints asked directly.

Bybit takes ``orderLinkId`` where ccxt's unified parameter is ``clientOrderId``, and its
``fetch_order`` refuses to run on a unified account without an ``acknowledged`` flag (it can
see only the last 500 orders), so the dialect asks the endpoints themselves:
``/v5/order/realtime`` (open and recent orders), then ``/v5/order/history``.
"""

from __future__ import annotations

import ccxt

from ...events import CcxtDict
from ...execution.dialects import AmendStyle, UnifiedDialect
from ...live.venue_parts import CcxtExchange


class BybitDialect(UnifiedDialect):
    """Bybit v5 (unified trading account): see module doc."""

    def amend_style(self, ex: CcxtExchange, symbol: str) -> AmendStyle:
        """``/v5/order/amend`` amends in place (spot, linear, inverse)."""
        return "in_place"

    async def prepare(self, ex: CcxtExchange, fast: CcxtExchange) -> None:
        # create_order asks whether the account is unified (two requests) unless it is known
        await ex.is_unified_enabled()
        for key in ("enableUnifiedMargin", "enableUnifiedAccount", "unifiedMarginStatus"):
            fast.options[key] = ex.options.get(key)

    async def fetch_by_client_id(self, ex: CcxtExchange, cid: str, symbol: str) -> CcxtDict:
        market = ex.market(symbol)
        request = {"category": ex.get_bybit_type("fetchOrder", market, {})[0],
                   "symbol": market["id"], "orderLinkId": cid}  # fmt: skip
        for ask in (ex.privateGetV5OrderRealtime, ex.privateGetV5OrderHistory):
            rows = ((await ask(request)).get("result") or {}).get("list") or []
            if rows:
                return dict(ex.parse_order(rows[0], market))
        raise ccxt.OrderNotFound(f"{ex.id}: no order with orderLinkId {cid}")

    async def cancel_by_client_id(self, ex: CcxtExchange, cid: str, symbol: str) -> CcxtDict:
        order = dict(await ex.cancel_order(None, symbol, {"orderLinkId": cid}))
        return dict(order, clientOrderId=order.get("clientOrderId") or cid)

    def wallet(self, balance: CcxtDict, asset: str) -> float | None:
        """A unified account's ``walletBalance`` of ``asset`` (without unrealized profit:
        its ``equity`` has it)."""
        result = (balance.get("info") or {}).get("result") or {}
        for account in result.get("list") or []:
            for row in account.get("coin") or []:
                if row.get("coin") == asset and row.get("walletBalance") not in (None, ""):
                    return float(row["walletBalance"])
        return super().wallet(balance, asset)

    def funding_paid(self, row: CcxtDict) -> float:
        """Bybit's funding ``execFee`` (ccxt's ``amount``) is what the account paid: positive
        paid, negative received."""
        return float(row.get("amount") or 0.0)
