"""The loopback exchanges' account: balances, orders and a matching engine on the replayed market.

Both loopback venues trade on it; each speaks it in its own wire protocol (it keeps Binance's
names, statuses and error codes, which the Bybit side translates).

Fills follow the paper broker's default rule (``TickBroker()``), so a strategy traded for real on
the loopback exchange and paper-traded on the same replay fills alike:

* a market order fills whole at the best opposite price of the server's book (the last trade's
  price when a later trade contradicts the book, which the depth stream updates only every
  100 ms: the paper broker's stale-book rule);
* a limit order marketable on arrival fills whole at the best opposite price;
* a resting limit order fills whole at its limit when a replayed trade goes through it (a buy
  when a trade prints below its limit, a sell above).

Commissions are charged at ``taker`` / ``maker`` rates, in the quote asset by default (a
simplification), or with ``fee_asset="received"`` in the asset the fill brings in, as Binance
and Bybit spot charge it (unless BNB pays): a buyer pays in the base asset (it receives
``qty - fee``), a seller in the quote. Every change is reported to the listeners as Binance's
user data events (``executionReport``, ``outboundAccountPosition``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Literal

from ..btypes import JsonDict
from ..errors import BacktraderChannelsError

#: the asset a fill's commission is charged in
FeeAsset = Literal["quote", "received"]

#: Binance's order statuses that end an order
TERMINAL = ("FILLED", "CANCELED", "REJECTED", "EXPIRED")


class VenueError(BacktraderChannelsError):
    """A Binance error answer: HTTP status, code and message."""

    def __init__(self, status: int, code: int, msg: str):
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg


def dec(value: str | float | Decimal) -> Decimal:
    """``value`` (a number or its text) as an exact decimal."""
    return Decimal(str(value))


def dec_text(value: Decimal) -> str:
    """A decimal as a venue prints it: no exponent, no trailing zeros ("0" for zero)."""
    return format(value.normalize(), "f") if value else "0"


class Account:
    """One account on one spot symbol's book (see module doc).

    Parameters
    ----------
    balances : dict
        Starting free balances by asset, e.g. ``{"USDT": 10_000, "BTC": 0}``.
    symbols : dict
        exchangeInfo's spot symbols by name (their filters are enforced).
    taker, maker : float
        Commission rates (fractions of the fill's value).
    fee_asset : {"quote", "received"}, default "quote"
        The asset commissions are charged in: always the quote, or the asset the fill brings
        in (the base for a buyer), as the real venues do.
    """

    def __init__(
        self,
        balances: dict[str, float],
        symbols: dict[str, JsonDict],
        taker: float = 0.001,
        maker: float = 0.001,
        fee_asset: FeeAsset = "quote",
    ):
        if fee_asset not in ("quote", "received"):
            raise ValueError(f"fee_asset={fee_asset!r}: must be one of 'quote', 'received'")
        self.fee_asset = fee_asset
        self.free = {a: dec(v) for a, v in balances.items()}
        self.locked: dict[str, Decimal] = {a: Decimal(0) for a in self.free}
        self.symbols = symbols
        self.taker, self.maker = dec(taker), dec(maker)
        self.orders: dict[int, JsonDict] = {}  # orderId -> order (every order ever)
        self.trades: list[JsonDict] = []  # myTrades, in id order
        self._resting: dict[int, JsonDict] = {}  # limit orders waiting for a trade
        self._next_order = 1_000_000
        self._next_trade = 5_000_000
        #: called with each user data event (executionReport, outboundAccountPosition)
        self.listeners: list[Callable[[JsonDict], None]] = []
        #: the next N fills are made in two executions (a partial fill, then the rest)
        self.split_fills = 0
        #: the next N fills are followed by a late CANCELED report for the filled order
        self.late_cancels = 0

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
            found = [
                o
                for o in self.orders.values()
                if o["clientOrderId"] == client_id and o["symbol"] == symbol
            ]
            if found:
                return found[-1]
        raise VenueError(400, -2013, "Order does not exist.")

    def open_orders(self, symbol: str | None) -> list[JsonDict]:
        return [
            o
            for o in self.orders.values()
            if o["status"] not in TERMINAL and (symbol is None or o["symbol"] == symbol)
        ]

    def balances(self) -> list[dict[str, str]]:
        return [
            {
                "asset": a,
                "free": dec_text(self.free[a]),
                "locked": dec_text(self.locked.get(a, Decimal(0))),
            }
            for a in sorted(self.free)
        ]

    # ---- orders -------------------------------------------------------------------------------
    def place(self, q: dict[str, str], best: tuple[float | None, float | None]) -> JsonDict:
        """A new order from a request's parameters; filled at once where it is marketable."""
        symbol = q.get("symbol", "")
        info = self.symbols.get(symbol)
        if info is None:
            raise VenueError(400, -1121, "Invalid symbol.")
        side, otype = q.get("side", ""), q.get("type", "")
        if side not in ("BUY", "SELL"):
            raise VenueError(400, -1102, "Mandatory parameter 'side' was not sent.")
        if otype not in ("MARKET", "LIMIT", "LIMIT_MAKER"):
            raise VenueError(400, -1116, "Invalid orderType.")
        maker_only = otype == "LIMIT_MAKER"  # a limit refused when it would take (post-only)
        if maker_only:
            otype = "LIMIT"
        cid = q.get("newClientOrderId") or f"loopback{self._next_order}"
        if any(o["clientOrderId"] == cid for o in self.open_orders(symbol)):
            raise VenueError(400, -2010, "Duplicate order sent.")
        qty = dec(q.get("quantity", "0"))
        price = dec(q["price"]) if otype == "LIMIT" else None
        self._check_filters(info, otype, qty, price, best)
        bid, ask = best
        fill_at = ask if side == "BUY" else bid
        marketable = otype == "MARKET" or (
            fill_at is not None
            and (dec(fill_at) <= price if side == "BUY" else dec(fill_at) >= price)  # type: ignore[operator]
        )
        if maker_only and marketable:
            raise VenueError(400, -2010, "Order would immediately match and take.")
        base, quote = info["baseAsset"], info["quoteAsset"]
        need_price = dec(fill_at) if marketable and fill_at is not None else price
        if need_price is None:
            raise VenueError(400, -2010, "Order would immediately match and take.")
        if side == "BUY" and self.free.get(quote, Decimal(0)) < qty * need_price * (1 + self.taker):
            raise VenueError(400, -2010, "Account has insufficient balance for requested action.")
        if side == "SELL" and self.free.get(base, Decimal(0)) < qty:
            raise VenueError(400, -2010, "Account has insufficient balance for requested action.")
        now = int(time.time() * 1000)
        self._next_order += 1
        order = {
            "symbol": symbol,
            "orderId": self._next_order,
            "orderListId": -1,
            "clientOrderId": cid,
            "price": dec_text(price) if price is not None else "0",
            "origQty": dec_text(qty),
            "executedQty": "0",
            "cummulativeQuoteQty": "0",
            "status": "NEW",
            "timeInForce": "GTC",
            "type": "LIMIT_MAKER" if maker_only else otype,
            "side": side,
            "stopPrice": "0",
            "icebergQty": "0",
            "time": now,
            "updateTime": now,
            "transactTime": now,
            "workingTime": now,
            "isWorking": True,
            "origQuoteOrderQty": "0",
            "selfTradePreventionMode": "NONE",
            "fills": [],
            "_base": base,
            "_quote": quote,
        }
        self.orders[order["orderId"]] = order
        self._report(order, "NEW")
        if marketable and fill_at is not None:
            self._fill(order, dec(fill_at), maker=False)
        else:  # rests: lock what it may spend
            self._lock(order, qty * price * (1 + self.maker) if side == "BUY" else qty)  # type: ignore[operator]
            self._resting[order["orderId"]] = order
        return order

    def cancel(self, order: JsonDict) -> JsonDict:
        if order["status"] in TERMINAL:
            raise VenueError(400, -2011, "Unknown order sent.")
        self._unlock(order)
        self._resting.pop(order["orderId"], None)
        order["status"] = "CANCELED"
        order["updateTime"] = order["transactTime"] = int(time.time() * 1000)
        self._report(order, "CANCELED")
        return order

    def on_trade(self, price: float, ts_ms: int) -> None:
        """A replayed trade at ``price``: resting limits it goes through fill at their limit."""
        p = dec(price)
        for order in list(self._resting.values()):
            limit = dec(order["price"])
            if (order["side"] == "BUY" and p < limit) or (order["side"] == "SELL" and p > limit):
                del self._resting[order["orderId"]]
                self._unlock(order)
                self._fill(order, limit, maker=True)

    # ---- internals ----------------------------------------------------------------------------
    def _check_filters(
        self,
        info: JsonDict,
        otype: str,
        qty: Decimal,
        price: Decimal | None,
        best: tuple[float | None, float | None],
    ) -> None:
        filters = {f["filterType"]: f for f in info.get("filters", [])}
        lot = filters.get("LOT_SIZE")
        if lot is not None:
            step = dec(lot["stepSize"])
            if qty < dec(lot["minQty"]) or qty > dec(lot["maxQty"]) or (step and qty % step):
                raise VenueError(400, -1013, "Filter failure: LOT_SIZE")
        pf = filters.get("PRICE_FILTER")
        if price is not None and pf is not None:
            tick = dec(pf["tickSize"])
            if price < dec(pf["minPrice"]) or (tick and price % tick):
                raise VenueError(400, -1013, "Filter failure: PRICE_FILTER")
        notional = filters.get("NOTIONAL") or filters.get("MIN_NOTIONAL")
        ref = price if price is not None else dec(best[1] or best[0] or 0)
        if notional is not None and qty * ref < dec(notional["minNotional"]):
            raise VenueError(400, -1013, "Filter failure: NOTIONAL")

    def _lock(self, order: JsonDict, amount: Decimal) -> None:
        asset = order["_quote"] if order["side"] == "BUY" else order["_base"]
        self.free[asset] = self.free.get(asset, Decimal(0)) - amount
        self.locked[asset] = self.locked.get(asset, Decimal(0)) + amount
        order["_locked"] = amount
        self._account_event()

    def _unlock(self, order: JsonDict) -> None:
        amount = order.pop("_locked", None)
        if amount is None:
            return
        asset = order["_quote"] if order["side"] == "BUY" else order["_base"]
        self.free[asset] += amount
        self.locked[asset] -= amount

    def _fill(self, order: JsonDict, price: Decimal, maker: bool) -> None:
        qty = dec(order["origQty"]) - dec(order["executedQty"])
        parts = [qty]
        if self.split_fills > 0:
            self.split_fills -= 1
            step = dec("0.00001")
            first = (qty / 2 // step) * step
            if first and first < qty:
                parts = [first, qty - first]
        for part in parts:
            self._execute(order, part, price, maker)
        if self.late_cancels > 0:  # the venue's late report of a cancel that lost the race
            self.late_cancels -= 1
            late = dict(order, status="CANCELED")
            self._report(late, "CANCELED")

    def _execute(self, order: JsonDict, qty: Decimal, price: Decimal, maker: bool) -> None:
        base, quote = order["_base"], order["_quote"]
        value = qty * price
        rate = self.maker if maker else self.taker
        fee, fee_coin = value * rate, quote
        for a in (base, quote):
            self.free.setdefault(a, Decimal(0))
            self.locked.setdefault(a, Decimal(0))
        if order["side"] == "BUY" and self.fee_asset == "received":  # paid in the coin bought
            fee, fee_coin = qty * rate, base
            self.free[base] += qty - fee
            self.free[quote] -= value
        elif order["side"] == "BUY":
            self.free[base] += qty
            self.free[quote] -= value + fee
        else:
            self.free[base] -= qty
            self.free[quote] += value - fee
        executed = dec(order["executedQty"]) + qty
        order["executedQty"] = dec_text(executed)
        order["cummulativeQuoteQty"] = dec_text(dec(order["cummulativeQuoteQty"]) + value)
        done = executed >= dec(order["origQty"])
        order["status"] = "FILLED" if done else "PARTIALLY_FILLED"
        now = int(time.time() * 1000)
        order["updateTime"] = order["transactTime"] = now
        self._next_trade += 1
        trade = {
            "symbol": order["symbol"],
            "id": self._next_trade,
            "orderId": order["orderId"],
            "orderListId": -1,
            "price": dec_text(price),
            "qty": dec_text(qty),
            "quoteQty": dec_text(value),
            "commission": dec_text(fee),
            "commissionAsset": fee_coin,
            "time": now,
            "isBuyer": order["side"] == "BUY",
            "isMaker": maker,
            "isBestMatch": True,
        }
        self.trades.append(trade)
        order["fills"].append(
            {
                "price": trade["price"],
                "qty": trade["qty"],
                "commission": trade["commission"],
                "commissionAsset": fee_coin,
                "tradeId": trade["id"],
            }
        )
        self._report(order, "TRADE", trade)
        self._account_event()

    def _report(self, order: JsonDict, exec_type: str, trade: JsonDict | None = None) -> None:
        now = int(time.time() * 1000)
        event = {
            "e": "executionReport",
            "E": now,
            "s": order["symbol"],
            "c": order["clientOrderId"],
            "S": order["side"],
            "o": order["type"],
            "f": order["timeInForce"],
            "q": order["origQty"],
            "p": order["price"],
            "P": "0",
            "F": "0",
            "g": -1,
            "C": "",
            "x": exec_type,
            "X": order["status"],
            "r": "NONE",
            "i": order["orderId"],
            "l": trade["qty"] if trade else "0",
            "z": order["executedQty"],
            "L": trade["price"] if trade else "0",
            "n": trade["commission"] if trade else "0",
            "N": trade["commissionAsset"] if trade else None,
            "T": now,
            "t": trade["id"] if trade else -1,
            "w": order["status"] in ("NEW", "PARTIALLY_FILLED"),
            "m": bool(trade and trade["isMaker"]),
            "M": False,
            "O": order["time"],
            "Z": order["cummulativeQuoteQty"],
            "Y": trade["quoteQty"] if trade else "0",
            "Q": "0",
            "W": order["workingTime"],
            "V": "NONE",
        }
        for listen in self.listeners:
            listen(event)

    def _account_event(self) -> None:
        now = int(time.time() * 1000)
        event = {
            "e": "outboundAccountPosition",
            "E": now,
            "u": now,
            "B": [{"a": b["asset"], "f": b["free"], "l": b["locked"]} for b in self.balances()],
        }
        for listen in self.listeners:
            listen(event)


def public_order(order: JsonDict, full: bool = False) -> JsonDict:
    """An order as the REST API shows it (``full``: a FULL new-order response, with fills)."""
    out = {k: v for k, v in order.items() if not k.startswith("_") and k != "fills"}
    if full:
        out["fills"] = list(order["fills"])
    return out
