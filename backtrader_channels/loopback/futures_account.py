"""The loopback Binance USDⓈ-M futures account: wallet, positions, orders, funding, liquidation.

The loopback futures server (REST ``/fapi``, the listenKey user stream) trades on it; it keeps
Binance's names, statuses, error codes and answer formats, and applies Binance's own rules,
implemented here independently of the package's backtest broker (which the loopback checks).
The rules (sources: Binance's USDⓈ-M API documentation, its support pages on margin,
liquidation and funding; :mod:`.futures_rules` holds the formulas):

* **Contracts**: linear (USDT-margined) perpetuals, quantities in base units (contract size 1).
  One-way position mode (``positionSide`` BOTH) and cross margin. ``dualSidePosition`` may be
  set and is reported, but then every order is refused (-4061), as are orders with a
  ``positionSide`` other than BOTH. ``marginType`` ISOLATED may be set and is reported, but
  orders on such a symbol are refused (-1000): this account trades cross margin only.
* **Wallet** (USDT): starting balance + realized profit - fees - funding paid. Amounts are
  ``Decimal``; fees, funding and realized profit are rounded to 8 decimals, as Binance keeps them.
* **Position** per symbol: signed size; entry price the size-weighted average on an increase,
  unchanged on a reduction; realized profit = closed size x (price - entry) x sign; a flip is a
  close then an open at the fill price.
* **Fees**: ``taker`` (market orders, limit orders marketable on arrival) or ``maker`` (resting
  limit orders filled by a replayed trade) x the fill's notional, paid from the wallet.
* **Leverage** per symbol: ``leverage`` (default 20) unless the symbol allows less; settable
  from 1 to the first bracket's ``initialLeverage`` (else -4028). A position and its open orders
  may not exceed the largest notional the leverage allows (-2027).
* **Brackets**: Binance's ``GET /fapi/v1/leverageBracket`` answer (default: the bundled file,
  Binance's published tiers, mid-2024, as a representative copy; ``fetch_leverage_tiers`` gives
  an account's current ones). Maintenance margin = notional at the mark x the bracket's
  ``maintMarginRatio`` - its ``cum``, the bracket chosen by that notional.
* **Margin**: initial margin = notional / leverage: positions at the mark, open orders at their
  limit price; per symbol, what the buys and what the sells would open beyond closing the
  position, the larger side (one-way mode). Margin balance = wallet + unrealized profit at the
  marks; available balance = margin balance - initial margin. An order whose opening part needs
  more than the available balance is refused when it is placed (-2019); what closes a position
  never needs margin. The mark of a symbol is the last :meth:`FuturesAccount.set_mark` (else
  the position's entry price).
* **Orders** (MARKET / LIMIT; GTC, IOC, FOK, GTX): a market order, and a limit order marketable
  on arrival, fill whole at the best opposite price (taker; a market order without one is
  refused, -2020); a resting limit fills whole at its limit when a replayed trade prints through
  it (:meth:`FuturesAccount.on_trade`; maker). IOC and FOK orders that cannot fill at once
  expire (EXPIRED). A GTX (post-only) order that would take is refused with -5022 (the error
  answer, not Binance's newer NEW-then-EXPIRED one). A reduce-only order that would open or
  increase a position is refused (-2022); its fill is capped at the position left and the rest
  expires (EXPIRED), as do resting reduce-only orders that no longer reduce. The filters of the
  fapi ``exchangeInfo`` symbol apply (-4003, -1111, -1013), and ``MIN_NOTIONAL`` (-4164, reduce-
  only orders exempt); a client order id already used by an open order is refused (-4116).
* **Funding** (:meth:`FuturesAccount.settle_funding`): payment = size x mark x rate; longs pay a
  positive rate. Each settlement time is settled once per symbol. Income rows ``FUNDING_FEE``,
  ``REALIZED_PNL`` and ``COMMISSION`` answer :meth:`FuturesAccount.income`
  (``GET /fapi/v1/income``; no 7-day default window).
* **Liquidation** (after each mark change and each funding payment): when the margin balance
  is at most the total maintenance margin with a position open, Binance's terminal case: every
  open order is cancelled; every position is closed without a fee, all but the one with the
  largest maintenance margin at the mark, and that last one at its bankruptcy price
  (``entry - wallet left / size``); the wallet ends at 0 (what was left goes to the insurance
  fund; a deficit is not charged). Each close is an order ``autoclose-<time><n>`` (LIMIT, IOC;
  its events show type LIQUIDATION and execution CALCULATED), listed in
  :attr:`FuturesAccount.liquidations`.
* **Amends** (:func:`.amend_rules.amend_futures`): in place, the id kept; resting orders
  fill in queue order, which an amend may change (each venue's rule, :mod:`.amend_rules`).
* **Events** to :attr:`FuturesAccount.listeners`: ``ORDER_TRADE_UPDATE`` (NEW, TRADE, CANCELED,
  EXPIRED, CALCULATED, AMENDMENT) and ``ACCOUNT_UPDATE`` (after each fill, reason ORDER, and
  each funding payment, reason FUNDING_FEE), in Binance's USDⓈ-M formats.

An answer to a new order is the order once carried out (Binance's own answer is usually the
NEW state, the fills coming on the stream).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal

from ..btypes import JsonDict
from .account import TERMINAL, VenueError, dec, dec_text
from .amend_rules import queue_key
from .futures_rules import (
    ZERO,
    FuturesPosition,
    MarginBook,
    account_event,
    account_json,
    balance_json,
    bankruptcy_price,
    check_filters,
    check_min_notional,
    left_qty,
    load_brackets,
    malformed,
    max_leverage,
    max_notional,
    new_order,
    number,
    order_event,
    q8,
    refuse,
    risk_row,
    text8,
    trade_row,
    ws_position,
)

__all__ = ["FuturesAccount", "FuturesPosition", "load_brackets", "public_order"]

SUCCESS: JsonDict = {"code": 200, "msg": "success"}


class FuturesAccount(MarginBook):
    """A Binance USDⓈ-M account, cross margin, one-way mode (see the module doc).

    Parameters
    ----------
    wallet : float
        The starting wallet balance, in ``asset``.
    symbols : dict
        The fapi ``exchangeInfo`` symbols by name (their filters are enforced).
    brackets : dict, optional
        Leverage brackets by symbol (``/fapi/v1/leverageBracket`` rows); default: the bundled
        file (:func:`load_brackets`). A symbol without brackets cannot be traded (-1121).
    taker, maker : float
        Commission rates (fractions of the fill's notional).
    leverage : int
        Every symbol's leverage until it is set (lowered to the symbol's maximum).
    asset : str
        The margin asset.
    clock : callable, optional
        The venue's clock (ms) for event, order and trade times; default: the local clock.
    """

    def __init__(
        self,
        wallet: float = 10_000.0,
        symbols: dict[str, JsonDict] | None = None,
        brackets: dict[str, list[JsonDict]] | None = None,
        taker: float = 0.0005,
        maker: float = 0.0002,
        leverage: int = 20,
        asset: str = "USDT",
        clock: Callable[[], int] | None = None,
    ):
        super().__init__(wallet, brackets, taker, leverage)
        self.symbols = dict(symbols or {})
        self.maker, self.asset = dec(maker), asset
        self.clock = clock or (lambda: int(time.time() * 1000))
        self.margin_types: dict[str, str] = {}  # symbol -> "ISOLATED" (CROSSED when absent)
        self.dual_side = False
        self.orders: dict[int, JsonDict] = {}  # orderId -> order (every order ever)
        self.trades: list[JsonDict] = []  # userTrades rows, in id order
        self.incomes: list[JsonDict] = []  # income rows, as they were made
        #: one row per liquidation close: symbol, time, size, entry, mark, price,
        #: wallet_before, wallet_after, margin_balance and maint_margin (at the trigger)
        self.liquidations: list[JsonDict] = []
        #: called with each user data event (ORDER_TRADE_UPDATE, ACCOUNT_UPDATE)
        self.listeners: list[Callable[[JsonDict], None]] = []
        self._settled: dict[str, set[int]] = {}
        self._next_order, self._next_trade, self._next_tran = 8_000_000, 3_000_000, 9_000_000

    # ---- orders -------------------------------------------------------------------------------
    def place(
        self,
        params: dict[str, str],
        best: tuple[float | None, float | None],
        mark: float | Decimal | None = None,
    ) -> JsonDict:
        """A new order from ``POST /fapi/v1/order``'s parameters, against the best bid and ask
        (and the mark, to value margin; default: the symbol's); filled at once where it is
        marketable. Raises :class:`~.account.VenueError` as Binance answers."""
        q = dict(params)
        symbol = q.get("symbol", "")
        info = self.symbols.get(symbol)
        if info is None or symbol not in self.brackets:
            raise refuse(-1121)
        self._check_request(q, symbol)
        side, otype = q["side"], q["type"]
        qty = number(q, "quantity")
        price = number(q, "price") if otype == "LIMIT" else None
        check_filters(info, otype, qty, price)
        fill_at = self._taker_price(side, otype, price, best)
        if q.get("timeInForce") == "GTX" and fill_at is not None:
            raise refuse(-5022)
        reduce_only = q.get("reduceOnly", "false").lower() == "true"
        check_min_notional(info, qty * (fill_at or price or ZERO), reduce_only)
        if reduce_only:
            size = self.position(symbol).size
            if not size or (size > 0) == (side == "BUY"):
                raise refuse(-2022)
        else:
            at = fill_at if fill_at is not None else price or ZERO
            ref = dec(mark) if mark is not None else self.marks.get(symbol, at)
            self._check_margin(symbol, side, qty, at, fill_at is not None, ref)
        self._next_order += 1
        order = new_order(self._next_order, q, qty, price, self.clock())
        self.orders[order["orderId"]] = order
        self._report(order, "NEW")
        if fill_at is not None:
            self._fill(order, fill_at, maker=False)
        elif order["timeInForce"] in ("IOC", "FOK"):
            self._end(order, "EXPIRED")
        else:
            self._resting[order["orderId"]] = order
        return order

    def cancel(self, order: JsonDict) -> JsonDict:
        """Cancel an open order (-2011 when it has ended)."""
        if order["status"] in TERMINAL:
            raise refuse(-2011)
        self._end(order, "CANCELED")
        return order

    def on_trade(self, price: float, ts_ms: int | None = None) -> None:
        """A replayed trade at ``price``: resting limits it goes through fill at their limit."""
        p = dec(price)
        for order in sorted(self._resting.values(), key=queue_key):  # amends may requeue
            if order["orderId"] not in self._resting:  # expired by an earlier fill
                continue
            limit = dec(order["price"])
            if (order["side"] == "BUY" and p < limit) or (order["side"] == "SELL" and p > limit):
                del self._resting[order["orderId"]]
                self._fill(order, limit, maker=True)

    def set_mark(self, symbol: str, mark: float | Decimal, ts_ms: int | None = None) -> None:
        """A new mark price (a markPrice frame); the account is liquidated if it must be."""
        self.marks[symbol] = dec(mark)
        self._check_liquidation(ts_ms)

    def settle_funding(
        self, symbol: str, rate: float | Decimal, mark: float | Decimal, ts_ms: int
    ) -> JsonDict | None:
        """Settle the funding of ``ts_ms`` at ``rate`` and ``mark`` (which becomes the mark):
        the position pays size x mark x rate. Returns the income row (None: no position, or a
        time already settled, which changes nothing)."""
        done = self._settled.setdefault(symbol, set())
        if ts_ms in done:
            return None
        done.add(ts_ms)
        self.marks[symbol] = dec(mark)
        pos = self.position(symbol)
        row = None
        if pos.size:
            payment = q8(pos.size * dec(mark) * dec(rate))
            self.wallet -= payment
            row = self._income(symbol, "FUNDING_FEE", -payment, ts_ms)
            event = account_event(
                "FUNDING_FEE", self.asset, self.wallet, -payment, [], self.clock()
            )
            self._emit(event)
        self._check_liquidation(ts_ms)
        return row

    # ---- settings -----------------------------------------------------------------------------
    def set_leverage(self, symbol: str, leverage: int | str) -> JsonDict:
        """``POST /fapi/v1/leverage``: 1 to the first bracket's maximum (else -4028)."""
        brackets = self._brackets(symbol)
        n = int(leverage)
        if not 1 <= n <= max_leverage(brackets):
            raise VenueError(400, -4028, f"Leverage {n} is not valid")
        cap = max_notional(brackets, n)
        if abs(self.position(symbol).size) * self.mark(symbol) > cap:
            raise refuse(-2027)
        self.leverages[symbol] = n
        return {"leverage": n, "maxNotionalValue": dec_text(cap), "symbol": symbol}

    def set_margin_type(self, symbol: str, margin_type: str) -> JsonDict:
        """``POST /fapi/v1/marginType``: CROSSED or ISOLATED (kept; see the module doc)."""
        self._brackets(symbol)
        kind = margin_type.upper()
        if kind not in ("CROSSED", "ISOLATED"):
            raise malformed("marginType")
        if kind == self.margin_types.get(symbol, "CROSSED"):
            raise refuse(-4046)
        if self.position(symbol).size:
            raise refuse(-4048)
        if self.open_orders(symbol):
            raise refuse(-4047)
        self.margin_types[symbol] = kind
        return dict(SUCCESS)

    def set_position_mode(self, dual_side: bool) -> JsonDict:
        """``POST /fapi/v1/positionSide/dual``: stored and reported (see the module doc)."""
        if dual_side == self.dual_side:
            raise refuse(-4059)
        if any(p.size for p in self.positions.values()):
            raise refuse(-4068)
        if self._resting:
            raise refuse(-4067)
        self.dual_side = dual_side
        return dict(SUCCESS)

    def position_mode(self) -> JsonDict:
        """``GET /fapi/v1/positionSide/dual``."""
        return {"dualSidePosition": self.dual_side}

    # ---- queries ------------------------------------------------------------------------------
    def find(
        self, symbol: str, order_id: str | int | None = None, client_id: str | None = None
    ) -> JsonDict:
        """The order by id or client id (-2013 when there is none)."""
        if order_id is not None:
            order = self.orders.get(int(order_id))
            if order is not None and order["symbol"] == symbol:
                return order
        elif client_id is not None:
            for o in reversed(self.orders.values()):
                if o["clientOrderId"] == client_id and o["symbol"] == symbol:
                    return o
        raise refuse(-2013)

    def open_orders(self, symbol: str | None = None) -> list[JsonDict]:
        return [
            o
            for o in self.orders.values()
            if o["status"] not in TERMINAL and symbol in (None, o["symbol"])
        ]

    def leverage_brackets(self, symbol: str | None = None) -> JsonDict | list[JsonDict]:
        """``GET /fapi/v1/leverageBracket``: one symbol's row (an object, as Binance answers a
        request with ``symbol``), or every symbol's (a list)."""
        if symbol is not None:
            return {"symbol": symbol, "brackets": [dict(b) for b in self._brackets(symbol)]}
        return [{"symbol": s, "brackets": [dict(b) for b in bs]} for s, bs in self.brackets.items()]

    def position_risk(self, symbol: str | None = None) -> list[JsonDict]:
        """``GET /fapi/v3/positionRisk``: the symbols with a position or open orders."""
        return [
            risk_row(s, self.asset, self.position(s), self.figures(s, liquidation=True))
            for s in self._active()
            if symbol in (None, s)
        ]

    def account(self) -> JsonDict:
        """``GET /fapi/v3/account`` (one margin asset; the symbols with a position or open
        orders)."""
        rows = self.position_risk()
        return account_json(self.asset, self.wallet, rows, self.clock())

    def balance(self) -> list[JsonDict]:
        """``GET /fapi/v3/balance`` (one margin asset)."""
        return balance_json(self.account())

    def user_trades(
        self,
        symbol: str | None,
        start_ms: int | None = None,
        from_id: int | str | None = None,
        order_id: int | str | None = None,
        end_ms: int | None = None,
        limit: int = 500,
    ) -> list[JsonDict]:
        """``GET /fapi/v1/userTrades``: the symbol's trades (every symbol's for None), oldest
        first: from ``from_id`` or ``start_ms`` on, else the latest ``limit``."""
        rows = [
            t
            for t in self.trades
            if symbol in (None, t["symbol"])
            and (order_id is None or t["orderId"] == int(order_id))
            and (from_id is None or t["id"] >= int(from_id))
            and _within(t["time"], start_ms, end_ms)
        ]
        return rows[:limit] if from_id is not None or start_ms is not None else rows[-limit:]

    def income(
        self,
        symbol: str | None = None,
        income_type: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = 100,
    ) -> list[JsonDict]:
        """``GET /fapi/v1/income``: rows oldest first, from ``start_ms`` on, else the latest
        ``limit`` (no 7-day default window)."""
        rows = [
            r
            for r in sorted(self.incomes, key=lambda r: (r["time"], r["tranId"]))
            if symbol in (None, r["symbol"])
            and income_type in (None, r["incomeType"])
            and _within(r["time"], start_ms, end_ms)
        ]
        return rows[:limit] if start_ms is not None else rows[-limit:]

    # ---- internals: checks --------------------------------------------------------------------
    def _check_request(self, q: dict[str, str], symbol: str) -> None:
        if q.get("side") not in ("BUY", "SELL"):
            raise malformed("side")
        if q.get("type") not in ("MARKET", "LIMIT"):
            raise refuse(-1116)
        if q["type"] == "LIMIT" and q.get("timeInForce", "GTC") not in ("GTC", "IOC", "FOK", "GTX"):
            raise refuse(-1115)
        if (q.get("positionSide") or "BOTH") != "BOTH" or self.dual_side:
            raise refuse(-4061)
        if self.margin_types.get(symbol) == "ISOLATED":
            raise refuse(-1000)
        q["newClientOrderId"] = q.get("newClientOrderId") or f"loopback{self._next_order + 1}"
        if any(o["clientOrderId"] == q["newClientOrderId"] for o in self.open_orders()):
            raise refuse(-4116)

    def _taker_price(
        self, side: str, otype: str, price: Decimal | None, best: tuple[float | None, float | None]
    ) -> Decimal | None:
        """The price the order takes at now (the best opposite one), None when it rests."""
        opposite = best[1] if side == "BUY" else best[0]
        if opposite is None:
            if otype == "MARKET":
                raise refuse(-2020)
            return None
        at = dec(opposite)
        if price is None or (at <= price if side == "BUY" else at >= price):
            return at
        return None

    def _check_margin(
        self, symbol: str, side: str, qty: Decimal, price: Decimal, fills: bool, mark: Decimal
    ) -> None:
        """-2019 when the order's opening part needs more initial margin than is available
        (``fills``: at once, at ``price``; else it rests there), -2027 when the position and
        orders would pass the largest notional of the symbol's leverage."""
        lev, size = self.leverage(symbol), self.position(symbol).size
        buys, sells = self._opening(symbol, size)
        before = abs(size) * mark + max(buys, sells)
        signed = qty if side == "BUY" else -qty
        after_size = size + signed if fills else size
        extra = None if fills else {"side": side, "left": qty, "price": price}
        buys, sells = self._opening(symbol, after_size, extra)
        after = abs(after_size) * mark + max(buys, sells)
        if after <= before:
            return
        if (after - before) / lev > self.available_balance():
            raise refuse(-2019)
        long = max(after_size, ZERO) * mark + buys
        short = max(-after_size, ZERO) * mark + sells
        if max(long, short) > max_notional(self._brackets(symbol), lev):
            raise refuse(-2027)

    # ---- internals: fills ---------------------------------------------------------------------
    def _fill(self, order: JsonDict, price: Decimal, maker: bool) -> None:
        """Fill what is left of ``order`` (a reduce-only one no more than the position left;
        the rest expires), then expire the reduce-only orders that no longer reduce."""
        left = left_qty(order)
        if order["reduceOnly"]:
            left = min(left, self._closable(order))
        if left > 0:
            self._execute(order, left, price, maker)
        if order["status"] != "FILLED":
            self._end(order, "EXPIRED")
        for other in list(self._resting.values()):
            if other["symbol"] == order["symbol"] and other["reduceOnly"]:
                if not self._closable(other):
                    self._end(other, "EXPIRED")

    def _closable(self, order: JsonDict) -> Decimal:
        size = self.position(order["symbol"]).size
        if (order["side"] == "BUY" and size < 0) or (order["side"] == "SELL" and size > 0):
            return abs(size)
        return ZERO

    def _end(self, order: JsonDict, status: str) -> None:
        self._resting.pop(order["orderId"], None)
        order["status"] = status
        order["updateTime"] = self.clock()
        self._report(order, status)

    def _execute(
        self, order: JsonDict, qty: Decimal, price: Decimal, maker: bool, liquidation: bool = False
    ) -> None:
        """One fill: the position, the wallet, the order, a trade, income rows, two events."""
        symbol, now = order["symbol"], self.clock()
        pos = self.positions.setdefault(symbol, FuturesPosition())
        realized = pos.move(qty if order["side"] == "BUY" else -qty, price)
        rate = ZERO if liquidation else self.maker if maker else self.taker
        fee = q8(qty * price * rate)
        self.wallet += realized - fee
        if order.get("_bankrupt"):  # the last close of a liquidation: the wallet ends at 0
            self.wallet = ZERO
        pos.update_time = now
        executed = dec(order["executedQty"]) + qty
        quote = dec(order["cumQuote"]) + qty * price
        order["executedQty"] = order["cumQty"] = dec_text(executed)
        order["cumQuote"], order["avgPrice"] = text8(quote), text8(quote / executed)
        order["status"] = "FILLED" if executed >= dec(order["origQty"]) else "PARTIALLY_FILLED"
        order["updateTime"] = now
        self._next_trade += 1
        trade = trade_row(
            order, self._next_trade, (qty, price), fee, realized, maker, self.asset, now
        )
        self.trades.append(trade)
        if realized:
            self._income(symbol, "REALIZED_PNL", realized, now, trade["id"])
        if fee:
            self._income(symbol, "COMMISSION", -fee, now, trade["id"])
        self._report(order, "CALCULATED" if liquidation else "TRADE", trade)
        mt = "isolated" if self.margin_types.get(symbol) == "ISOLATED" else "cross"
        row = ws_position(symbol, pos, self.figures(symbol), mt)
        self._emit(account_event("ORDER", self.asset, self.wallet, ZERO, [row], now))

    # ---- internals: liquidation ---------------------------------------------------------------
    def _check_liquidation(self, ts_ms: int | None) -> None:
        if not any(p.size for p in self.positions.values()):
            return
        balance, maint = self.margin_balance(), self.total_maint_margin()
        if balance <= maint:
            self._liquidate(ts_ms if ts_ms is not None else self.clock(), balance, maint)

    def _liquidate(self, ts: int, balance: Decimal, maint: Decimal) -> None:
        """Binance's terminal case (see the module doc)."""
        for order in sorted(self._resting.values(), key=lambda o: o["orderId"]):
            self._end(order, "CANCELED")
        names = sorted((s for s, p in self.positions.items() if p.size), key=self.maint_margin)
        for n, symbol in enumerate(names, 1):
            pos = self.positions[symbol]
            size, entry, mark, before = pos.size, pos.entry, self.mark(symbol), self.wallet
            bankrupt = n == len(names)  # the largest maintenance margin closes last
            price = bankruptcy_price(size, entry, before) if bankrupt else mark
            self._next_order += 1
            params = {"symbol": symbol, "type": "LIMIT", "timeInForce": "IOC",
                      "side": "SELL" if size > 0 else "BUY",
                      "newClientOrderId": f"autoclose-{ts}{n:06d}"}  # fmt: skip
            order = new_order(self._next_order, params, abs(size), q8(price), self.clock())
            order["_liquidation"], order["_bankrupt"] = True, bankrupt
            self.orders[order["orderId"]] = order
            self._report(order, "NEW")
            self._execute(order, abs(size), price, maker=False, liquidation=True)
            self.liquidations.append(
                {"symbol": symbol, "time": ts, "size": size, "entry": entry, "mark": mark,
                 "price": price, "wallet_before": before, "wallet_after": self.wallet,
                 "margin_balance": balance, "maint_margin": maint}
            )  # fmt: skip

    # ---- internals: rows and events -----------------------------------------------------------
    def _income(
        self, symbol: str, kind: str, amount: Decimal, ts: int, trade_id: int | str = ""
    ) -> JsonDict:
        self._next_tran += 1
        row = {"symbol": symbol, "incomeType": kind, "income": text8(amount),
               "asset": self.asset, "info": kind, "time": ts, "tranId": self._next_tran,
               "tradeId": str(trade_id)}  # fmt: skip
        self.incomes.append(row)
        return row

    def _report(self, order: JsonDict, exec_type: str, trade: JsonDict | None = None) -> None:
        notionals = self._notionals(order["symbol"])
        self._emit(order_event(order, exec_type, trade, self.clock(), notionals))

    def _emit(self, event: JsonDict) -> None:
        for listen in self.listeners:
            listen(event)


def public_order(order: JsonDict) -> JsonDict:
    """An order as the REST API shows it (without the account's internal keys)."""
    return {k: v for k, v in order.items() if not k.startswith("_")}


def _within(ts: int, start_ms: int | None, end_ms: int | None) -> bool:
    return (start_ms is None or ts >= start_ms) and (end_ms is None or ts <= end_ms)
