"""The loopback Bybit's private side: Bybit v5's signed REST and the private WebSocket.

* Signed REST: the ``X-BAPI-API-KEY``, ``X-BAPI-TIMESTAMP``, ``X-BAPI-RECV-WINDOW`` and
  ``X-BAPI-SIGN`` headers, the signature an HMAC-SHA256 of ``timestamp + key + recvWindow +``
  the query string (GET) or the JSON body (POST); the timestamp within the window of the
  server's clock. ``POST /v5/order/create``, ``/v5/order/cancel``, ``/v5/order/cancel-all``,
  ``/v5/order/amend`` (a limit order's ``qty`` and / or ``price``, in place, the id kept:
  :func:`..amend_rules.amend_spot`, Bybit's queue rule; 10001 "order not modified" when
  nothing changes, 10001 for a quantity at most the filled one);
  ``GET /v5/order/realtime`` (open orders, or any recent order by ``orderId`` /
  ``orderLinkId``), ``/v5/order/history``, ``/v5/execution/list``,
  ``/v5/account/wallet-balance``; and what ccxt asks of a keyed client before trading:
  ``/v5/user/query-api`` and ``/v5/account/info`` (a unified trading account),
  ``/v5/asset/coin/query-info``. Answers are ``{"retCode", "retMsg", "result", ...}`` with
  Bybit's codes.
* WebSocket ``/v5/private``: ``{"op": "auth", "args": [key, expires, signature]}`` (the
  signature an HMAC-SHA256 of ``"GET/realtime" + expires``), then the ``order``,
  ``execution`` and ``wallet`` topics.

Orders fill against the replayed market by the same matching engine, and the same rules, as the
loopback Binance (:class:`~..account.Account`: the paper broker's default fill rule);
only the wire protocol differs. Fees are charged in the quote coin by default, or, with the
server's ``fee_asset="received"``, a buyer's in the base coin as the real Bybit takes it
(``feeCurrency`` says which). Fault switches are both venues'
:class:`~..private_side.PrivateFaults` (``server.private_faults``).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from decimal import Decimal

from aiohttp import web
from aiohttp.typedefs import Handler

from ...btypes import JsonDict
from ..account import TERMINAL, VenueError, dec, dec_text
from ..amend_rules import AT_MOST_FILLED, amend_spot
from ..base import unavailable
from ..book import BybitBook
from ..private_side import PrivateSide, SignedHandler, sign
from .protocol import SPOT_RULES, BybitError, error, ok

__all__ = [
    "SPOT_RULES",
    "BybitError",
    "BybitPrivate",
    "bybit_error",
    "bybit_execution",
    "bybit_order",
]

_STATUS = {"NEW": "New", "PARTIALLY_FILLED": "PartiallyFilled", "FILLED": "Filled",
           "CANCELED": "Cancelled", "REJECTED": "Rejected", "EXPIRED": "Cancelled"}  # fmt: skip


def bybit_error(e: VenueError) -> BybitError:
    """The matching engine's (Binance-coded) refusal as Bybit answers it."""
    m = e.msg
    if "insufficient" in m:
        return BybitError(170131, "Insufficient balance.")
    if "Duplicate" in m:
        return BybitError(170141, "Duplicate clientOrderId.")
    if "LOT_SIZE" in m:
        return BybitError(170136, "Order quantity lower than the minimum.")
    if "PRICE_FILTER" in m:
        return BybitError(170134, "Order price decimal too long.")
    if "NOTIONAL" in m:
        return BybitError(170140, "Order value exceeded lower limit.")
    if e.code in (-2011, -2013):
        return BybitError(170213, "Order does not exist.")
    if e.code == -1121:
        return BybitError(170121, "Invalid symbol.")
    return BybitError(10001, f"params error: {m}")


