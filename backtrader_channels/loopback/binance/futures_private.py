"""The loopback Binance USDⓈ-M's private side: the signed ``/fapi`` endpoints and the listenKey
user data stream, on the venue's own margin account (:mod:`..futures_account`).

* Signed REST (as spot: HMAC-SHA256 of the query or form body, ``X-MBX-APIKEY``, ``timestamp``
  within ``recvWindow``): ``POST/GET/DELETE /fapi/v1/order``, ``PUT /fapi/v1/order`` (modify:
  :mod:`.amend`), ``GET /fapi/v1/openOrders``,
  ``DELETE /fapi/v1/allOpenOrders``, ``GET /fapi/v1/userTrades``, ``GET /fapi/v1/income``,
  ``GET /fapi/v2|v3/account``, ``GET /fapi/v2|v3/balance``, ``GET /fapi/v2|v3/positionRisk``,
  ``GET /fapi/v1/leverageBracket``, ``POST /fapi/v1/leverage``, ``POST /fapi/v1/marginType``,
  ``GET/POST /fapi/v1/positionSide/dual``, ``GET /fapi/v1/commissionRate``; Binance's error
  codes (``-2019`` margin, ``-2022`` reduce-only, ``-4164`` notional, ``-4116`` duplicate,
  ``-5022`` post-only, ``-4046`` margin type unchanged).
* ``POST/PUT/DELETE /fapi/v1/listenKey`` (API key only), then ``/private/ws?listenKey=K``:
  ``ORDER_TRADE_UPDATE`` and ``ACCOUNT_UPDATE`` events, raw, as the venue sends them.

Fault switches are the spot side's (``server.private_faults``: a lost reply, a slow one, a
5xx of unknown outcome, a 503, the rate limit, muted events, a refused stream).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from decimal import Decimal

from aiohttp import WSMsgType, web

from ...btypes import JsonDict
from ..account import VenueError
from ..base import unavailable
from ..futures_account import FuturesAccount, public_order
from ..private_side import drain
from .amend import BinanceFuturesAmend
from .private import BinancePrivate, _err
from .rest import binance_error


class BinanceFuturesPrivate(BinanceFuturesAmend, BinancePrivate):
    """The private routes of :class:`~.futures.BinanceFuturesLoopback` (see module doc)."""

    account: FuturesAccount  # type: ignore[assignment]  # the futures account, not spot's
    symbols: dict[str, JsonDict]
    market_id: str

    def _open_futures(
        self, wallet: float, leverage: int, taker: float, maker: float, key: str, secret: str
    ) -> None:
        """The margin account, the keys it accepts, its faults and its logs."""
        self._open_margin_account(wallet, self.symbols, leverage, (taker, maker), key, secret)
        self.listen_key: str | None = None
        self._user_sockets: dict[web.WebSocketResponse, asyncio.Queue[str]] = {}

    def add_futures_private_routes(self, app: web.Application) -> None:
        """Register the signed endpoints, the listenKey and the user data socket."""
        r = app.router
        s = self._signed
        r.add_post("/fapi/v1/order", s(self._new_order))
        r.add_get("/fapi/v1/order", s(self._get_order))
        r.add_delete("/fapi/v1/order", s(self._cancel_order))
        r.add_put("/fapi/v1/order", s(self._modify_order))
        r.add_get("/fapi/v1/openOrders", s(self._open_orders))
        r.add_delete("/fapi/v1/allOpenOrders", s(self._cancel_all))
        r.add_get("/fapi/v1/userTrades", s(self._user_trades))
        r.add_get("/fapi/v1/income", s(self._income))
        for v in ("v2", "v3"):
            r.add_get(f"/fapi/{v}/account", s(self._account))
            r.add_get(f"/fapi/{v}/balance", s(self._balance))
            r.add_get(f"/fapi/{v}/positionRisk", s(self._position_risk))
        r.add_get("/fapi/v1/leverageBracket", s(self._brackets))
        r.add_post("/fapi/v1/leverage", s(self._leverage))
        r.add_post("/fapi/v1/marginType", s(self._margin_type))
        r.add_get("/fapi/v1/positionSide/dual", s(self._position_mode))
        r.add_post("/fapi/v1/positionSide/dual", s(self._set_position_mode))
        r.add_get("/fapi/v1/commissionRate", s(self._commission))
        r.add_get("/fapi/v1/forceOrders", s(self._force_orders))
        for method in ("POST", "PUT", "DELETE"):
            r.add_route(method, "/fapi/v1/listenKey", self._listen_key)
        r.add_get("/private/ws", self._user_socket)
        r.add_get("/private/ws/{n}", self._user_socket)
        self.account.listeners.append(self._user_event)

    # ---- the replayed market ------------------------------------------------------------------
    def _traded(self, price: float, ts_ms: int) -> None:
        self.last_trade = (price, self.sent)
        self.account.on_trade(price)

    def _mark(self) -> Decimal | None:
        return self.account.marks.get(self.market_id)

    # ---- orders -------------------------------------------------------------------------------
    async def _new_order(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        self.order_times[q.get("newClientOrderId", "")] = time.time_ns()
        f = self.private_faults
        if f.fail_503 > 0:
            f.fail_503 -= 1
            return unavailable()
        order = self.account.place(q, self._best(), self._mark())
        self.order_requests.append(("new", order["clientOrderId"]))
        if f.unknown_5xx > 0:
            f.unknown_5xx -= 1
            msg = "Timeout waiting for response from backend server. Send status unknown; "
            return _err(VenueError(500, -1007, msg + "execution status unknown."))
        return await self._answer(request, public_order(order))

    async def _get_order(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        return web.json_response(public_order(self._lookup(q)))

    async def _cancel_order(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        try:
            order = self._lookup(q)
        except VenueError:
            raise VenueError(400, -2011, "Unknown order sent.") from None
        self.account.cancel(order)
        self.order_requests.append(("cancel", order["clientOrderId"]))
        return await self._answer(request, public_order(order))

    async def _open_orders(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        orders = self.account.open_orders(q.get("symbol"))
        return web.json_response([public_order(o) for o in orders])

    async def _cancel_all(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        for order in self.account.open_orders(q.get("symbol")):
            self.account.cancel(order)
            self.order_requests.append(("cancel", order["clientOrderId"]))
        return web.json_response(
            {"code": 200, "msg": "The operation of cancel all open order is done."}
        )

    async def _user_trades(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        trades = self.account.user_trades(
            q.get("symbol"),
            int(q["startTime"]) if "startTime" in q else None,
            int(q["fromId"]) if "fromId" in q else None,
            int(q["orderId"]) if "orderId" in q else None,
        )
        return web.json_response(trades[: min(int(q.get("limit", "500")), 1000)])

    async def _income(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        rows = self.account.income(
            q.get("symbol"),
            q.get("incomeType"),
            int(q["startTime"]) if "startTime" in q else None,
            int(q["endTime"]) if "endTime" in q else None,
            min(int(q.get("limit", "100")), 1000),
        )
        return web.json_response(rows)

    async def _force_orders(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        """The account's liquidation orders (``autoclose-``), newest last."""
        symbol = q.get("symbol")
        start = int(q["startTime"]) if "startTime" in q else None
        rows = [
            public_order(o)
            for o in self.account.orders.values()
            if str(o.get("clientOrderId", "")).startswith("autoclose-")
            and (symbol is None or o["symbol"] == symbol)
            and (start is None or int(o.get("updateTime", 0)) >= start)
        ]
        return web.json_response(rows[-min(int(q.get("limit", "50")), 100) :])

    # ---- account ------------------------------------------------------------------------------
    async def _account(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        return web.json_response(self.account.account())

    async def _balance(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        return web.json_response(self.account.balance())

    async def _position_risk(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        return web.json_response(self.account.position_risk(q.get("symbol")))

    async def _brackets(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        return web.json_response(self.account.leverage_brackets(q.get("symbol")))

    async def _leverage(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        return web.json_response(
            self.account.set_leverage(q.get("symbol", ""), int(q.get("leverage", "0")))
        )

    async def _margin_type(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        self.account.set_margin_type(q.get("symbol", ""), q.get("marginType", ""))
        return web.json_response({"code": 200, "msg": "success"})

    async def _position_mode(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        return web.json_response(self.account.position_mode())

    async def _set_position_mode(
        self, request: web.Request, q: dict[str, str]
    ) -> web.StreamResponse:
        dual = q.get("dualSidePosition", "false").lower() == "true"
        if dual == self.account.dual_side:
            raise VenueError(400, -4059, "No need to change position side.")
        self.account.dual_side = dual
        return web.json_response({"code": 200, "msg": "success"})

    async def _commission(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        a = self.account
        return web.json_response(
            {
                "symbol": q.get("symbol", ""),
                "makerCommissionRate": str(a.maker),
                "takerCommissionRate": str(a.taker),
            }
        )

    # ---- the user data stream -----------------------------------------------------------------
    async def _listen_key(self, request: web.Request) -> web.Response:
        if request.headers.get("X-MBX-APIKEY") != self.api_key:
            return binance_error(401, -2015, "Invalid API-key, IP, or permissions for action.")
        if request.method == "POST":
            if self.listen_key is None:
                self.listen_key = secrets.token_hex(32)
            return web.json_response({"listenKey": self.listen_key})
        if request.method == "DELETE":
            self.listen_key = None
        elif self.listen_key is None:
            return binance_error(400, -1125, "This listenKey does not exist.")
        return web.json_response({})

    async def _user_socket(self, request: web.Request) -> web.WebSocketResponse:
        key = request.query.get("listenKey")
        ws = web.WebSocketResponse(heartbeat=None, autoping=True)
        await ws.prepare(request)
        if self.private_faults.reject_subscribe or key is None or key != self.listen_key:
            await ws.close(code=1008, message=b"invalid listenKey")
            return ws
        queue: asyncio.Queue[str] = asyncio.Queue()
        self._user_sockets[ws] = queue
        sender = asyncio.get_running_loop().create_task(drain(ws, queue))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:  # a SUBSCRIBE on the user socket: acknowledged
                    req = json.loads(msg.data)
                    await ws.send_str(json.dumps({"result": None, "id": req.get("id")}))
        finally:
            sender.cancel()
            self._user_sockets.pop(ws, None)
        return ws

    def _user_event(self, event: JsonDict) -> None:
        f = self.private_faults
        if f.mute_events > 0:
            f.mute_events -= 1
            return
        text = json.dumps(event)
        for queue in self._user_sockets.values():
            queue.put_nowait(text)
        o = event.get("o")
        if isinstance(o, dict) and o.get("X") == "FILLED":
            self.fill_times[str(o.get("c"))] = time.time_ns()

    def _private_sockets(self) -> list[web.WebSocketResponse]:
        return list(self._user_sockets)


__all__ = ["BinanceFuturesPrivate", "binance_error"]
