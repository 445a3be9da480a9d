"""The loopback Binance's private side: Binance spot's signed REST and WebSocket-API user data.

* Signed REST (HMAC-SHA256 of the query, or of the form body for POST and PUT, with the
  ``X-MBX-APIKEY`` header; ``timestamp`` within ``recvWindow`` of the server's clock):
  ``POST/GET/DELETE /api/v3/order``, ``POST /api/v3/order/cancelReplace`` (:mod:`.amend`),
  ``GET/DELETE /api/v3/openOrders``, ``GET /api/v3/myTrades``, ``GET /api/v3/account``;
  Binance's error codes and messages.
* ``/ws-api/v3``: ``userDataStream.subscribe.signature`` (signed over the key-sorted params),
  then ``executionReport`` and ``outboundAccountPosition`` events as
  ``{"subscriptionId": 0, "event": {...}}``.

Orders fill against the replayed market (:mod:`..account`). Fault switches are on
:class:`~..private_side.PrivateFaults` (``server.private_faults``).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from ...btypes import JsonDict
from ..account import VenueError, public_order
from ..base import unavailable
from ..book import BinanceBook
from ..private_side import PrivateFaults, SignedHandler, sign
from .amend import BinanceSpotAmend
from .rest import binance_error

__all__ = ["BinancePrivate", "PrivateFaults"]


def _err(e: VenueError) -> web.Response:
    return binance_error(e.status, e.code, e.msg)


class BinancePrivate(BinanceSpotAmend):
    """The private routes; :class:`~.exchange.BinanceLoopback` mixes them in and opens the
    account (:meth:`~..private_side.PrivateSide._open_account`)."""

    book: BinanceBook

    def add_private_routes(self, app: web.Application) -> None:
        """Register the signed REST endpoints and the WebSocket API."""
        self._ws_api: dict[web.WebSocketResponse, asyncio.Queue[str]] = {}
        r = app.router
        r.add_post("/api/v3/order", self._signed(self._new_order))
        r.add_get("/api/v3/order", self._signed(self._get_order))
        r.add_delete("/api/v3/order", self._signed(self._cancel_order))
        r.add_post("/api/v3/order/cancelReplace", self._signed(self._cancel_replace))
        r.add_get("/api/v3/openOrders", self._signed(self._open_orders))
        r.add_delete("/api/v3/openOrders", self._signed(self._cancel_open))
        r.add_get("/api/v3/myTrades", self._signed(self._my_trades))
        r.add_get("/api/v3/account", self._signed(self._account))
        r.add_get("/ws-api/v3", self._ws_api_handler)
        self.account.listeners.append(self._user_event)

    # ---- signing ------------------------------------------------------------------------------
    def _check_signed(self, params: dict[str, str], payload: str, key: str | None) -> None:
        if key != self.api_key:
            raise VenueError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        head, sep, signature = payload.rpartition("&signature=")
        if not sep or not hmac.compare_digest(sign(self.api_secret, head), signature):
            raise VenueError(400, -1022, "Signature for this request is not valid.")
        ts = int(params.get("timestamp", "0"))
        window = int(params.get("recvWindow", "5000"))
        now = self.server_ms()
        if ts >= now + 1000 or now - ts > window:
            raise VenueError(400, -1021, "Timestamp for this request is outside of the recvWindow.")

    def _signed(self, handler: SignedHandler) -> Handler:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            f = self.private_faults
            if f.rate_limit > 0:
                f.rate_limit -= 1
                return _err(VenueError(429, -1003, "Too many requests; current limit is 6000."))
            payload = request.query_string
            params = dict(request.query)
            if request.method in ("POST", "PUT"):
                body = await request.text()
                if body:
                    payload = f"{payload}&{body}" if payload else body
                    params.update({k: v for k, v in (await request.post()).items()})  # type: ignore[misc]
            try:
                self._check_signed(params, payload, request.headers.get("X-MBX-APIKEY"))
                return await handler(request, params)
            except VenueError as e:
                return _err(e)

        return wrapped

    # ---- REST ---------------------------------------------------------------------------------
    async def _new_order(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        self.order_times[q.get("newClientOrderId", "")] = time.time_ns()
        f = self.private_faults
        if f.fail_503 > 0:
            f.fail_503 -= 1
            return unavailable()
        order = self.account.place(q, self._best())
        self.order_requests.append(("new", order["clientOrderId"]))
        if f.unknown_5xx > 0:
            f.unknown_5xx -= 1
            msg = "Timeout waiting for response from backend server. Send status unknown; "
            return _err(VenueError(500, -1007, msg + "execution status unknown."))
        return await self._answer(request, public_order(order, full=True))

    def _lookup(self, q: dict[str, str]) -> JsonDict:
        return self.account.find(q.get("symbol", ""), q.get("orderId"), q.get("origClientOrderId"))

    async def _get_order(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        return web.json_response(public_order(self._lookup(q)))

    async def _cancel_order(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        try:
            order = self._lookup(q)
        except VenueError:
            raise VenueError(400, -2011, "Unknown order sent.") from None
        self.account.cancel(order)
        self.order_requests.append(("cancel", order["clientOrderId"]))
        body = dict(
            public_order(order),
            origClientOrderId=order["clientOrderId"],
            clientOrderId=q.get("newClientOrderId") or f"cancel{order['orderId']}",
        )
        return await self._answer(request, body)

    async def _open_orders(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        orders = self.account.open_orders(q.get("symbol"))
        return web.json_response([public_order(o) for o in orders])

    async def _cancel_open(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        out = []
        for order in self.account.open_orders(q.get("symbol")):
            self.account.cancel(order)
            self.order_requests.append(("cancel", order["clientOrderId"]))
            out.append(dict(public_order(order), origClientOrderId=order["clientOrderId"]))
        return web.json_response(out)

    async def _my_trades(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        symbol = q.get("symbol")
        trades = [t for t in self.account.trades if t["symbol"] == symbol]
        if "fromId" in q:
            trades = [t for t in trades if t["id"] >= int(q["fromId"])]
        if "startTime" in q:
            trades = [t for t in trades if t["time"] >= int(q["startTime"])]
        if "orderId" in q:
            trades = [t for t in trades if t["orderId"] == int(q["orderId"])]
        limit = min(int(q.get("limit", "500")), 1000)
        return web.json_response(trades[:limit])

    async def _account(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        return web.json_response(
            {
                "makerCommission": 10,
                "takerCommission": 10,
                "buyerCommission": 0,
                "sellerCommission": 0,
                "canTrade": True,
                "canWithdraw": True,
                "canDeposit": True,
                "updateTime": self.server_ms(),
                "accountType": "SPOT",
                "balances": self.account.balances(),
                "permissions": ["SPOT"],
            }
        )

    # ---- WebSocket API ------------------------------------------------------------------------
    async def _ws_api_handler(self, request: web.Request) -> web.WebSocketResponse:
        return await self._private_socket(request, self._ws_request, self._forget_ws_api)

    def _forget_ws_api(self, ws: web.WebSocketResponse) -> None:
        self._ws_api.pop(ws, None)

    def _ws_request(
        self, ws: web.WebSocketResponse, queue: asyncio.Queue[str], req: JsonDict
    ) -> JsonDict:
        rid = req.get("id")
        if req.get("method") != "userDataStream.subscribe.signature":
            return {"id": rid, "status": 400, "error": {"code": -1100, "msg": "Unknown method."}}
        params = {k: str(v) for k, v in (req.get("params") or {}).items()}
        signature = params.pop("signature", "")
        payload = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
        try:
            if self.private_faults.reject_subscribe:
                raise VenueError(400, -1022, "Signature for this request is not valid.")
            self._check_signed(params, f"{payload}&signature={signature}", params.get("apiKey"))
        except VenueError as e:
            return {"id": rid, "status": e.status, "error": {"code": e.code, "msg": e.msg}}
        self._ws_api[ws] = queue
        return {"id": rid, "status": 200, "result": {"subscriptionId": 0}}

    def _user_event(self, event: JsonDict) -> None:
        f = self.private_faults
        if f.mute_events > 0:
            f.mute_events -= 1
            return
        text = json.dumps({"subscriptionId": 0, "event": event})
        for queue in self._ws_api.values():
            queue.put_nowait(text)
        if event.get("X") == "FILLED":
            self.fill_times[event["c"]] = time.time_ns()

    def _private_sockets(self) -> list[web.WebSocketResponse]:
        return list(self._ws_api)