def bybit_order(o: JsonDict) -> JsonDict:
    """A matching-engine order in Bybit v5's order shape (REST ``list`` item and ``order``
    topic alike)."""
    qty, done = dec(o["origQty"]), dec(o["executedQty"])
    value = dec(o["cummulativeQuoteQty"])
    status = _STATUS[o["status"]]
    if status == "Cancelled" and done:
        status = "PartiallyFilledCanceled"
    fee = sum((dec(f["commission"]) for f in o["fills"]), Decimal(0))
    coin = o["fills"][-1]["commissionAsset"] if o["fills"] else o["_quote"]
    market = o["type"] == "MARKET"
    out = {
        "orderId": str(o["orderId"]),
        "orderLinkId": o["clientOrderId"],
        "blockTradeId": "",
        "symbol": o["symbol"],
        "price": "0" if market else o["price"],
        "qty": o["origQty"],
        "side": "Buy" if o["side"] == "BUY" else "Sell",
        "isLeverage": "0",
        "positionIdx": 0,
        "orderStatus": status,
        "cancelType": "CancelByUser" if "Cancel" in status else "UNKNOWN",
        "rejectReason": "EC_NoError",
        "avgPrice": dec_text(value / done) if done else "0",
        "leavesQty": "0" if o["status"] in TERMINAL else dec_text(qty - done),
        "leavesValue": "0",
        "cumExecQty": o["executedQty"],
        "cumExecValue": o["cummulativeQuoteQty"],
        "cumExecFee": dec_text(fee),
        "cumFeeDetail": {coin: dec_text(fee)} if fee else {},
        "feeCurrency": coin,
        "timeInForce": "IOC" if market else "GTC",
        "orderType": "Market" if market else "Limit",
        "stopOrderType": "",
        "orderIv": "",
        "triggerPrice": "0",
        "takeProfit": "0",
        "stopLoss": "0",
        "triggerDirection": 0,
        "placeType": "",
        "smpType": "None",
        "createdTime": str(o["time"]),
        "updatedTime": str(o["updateTime"]),
        "category": "spot",
    }
    if market:
        out["marketUnit"] = "baseCoin"
    return out


def bybit_execution(o: JsonDict, t: JsonDict, taker: Decimal, maker: Decimal) -> JsonDict:
    """One fill in Bybit v5's execution shape (REST ``execution/list`` item and the
    ``execution`` topic alike)."""
    return {
        "category": "spot",
        "symbol": t["symbol"],
        "orderId": str(t["orderId"]),
        "orderLinkId": o["clientOrderId"],
        "side": "Buy" if t["isBuyer"] else "Sell",
        "orderPrice": "0" if o["type"] == "MARKET" else o["price"],
        "orderQty": o["origQty"],
        "leavesQty": "0",
        "orderType": "Market" if o["type"] == "MARKET" else "Limit",
        "stopOrderType": "",
        "execFee": t["commission"],
        "feeCurrency": t["commissionAsset"],
        "execId": str(t["id"]),
        "execPrice": t["price"],
        "execQty": t["qty"],
        "execType": "Trade",
        "execValue": t["quoteQty"],
        "execTime": str(t["time"]),
        "isMaker": t["isMaker"],
        "feeRate": dec_text(maker if t["isMaker"] else taker),
        "markPrice": "",
        "indexPrice": "",
        "closedSize": "0",
        "seq": t["id"],
    }


