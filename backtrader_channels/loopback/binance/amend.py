"""Amending an open order on the loopback Binance: USDⓈ-M's ``PUT /fapi/v1/order`` (modify in
place) and spot's ``POST /api/v3/order/cancelReplace`` (cancel, then a new order), as ccxt's
``edit_order`` sends them.

* ``PUT /fapi/v1/order`` (*Modify Order*,
  https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/Modify-Order):
  ``symbol``, ``side``, ``quantity``, ``price`` (all four mandatory: -1102), ``orderId`` or
  ``origClientOrderId`` (the id prevails; none found: -2013). The account's rules
  (:func:`..amend_rules.amend_futures`): LIMIT only (-5025), the filters (-4003, -1111,
  -1013) and the margin (-2019) as for a new order, -5027 when nothing changes, a GTX order
  that would take expires and is answered -5022; every modification requeues the order.
  The answer is the order as ``GET /fapi/v1/order`` shows it; the user stream gets an
  ``ORDER_TRADE_UPDATE`` with execution type ``AMENDMENT``.
* ``POST /api/v3/order/cancelReplace`` (*Cancel an Existing Order and Send a New Order*,
  https://developers.binance.com/docs/binance-spot-api-docs/rest-api/trading-endpoints):
  the new order's filters are checked first (a failure is a plain error, nothing done);
  then the cancel (``cancelOrderId`` or ``cancelOrigClientOrderId``; ``cancelNewClientOrderId``
  names the cancel), then the new order (``type`` LIMIT, MARKET or LIMIT_MAKER, which is
  refused -2010 when it would take). Answers: both done, HTTP 200 ``{"cancelResult":
  "SUCCESS", "newOrderResult": "SUCCESS", "cancelResponse", "newOrderResponse"}``; the cancel
  failed under ``cancelReplaceMode`` STOP_ON_FAILURE (or both failed), HTTP 400 ``-2022``
  "Order cancel-replace failed." with those four in ``data`` (``newOrderResult``
  NOT_ATTEMPTED, ``newOrderResponse`` null, ``cancelResponse`` the -2011 error); one of the
  two failed, HTTP 409 ``-2021`` "Order cancel-replace partially failed.". The new order has
  a new id and rests behind the orders already there (Binance: "time priority is lost",
  https://developers.binance.com/docs/binance-spot-api-docs/faqs/order_amend_keep_priority).
  The user stream gets the old order's ``executionReport`` CANCELED, then the new one's NEW.
"""

from __future__ import annotations

from decimal import Decimal

from aiohttp import web

from ...btypes import JsonDict
from ..account import VenueError, dec, public_order
from ..amend_rules import REQUEUE_ALWAYS, amend_futures
from ..futures_account import FuturesAccount
from ..futures_account import public_order as futures_order
from ..futures_rules import malformed, number
from ..private_side import PrivateSide

__all__ = ["BinanceFuturesAmend", "BinanceSpotAmend"]

_MODES = ("STOP_ON_FAILURE", "ALLOW_FAILURE")
_WOULD_TAKE = "Order would immediately match and take."


