"""The loopback Bybit linear's private side: Bybit v5's signed REST and the ``/v5/private``
WebSocket for USDT perpetuals (``category=linear``), on the loopback's margin account
(:class:`~..futures_account.FuturesAccount`: Binance's rules, which are Bybit's in substance for
a cross-margin, one-way linear account), its answers translated by :mod:`.linear_wire`.

* Signing, the keys, the private WebSocket's ``auth`` / ``subscribe`` / ``ping`` and the
  account questions a keyed ccxt asks (``/v5/user/query-api``, ``/v5/account/info``: a unified
  trading account) are the spot side's (:class:`~.private.BybitPrivate`).
* ``POST /v5/order/create`` (Market / Limit; GTC, IOC, FOK, PostOnly; ``reduceOnly``;
  ``orderLinkId``, unique per account: 110072), ``/v5/order/cancel`` (by ``orderId`` or
  ``orderLinkId``), ``/v5/order/cancel-all``, ``/v5/order/amend`` (:mod:`.amend`);
  ``GET /v5/order/realtime`` (open orders, or any order by id), ``/v5/order/history``,
  ``/v5/execution/list`` (``execType`` Trade, BustTrade, Funding), ``/v5/position/list``,
  ``/v5/account/wallet-balance`` (UNIFIED),
  ``/v5/account/transaction-log`` (TRADE, SETTLEMENT and LIQUIDATION rows),
  ``/v5/account/fee-rate``;
  ``POST /v5/position/set-leverage`` (110043 when unchanged), ``/v5/position/switch-mode``
  (110025 when unchanged; hedge mode is stored, then orders are refused),
  ``/v5/position/switch-isolated`` (110026 when unchanged), ``/v5/account/set-margin-mode``
  (REGULAR_MARGIN, the account's mode, answers success with no reasons; ISOLATED_MARGIN and
  PORTFOLIO_MARGIN are refused, 3400045: this account trades cross margin only).
* Topics ``order``, ``execution``, ``position`` and ``wallet``.

A post-only order that would take is accepted and then cancelled (``Cancelled``,
``EC_PostOnlyWillTakeLiquidity``), as Bybit does; the account never sees it.
"""

from __future__ import annotations

import time
from decimal import Decimal

from aiohttp import web

from ...btypes import JsonDict
from ..account import TERMINAL, VenueError, dec, dec_text
from ..base import unavailable
from ..futures_account import FuturesAccount
from ..futures_rules import ZERO, new_order, text8
from .amend import BybitLinearAmend
from .linear_wire import (
    funding_execution,
    linear_error,
    linear_execution,
    linear_order,
    linear_position,
    linear_wallet,
)
from .private import BybitPrivate
from .protocol import BybitError, ok

__all__ = ["BybitLinearPrivate"]

_SIDES = {"Buy": "BUY", "Sell": "SELL"}
_TIF = {"GTC": "GTC", "IOC": "IOC", "FOK": "FOK", "PostOnly": "GTX"}


#: what the client order id of an order placed without an ``orderLinkId`` starts with
_UNLINKED = "~unlinked:"


def _true(value: str | None) -> bool:
    return str(value).lower() in ("true", "1")


def _link(order: JsonDict) -> str:
    """An order's ``orderLinkId``: "" for a liquidation's and an order placed without one."""
    cid = str(order["clientOrderId"])
    return "" if order.get("_liquidation") or cid.startswith(_UNLINKED) else cid


