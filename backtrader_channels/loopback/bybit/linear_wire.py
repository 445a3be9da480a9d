"""Bybit v5's linear (USDT perpetual) wire formats, made from the loopback's Binance-rules margin
account (:class:`~..futures_account.FuturesAccount`, which keeps Binance's names, statuses and
error codes): the instrument of ``/v5/market/instruments-info``, orders, executions, positions,
the unified wallet, and Bybit's ``retCode`` for each of the account's refusals.

Translations (Bybit v5's documented values):

* status: NEW -> ``New``, PARTIALLY_FILLED -> ``PartiallyFilled``, FILLED -> ``Filled``,
  CANCELED and EXPIRED -> ``Cancelled`` (``PartiallyFilledCanceled`` once partly filled);
  ``cancelType`` ``CancelByUser`` (a cancel request), ``CancelByReduceOnly`` (a reduce-only
  order that no longer reduces), ``CancelAllBeforeLiq`` (cancelled by a liquidation),
  ``UNKNOWN`` with ``rejectReason`` ``EC_NoImmediateQtyToFill`` / ``EC_NoEnoughQtyToFill`` (an
  IOC / FOK order that could not fill) or ``EC_PostOnlyWillTakeLiquidity`` (a post-only order
  that would have taken: Bybit accepts it, then cancels it);
* time in force: GTX -> ``PostOnly``; a market order shows ``IOC``;
* a liquidation's closes: ``createType`` ``CreateByTakeOverPassThrough`` for the close at the
  bankruptcy price (Bybit: "taken over by the liquidation engine and closed at the bankruptcy
  price"), ``CreateByLiq`` for the others (closed at the mark), their fills ``execType``
  ``BustTrade``; no ``orderLinkId``;
* errors: -2019 -> 110007 ``ab not enough for new order``, -2022 -> 110017, -4116 -> 110072,
  -4164 -> 110094, -2027 -> 110090, -2011/-2013 -> 110001, -4046 -> 110026, -4059 -> 110025,
  -4067/-4068 -> 110024; filter and parameter failures -> 10001.
"""

from __future__ import annotations

from decimal import Decimal

from ...btypes import JsonDict
from ..account import TERMINAL, VenueError, dec, dec_text
from ..futures_rules import ZERO, bankruptcy_price, max_leverage, text8
from .protocol import BybitError

__all__ = [
    "funding_execution",
    "linear_error",
    "linear_execution",
    "linear_instrument",
    "linear_order",
    "linear_position",
    "linear_wallet",
]

_STATUS = {"NEW": "New", "PARTIALLY_FILLED": "PartiallyFilled", "FILLED": "Filled",
           "CANCELED": "Cancelled", "EXPIRED": "Cancelled", "REJECTED": "Rejected"}  # fmt: skip
_TIF = {"GTC": "GTC", "IOC": "IOC", "FOK": "FOK", "GTX": "PostOnly"}
#: Binance code -> Bybit retCode and retMsg
_ERRORS = {
    -2019: (110007, "ab not enough for new order"),
    -2022: (110017, "Reduce-only rule not satisfied"),
    -4116: (110072, "OrderLinkedID is duplicate"),
    -4164: (110094, "Order does not meet minimum order value"),
    -2027: (110090, "Order would exceed the maximum position value at the current leverage"),
    -2011: (110001, "Order does not exist"),
    -2013: (110001, "Order does not exist"),
    -4046: (110026, "Cross/isolated margin mode is not modified"),
    -4059: (110025, "Position mode is not modified"),
    -4067: (110024, "You have existing orders, so position mode cannot be switched"),
    -4068: (110024, "You have existing positions, so position mode cannot be switched"),
    -4047: (110073, "Set margin mode failed: there are open orders"),
    -4048: (110073, "Set margin mode failed: there is a position"),
    -4061: (10001, "position idx not match position mode"),
    -2020: (110021, "Not enough liquidity to fill the market order"),
    -1121: (10001, "params error: symbol invalid"),
}


def linear_error(e: VenueError) -> BybitError:
    """The margin account's (Binance-coded) refusal as Bybit answers it (see module doc)."""
    code, msg = _ERRORS.get(e.code, (10001, f"params error: {e.msg}"))
    return BybitError(code, msg)