class BinanceFuturesAmend(PrivateSide):
    """``PUT /fapi/v1/order`` of :class:`~.futures_private.BinanceFuturesPrivate`."""

    account: FuturesAccount  # type: ignore[assignment]  # the futures account, not spot's

    async def _modify_order(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        for key in ("symbol", "side", "quantity", "price"):
            if not q.get(key):
                raise malformed(key)
        if "orderId" not in q and "origClientOrderId" not in q:
            raise malformed("orderId")
        a = self.account
        order = a.find(q["symbol"], q.get("orderId"), q.get("origClientOrderId"))
        if q["side"] != order["side"]:
            raise malformed("side")
        qty, price = number(q, "quantity"), number(q, "price")
        mark = a.marks.get(order["symbol"])
        amend_futures(a, order, qty, price, self._best(), mark, REQUEUE_ALWAYS)
        self.order_requests.append(("amend", order["clientOrderId"]))
        return await self._answer(request, futures_order(order))


def _json(body: JsonDict | None, status: int = 200) -> web.Response:
    return web.json_response(body, status=status)


class BinanceSpotAmend(PrivateSide):
    """``POST /api/v3/order/cancelReplace`` of :class:`~.private.BinancePrivate`."""

    async def _cancel_replace(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        params, price, best = self._replace_params(q)
        maker_only = q["type"] == "LIMIT_MAKER"
        cancel, cancelled = self._replace_cancel(q)
        if not cancelled and q["cancelReplaceMode"] == "STOP_ON_FAILURE":
            return _json(_failed(cancel, "NOT_ATTEMPTED", None), 400)
        placed: JsonDict | None = None
        try:
            if maker_only and _would_take(q["side"], price, best):
                raise VenueError(400, -2010, _WOULD_TAKE)
            order = self.account.place(params, best)
            if maker_only:
                order["type"] = "LIMIT_MAKER"
            self.order_requests.append(("new", order["clientOrderId"]))
            placed = public_order(order, full=q.get("newOrderRespType") == "FULL")
            new: JsonDict = placed
        except VenueError as e:
            new = {"code": e.code, "msg": e.msg}
        results = {
            "cancelResult": "SUCCESS" if cancelled else "FAILURE",
            "newOrderResult": "SUCCESS" if placed is not None else "FAILURE",
            "cancelResponse": cancel,
            "newOrderResponse": new,
        }
        if cancelled and placed is not None:
            return await self._answer(request, results)
        if not cancelled and placed is None:
            return _json(_failed(cancel, "FAILURE", new), 400)
        msg = "Order cancel-replace partially failed."
        return _json({"code": -2021, "msg": msg, "data": results}, 409)

    def _replace_params(
        self, q: dict[str, str]
    ) -> tuple[dict[str, str], Decimal | None, tuple[float | None, float | None]]:
        """The new order's parameters in the account's names, its price and the best bid and
        ask, once the request and the new order's filters pass (else nothing is done)."""
        if q.get("cancelReplaceMode") not in _MODES:
            raise malformed("cancelReplaceMode")
        for key in ("symbol", "side", "type"):
            if not q.get(key):
                raise malformed(key)
        if "cancelOrderId" not in q and "cancelOrigClientOrderId" not in q:
            raise malformed("cancelOrderId")
        info = self.account.symbols.get(q["symbol"])
        if info is None:
            raise VenueError(400, -1121, "Invalid symbol.")
        if q["type"] not in ("LIMIT", "MARKET", "LIMIT_MAKER"):
            raise VenueError(400, -1116, "Invalid orderType.")
        keys = ("symbol", "side", "quantity", "price")
        params: dict[str, str] = {k: q[k] for k in keys if k in q}
        params["type"] = "MARKET" if q["type"] == "MARKET" else "LIMIT"
        if q.get("newClientOrderId"):
            params["newClientOrderId"] = q["newClientOrderId"]
        price = dec(q["price"]) if "price" in q and params["type"] == "LIMIT" else None
        best = self._best()
        qty = dec(q.get("quantity", "0"))
        self.account._check_filters(info, params["type"], qty, price, best)
        return params, price, best

    def _replace_cancel(self, q: dict[str, str]) -> tuple[JsonDict, bool]:
        """The cancel half: ``(cancelResponse, whether it was cancelled)``."""
        a = self.account
        try:
            old = a.find(q["symbol"], q.get("cancelOrderId"), q.get("cancelOrigClientOrderId"))
            a.cancel(old)
        except VenueError:
            return {"code": -2011, "msg": "Unknown order sent."}, False
        self.order_requests.append(("cancel", old["clientOrderId"]))
        name = q.get("cancelNewClientOrderId") or f"cancel{old['orderId']}"
        body = dict(public_order(old), origClientOrderId=old["clientOrderId"], clientOrderId=name)
        return body, True


def _would_take(side: str, price: Decimal | None, best: tuple[float | None, float | None]) -> bool:
    """Whether a limit order at ``price`` would match the best opposite price at once."""
    opposite = best[1] if side == "BUY" else best[0]
    if opposite is None or price is None:
        return False
    at = dec(opposite)
    return at <= price if side == "BUY" else at >= price


def _failed(cancel: JsonDict, new_result: str, new: JsonDict | None) -> JsonDict:
    """Binance's -2022 answer: the cancel failed (and the new order too, or not tried)."""
    data = {"cancelResult": "FAILURE", "newOrderResult": new_result,
            "cancelResponse": cancel, "newOrderResponse": new}  # fmt: skip
    return {"code": -2022, "msg": "Order cancel-replace failed.", "data": data}