class BybitPrivate(PrivateSide):
    """The private routes; :class:`~.exchange.BybitLoopback` mixes them in and opens the
    account (:meth:`~..private_side.PrivateSide._open_account`)."""

    book: BybitBook

    def add_private_routes(self, app: web.Application) -> None:
        """Register the signed REST endpoints and the private WebSocket."""
        self._private: dict[web.WebSocketResponse, asyncio.Queue[str]] = {}
        self._private_subs: dict[web.WebSocketResponse, set[str]] = {}
        self._authed: set[web.WebSocketResponse] = set()  # sockets logged in
        r = app.router
        for path, handler in (
            ("/v5/order/create", self._create),
            ("/v5/order/cancel", self._cancel),
            ("/v5/order/cancel-all", self._cancel_all),
            ("/v5/order/amend", self._amend_spot),
        ):
            r.add_post(path, self._signed(handler))
        for path, handler in (
            ("/v5/order/realtime", self._realtime),
            ("/v5/order/history", self._history),
            ("/v5/execution/list", self._executions),
            ("/v5/account/wallet-balance", self._wallet),
            ("/v5/user/query-api", self._query_api),
            ("/v5/account/info", self._account_info),
            ("/v5/asset/coin/query-info", self._coins_info),
        ):
            r.add_get(path, self._signed(handler))
        r.add_get("/v5/private", self._private_ws)
        self.account.listeners.append(self._account_event)

    # ---- signing ------------------------------------------------------------------------------
    def _check_signed(self, request: web.Request, payload: str) -> None:
        h = request.headers
        if h.get("X-BAPI-API-KEY") != self.api_key:
            raise BybitError(10003, "API key is invalid.", 401)
        ts, window = h.get("X-BAPI-TIMESTAMP", "0"), h.get("X-BAPI-RECV-WINDOW", "5000")
        signed = sign(self.api_secret, ts + self.api_key + window + payload)
        if not hmac.compare_digest(signed, h.get("X-BAPI-SIGN", "")):
            raise BybitError(10004, "error sign! please check your signature.")
        now = self.server_ms()
        if int(ts) >= now + 1000 or now - int(ts) > int(window):
            raise BybitError(
                10002,
                "invalid request, please check your server timestamp or recv_window param. "
                f"req_timestamp[{ts}],server_timestamp[{now}],recv_window[{window}]",
            )

    def _signed(self, handler: SignedHandler) -> Handler:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            f = self.private_faults
            if f.rate_limit > 0:
                f.rate_limit -= 1
                return error(BybitError(10006, "Too many visits!"))
            if request.method == "POST":
                payload = await request.text()
                q = {k: str(v) for k, v in (json.loads(payload or "{}")).items()}
            else:
                payload = request.query_string
                q = dict(request.query)
            q = {k: v for k, v in q.items() if v not in ("", "None")}  # ccxt sends orderId=None
            try:
                self._check_signed(request, payload)
                return await handler(request, q)
            except BybitError as e:
                return error(e)

        return wrapped

    def _reply(self, result: JsonDict) -> web.StreamResponse:
        return ok(result)

    # ---- orders -------------------------------------------------------------------------------
    def _find(self, q: dict[str, str]) -> JsonDict:
        try:
            return self.account.find(q.get("symbol", ""), q.get("orderId"), q.get("orderLinkId"))
        except VenueError as e:
            raise bybit_error(e) from None

    async def _create(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        self.order_times[q.get("orderLinkId", "")] = time.time_ns()
        f = self.private_faults
        if q.get("category") != "spot":
            raise BybitError(10001, "params error: category only support spot")
        if f.fail_503 > 0:
            f.fail_503 -= 1
            return unavailable()
        best = self._best()
        qty = q.get("qty", "0")
        if q.get("orderType") == "Market" and q.get("marketUnit") == "quoteCoin":
            ref = best[1] if q.get("side") == "Buy" else best[0]  # the quote to spend -> base
            qty = dec_text((dec(qty) / dec(ref or 1)).quantize(Decimal("0.000001")))
        engine_q = {
            "symbol": q.get("symbol", ""),
            "side": q.get("side", "").upper(),
            "type": q.get("orderType", "").upper(),
            "quantity": qty,
            "newClientOrderId": q.get("orderLinkId", ""),
        }
        if "price" in q:
            engine_q["price"] = q["price"]
        try:
            order = self.account.place(engine_q, best)
        except VenueError as e:
            raise bybit_error(e) from None
        self.order_requests.append(("new", order["clientOrderId"]))
        if f.unknown_5xx > 0:
            f.unknown_5xx -= 1
            raise BybitError(170007, "Timeout waiting for response from backend server.")
        result = {"orderId": str(order["orderId"]), "orderLinkId": order["clientOrderId"]}
        return await self._answer(request, result)

    async def _cancel(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        order = self._find(q)
        if order["status"] in TERMINAL:
            raise BybitError(170213, "Order does not exist.")
        self.account.cancel(order)
        self.order_requests.append(("cancel", order["clientOrderId"]))
        result = {"orderId": str(order["orderId"]), "orderLinkId": order["clientOrderId"]}
        return await self._answer(request, result)

    async def _cancel_all(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        out = []
        for order in self.account.open_orders(q.get("symbol")):
            self.account.cancel(order)
            self.order_requests.append(("cancel", order["clientOrderId"]))
            out.append({"orderId": str(order["orderId"]), "orderLinkId": order["clientOrderId"]})
        return ok({"list": out, "success": "1"})

    async def _amend_spot(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        if q.get("category") != "spot":
            raise BybitError(10001, "params error: category only support spot")
        order = self._find(q)
        if order["status"] in TERMINAL:
            raise BybitError(170213, "Order does not exist.")
        try:
            qty = dec(q["qty"]) if q.get("qty") else dec(order["origQty"])
            price = dec(q["price"]) if q.get("price") else dec(order["price"])
            amend_spot(self.account, order, qty, price, self._best())
        except ArithmeticError:
            raise BybitError(10001, "params error: qty or price invalid") from None
        except VenueError as e:
            if e.code == -5027:
                raise BybitError(10001, "order not modified") from None
            if e.code == AT_MOST_FILLED:
                raise BybitError(10001, "params error: qty must exceed the filled qty") from None
            raise bybit_error(e) from None
        self.order_requests.append(("amend", order["clientOrderId"]))
        result = {"orderId": str(order["orderId"]), "orderLinkId": order["clientOrderId"]}
        return await self._answer(request, result)

    async def _realtime(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        if "orderId" in q or "orderLinkId" in q:  # one order, open or recently closed
            try:
                orders = [self._find(q)]
            except BybitError:
                orders = []
        else:
            orders = self.account.open_orders(q.get("symbol"))
        return ok(self._page(orders))

    async def _history(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        done = [o for o in self.account.orders.values() if o["status"] in TERMINAL]
        if "symbol" in q:
            done = [o for o in done if o["symbol"] == q["symbol"]]
        for key, field in (("orderId", "orderId"), ("orderLinkId", "clientOrderId")):
            if key in q:
                done = [o for o in done if str(o[field]) == q[key]]
        return ok(self._page(done[::-1]))

    @staticmethod
    def _page(orders: list[JsonDict]) -> JsonDict:
        return {"category": "spot", "list": [bybit_order(o) for o in orders],
                "nextPageCursor": ""}  # fmt: skip

    async def _executions(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        trades = list(self.account.trades)
        if "symbol" in q:
            trades = [t for t in trades if t["symbol"] == q["symbol"]]
        if "startTime" in q:
            trades = [t for t in trades if t["time"] >= int(q["startTime"])]
        if "orderId" in q:
            trades = [t for t in trades if str(t["orderId"]) == q["orderId"]]
        limit = min(int(q.get("limit", "50")), 100)
        trades = trades[::-1][:limit]  # newest first, as Bybit answers
        orders = self.account.orders
        rows = [
            bybit_execution(orders[t["orderId"]], t, self.account.taker, self.account.maker)
            for t in trades
        ]
        return ok({"category": "spot", "list": rows, "nextPageCursor": ""})

    # ---- account ------------------------------------------------------------------------------
    def _coins(self) -> list[JsonDict]:
        a = self.account
        rows = []
        for coin in sorted(a.free):
            free, locked = a.free[coin], a.locked.get(coin, Decimal(0))
            rows.append({
                "coin": coin, "equity": dec_text(free + locked), "usdValue": "",
                "walletBalance": dec_text(free + locked), "locked": dec_text(locked),
                "availableToWithdraw": dec_text(free), "availableToBorrow": "", "borrowAmount": "0",
                "accruedInterest": "0", "totalOrderIM": "0", "totalPositionIM": "0",
                "totalPositionMM": "0", "unrealisedPnl": "0", "cumRealisedPnl": "0",
                "bonus": "0", "marginCollateral": True, "collateralSwitch": True,
                "spotBorrow": "0",
            })  # fmt: skip
        return rows

    def _wallet_entry(self) -> JsonDict:
        return {"accountType": "UNIFIED", "totalEquity": "", "totalWalletBalance": "",
                "totalMarginBalance": "", "totalAvailableBalance": "", "totalPerpUPL": "0",
                "totalInitialMargin": "0", "totalMaintenanceMargin": "0", "accountIMRate": "0",
                "accountMMRate": "0", "accountLTV": "0", "coin": self._coins()}  # fmt: skip

    async def _wallet(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        if q.get("accountType") not in ("UNIFIED", None):
            raise BybitError(10001, "accountType only support UNIFIED.")
        return ok({"list": [self._wallet_entry()]})

    async def _query_api(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        return ok({
            "id": "1", "note": "loopback", "apiKey": self.api_key, "readOnly": 0, "secret": "",
            "permissions": {"Spot": ["SpotTrade"], "Wallet": ["AccountTransfer"]},
            "ips": ["127.0.0.1"], "type": 1, "unified": 0, "uta": 1, "userID": 1,
            "isMaster": True,
        })  # fmt: skip

    async def _account_info(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        return ok({
            "marginMode": "REGULAR_MARGIN", "updatedTime": str(self.server_ms()),
            "unifiedMarginStatus": 5, "dcpStatus": "OFF", "timeWindow": 10, "smpGroup": 0,
            "isMasterTrader": False, "spotHedgingStatus": "OFF",
        })  # fmt: skip

    async def _coins_info(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        rows: list[JsonDict] = [
            {"name": c, "coin": c, "remainAmount": "1000000", "chains": []} for c in ("BTC", "USDT")
        ]
        return ok({"rows": rows})

    # ---- the private WebSocket ----------------------------------------------------------------
    async def _private_ws(self, request: web.Request) -> web.WebSocketResponse:
        return await self._private_socket(request, self._private_request, self._forget_private)

    def _private_request(
        self, ws: web.WebSocketResponse, queue: asyncio.Queue[str], req: JsonDict
    ) -> JsonDict:
        """The answer to one ``op`` (ping, auth, subscribe) on a private socket."""
        op, rid, args = req.get("op"), req.get("req_id"), list(req.get("args") or [])
        reply: JsonDict = {"success": True, "ret_msg": "", "op": op,
                                 "conn_id": f"loopback-private-{id(ws):x}"}  # fmt: skip
        if rid is not None:
            reply["req_id"] = rid
        if op == "ping":
            reply["ret_msg"] = "pong"
        elif op == "auth":
            why = self._auth_refusal(args)
            if why is None:
                self._authed.add(ws)
            else:
                self._authed.discard(ws)
                reply.update(success=False, ret_msg=why, request=req)
        elif op == "subscribe":
            if ws not in self._authed:
                reply.update(success=False, ret_msg="Request not authorized")
            else:
                self._private[ws] = queue
                self._private_subs.setdefault(ws, set()).update(args)
        else:
            reply.update(success=False, ret_msg=f"error:invalid op {op}")
        return reply

    def _forget_private(self, ws: web.WebSocketResponse) -> None:
        self._private.pop(ws, None)
        self._private_subs.pop(ws, None)
        self._authed.discard(ws)

    def _auth_refusal(self, args: list[object]) -> str | None:
        if self.private_faults.reject_subscribe:
            return "error:USVC1111"
        if len(args) != 3 or args[0] != self.api_key:
            return "error:API key is invalid."
        _key, expires, signature = (str(a) for a in args)
        if not hmac.compare_digest(sign(self.api_secret, "GET/realtime" + expires), signature):
            return "error:signature verification failed"
        if int(expires) < self.server_ms():
            return "error:auth expired"
        return None

    def _push_private(self, topic: str, data: list[JsonDict]) -> None:
        f = self.private_faults
        if f.mute_events > 0:
            f.mute_events -= 1
            return
        now = self.server_ms()
        text = json.dumps({"id": f"{topic}-{now}", "topic": topic, "creationTime": now,
                           "data": data})  # fmt: skip
        for ws, subs in list(self._private_subs.items()):
            queue = self._private.get(ws)
            if queue is not None and topic in subs:
                queue.put_nowait(text)

    def _account_event(self, event: JsonDict) -> None:
        """The matching engine's news (Binance's event names) as Bybit's topics."""
        if event.get("e") == "outboundAccountPosition":
            self._push_private("wallet", [self._wallet_entry()])
            return
        order = self.account.orders.get(event["i"])
        if order is None:
            return
        if event["x"] == "TRADE":
            trade = next(t for t in reversed(self.account.trades) if t["id"] == event["t"])
            self._push_private("execution", [bybit_execution(
                order, trade, self.account.taker, self.account.maker)])  # fmt: skip
        self._push_private("order", [dict(bybit_order(dict(order, status=event["X"])))])
        if event["X"] == "FILLED":
            self.fill_times[order["clientOrderId"]] = time.time_ns()

    def _private_sockets(self) -> list[web.WebSocketResponse]:
        return list(self._private)
