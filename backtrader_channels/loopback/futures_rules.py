"""Binance USDⓈ-M rules the loopback futures account applies, and the figures they give.

:mod:`.futures_account` changes the account (orders, fills, funding, liquidation); this module
holds what only reads it: the leverage brackets (Binance's ``GET /fapi/v1/leverageBracket``
answer), the maintenance margin, the liquidation and bankruptcy prices, the order filters, a
position's arithmetic (:class:`FuturesPosition`), the margin figures of the account's state
(:class:`MarginBook`), and the wire formats of the REST answers and user data events
(``ORDER_TRADE_UPDATE``, ``ACCOUNT_UPDATE``).

Sources: Binance's USDⓈ-M API documentation (leverage brackets, user data streams, error codes)
and its support pages *Leverage and Margin of USDⓈ-M Futures* (maintenance margin = notional x
maintenance rate - maintenance amount, the amount ``cum`` of a tier being the previous tier's
amount + its floor x the rate difference) and *How to Calculate Liquidation Price of USDⓈ-M
Contracts* (the cross, one-way formula of :func:`liquidation_price`).

The bundled ``data/binance_usdm_leverage_brackets.json`` is Binance's published tiers for
ETHUSDT and BTCUSDT, mid-2024, as a representative copy (the first tiers as published: 0-50,000
at 125x and 0.4%, 50,000-500,000 at 100x and 0.5%, ...; the upper tiers as best known, each
``cum`` derived by the rule above); ``fetch_leverage_tiers`` gives an account's current ones.
The file keeps Binance's answer format exactly (a plain list), so it documents itself here.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from ..btypes import JsonDict
from .account import VenueError, dec, dec_text

#: the bundled brackets (Binance's ``/fapi/v1/leverageBracket`` answer, see the module doc)
BRACKETS_FILE = os.path.join(
    os.path.dirname(os.path.dirname(__file__)), "data", "binance_usdm_leverage_brackets.json"
)
ZERO = Decimal(0)
#: Binance prints computed amounts and prices with at most 8 decimals
EIGHT = Decimal("1e-8")


#: Binance's messages of the error codes the account answers
MESSAGES = {
    -1000: "The loopback futures account trades cross margin only (marginType CROSSED).",
    -1115: "Invalid timeInForce.",
    -1116: "Invalid orderType.",
    -1121: "Invalid symbol.",
    -2011: "Unknown order sent.",
    -2013: "Order does not exist.",
    -2019: "Margin is insufficient.",
    -2020: "Unable to fill.",
    -2022: "ReduceOnly Order is rejected.",
    -2027: "Exceeded the maximum allowable position at current leverage.",
    -4046: "No need to change margin type.",
    -4047: "Margin type cannot be changed if there exists open orders.",
    -4048: "Margin type cannot be changed if there exists position.",
    -4059: "No need to change position side.",
    -4061: "Order's position side does not match user's setting.",
    -4067: "Position side cannot be changed if there exists open orders.",
    -4068: "Position side cannot be changed if there exists position.",
    -4116: "ClientOrderId is duplicated.",
    -5022: "Due to the order could not be executed as maker, the Post Only order will be "
    "rejected. The order will not be recorded in the order history.",
}


def refuse(code: int) -> VenueError:
    """Binance's error answer ``code`` (HTTP 400, the message of :data:`MESSAGES`)."""
    return VenueError(400, code, MESSAGES[code])


def malformed(key: str) -> VenueError:
    """Binance's -1102 for a missing or malformed parameter ``key``."""
    msg = f"Mandatory parameter '{key}' was not sent, was empty/null, or malformed."
    return VenueError(400, -1102, msg)


def number(params: dict[str, str], key: str) -> Decimal:
    """A request's numeric parameter (-1102 when it is missing or not a number)."""
    try:
        return dec(params[key])
    except (KeyError, InvalidOperation):
        raise malformed(key) from None


def left_qty(order: JsonDict) -> Decimal:
    """What an order has still to fill."""
    return dec(order["origQty"]) - dec(order["executedQty"])


def load_brackets(path: str | None = None) -> dict[str, list[JsonDict]]:
    """The leverage brackets by symbol, from a ``/fapi/v1/leverageBracket`` answer saved as
    JSON (``path``; default: the bundled file)."""
    with open(path or BRACKETS_FILE, encoding="utf-8") as f:
        rows = json.load(f)
    return {row["symbol"]: [dict(b) for b in row["brackets"]] for row in rows}