def _filters(info: JsonDict) -> dict[str, JsonDict]:
    return {f["filterType"]: f for f in info.get("filters", [])}


def linear_instrument(info: JsonDict, brackets: list[JsonDict]) -> JsonDict:
    """A Binance fapi ``exchangeInfo`` symbol as Bybit's linear instrument: its LOT_SIZE,
    MARKET_LOT_SIZE, PRICE_FILTER and MIN_NOTIONAL as ``lotSizeFilter`` / ``priceFilter``, and
    a ``leverageFilter`` up to the largest leverage the account's brackets allow."""
    f = _filters(info)
    lot, price = f["LOT_SIZE"], f["PRICE_FILTER"]
    market = f.get("MARKET_LOT_SIZE", lot)
    notional = f.get("MIN_NOTIONAL", {}).get("notional", "5")
    return {
        "symbol": info["symbol"], "contractType": "LinearPerpetual", "status": "Trading",
        "baseCoin": info["baseAsset"], "quoteCoin": info["quoteAsset"],
        "launchTime": str(info.get("onboardDate", 0)), "deliveryTime": "0",
        "deliveryFeeRate": "", "priceScale": str(info.get("pricePrecision", 2)),
        "leverageFilter": {"minLeverage": "1", "maxLeverage": f"{max_leverage(brackets)}.00",
                           "leverageStep": "0.01"},
        "priceFilter": {"minPrice": price["minPrice"], "maxPrice": price["maxPrice"],
                        "tickSize": price["tickSize"]},
        "lotSizeFilter": {"maxOrderQty": lot["maxQty"], "minOrderQty": lot["minQty"],
                          "qtyStep": lot["stepSize"], "postOnlyMaxOrderQty": lot["maxQty"],
                          "maxMktOrderQty": market["maxQty"], "minNotionalValue": notional},
        "unifiedMarginTrade": True, "fundingInterval": 480, "settleCoin": info["marginAsset"],
        "copyTrading": "both", "upperFundingRate": "0.0075", "lowerFundingRate": "-0.0075",
        "isPreListing": False, "preListingInfo": None,
    }  # fmt: skip


def _cancel_type(o: JsonDict) -> tuple[str, str]:
    """``(cancelType, rejectReason)`` of an order (see module doc)."""
    reason = o.get("_bybit_reject")
    if reason:
        return "UNKNOWN", reason
    if o["status"] == "CANCELED":
        return ("CancelByUser" if o.get("_by_user") else "CancelAllBeforeLiq"), "EC_NoError"
    if o["status"] == "EXPIRED":
        if o["reduceOnly"] and o["timeInForce"] not in ("IOC", "FOK"):
            return "CancelByReduceOnly", "EC_NoError"
        if o["timeInForce"] == "FOK":
            return "UNKNOWN", "EC_NoEnoughQtyToFill"
        return "UNKNOWN", "EC_NoImmediateQtyToFill"
    return "UNKNOWN", "EC_NoError"


def _create_type(o: JsonDict) -> str:
    if not o.get("_liquidation"):
        return "CreateByUser"
    return "CreateByTakeOverPassThrough" if o.get("_bankrupt") else "CreateByLiq"


