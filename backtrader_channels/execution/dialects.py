"""What ccxt does not unify across venues, for the venue session: finding and cancelling an
order by its client id, the private stream's login, and what to ask once before the first order.

ccxt's unified ``params={"clientOrderId": ...}`` works for most venues' queries and cancels
(:class:`UnifiedDialect`); a venue that differs registers its own under its ccxt id (its module
in ``venues/``: Binance's stream login, Bybit's ``orderLinkId`` and order endpoints). Also what
every venue shares at that seam: an order's flags as ccxt's unified parameters
(:func:`venue_flags`), and the market-data streams a run waits for before its first order
(:func:`unfed`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal, Protocol

from ..btypes import BtOrder, JsonDict
from ..events import CcxtDict
from ..live.feed import LiveFeed
from ..live.venue_parts import CcxtExchange

#: how a venue amends an order (``CCXTBroker.amend``, :mod:`.amend`): in place (the same
#: order), by a cancel-replace (a new order with a new id), or not at all
AmendStyle = Literal["in_place", "replace", "none"]


class Dialect(Protocol):
    """How a venue session asks one venue's ccxt client what ccxt leaves venue-specific."""

    async def prepare(self, ex: CcxtExchange, fast: CcxtExchange) -> None:
        """Once, after ``load_markets``: what every order would otherwise ask first."""

    async def fetch_by_client_id(self, ex: CcxtExchange, cid: str, symbol: str) -> CcxtDict:
        """The order with client id ``cid`` (``ccxt.OrderNotFound`` when the venue has none)."""

    async def cancel_by_client_id(self, ex: CcxtExchange, cid: str, symbol: str) -> CcxtDict:
        """Cancel the order with client id ``cid``."""

    async def authenticate(self, ex: CcxtExchange) -> None:
        """Log the private stream in, where the venue needs it done before watching. The
        venue session never runs two logins at once."""

    def wallet(self, balance: CcxtDict, asset: str) -> float | None:
        """A derivatives account's wallet balance in ``asset`` (without unrealized profit)
        from ``fetch_balance``'s answer, or None when it does not say."""

    def funding_paid(self, row: CcxtDict) -> float:
        """What a ``fetch_funding_history`` row paid (negative: received): ccxt keeps each
        venue's sign of ``amount``."""

    def amend_style(self, ex: CcxtExchange, symbol: str) -> AmendStyle:
        """How ccxt's ``edit_order`` amends an order of ``symbol`` on this venue."""


class UnifiedDialect:
    """ccxt's unified client-id parameter (Binance and most venues)."""

    async def prepare(self, ex: CcxtExchange, fast: CcxtExchange) -> None:
        return None

    async def fetch_by_client_id(self, ex: CcxtExchange, cid: str, symbol: str) -> CcxtDict:
        return dict(await ex.fetch_order(None, symbol, {"clientOrderId": cid}))

    async def cancel_by_client_id(self, ex: CcxtExchange, cid: str, symbol: str) -> CcxtDict:
        order = dict(await ex.cancel_order(None, symbol, {"clientOrderId": cid}))
        info = order.get("info") or {}
        return dict(order, clientOrderId=info.get("origClientOrderId") or cid)

    async def authenticate(self, ex: CcxtExchange) -> None:
        return None

    def wallet(self, balance: CcxtDict, asset: str) -> float | None:
        total = (balance.get("total") or {}).get(asset)
        return None if total is None else float(total)

    def funding_paid(self, row: CcxtDict) -> float:
        """ccxt's income convention (Binance's ``income``): ``amount`` received is positive."""
        return -float(row.get("amount") or 0.0)

    def amend_style(self, ex: CcxtExchange, symbol: str) -> AmendStyle:
        """Not known to amend: a venue's dialect says how it does."""
        return "none"


#: per ccxt exchange id, what gives its dialect's class (registered by the venues' modules,
#: ``venues/``; the class is imported on first use)
_DIALECTS: dict[str, Callable[[], type[UnifiedDialect]]] = {}


def register_dialect(exchange_id: str, dialect: Callable[[], type[UnifiedDialect]]) -> None:
    """Register what gives the dialect class of the ccxt exchange id ``exchange_id`` (a venue's
    module does)."""
    _DIALECTS[exchange_id] = dialect


def dialect_for(exchange: CcxtExchange) -> Dialect:
    """The dialect of ``exchange`` (by its ccxt id; ccxt's unified parameters otherwise)."""
    factory = _DIALECTS.get(str(getattr(exchange, "id", "")))
    return (factory() if factory is not None else UnifiedDialect)()


#: an order's time in force -> ccxt's unified parameters
_TIF_PARAMS: dict[str, JsonDict] = {
    "ioc": {"timeInForce": "IOC"},
    "fok": {"timeInForce": "FOK"},
    "post_only": {"postOnly": True},
}


def venue_flags(order: BtOrder) -> JsonDict:
    """The order's flags (``reduce_only``, ``tif``) as ccxt's unified order parameters."""
    out: JsonDict = dict(_TIF_PARAMS.get(getattr(order, "tif", "gtc") or "gtc", {}))
    if getattr(order, "reduce_only", False):
        out["reduceOnly"] = True
    return out


def unfed(feeds: Iterable[LiveFeed]) -> dict[str, str]:
    """The book and quote streams of ``feeds`` that have delivered nothing yet (their
    ``health()`` says ``no data yet``): a venue answers their subscription with a snapshot at
    once, so a run waits for it before its strategies start (an order on the first trade would
    otherwise be refused for it). Trade streams are not waited for: a quiet market may print
    nothing for minutes."""
    out = {}
    for feed in feeds:
        health = getattr(feed, "health", None)
        for key, why in (health() if health is not None else {}).items():
            if str(why).startswith("no data yet") and not key.startswith("tick:"):
                out[key] = str(why)
    return out