def q8(value: Decimal) -> Decimal:
    """``value`` rounded to 8 decimals (half even), as Binance keeps USDT amounts."""
    return value.quantize(EIGHT)


def text8(value: Decimal) -> str:
    """A computed amount or price as the venue prints it: 8 decimals at most, no trailing
    zeros."""
    return dec_text(q8(value))


# ---- brackets and margins ---------------------------------------------------------------------
def bracket_for(brackets: list[JsonDict], notional: Decimal) -> JsonDict:
    """The bracket a position of ``notional`` (absolute, at the mark) falls in: the last whose
    floor it reaches (the floor belongs to the bracket; past the last cap, the last one)."""
    chosen = brackets[0]
    for b in brackets:
        if notional < dec(b["notionalFloor"]):
            break
        chosen = b
    return chosen


def maint_margin(brackets: list[JsonDict], notional: Decimal) -> Decimal:
    """Maintenance margin of a position of ``notional`` (absolute, at the mark): notional x the
    bracket's ``maintMarginRatio`` - its ``cum``."""
    if not notional:
        return ZERO
    b = bracket_for(brackets, notional)
    return notional * dec(b["maintMarginRatio"]) - dec(b["cum"])


def max_leverage(brackets: list[JsonDict]) -> int:
    """The largest leverage a symbol allows: its first bracket's ``initialLeverage``."""
    return int(brackets[0]["initialLeverage"])


def max_notional(brackets: list[JsonDict], leverage: int) -> Decimal:
    """The largest position notional ``leverage`` allows: the cap of the last bracket whose
    ``initialLeverage`` is at least it (``maxNotionalValue`` of ``POST /fapi/v1/leverage``)."""
    cap = ZERO
    for b in brackets:
        if int(b["initialLeverage"]) >= leverage:
            cap = dec(b["notionalCap"])
    return cap


def liquidation_price(
    size: Decimal,
    entry: Decimal,
    brackets: list[JsonDict],
    wallet: Decimal,
    others: Decimal,
    mark: Decimal,
) -> Decimal:
    """Binance's liquidation price of a cross, one-way position (0 when flat or when no price
    can liquidate it)::

        LP = (WB - TMM1 + UPNL1 + cum - side x |size| x entry) / (|size| x mmr - side x |size|)

    ``wallet`` is WB; ``others`` is UPNL1 - TMM1, the other positions' unrealized profit minus
    their maintenance margin. The bracket (mmr, cum) is the one the position's notional at LP
    falls in; when none is consistent, the one of its notional at ``mark``."""
    if not size:
        return ZERO
    side = Decimal(1 if size > 0 else -1)
    amount = abs(size)

    def solve(b: JsonDict) -> Decimal:
        mmr, cum = dec(b["maintMarginRatio"]), dec(b["cum"])
        return (wallet + others + cum - side * amount * entry) / (amount * mmr - side * amount)

    for b in brackets:
        price = solve(b)
        if dec(b["notionalFloor"]) <= amount * price < dec(b["notionalCap"]):
            return price
    price = solve(bracket_for(brackets, amount * mark))
    return price if price > 0 else ZERO


def bankruptcy_price(size: Decimal, entry: Decimal, wallet: Decimal) -> Decimal:
    """The price at which closing ``size`` loses exactly ``wallet``: ``entry - wallet/size``
    (linear contracts)."""
    return entry - wallet / size


# ---- order filters ----------------------------------------------------------------------------
def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def check_filters(info: JsonDict, otype: str, qty: Decimal, price: Decimal | None) -> None:
    """The fapi exchangeInfo symbol's quantity and price rules, as Binance answers them:
    -4003 for a quantity <= 0, -1111 for more decimals than ``quantityPrecision`` /
    ``pricePrecision``, -1013 for a ``LOT_SIZE`` (``MARKET_LOT_SIZE`` for market orders) or
    ``PRICE_FILTER`` failure (step, minimum, maximum)."""
    if qty <= 0:
        raise VenueError(400, -4003, "Quantity less than or equal to zero.")
    precision = "Precision is over the maximum defined for this asset."
    if "quantityPrecision" in info and _decimals(qty) > int(info["quantityPrecision"]):
        raise VenueError(400, -1111, precision)
    filters = {f["filterType"]: f for f in info.get("filters", [])}
    name = "MARKET_LOT_SIZE" if otype == "MARKET" and "MARKET_LOT_SIZE" in filters else "LOT_SIZE"
    lot = filters.get(name)
    if lot is not None:
        step, top = dec(lot["stepSize"]), dec(lot.get("maxQty") or 0)
        if qty < dec(lot["minQty"]) or (top and qty > top) or (step and qty % step):
            raise VenueError(400, -1013, f"Filter failure: {name}")
    if price is None:
        return
    if "pricePrecision" in info and _decimals(price) > int(info["pricePrecision"]):
        raise VenueError(400, -1111, precision)
    pf = filters.get("PRICE_FILTER")
    if pf is not None:
        tick, top = dec(pf["tickSize"]), dec(pf.get("maxPrice") or 0)
        if price < dec(pf["minPrice"]) or (top and price > top) or (tick and price % tick):
            raise VenueError(400, -1013, "Filter failure: PRICE_FILTER")