def linear_order(o: JsonDict, fee: Decimal, link_id: str, mark: str = "") -> JsonDict:
    """An account order in Bybit v5's linear order shape (REST ``list`` item and ``order``
    topic alike); ``fee`` its commissions so far, ``link_id`` its ``orderLinkId``."""
    qty, done = dec(o["origQty"]), dec(o["executedQty"])
    status = _STATUS[o["status"]]
    if status == "Cancelled" and done:
        status = "PartiallyFilledCanceled"
    market = o["type"] == "MARKET"
    left = ZERO if o["status"] in TERMINAL else qty - done
    cancel, reject = _cancel_type(o)
    price = dec(o["price"])
    return {
        "orderId": str(o["orderId"]), "orderLinkId": link_id, "blockTradeId": "",
        "symbol": o["symbol"], "price": "0" if market else o["price"], "qty": o["origQty"],
        "side": "Buy" if o["side"] == "BUY" else "Sell", "isLeverage": "", "positionIdx": 0,
        "orderStatus": status, "createType": _create_type(o), "cancelType": cancel,
        "rejectReason": reject, "avgPrice": o["avgPrice"] if done else "",
        "leavesQty": dec_text(left), "leavesValue": dec_text(left * price),
        "cumExecQty": o["executedQty"], "cumExecValue": o["cumQuote"],
        "cumExecFee": text8(fee), "cumFeeDetail": {"USDT": text8(fee)} if fee else {},
        "timeInForce": "IOC" if market else _TIF.get(o["timeInForce"], "GTC"),
        "orderType": "Market" if market else "Limit", "stopOrderType": "", "orderIv": "",
        "triggerPrice": "", "takeProfit": "", "stopLoss": "", "tpTriggerBy": "",
        "slTriggerBy": "", "triggerDirection": 0, "triggerBy": "", "lastPriceOnCreated": mark,
        "reduceOnly": bool(o["reduceOnly"]), "closeOnTrigger": False, "placeType": "",
        "smpType": "None", "smpGroup": 0, "smpOrderId": "", "tpslMode": "",
        "tpLimitPrice": "", "slLimitPrice": "", "createdTime": str(o["time"]),
        "updatedTime": str(o["updateTime"]), "category": "linear",
    }  # fmt: skip


def linear_execution(
    o: JsonDict, t: JsonDict, link_id: str, closed: Decimal, rate: Decimal, mark: str
) -> JsonDict:
    """One fill (a ``userTrades`` row ``t`` of order ``o``) in Bybit v5's execution shape
    (REST ``execution/list`` item and ``execution`` topic alike); ``closed`` the part of it
    that closed a position, ``rate`` its fee rate."""
    return {
        "category": "linear", "symbol": t["symbol"], "orderId": str(t["orderId"]),
        "orderLinkId": link_id, "side": "Buy" if t["side"] == "BUY" else "Sell",
        "orderPrice": "0" if o["type"] == "MARKET" else o["price"], "orderQty": o["origQty"],
        "leavesQty": dec_text(dec(o["origQty"]) - dec(o["executedQty"])),
        "createType": _create_type(o),
        "orderType": "Market" if o["type"] == "MARKET" else "Limit", "stopOrderType": "",
        "execFee": t["commission"], "feeCurrency": "USDT", "execId": str(t["id"]),
        "execPrice": t["price"], "execQty": t["qty"],
        "execType": "BustTrade" if o.get("_liquidation") else "Trade",
        "execValue": t["quoteQty"], "execTime": str(t["time"]), "isMaker": bool(t["maker"]),
        "feeRate": dec_text(rate), "tradeIv": "", "markIv": "", "markPrice": mark,
        "indexPrice": "", "underlyingPrice": "", "blockTradeId": "",
        "closedSize": dec_text(closed), "execPnl": t["realizedPnl"], "seq": int(t["id"]),
    }  # fmt: skip


def funding_execution(
    n: int, symbol: str, size: Decimal, mark: Decimal, rate: Decimal, fee: Decimal, ts: int
) -> JsonDict:
    """A funding settlement as Bybit lists it among executions (``execType`` ``Funding``):
    ``execFee`` what the position paid (negative: received), ``feeRate`` the rate as the
    position sees it (the venue's rate, sign flipped for a short), ``execValue`` its value."""
    sign = 1 if size > 0 else -1
    return {
        "category": "linear", "symbol": symbol, "orderId": f"funding-{n}", "orderLinkId": "",
        "side": "Buy" if size > 0 else "Sell", "orderPrice": "0", "orderQty": "0",
        "leavesQty": "0", "createType": "", "orderType": "UNKNOWN",
        "stopOrderType": "UNKNOWN", "execFee": text8(fee), "feeCurrency": "USDT",
        "execId": f"funding-{n}", "execPrice": text8(mark), "execQty": dec_text(abs(size)),
        "execType": "Funding", "execValue": text8(abs(size) * mark), "execTime": str(ts),
        "isMaker": False, "feeRate": dec_text(rate * sign), "tradeIv": "", "markIv": "",
        "markPrice": text8(mark), "indexPrice": "", "underlyingPrice": "", "blockTradeId": "",
        "closedSize": "0", "execPnl": "0", "seq": n,
    }  # fmt: skip