class BybitLinearPrivate(BybitLinearAmend, BybitPrivate):
    """The private routes of :class:`~.linear.BybitLinearLoopback` (see module doc)."""

    account: FuturesAccount  # type: ignore[assignment]  # the margin account, not spot's
    symbols: dict[str, JsonDict]
    market_id: str

    def _open_linear(
        self, wallet: float, leverage: int, taker: float, maker: float, key: str, secret: str
    ) -> None:
        """The margin account, the keys it accepts, its faults and its logs."""
        self._open_margin_account(wallet, self.symbols, leverage, (taker, maker), key, secret)
        #: Bybit-only orders the account never saw (post-only orders that would take), by id
        self.refused: dict[int, JsonDict] = {}
        self._unlinked = 0  # orders placed without an orderLinkId
        self._closed: dict[int, Decimal] = {}  # trade id -> the size it closed
        #: funding settlements as executions (``execType`` Funding), oldest first
        self.fundings: list[JsonDict] = []
        #: ``/v5/account/transaction-log`` rows, oldest first
        self.transactions: list[JsonDict] = []
        #: the settlement being paid: (rate, mark, funding time in ms), set by the replay
        self.funding_context: tuple[Decimal, Decimal, int] = (ZERO, ZERO, 0)

    def add_linear_private_routes(self, app: web.Application) -> None:
        """Register the signed endpoints and the private WebSocket."""
        self._private = {}
        self._private_subs = {}
        self._authed = set()
        r, s = app.router, self._signed
        for path, handler in (
            ("/v5/order/create", self._create),
            ("/v5/order/cancel", self._cancel),
            ("/v5/order/cancel-all", self._cancel_all),
            ("/v5/order/amend", self._amend),
            ("/v5/position/set-leverage", self._set_leverage),
            ("/v5/position/switch-mode", self._switch_mode),
            ("/v5/position/switch-isolated", self._switch_isolated),
            ("/v5/account/set-margin-mode", self._set_margin_mode),
        ):
            r.add_post(path, s(handler))
        for path, handler in (
            ("/v5/order/realtime", self._realtime),
            ("/v5/order/history", self._history),
            ("/v5/execution/list", self._executions),
            ("/v5/position/list", self._positions),
            ("/v5/account/wallet-balance", self._wallet),
            ("/v5/account/transaction-log", self._transaction_log),
            ("/v5/account/fee-rate", self._fee_rate),
            ("/v5/user/query-api", self._query_api),
            ("/v5/account/info", self._account_info),
            ("/v5/asset/coin/query-info", self._coins_info),
        ):
            r.add_get(path, s(handler))
        r.add_get("/v5/private", self._private_ws)
        self.account.listeners.append(self._linear_event)

    # ---- the replayed market ------------------------------------------------------------------
    def _traded(self, price: float, ts_ms: int) -> None:
        self.last_trade = (price, self.sent)
        self.account.on_trade(price)

    def _mark_text(self) -> str:
        mark = self.account.marks.get(self.market_id)
        return text8(mark) if mark is not None else ""

    # ---- orders -------------------------------------------------------------------------------
    def _order_json(self, o: JsonDict) -> JsonDict:
        fees = (dec(t["commission"]) for t in self.account.trades if t["orderId"] == o["orderId"])
        return linear_order(o, sum(fees, ZERO), _link(o), self._mark_text())

    def _all_orders(self) -> list[JsonDict]:
        orders = [*self.account.orders.values(), *self.refused.values()]
        return sorted(orders, key=lambda o: (o["time"], o["orderId"]))

    def _find(self, q: dict[str, str]) -> JsonDict:
        oid, link = q.get("orderId"), q.get("orderLinkId")
        for o in reversed(self._all_orders()):
            if q.get("symbol") not in (None, o["symbol"]):
                continue
            if (oid is not None and str(o["orderId"]) == oid) or (
                oid is None and link is not None and o["clientOrderId"] == link
            ):
                return o
        raise BybitError(110001, "Order does not exist")

    def _ids(self, order: JsonDict) -> JsonDict:
        """An order's ``orderId`` and ``orderLinkId``, as Bybit answers an order request."""
        return {"orderId": str(order["orderId"]), "orderLinkId": _link(order)}

    def _engine_params(self, q: dict[str, str]) -> dict[str, str]:
        """``/v5/order/create``'s parameters in the account's (Binance's) names."""
        if q.get("category") != "linear":
            raise BybitError(10001, "params error: category only support linear")
        if q.get("side") not in _SIDES or q.get("orderType") not in ("Market", "Limit"):
            raise BybitError(10001, "params error: side or orderType invalid")
        if q.get("triggerPrice") or q.get("takeProfit") or q.get("stopLoss"):
            raise BybitError(10001, "params error: conditional orders are not served here")
        tif = q.get("timeInForce", "GTC")
        if tif not in _TIF:
            raise BybitError(10001, "params error: timeInForce invalid")
        if q.get("orderType") == "Market" and tif == "PostOnly":
            raise BybitError(10001, "params error: a market order cannot be PostOnly")
        out = {"symbol": q.get("symbol", ""), "side": _SIDES[q["side"]],
               "type": q["orderType"].upper(), "quantity": q.get("qty", ""),
               "reduceOnly": "true" if _true(q.get("reduceOnly")) else "false",
               "positionSide": "BOTH" if q.get("positionIdx", "0") == "0" else "LONG"}  # fmt: skip
        if out["type"] == "LIMIT":
            out["price"], out["timeInForce"] = q.get("price", ""), _TIF[tif]
        link = q.get("orderLinkId")
        if link:
            if any(o["clientOrderId"] == link for o in self._all_orders()):
                raise BybitError(110072, "OrderLinkedID is duplicate")
            out["newClientOrderId"] = link
        else:  # none given: a mark no orderLinkId can carry (Bybit allows no "~")
            self._unlinked += 1
            out["newClientOrderId"] = f"{_UNLINKED}{self._unlinked}"
        return out

    async def _create(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        self.order_times[q.get("orderLinkId", "")] = time.time_ns()
        f = self.private_faults
        if f.fail_503 > 0:
            f.fail_503 -= 1
            return unavailable()
        params = self._engine_params(q)
        try:
            order = self.account.place(
                params, self._best(), self.account.marks.get(params["symbol"])
            )
        except VenueError as e:
            if e.code != -5022:
                raise linear_error(e) from None
            order = self._post_only_cancelled(params)
        self.order_requests.append(("new", order["clientOrderId"]))
        if f.unknown_5xx > 0:
            f.unknown_5xx -= 1
            raise BybitError(10016, "Server error: timeout waiting for the matching engine.")
        answer = {"orderId": str(order["orderId"]), "orderLinkId": _link(order)}
        return await self._answer(request, answer)

    def _post_only_cancelled(self, params: dict[str, str]) -> JsonDict:
        """A post-only order that would take: recorded, and cancelled at once (see module
        doc)."""
        oid = 7_000_000 + len(self.refused) + 1
        now = self.server_ms()
        order = new_order(oid, params, dec(params["quantity"]), dec(params["price"]), now)
        order.update(status="CANCELED", _bybit_reject="EC_PostOnlyWillTakeLiquidity")
        self.refused[oid] = order
        self._push_private("order", [self._order_json(order)])
        return order

    async def _cancel(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        order = self._find(q)
        if order["status"] in TERMINAL:
            raise BybitError(110001, "Order does not exist")
        order["_by_user"] = True
        self.account.cancel(order)
        self.order_requests.append(("cancel", order["clientOrderId"]))
        answer = {"orderId": str(order["orderId"]), "orderLinkId": _link(order)}
        return await self._answer(request, answer)

    async def _cancel_all(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        out = []
        for order in self.account.open_orders(q.get("symbol")):
            order["_by_user"] = True
            self.account.cancel(order)
            self.order_requests.append(("cancel", order["clientOrderId"]))
            out.append({"orderId": str(order["orderId"]), "orderLinkId": _link(order)})
        return ok({"list": out, "success": "1"})

    async def _realtime(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        if "orderId" in q or "orderLinkId" in q:  # one order, open or recently closed
            try:
                orders = [self._find(q)]
            except BybitError:
                orders = []
        else:
            orders = self.account.open_orders(q.get("symbol"))[::-1]
        return self._linear_page(orders)

    async def _history(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        done = [o for o in self._all_orders() if o["status"] in TERMINAL]
        if "orderId" in q or "orderLinkId" in q:
            try:
                done = [o for o in [self._find(q)] if o["status"] in TERMINAL]
            except BybitError:
                done = []
        done = [o for o in done if q.get("symbol") in (None, o["symbol"])]
        return self._linear_page(done[::-1][: min(int(q.get("limit", "20")), 50)])

    def _linear_page(self, orders: list[JsonDict]) -> web.StreamResponse:
        rows = [self._order_json(o) for o in orders]
        return ok({"category": "linear", "list": rows, "nextPageCursor": ""})

    # ---- executions ---------------------------------------------------------------------------
    def _execution(self, trade: JsonDict) -> JsonDict:
        a = self.account
        order = a.orders[trade["orderId"]]
        rate = ZERO if order.get("_liquidation") else a.maker if trade["maker"] else a.taker
        closed = self._closed.get(trade["id"], ZERO)
        return linear_execution(order, trade, _link(order), closed, rate, self._mark_text())

    async def _executions(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        rows = [self._execution(t) for t in self.account.trades] + self.fundings
        keep = {"symbol": "symbol", "orderId": "orderId", "execType": "execType",
                "orderLinkId": "orderLinkId"}  # fmt: skip
        for key, field in keep.items():
            if key in q:
                rows = [r for r in rows if str(r[field]) == q[key]]
        start, end = int(q.get("startTime", "0")), int(q.get("endTime", str(2**62)))
        rows = [r for r in rows if start <= int(r["execTime"]) <= end]
        rows.sort(key=lambda r: (int(r["execTime"]), r["seq"]), reverse=True)  # newest first
        limit = min(int(q.get("limit", "50")), 100)
        return ok({"category": "linear", "list": rows[:limit], "nextPageCursor": ""})

    # ---- positions and the account ------------------------------------------------------------
    def _position(self, symbol: str) -> JsonDict:
        a = self.account
        risk = next(iter(a.position_risk(symbol)), None)
        pos = a.position(symbol)
        if risk is not None and not pos.size:
            risk = None
        return linear_position(risk, symbol, a.leverage(symbol), a.wallet, a.mark(symbol),
                               pos.realized, pos.update_time or self.server_ms())  # fmt: skip

    async def _positions(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        if q.get("category") != "linear":
            return ok({"category": q.get("category", ""), "list": [], "nextPageCursor": ""})
        symbol = q.get("symbol")
        if symbol is not None:
            if symbol not in self.symbols:
                raise BybitError(10001, "params error: symbol invalid")
            names = [symbol]
        else:  # by settle coin: the symbols with a position
            names = sorted(s for s, p in self.account.positions.items() if p.size)
        rows = [self._position(s) for s in names]
        return ok({"category": "linear", "list": rows, "nextPageCursor": ""})

    async def _wallet(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        if q.get("accountType") not in ("UNIFIED", None):
            raise BybitError(10001, "accountType only support UNIFIED.")
        return ok({"list": [linear_wallet(self.account.account())]})

    async def _transaction_log(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        rows = list(self.transactions)
        for key in ("type", "category", "currency"):
            if key in q:
                rows = [r for r in rows if r[key] == q[key]]
        start = int(q.get("startTime", "0"))
        rows = [r for r in rows if int(r["transactionTime"]) >= start][::-1]  # newest first
        return ok({"list": rows[: min(int(q.get("limit", "20")), 50)], "nextPageCursor": ""})

    async def _fee_rate(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        a = self.account
        rows = [{"symbol": s, "baseCoin": "", "takerFeeRate": str(a.taker),
                 "makerFeeRate": str(a.maker)} for s in sorted(self.symbols)]  # fmt: skip
        return ok({"category": "linear", "list": rows})

    async def _coins_info(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        coins = sorted({s[k] for s in self.symbols.values() for k in ("baseAsset", "quoteAsset")})
        return ok({"rows": [{"name": c, "coin": c, "remainAmount": "1000000", "chains": []}
                            for c in coins]})  # fmt: skip

    # ---- settings -----------------------------------------------------------------------------
    def _settings_call(self, fn: object, *args: object) -> None:
        try:
            fn(*args)  # type: ignore[operator]
        except VenueError as e:
            raise linear_error(e) from None

    async def _set_leverage(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        symbol, buy, sell = q.get("symbol", ""), q.get("buyLeverage"), q.get("sellLeverage")
        if symbol not in self.symbols or buy is None or buy != sell:
            raise BybitError(10001, "params error: buyLeverage must equal sellLeverage")
        lev = dec(buy)
        if lev != lev.to_integral_value():
            raise BybitError(10001, "params error: the loopback takes whole leverages")
        if int(lev) == self.account.leverage(symbol):
            raise BybitError(110043, "Set leverage not modified")
        self._settings_call(self.account.set_leverage, symbol, int(lev))
        return ok({})

    async def _switch_mode(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        if q.get("mode") not in ("0", "3"):
            raise BybitError(10001, "params error: mode must be 0 or 3")
        self._settings_call(self.account.set_position_mode, q["mode"] == "3")
        return ok({})

    async def _switch_isolated(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        kind = {"0": "CROSSED", "1": "ISOLATED"}.get(q.get("tradeMode", ""))
        if kind is None:
            raise BybitError(10001, "params error: tradeMode must be 0 or 1")
        self._settings_call(self.account.set_margin_type, q.get("symbol", ""), kind)
        return ok({})

    async def _set_margin_mode(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        mode = q.get("setMarginMode")
        if mode == "REGULAR_MARGIN":
            return ok({"reasons": []})
        if mode not in ("ISOLATED_MARGIN", "PORTFOLIO_MARGIN"):
            raise BybitError(10001, "params error: setMarginMode invalid")
        why = "the loopback account trades cross margin (REGULAR_MARGIN) only"
        raise BybitError(3400045, f"Set margin mode failed: {why}")

    # ---- events -------------------------------------------------------------------------------
    def _linear_event(self, event: JsonDict) -> None:
        """The account's news (Binance's events) as Bybit's topics and logs."""
        if event.get("e") == "ACCOUNT_UPDATE":
            self._account_update(event)
            return
        o = event.get("o") or {}
        order = self.account.orders.get(int(o.get("i") or 0))
        if order is None:
            return
        if o["x"] in ("TRADE", "CALCULATED"):
            trade = next(t for t in reversed(self.account.trades) if t["id"] == o["t"])
            size = self.account.position(order["symbol"]).size
            signed = dec(trade["qty"]) * (1 if trade["side"] == "BUY" else -1)
            before = size - signed
            closed = min(abs(signed), abs(before)) if before and (before > 0) != (signed > 0) \
                else ZERO  # fmt: skip
            self._closed[trade["id"]] = closed
            execution = self._execution(trade)
            self._log_trade(execution, trade, size)
            self._push_private("execution", [execution])
        self._push_private("order", [self._order_json(dict(order, status=o["X"]))])
        if o["X"] == "FILLED":
            self.fill_times[order["clientOrderId"]] = time.time_ns()

    def _account_update(self, event: JsonDict) -> None:
        a = event["a"]
        if a["m"] == "FUNDING_FEE":
            self._log_funding(dec(a["B"][0]["bc"]))
        symbols = [p["s"] for p in a.get("P", [])] or [self.market_id]
        self._push_private("position", [self._position(s) for s in symbols])
        self._push_private("wallet", [linear_wallet(self.account.account())])

    def _log_trade(self, execution: JsonDict, trade: JsonDict, size: Decimal) -> None:
        fee, pnl = dec(trade["commission"]), dec(trade["realizedPnl"])
        kind = "LIQUIDATION" if execution["execType"] == "BustTrade" else "TRADE"
        self._transaction(kind, execution["execTime"], execution["side"], trade["qty"], size,
                          trade["price"], ZERO, fee, pnl, execution["feeRate"],
                          trade["id"], trade["orderId"], execution["orderLinkId"])  # fmt: skip

    def _log_funding(self, change: Decimal) -> None:
        """A funding payment (``change`` to the wallet: negative when paid)."""
        symbol = self.market_id
        size = self.account.position(symbol).size
        rate, mark, ts = self.funding_context
        n = len(self.fundings) + 1
        execution = funding_execution(n, symbol, size, mark, rate, -change, ts)
        self.fundings.append(execution)
        self._transaction("SETTLEMENT", str(ts), execution["side"], "0", size, text8(mark),
                          -change, ZERO, ZERO, execution["feeRate"], execution["execId"], "",
                          "")  # fmt: skip

    def _transaction(self, kind: str, ts: str, side: str, qty: str, size: Decimal, price: str,
                     funding: Decimal, fee: Decimal, cash_flow: Decimal, rate: str,
                     trade_id: object, order_id: object, link: str) -> None:  # fmt: skip
        """One ``/v5/account/transaction-log`` row: ``change`` = cashFlow - funding - fee, the
        wallet after it (``cashBalance``)."""
        change = cash_flow - funding - fee
        self.transactions.append({
            "id": f"{len(self.transactions) + 1}", "symbol": self.market_id,
            "category": "linear", "side": side, "transactionTime": ts, "type": kind,
            "transSubType": "", "qty": qty, "size": dec_text(size), "currency": "USDT",
            "tradePrice": price, "funding": text8(funding), "fee": text8(fee),
            "cashFlow": text8(cash_flow), "change": text8(change),
            "cashBalance": text8(self.account.wallet), "feeRate": rate, "bonusChange": "",
            "tradeId": str(trade_id), "orderId": str(order_id), "orderLinkId": link,
        })  # fmt: skip