def check_min_notional(info: JsonDict, notional: Decimal, reduce_only: bool) -> None:
    """Futures' ``MIN_NOTIONAL`` (key ``notional``): -4164, unless the order is reduce-only."""
    for f in info.get("filters", []):
        if f["filterType"] == "MIN_NOTIONAL" and not reduce_only:
            least = dec(f.get("notional", f.get("minNotional", 0)))
            if notional < least:
                raise VenueError(
                    400,
                    -4164,
                    f"Order's notional must be no smaller than {dec_text(least)} "
                    "(unless you choose reduce only).",
                )


# ---- positions ----------------------------------------------------------------------------------
@dataclass
class FuturesPosition:
    """One symbol's one-way position: signed size, entry price, accumulated realized profit
    (before fees, Binance's ``cr``) and the time it last changed."""

    size: Decimal = ZERO
    entry: Decimal = ZERO
    realized: Decimal = ZERO
    update_time: int = 0

    def move(self, signed: Decimal, price: Decimal) -> Decimal:
        """Apply a fill of ``signed`` size at ``price``: the entry is the size-weighted
        average on an increase, unchanged on a reduction, the fill price after a flip.
        Returns the realized profit (closed size x (price - entry) x sign, 8 decimals)."""
        size, entry = self.size, self.entry
        if not size or (size > 0) == (signed > 0):
            self.size = size + signed
            self.entry = (abs(size) * entry + abs(signed) * price) / abs(self.size)
            return ZERO
        closed = min(abs(signed), abs(size))
        realized = q8(closed * (price - entry) * (1 if size > 0 else -1))
        self.size = size + signed
        if not self.size:
            self.entry = ZERO
        elif (self.size > 0) != (size > 0):  # a flip: the rest opens at the fill price
            self.entry = price
        self.realized += realized
        return realized

    def break_even(self, taker: Decimal) -> Decimal:
        """The price at which a close at the taker rate pays back an opening and a closing
        fee at that rate (0 when flat)."""
        one = Decimal(1)
        if self.size > 0:
            return self.entry * (one + taker) / (one - taker)
        return self.entry * (one - taker) / (one + taker) if self.size else ZERO


# ---- wire formats (keys in the order of Binance's documentation) ------------------------------
def order_event(
    order: JsonDict,
    exec_type: str,
    trade: JsonDict | None,
    now: int,
    notionals: tuple[Decimal, Decimal],
) -> JsonDict:
    """An ``ORDER_TRADE_UPDATE`` of ``order`` (execution type ``exec_type``: NEW, TRADE,
    CANCELED, EXPIRED, or CALCULATED for a liquidation fill). ``notionals``: the bids and asks
    notional of the symbol's open orders. A liquidation order shows type ``LIQUIDATION``, as
    Binance sends it (and as ccxt's ``watch_my_liquidations`` needs); the commission fields
    (``N``, ``n``) come with fills only, as Binance pushes them."""
    otype = "LIQUIDATION" if order.get("_liquidation") else order["type"]
    t = trade or {
        "qty": "0",
        "price": "0",
        "time": now,
        "id": 0,
        "maker": False,
        "realizedPnl": "0",
    }
    o: JsonDict = {
        "s": order["symbol"], "c": order["clientOrderId"], "S": order["side"], "o": otype,
        "f": order["timeInForce"], "q": order["origQty"], "p": order["price"],
        "ap": order["avgPrice"], "sp": "0", "x": exec_type, "X": order["status"],
        "i": order["orderId"], "l": t["qty"], "z": order["executedQty"], "L": t["price"],
    }  # fmt: skip
    if trade is not None:
        o["N"], o["n"] = trade["commissionAsset"], trade["commission"]
    o.update({
        "T": t["time"], "t": t["id"], "b": text8(notionals[0]), "a": text8(notionals[1]),
        "m": t["maker"], "R": order["reduceOnly"], "wt": order["workingType"], "ot": otype,
        "ps": order["positionSide"], "cp": False, "rp": t["realizedPnl"], "pP": False, "si": 0,
        "ss": 0, "V": order["selfTradePreventionMode"], "pm": order["priceMatch"],
        "gtd": order["goodTillDate"],
    })  # fmt: skip
    return {"e": "ORDER_TRADE_UPDATE", "E": now, "T": o["T"], "o": o}