def linear_position(risk: JsonDict | None, symbol: str, leverage: int, wallet: Decimal,
                    mark: Decimal, realized: Decimal, updated: int) -> JsonDict:  # fmt: skip
    """A position (``/fapi/v3/positionRisk`` row ``risk``, None when flat) as Bybit v5's
    ``/v5/position/list`` and ``position`` topic show it: ``side`` "" and ``size`` "0" when
    flat; cross margin, one-way (``positionIdx`` 0)."""
    r = risk or {}
    size = dec(r.get("positionAmt", "0"))
    entry = dec(r.get("entryPrice", "0"))
    liq = dec(r.get("liquidationPrice", "0"))
    bust = bankruptcy_price(size, entry, wallet) if size else ZERO
    return {
        "category": "linear", "positionIdx": 0, "riskId": 1, "riskLimitValue": "2000000",
        "symbol": symbol, "side": "" if not size else "Buy" if size > 0 else "Sell",
        "size": dec_text(abs(size)), "avgPrice": text8(entry), "entryPrice": text8(entry),
        "positionValue": text8(abs(size) * entry), "tradeMode": 0, "autoAddMargin": 0,
        "positionStatus": "Normal", "leverage": str(leverage), "markPrice": text8(mark),
        "liqPrice": text8(liq) if size and liq > 0 else "",
        "bustPrice": text8(bust) if size and bust > 0 else "",
        "positionIM": r.get("positionInitialMargin", "0"), "positionMM": r.get("maintMargin", "0"),
        "positionBalance": r.get("positionInitialMargin", "0"), "tpslMode": "Full",
        "takeProfit": "", "stopLoss": "", "trailingStop": "0", "sessionAvgPrice": "",
        "unrealisedPnl": r.get("unRealizedProfit", "0"), "curRealisedPnl": text8(realized),
        "cumRealisedPnl": text8(realized), "adlRankIndicator": 2 if size else 0,
        "isReduceOnly": False, "mmrSysUpdatedTime": "", "leverageSysUpdatedTime": "",
        "createdTime": str(updated), "updatedTime": str(updated), "seq": updated,
    }  # fmt: skip


def linear_wallet(account: JsonDict) -> JsonDict:
    """The unified wallet (``/v5/account/wallet-balance`` entry and ``wallet`` topic) from the
    account's ``/fapi/v3/account`` answer: USDT ``walletBalance`` without unrealized profit,
    ``equity`` with it."""
    a = account["assets"][0]
    wallet, upnl = dec(a["walletBalance"]), dec(a["unrealizedProfit"])
    equity, im, mm = wallet + upnl, dec(a["initialMargin"]), dec(a["maintMargin"])
    available = dec(a["availableBalance"])
    coin = {
        "coin": a["asset"], "equity": text8(equity), "usdValue": text8(equity),
        "walletBalance": text8(wallet), "locked": "0", "spotHedgingQty": "0",
        "borrowAmount": "0", "availableToWithdraw": text8(max(ZERO, min(available, wallet))),
        "availableToBorrow": "", "accruedInterest": "0",
        "totalOrderIM": a["openOrderInitialMargin"], "totalPositionIM": a["positionInitialMargin"],
        "totalPositionMM": a["maintMargin"], "unrealisedPnl": text8(upnl),
        "cumRealisedPnl": "0", "bonus": "0", "marginCollateral": True, "collateralSwitch": True,
    }  # fmt: skip
    ratio = lambda x: text8(x / equity) if equity > 0 else "0"  # noqa: E731
    return {
        "accountType": "UNIFIED", "accountIMRate": ratio(im), "accountMMRate": ratio(mm),
        "accountLTV": "0", "totalEquity": text8(equity), "totalWalletBalance": text8(wallet),
        "totalMarginBalance": text8(equity), "totalAvailableBalance": text8(max(ZERO, available)),
        "totalPerpUPL": text8(upnl), "totalInitialMargin": text8(im),
        "totalMaintenanceMargin": text8(mm), "coin": [coin],
    }  # fmt: skip
