"""Binance's orders through ccxt: what its unified client-id parameters leave out."""

from __future__ import annotations

import ccxt

from ...events import CcxtDict
from ...execution.dialects import AmendStyle, UnifiedDialect
from ...live.venue_parts import CcxtExchange

#: the prefix of the futures ccxt.pro's Binance login leaves on its clients while one is in flight
_LOGIN_FLIGHT = "authenticate:"


class BinanceDialect(UnifiedDialect):
    """Binance: ``clientOrderId`` is ccxt's unified parameter; the user data stream logs in on
    the WebSocket API before it is watched."""

    async def authenticate(self, ex: CcxtExchange) -> None:
        """Log the user data stream in. The session calls this one at a time, so a login
        flight ccxt.pro still holds is stale: a login refused while its socket closed raised
        ``KeyError`` inside ccxt before the flight was settled, and every later login waited
        on it for ever (the private stream never came back). Such a flight is failed first."""
        for client in list(ex.clients.values()):
            for key in [k for k in client.futures if str(k).startswith(_LOGIN_FLIGHT)]:
                client.reject(ccxt.NetworkError("an earlier login did not finish"), key)
        await ex.authenticate()

    def amend_style(self, ex: CcxtExchange, symbol: str) -> AmendStyle:
        """Futures (USDⓈ-M, COIN-M) modify an order in place; spot's ``edit_order`` is
        ``cancelReplace``: a new order with a new id."""
        return "replace" if ex.market(symbol).get("spot") else "in_place"

    def wallet(self, balance: CcxtDict, asset: str) -> float | None:
        """USDⓈ-M and COIN-M: the asset's ``walletBalance`` in the account answer (ccxt's
        ``total`` there includes the unrealized profit); spot: its total."""
        for row in (balance.get("info") or {}).get("assets") or []:
            if row.get("asset") == asset:
                return float(row.get("walletBalance") or 0.0)
        return super().wallet(balance, asset)