def account_event(
    reason: str, asset: str, wallet: Decimal, change: Decimal, positions: list[JsonDict], now: int
) -> JsonDict:
    """An ``ACCOUNT_UPDATE``: reason ``m`` (ORDER, FUNDING_FEE, ...), the wallet (``wb``, and
    ``cw`` the same in cross margin), ``bc`` the balance change other than profit and
    commission (a funding payment), and the positions ``P`` (:func:`ws_position` rows; none
    for a funding payment in cross margin, as Binance pushes it)."""
    balance = {"a": asset, "wb": text8(wallet), "cw": text8(wallet), "bc": text8(change)}
    return {
        "e": "ACCOUNT_UPDATE",
        "E": now,
        "T": now,
        "a": {"m": reason, "B": [balance], "P": positions},
    }


def new_order(
    order_id: int, params: dict[str, str], qty: Decimal, price: Decimal | None, now: int
) -> JsonDict:
    """An order as ``POST /fapi/v1/order`` answers it (plus ``time`` and ``cumQty``, which
    ``GET /fapi/v1/order`` shows), before any fill."""
    otype = params["type"]
    tif = (params.get("timeInForce") or "GTC") if otype == "LIMIT" else "GTC"
    reduce_only = params.get("reduceOnly", "false").lower() == "true"
    return {
        "orderId": order_id, "symbol": params["symbol"], "status": "NEW",
        "clientOrderId": params["newClientOrderId"],
        "price": dec_text(price) if price is not None else "0", "avgPrice": "0",
        "origQty": dec_text(qty), "executedQty": "0", "cumQty": "0", "cumQuote": "0",
        "timeInForce": tif, "type": otype, "reduceOnly": reduce_only, "closePosition": False,
        "side": params["side"], "positionSide": "BOTH", "stopPrice": "0",
        "workingType": "CONTRACT_PRICE", "priceProtect": False, "origType": otype,
        "priceMatch": "NONE", "selfTradePreventionMode": "EXPIRE_MAKER", "goodTillDate": 0,
        "time": now, "updateTime": now,
    }  # fmt: skip


def trade_row(
    order: JsonDict, trade_id: int, fill: tuple[Decimal, Decimal], fee: Decimal, realized: Decimal,
    maker: bool, asset: str, now: int,
) -> JsonDict:  # fmt: skip
    """A fill as ``GET /fapi/v1/userTrades`` shows it (``fill``: quantity and price)."""
    qty, price = fill
    return {
        "buyer": order["side"] == "BUY", "commission": text8(fee), "commissionAsset": asset,
        "id": trade_id, "maker": maker, "orderId": order["orderId"], "price": text8(price),
        "qty": dec_text(qty), "quoteQty": text8(qty * price), "realizedPnl": text8(realized),
        "side": order["side"], "positionSide": "BOTH", "symbol": order["symbol"], "time": now,
    }  # fmt: skip


#: what the position rows below take (:meth:`MarginBook.figures`): the
#: mark, unrealized profit, position and open orders' initial margin, maintenance margin,
#: bids and asks notional of the open orders, break-even and liquidation prices
Figures = dict[str, Decimal]


def ws_position(symbol: str, pos: FuturesPosition, f: Figures, mt: str) -> JsonDict:
    """A position as an ``ACCOUNT_UPDATE`` shows it (``mt``: cross or isolated)."""
    return {
        "s": symbol, "pa": dec_text(pos.size), "ep": text8(pos.entry), "bep": text8(f["bep"]),
        "cr": text8(pos.realized), "up": text8(f["upnl"]), "mt": mt, "iw": "0", "ps": "BOTH",
    }  # fmt: skip


def risk_row(symbol: str, asset: str, pos: FuturesPosition, f: Figures) -> JsonDict:
    """A position as ``GET /fapi/v3/positionRisk`` shows it (notional signed, as ccxt reads
    the side from it)."""
    return {
        "symbol": symbol, "positionSide": "BOTH", "positionAmt": dec_text(pos.size),
        "entryPrice": text8(pos.entry), "breakEvenPrice": text8(f["bep"]),
        "markPrice": text8(f["mark"]), "unRealizedProfit": text8(f["upnl"]),
        "liquidationPrice": text8(f["liq"]), "isolatedMargin": "0",
        "notional": text8(pos.size * f["mark"]), "marginAsset": asset, "isolatedWallet": "0",
        "initialMargin": text8(f["pim"] + f["oim"]), "maintMargin": text8(f["mm"]),
        "positionInitialMargin": text8(f["pim"]), "openOrderInitialMargin": text8(f["oim"]),
        "adl": 0, "bidNotional": text8(f["bids"]), "askNotional": text8(f["asks"]),
        "updateTime": pos.update_time,
    }  # fmt: skip


def account_json(asset: str, wallet: Decimal, rows: list[JsonDict], now: int) -> JsonDict:
    """``GET /fapi/v3/account`` of one margin asset from the :func:`risk_row` rows of the
    symbols with a position or open orders."""
    keys = ("unRealizedProfit", "positionInitialMargin", "openOrderInitialMargin", "maintMargin")
    upnl, pim, oim, mm = (sum((dec(r[k]) for r in rows), ZERO) for k in keys)
    available = wallet + upnl - pim - oim
    row = {
        "asset": asset, "walletBalance": text8(wallet), "unrealizedProfit": text8(upnl),
        "marginBalance": text8(wallet + upnl), "maintMargin": text8(mm),
        "initialMargin": text8(pim + oim), "positionInitialMargin": text8(pim),
        "openOrderInitialMargin": text8(oim), "crossWalletBalance": text8(wallet),
        "crossUnPnl": text8(upnl), "availableBalance": text8(available),
        "maxWithdrawAmount": text8(max(ZERO, min(available, wallet - pim - oim))),
        "updateTime": now,
    }  # fmt: skip
    names = ("InitialMargin", "MaintMargin", "WalletBalance", "UnrealizedProfit",
             "MarginBalance", "PositionInitialMargin", "OpenOrderInitialMargin",
             "CrossWalletBalance", "CrossUnPnl")  # fmt: skip
    totals = {f"total{n}": row[n[0].lower() + n[1:]] for n in names}
    totals.update(
        availableBalance=row["availableBalance"], maxWithdrawAmount=row["maxWithdrawAmount"]
    )
    fields = ("symbol", "positionSide", "positionAmt", "unrealizedProfit", "isolatedMargin",
              "notional", "isolatedWallet", "initialMargin", "maintMargin",
              "updateTime")  # fmt: skip
    rename = {"unrealizedProfit": "unRealizedProfit"}
    positions = [{k: r[rename.get(k, k)] for k in fields} for r in rows]
    return {**totals, "assets": [row], "positions": positions}


def balance_json(account: JsonDict) -> list[JsonDict]:
    """``GET /fapi/v3/balance`` from :func:`account_json`'s answer."""
    a = account["assets"][0]
    return [{
        "accountAlias": "loopback", "asset": a["asset"], "balance": a["walletBalance"],
        "crossWalletBalance": a["crossWalletBalance"], "crossUnPnl": a["crossUnPnl"],
        "availableBalance": a["availableBalance"], "maxWithdrawAmount": a["maxWithdrawAmount"],
        "marginAvailable": True, "updateTime": a["updateTime"],
    }]  # fmt: skip


class MarginBook:
    """The state Binance's margin rules read (wallet, positions, marks, leverages, brackets,
    open orders) and the figures they give; :class:`~.futures_account.FuturesAccount` adds
    what changes it."""

    def __init__(
        self, wallet: float, brackets: dict[str, list[JsonDict]] | None, taker: float, leverage: int
    ):
        self.wallet = dec(wallet)
        self.brackets = load_brackets() if brackets is None else brackets
        self.taker = dec(taker)
        self.default_leverage = leverage
        self.leverages: dict[str, int] = {}  # symbols whose leverage was set
        self.positions: dict[str, FuturesPosition] = {}
        #: the mark price by symbol
        self.marks: dict[str, Decimal] = {}
        self._resting: dict[int, JsonDict] = {}  # open orders by id

    # ---- figures ------------------------------------------------------------------------------
    def leverage(self, symbol: str) -> int:
        """The symbol's leverage."""
        default = min(self.default_leverage, max_leverage(self._brackets(symbol)))
        return self.leverages.get(symbol, default)

    def position(self, symbol: str) -> FuturesPosition:
        return self.positions.get(symbol) or FuturesPosition()

    def mark(self, symbol: str) -> Decimal:
        """The symbol's mark price (its position's entry before any mark)."""
        return self.marks.get(symbol, self.position(symbol).entry)

    def unrealized(self, symbol: str) -> Decimal:
        pos = self.position(symbol)
        return pos.size * (self.mark(symbol) - pos.entry)

    def position_margin(self, symbol: str) -> Decimal:
        """Initial margin of the position: notional at the mark / leverage."""
        return abs(self.position(symbol).size) * self.mark(symbol) / self.leverage(symbol)

    def maint_margin(self, symbol: str) -> Decimal:
        notional = abs(self.position(symbol).size) * self.mark(symbol)
        return maint_margin(self._brackets(symbol), notional)

    def order_margin(self, symbol: str) -> Decimal:
        """Initial margin of the symbol's open orders (one-way rule, see the module doc)."""
        buys, sells = self._opening(symbol, self.position(symbol).size)
        return max(buys, sells) / self.leverage(symbol)

    def margin_balance(self) -> Decimal:
        return self.wallet + sum((self.unrealized(s) for s in self._active()), ZERO)

    def total_maint_margin(self) -> Decimal:
        return sum((self.maint_margin(s) for s in self._active()), ZERO)

    def total_initial_margin(self) -> Decimal:
        active = self._active()
        return sum((self.position_margin(s) + self.order_margin(s) for s in active), ZERO)

    def available_balance(self) -> Decimal:
        return self.margin_balance() - self.total_initial_margin()

    def figures(self, symbol: str, liquidation: bool = False) -> Figures:
        """The symbol's mark, unrealized profit (``upnl``), position and open orders' initial
        margin (``pim``, ``oim``), maintenance margin (``mm``), open orders' bids and asks
        notional, break-even price (``bep``) and, with ``liquidation``, Binance's cross
        liquidation price (``liq``: the other positions' profit and maintenance counted)."""
        pos, mark = self.position(symbol), self.mark(symbol)
        bids, asks = self._notionals(symbol)
        f = {"mark": mark, "upnl": self.unrealized(symbol), "pim": self.position_margin(symbol),
             "oim": self.order_margin(symbol), "mm": self.maint_margin(symbol), "bids": bids,
             "asks": asks, "bep": pos.break_even(self.taker), "liq": ZERO}  # fmt: skip
        if liquidation:
            others = [s for s in self._active() if s != symbol]
            rest = sum((self.unrealized(s) - self.maint_margin(s) for s in others), ZERO)
            brackets = self._brackets(symbol)
            f["liq"] = liquidation_price(pos.size, pos.entry, brackets, self.wallet, rest, mark)
        return f

    def _brackets(self, symbol: str) -> list[JsonDict]:
        brackets = self.brackets.get(symbol)
        if not brackets:
            raise refuse(-1121)
        return brackets

    def _active(self) -> list[str]:
        """The symbols with a position or open orders, by name."""
        names = {s for s, p in self.positions.items() if p.size}
        names.update(o["symbol"] for o in self._resting.values())
        return sorted(names)

    def _opening(
        self, symbol: str, size: Decimal, extra: JsonDict | None = None
    ) -> tuple[Decimal, Decimal]:
        """What the symbol's open buys and sells (and ``extra``) would open beyond closing a
        position of ``size``, each at its limit price (orders close in the order they came);
        reduce-only orders open nothing."""
        closing = {"BUY": max(-size, ZERO), "SELL": max(size, ZERO)}
        opened = {"BUY": ZERO, "SELL": ZERO}
        rows = [
            {"side": o["side"], "left": left_qty(o), "price": dec(o["price"])}
            for o in sorted(self._resting.values(), key=lambda o: o["orderId"])
            if o["symbol"] == symbol and not o["reduceOnly"]
        ]
        for row in [*rows, extra] if extra is not None else rows:
            part = min(row["left"], closing[row["side"]])
            closing[row["side"]] -= part
            opened[row["side"]] += (row["left"] - part) * row["price"]
        return opened["BUY"], opened["SELL"]

    def _notionals(self, symbol: str) -> tuple[Decimal, Decimal]:
        """The bids and asks notional of the symbol's open orders."""
        sides = {"BUY": ZERO, "SELL": ZERO}
        for o in self._resting.values():
            if o["symbol"] == symbol:
                sides[o["side"]] += left_qty(o) * dec(o["price"])
        return sides["BUY"], sides["SELL"]
