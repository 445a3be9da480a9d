"""The loopback Binance USDⓈ-M account, by hand to the cent, and as ccxt reads it.

The worked example is docs/perpetuals.md's: wallet 1,000 USDT, 10x, buy 2 ETH at 2,000 with a
0.05% taker fee, the bracket 0-50,000 at mmr 0.4%, cum 0.
"""

from __future__ import annotations

import itertools
import json
from decimal import Decimal as D

import pytest

from backtrader_channels.datasets import binance_exchange_info
from backtrader_channels.loopback.account import VenueError
from backtrader_channels.loopback.futures_account import (
    FuturesAccount,
    load_brackets,
    public_order,
)
from backtrader_channels.loopback.futures_rules import liquidation_price

ETH = "ETHUSDT"
BTC = "BTCUSDT"
#: docs/perpetuals.md's ETH brackets (Bracket(0, 50_000, 50, 0.004, 0), ...)
DOC_BRACKETS = [
    {"bracket": 1, "initialLeverage": 50, "notionalCap": 50000, "notionalFloor": 0,
     "maintMarginRatio": 0.004, "cum": 0.0},
    {"bracket": 2, "initialLeverage": 25, "notionalCap": 250000, "notionalFloor": 50000,
     "maintMarginRatio": 0.005, "cum": 50.0},
]  # fmt: skip
BOOK = (1999.5, 2000.0)  # bid, ask: a buy takes at 2,000


@pytest.fixture(scope="module")
def linear() -> dict:
    with open(binance_exchange_info(), encoding="utf-8") as f:
        return json.load(f)["linear"]


@pytest.fixture(scope="module")
def symbols(linear) -> dict:
    return {s["symbol"]: s for s in linear["symbols"]}


def make(symbols, wallet=1000, leverage=10, taker=0.0005, maker=0.0002, brackets=None):
    """An account on the doc's ETH brackets (and the bundled BTC ones), with its events."""
    if brackets is None:
        brackets = {ETH: DOC_BRACKETS, BTC: load_brackets()[BTC]}
    acct = FuturesAccount(
        wallet, symbols, brackets=brackets, taker=taker, maker=maker, leverage=leverage,
        clock=lambda: 1_700_000_000_000,
    )  # fmt: skip
    events: list[dict] = []
    acct.listeners.append(events.append)
    return acct, events


def order(side, qty, price=None, **extra):
    q = {"symbol": extra.pop("symbol", ETH), "side": side, "quantity": str(qty)}
    if price is None:
        q["type"] = "MARKET"
    else:
        q.update(type="LIMIT", price=str(price), timeInForce=extra.pop("tif", "GTC"))
    q.update({k: str(v) for k, v in extra.items()})
    return q


def refused(code, fn, *args):
    with pytest.raises(VenueError) as e:
        fn(*args)
    assert e.value.code == code
    return e.value


def cents(x) -> D:
    return D(str(x)).quantize(D("0.01"))


# ---- the worked example ---------------------------------------------------------------------
def test_long_fee_equity_funding_and_liquidation_by_hand(symbols):
    acct, events = make(symbols)
    o = acct.place(order("BUY", 2), BOOK)
    assert (o["status"], o["avgPrice"], o["executedQty"]) == ("FILLED", "2000", "2")
    assert acct.wallet == D("998.00")  # 1,000 - 2 x 2,000 x 0.0005
    acct.set_mark(ETH, 2050, 1)
    assert acct.margin_balance() == D("1098.00")
    (risk,) = acct.position_risk()
    assert cents(risk["liquidationPrice"]) == D("1507.03")  # (998 - 4,000) / (0.008 - 2)
    assert (risk["unRealizedProfit"], risk["notional"], risk["maintMargin"]) == (
        "100",
        "4100",
        "16.4",
    )
    assert risk["positionInitialMargin"] == "410"
    row = acct.settle_funding(ETH, 0.0001, 2050, 28_800_000)
    assert row is not None
    assert row["income"] == "-0.41"
    assert {k: row[k] for k in ("incomeType", "asset", "info", "time", "tradeId")} == {
        "incomeType": "FUNDING_FEE", "asset": "USDT", "info": "FUNDING_FEE",
        "time": 28_800_000, "tradeId": "",
    }  # fmt: skip
    assert acct.wallet == D("997.59")
    assert acct.settle_funding(ETH, 0.0001, 2050, 28_800_000) is None  # settled once
    assert acct.wallet == D("997.59")
    funding = [e for e in events if e["e"] == "ACCOUNT_UPDATE" and e["a"]["m"] == "FUNDING_FEE"]
    assert funding[0]["a"]["B"] == [{"a": "USDT", "wb": "997.59", "cw": "997.59", "bc": "-0.41"}]
    assert funding[0]["a"]["P"] == []  # cross margin: the balance only, as Binance pushes it
    events.clear()
    acct.set_mark(ETH, 1505, 2)  # equity 7.59 <= 12.04 of maintenance margin
    assert acct.wallet == 0
    assert acct.position(ETH).size == 0
    (liq,) = acct.liquidations
    assert liq["price"] == D("1501.205")  # 2,000 - 997.59 / 2
    assert (liq["wallet_before"], liq["wallet_after"]) == (D("997.59"), 0)
    assert (liq["margin_balance"], liq["maint_margin"]) == (D("7.59"), D("12.04"))
    assert (liq["size"], liq["entry"], liq["mark"], liq["time"]) == (2, 2000, 1505, 2)
    new, fill, update = events
    assert new["o"]["c"].startswith("autoclose-")
    assert new["o"]["c"] == fill["o"]["c"]
    assert (new["o"]["x"], new["o"]["X"], new["o"]["o"], new["o"]["f"]) == (
        "NEW", "NEW", "LIQUIDATION", "IOC",
    )  # fmt: skip
    assert (fill["o"]["x"], fill["o"]["X"], fill["o"]["S"]) == ("CALCULATED", "FILLED", "SELL")
    assert (fill["o"]["L"], fill["o"]["n"], fill["o"]["rp"]) == ("1501.205", "0", "-997.59")
    assert update["a"]["B"][0]["wb"] == "0"
    assert update["a"]["P"][0]["pa"] == "0"
    close = acct.find(ETH, client_id=new["o"]["c"])
    assert (close["type"], close["timeInForce"], close["status"]) == ("LIMIT", "IOC", "FILLED")
    assert sorted(r["incomeType"] for r in acct.income()) == [
        "COMMISSION", "FUNDING_FEE", "REALIZED_PNL",
    ]  # fmt: skip
    assert acct.position_risk() == []


def test_short_fee_funding_received_and_liquidation_by_hand(symbols):
    acct, events = make(symbols)
    acct.place(order("SELL", 2), (2000.0, 2000.5))  # takes the bid
    assert acct.wallet == D("998.00")
    assert acct.position(ETH).size == -2
    acct.set_mark(ETH, 1950, 1)
    assert acct.margin_balance() == D("1098.00")
    row = acct.settle_funding(ETH, 0.0001, 1950, 28_800_000)
    assert row is not None
    assert row["income"] == "0.39"
    assert acct.wallet == D("998.39")
    (risk,) = acct.position_risk()
    assert cents(risk["liquidationPrice"]) == D("2489.24")  # (998.39 + 4,000) / (0.008 + 2)
    assert risk["notional"] == "-3900"  # signed: ccxt reads the side from it
    acct.set_mark(ETH, 2489, 2)
    assert not acct.liquidations  # 998.39 - 978 = 20.39 > 19.912
    acct.set_mark(ETH, 2490, 3)  # 18.39 <= 19.92
    (liq,) = acct.liquidations
    assert liq["price"] == D("2499.195")  # 2,000 - 998.39 / -2
    assert acct.wallet == 0
    fill = [e for e in events if e["e"] == "ORDER_TRADE_UPDATE" and e["o"]["x"] == "CALCULATED"]
    assert fill[0]["o"]["S"] == "BUY"
    assert fill[0]["o"]["c"].startswith("autoclose-")


def test_liquidation_closes_the_smaller_at_the_mark_and_the_largest_at_bankruptcy(symbols):
    acct, _ = make(symbols)
    acct.place(order("BUY", 2), BOOK)  # fee 2
    acct.place(order("BUY", "0.01", symbol=BTC), (59_999.0, 60_000.0))  # fee 0.30
    resting = acct.place(order("BUY", "0.01", 1000), BOOK)
    assert acct.wallet == D("997.70")
    acct.set_mark(BTC, 50_000, 1)  # -100, maintenance 2
    acct.set_mark(ETH, 1560, 2)  # -880, maintenance 12.48: 17.70 > 14.48
    assert not acct.liquidations
    (eth,) = acct.position_risk(ETH)
    # the other position's profit and maintenance margin count: (997.70 - 102 - 4,000) / -1.992
    assert cents(eth["liquidationPrice"]) == D("1558.38")
    acct.set_mark(ETH, 1555, 3)  # 7.70 <= 14.44
    first, last = acct.liquidations
    assert (first["symbol"], first["price"], first["wallet_after"]) == (BTC, 50_000, D("897.70"))
    assert (last["symbol"], last["price"], last["wallet_after"]) == (ETH, D("1551.15"), 0)
    assert resting["status"] == "CANCELED"
    assert acct.open_orders() == []
    assert acct.wallet == 0


def test_liquidation_price_formula_is_binances():
    # long: (WB - TMM1 + UPNL1 + cum - size x entry) / (size x mmr - size)
    got = liquidation_price(D(2), D(2000), DOC_BRACKETS, D(998), D(0), D(2050))
    assert cents(got) == D("1507.03")
    assert liquidation_price(D(0), D(0), DOC_BRACKETS, D(998), D(0), D(2050)) == 0
    assert liquidation_price(D("0.01"), D(2000), DOC_BRACKETS, D(998), D(0), D(2000)) == 0


# ---- positions and fees -----------------------------------------------------------------------
def test_average_entry_reduce_close_and_flip_by_hand(symbols):
    acct, _ = make(symbols, wallet=10_000)
    acct.place(order("BUY", 1), (1999.0, 2000.0))
    acct.place(order("BUY", 1), (2099.0, 2100.0))
    pos = acct.position(ETH)
    assert (pos.size, pos.entry) == (2, 2050)  # size-weighted
    acct.place(order("SELL", 1), (2150.0, 2151.0))  # realizes (2,150 - 2,050) x 1 = 100
    assert (acct.position(ETH).size, acct.position(ETH).entry) == (1, 2050)  # unchanged
    acct.place(order("SELL", 3), (2000.0, 2001.0))  # closes 1 (-50), opens a short of 2
    pos = acct.position(ETH)
    assert (pos.size, pos.entry, pos.realized) == (-2, 2000, 50)
    fees = D("0.0005") * (2000 + 2100 + 2150 + 3 * 2000)
    assert acct.wallet == 10_000 + 100 - 50 - fees == D("10043.875")
    trades = acct.user_trades(ETH)
    assert [t["realizedPnl"] for t in trades] == ["0", "0", "100", "-50"]
    assert trades[-1] == {**trades[-1], "buyer": False, "maker": False, "qty": "3",
                          "commission": "3", "quoteQty": "6000", "side": "SELL",
                          "positionSide": "BOTH", "commissionAsset": "USDT"}  # fmt: skip
    income = acct.income(ETH, "REALIZED_PNL")
    assert [r["income"] for r in income] == ["100", "-50"]
    assert income[0]["tradeId"] == str(trades[2]["id"])
    assert len(acct.income(ETH, "COMMISSION")) == 4
    assert acct.income(limit=2) == acct.income()[-2:]


def test_resting_limit_fills_at_its_limit_as_maker(symbols):
    acct, events = make(symbols)
    o = acct.place(order("BUY", 1, 1990), BOOK)
    assert o["status"] == "NEW"
    assert acct.open_orders(ETH) == [o]
    assert acct.account()["totalOpenOrderInitialMargin"] == "199"  # 1,990 / 10
    acct.on_trade(1990.0)  # at the limit: not through it
    assert o["status"] == "NEW"
    acct.on_trade(1989.5)
    assert (o["status"], o["avgPrice"]) == ("FILLED", "1990")
    assert acct.wallet == D("999.602")  # 1,990 x 0.0002
    trade = acct.trades[-1]
    assert trade["maker"] is True
    assert trade["commission"] == "0.398"
    fill = events[-2]["o"]
    assert (fill["x"], fill["m"], fill["L"], fill["l"], fill["n"]) == (
        "TRADE", True, "1990", "1", "0.398",
    )  # fmt: skip
    assert "n" not in events[0]["o"]  # Binance pushes no commission without a fill


def test_funding_conserves_between_a_long_and_a_short(symbols):
    long, _ = make(symbols, wallet=1000, taker=0, maker=0)
    short, _ = make(symbols, wallet=1000, taker=0, maker=0)
    long.place(order("BUY", "1.5"), BOOK)
    short.place(order("SELL", "1.5"), (2000.0, 2000.5))
    for rate, ts in ((0.0003, 1), (-0.0001, 2)):
        long.settle_funding(ETH, rate, 2010, ts)
        short.settle_funding(ETH, rate, 2010, ts)
    assert long.wallet == 1000 - D("0.9045") + D("0.3015")  # 1.5 x 2,010 x rate
    assert long.wallet - 1000 == -(short.wallet - 1000)
    assert [r["income"] for r in short.income(income_type="FUNDING_FEE")] == ["0.9045", "-0.3015"]
    assert long.settle_funding(BTC, 0.0003, 60_000, 1) is None  # no position: nothing paid


# ---- orders refused, capped, expired ---------------------------------------------------------
def test_reduce_only_refused_capped_and_expired(symbols):
    acct, events = make(symbols)
    refused(-2022, acct.place, order("SELL", 1, reduceOnly="true"), BOOK)  # no position
    acct.place(order("BUY", 1), BOOK)
    e = refused(-2022, acct.place, order("BUY", 1, reduceOnly="true"), BOOK)
    assert e.msg == "ReduceOnly Order is rejected."
    small = acct.place(order("SELL", "0.001", 2100, reduceOnly="true"), BOOK)  # 2.1 < 5: exempt
    assert small["status"] == "NEW"
    assert acct.account()["totalOpenOrderInitialMargin"] == "0"  # it opens nothing
    acct.cancel(small)
    o = acct.place(order("SELL", 3, reduceOnly="true"), BOOK)  # only 1 to close
    assert (o["status"], o["executedQty"], o["reduceOnly"]) == ("EXPIRED", "1", True)
    assert [(e["o"]["x"], e["o"]["X"]) for e in events if e["e"] == "ORDER_TRADE_UPDATE"][-3:] == [
        ("NEW", "NEW"), ("TRADE", "PARTIALLY_FILLED"), ("EXPIRED", "EXPIRED"),
    ]  # fmt: skip
    assert acct.position(ETH).size == 0
    acct.place(order("BUY", 1), BOOK)
    stale = acct.place(order("SELL", 1, 2100, reduceOnly="true"), BOOK)
    acct.place(order("SELL", 1), BOOK)  # the position closes: the reduce-only order expires
    assert stale["status"] == "EXPIRED"


def test_post_only_ioc_and_fok(symbols):
    acct, events = make(symbols)
    e = refused(-5022, acct.place, order("BUY", 1, 2000, tif="GTX"), BOOK)
    assert e.msg.startswith("Due to the order could not be executed as maker")
    assert acct.orders == {}  # not recorded
    maker = acct.place(order("BUY", 1, 1999, tif="GTX"), BOOK)
    assert (maker["status"], maker["timeInForce"]) == ("NEW", "GTX")
    for tif in ("IOC", "FOK"):
        o = acct.place(order("BUY", 1, 1990, tif=tif), BOOK)
        assert (o["status"], o["executedQty"], o["timeInForce"]) == ("EXPIRED", "0", tif)
        assert [e["o"]["x"] for e in events[-2:]] == ["NEW", "EXPIRED"]
    o = acct.place(order("BUY", 1, 2001, tif="IOC"), BOOK)  # marketable: fills at the ask
    assert (o["status"], o["avgPrice"]) == ("FILLED", "2000")


def test_margin_refusal_and_the_one_way_rule_for_open_orders(symbols):
    acct, _ = make(symbols)  # 1,000 USDT at 10x
    e = refused(-2019, acct.place, order("BUY", 6), BOOK)  # 1,200 of initial margin
    assert e.msg == "Margin is insufficient."
    buy = acct.place(order("BUY", 4, 1900), BOOK)  # 760
    refused(-2019, acct.place, order("BUY", 2, 1900), BOOK)  # 760 + 380 > 1,000
    sell = acct.place(order("SELL", 4, 2100), BOOK)  # one-way: the larger side only, 840
    assert acct.account()["totalOpenOrderInitialMargin"] == "840"
    assert acct.available_balance() == 160
    refused(-2019, acct.place, order("BUY", 2), BOOK)  # (4,000 + 7,600 - 8,400) / 10 > 160
    acct.cancel(buy)
    acct.cancel(sell)
    acct.place(order("BUY", 5), BOOK)  # 1,000 of 1,000
    assert acct.account()["totalInitialMargin"] == "1000"
    assert acct.available_balance() == -5  # the fee
    refused(-2019, acct.place, order("BUY", "0.01", 1000), BOOK)
    acct.place(order("SELL", 5), BOOK)  # closing never needs margin
    assert acct.position(ETH).size == 0


def test_a_position_past_the_leverage_bracket_is_refused(symbols):
    acct, _ = make(symbols, wallet=5000, leverage=50)  # 50x: up to 50,000 of notional
    e = refused(-2027, acct.place, order("BUY", 26), BOOK)  # 52,000
    assert e.msg == "Exceeded the maximum allowable position at current leverage."
    acct.place(order("BUY", 24), BOOK)
    refused(-2027, acct.place, order("BUY", 2, 1990), BOOK)  # 48,000 + 3,980


def test_leverage_margin_type_and_position_mode(symbols):
    acct, _ = make(symbols)
    e = refused(-4028, acct.set_leverage, ETH, 51)
    assert e.msg == "Leverage 51 is not valid"
    refused(-4028, acct.set_leverage, ETH, 0)
    assert acct.set_leverage(ETH, 50) == {
        "leverage": 50,
        "maxNotionalValue": "50000",
        "symbol": ETH,
    }
    assert acct.set_leverage(ETH, 20)["maxNotionalValue"] == "250000"
    bundled = FuturesAccount(1000, symbols)
    assert bundled.leverage(ETH) == 20
    refused(-4028, bundled.set_leverage, BTC, 126)
    assert bundled.set_leverage(BTC, 125)["maxNotionalValue"] == "50000"
    assert bundled.set_leverage(BTC, 20)["maxNotionalValue"] == "100000000"
    e = refused(-4046, acct.set_margin_type, ETH, "CROSSED")
    assert e.msg == "No need to change margin type."
    assert acct.set_margin_type(ETH, "ISOLATED") == {"code": 200, "msg": "success"}
    refused(-4046, acct.set_margin_type, ETH, "ISOLATED")
    refused(-1000, acct.place, order("BUY", 1), BOOK)  # isolated trading is refused
    acct.set_margin_type(ETH, "CROSSED")
    e = refused(-4061, acct.place, order("BUY", 1, positionSide="LONG"), BOOK)
    assert e.msg == "Order's position side does not match user's setting."
    assert acct.position_mode() == {"dualSidePosition": False}
    acct.set_position_mode(True)
    assert acct.position_mode() == {"dualSidePosition": True}
    refused(-4061, acct.place, order("BUY", 1), BOOK)
    refused(-4059, acct.set_position_mode, True)


def test_filters_min_notional_duplicates_and_lookups(symbols):
    acct, _ = make(symbols)
    e = refused(-4164, acct.place, order("BUY", "0.002", 2000), BOOK)  # 4 < 5
    assert e.msg == "Order's notional must be no smaller than 5 (unless you choose reduce only)."
    refused(-4003, acct.place, order("BUY", 0, 2000), BOOK)
    refused(-1111, acct.place, order("BUY", "0.0001", 2000), BOOK)
    refused(-1111, acct.place, order("BUY", 1, "1999.001"), BOOK)
    refused(-1013, acct.place, order("BUY", 1, 100_001), BOOK)
    refused(-1121, acct.place, order("BUY", 1, symbol="XRPUSDT"), BOOK)
    refused(-1116, acct.place, {**order("BUY", 1), "type": "STOP"}, BOOK)
    o = acct.place(order("BUY", 1, 1990, newClientOrderId="mine"), BOOK)
    e = refused(-4116, acct.place, order("BUY", 1, 1980, newClientOrderId="mine"), BOOK)
    assert e.msg == "ClientOrderId is duplicated."
    assert acct.find(ETH, order_id=o["orderId"]) is o
    assert acct.find(ETH, client_id="mine") is o
    assert acct.cancel(o)["status"] == "CANCELED"
    assert refused(-2011, acct.cancel, o).msg == "Unknown order sent."
    assert refused(-2013, acct.find, ETH, 1).msg == "Order does not exist."
    again = acct.place(order("BUY", 1, 1980, newClientOrderId="mine"), BOOK)  # no longer open
    assert again["status"] == "NEW"
    assert "_liquidation" not in public_order(again)
    keys = {"orderId", "symbol", "status", "clientOrderId", "price", "avgPrice", "origQty",
            "executedQty", "cumQuote", "timeInForce", "type", "reduceOnly", "closePosition",
            "side", "positionSide", "stopPrice", "workingType", "priceProtect", "origType",
            "priceMatch", "selfTradePreventionMode", "goodTillDate", "updateTime"}  # fmt: skip
    assert keys <= set(public_order(again))


# ---- the brackets file ------------------------------------------------------------------------
def test_bundled_brackets_are_binances_format_and_tiers():
    brackets = load_brackets()
    assert set(brackets) >= {ETH, BTC}
    for symbol in (ETH, BTC):
        tiers = brackets[symbol]
        assert tiers[0] == {"bracket": 1, "initialLeverage": 125, "notionalCap": 50000,
                            "notionalFloor": 0, "maintMarginRatio": 0.004, "cum": 0.0}  # fmt: skip
        assert tiers[1]["notionalFloor"] == 50000
        assert tiers[1]["initialLeverage"] == 100
        assert (tiers[1]["maintMarginRatio"], tiers[1]["cum"]) == (0.005, 50.0)
        for prev, b in itertools.pairwise(tiers):
            assert b["notionalFloor"] == prev["notionalCap"]
            assert b["initialLeverage"] <= prev["initialLeverage"]
            step = D(str(b["notionalFloor"])) * (
                D(str(b["maintMarginRatio"])) - D(str(prev["maintMarginRatio"]))
            )
            assert D(str(b["cum"])) == D(str(prev["cum"])) + step
    acct = FuturesAccount(1000, {})
    rows = acct.leverage_brackets()
    assert isinstance(rows, list)
    assert {r["symbol"] for r in rows} >= {ETH, BTC}
    assert acct.leverage_brackets(ETH) == {"symbol": ETH, "brackets": brackets[ETH]}


# ---- as ccxt reads it -------------------------------------------------------------------------
class _Client:
    """What ccxt's handlers resolve to (a WebSocket client's futures)."""

    def __init__(self):
        self.resolved: list = []
        self.subscriptions = {"linear": True}
        self.futures: dict = {}

    def resolve(self, result, message_hash):
        self.resolved.append((message_hash, result))


def _ccxt(ex, linear):
    ex.set_markets([ex.parse_market(s) for s in linear["symbols"]])
    return ex


def test_ccxt_pro_parses_the_user_data_events(symbols, linear):
    import ccxt.pro as ccxtpro

    ex = _ccxt(ccxtpro.binanceusdm(), linear)
    acct, events = make(symbols)
    acct.place(order("BUY", 2), BOOK)
    o = acct.place(order("SELL", "0.5", 2100, reduceOnly="true", newClientOrderId="tp1"), BOOK)
    acct.on_trade(2100.5)
    reports = [e for e in events if e["e"] == "ORDER_TRADE_UPDATE" and e["o"]["i"] == o["orderId"]]
    new, fill = (ex.parse_ws_order(e["o"]) for e in reports)
    assert (new["symbol"], new["side"], new["type"], new["status"]) == (
        "ETH/USDT:USDT", "sell", "limit", "open",
    )  # fmt: skip
    assert (new["amount"], new["filled"], new["price"], new["reduceOnly"]) == (0.5, 0, 2100, True)
    assert (fill["status"], fill["filled"], fill["average"], fill["clientOrderId"]) == (
        "closed", 0.5, 2100, "tp1",
    )  # fmt: skip
    assert (float(fill["fee"]["cost"]), fill["fee"]["currency"]) == (0.21, "USDT")
    trade = ex.parse_ws_trade(reports[1]["o"])
    assert (trade["price"], trade["amount"], trade["takerOrMaker"]) == (2100, 0.5, "maker")
    update = events[-1]
    assert update["e"] == "ACCOUNT_UPDATE"
    position = ex.parse_ws_position(update["a"]["P"][0])
    assert (position["symbol"], position["contracts"], position["side"]) == (
        "ETH/USDT:USDT", 1.5, "long",
    )  # fmt: skip
    assert (position["entryPrice"], position["marginMode"], position["hedged"]) == (
        2000, "cross", False,
    )  # fmt: skip
    client = _Client()
    ex.balance["linear"] = None  # as watch_balance leaves it before its first update
    ex.handle_balance(client, update)
    assert ex.balance["linear"]["USDT"]["total"] == float(acct.wallet)
    # a liquidation: both autoclose- events are ccxt's "my liquidations"
    events.clear()
    acct.set_mark(ETH, 1300, 5)
    for e in events:
        if e["e"] == "ORDER_TRADE_UPDATE":
            ex.handle_order_update(client, e)
    liquidations = [r for h, r in client.resolved if h == "myLiquidations"]
    assert len(liquidations) == 2
    last = liquidations[-1][0]
    assert (last["symbol"], last["side"], last["contracts"]) == ("ETH/USDT:USDT", "sell", 1.5)
    assert last["price"] == pytest.approx(float(acct.liquidations[0]["price"]), abs=1e-8)


def test_ccxt_parses_position_risk_account_and_history(symbols, linear):
    import ccxt

    acct, _ = make(symbols)
    acct.place(order("SELL", 2), (2000.0, 2000.5))
    acct.place(order("BUY", 1, 1900), BOOK)
    acct.set_mark(ETH, 1950, 1)
    acct.settle_funding(ETH, 0.0001, 1950, 28_800_000)
    ex = _ccxt(ccxt.binanceusdm(), linear)
    ex.fapiPrivateGetLeverageBracket = lambda params={}: acct.leverage_brackets()
    ex.fapiPrivateV3GetPositionRisk = lambda params={}: acct.position_risk()
    ex.fapiPrivateV3GetAccount = lambda params={}: acct.account()
    (pos,) = ex.fetch_positions()
    assert (pos["symbol"], pos["side"], pos["contracts"], pos["entryPrice"]) == (
        "ETH/USDT:USDT", "short", 2, 2000,
    )  # fmt: skip
    assert (pos["markPrice"], pos["unrealizedPnl"], pos["notional"]) == (1950, 100, 3900)
    assert pos["leverage"] is None  # the v3 answer has none, as Binance's
    assert pos["marginMode"] == "cross"
    assert pos["hedged"] is False
    assert pos["liquidationPrice"] == float(acct.position_risk()[0]["liquidationPrice"])
    assert pos["initialMargin"] == 390  # the open buy closes the short: it needs none
    assert pos["maintenanceMargin"] == pytest.approx(15.6)
    assert pos["collateral"] == pytest.approx(998.39, abs=0.01)  # ccxt's cross wallet
    balance = ex.fetch_balance()
    usdt = balance["USDT"]
    wallet, upnl = float(acct.wallet), 100
    assert usdt["total"] == pytest.approx(wallet + upnl)
    assert usdt["used"] == pytest.approx(390)
    assert usdt["free"] == pytest.approx(wallet + upnl - 390)
    (funding,) = (ex.parse_income(r) for r in acct.income(income_type="FUNDING_FEE"))
    assert (funding["symbol"], funding["amount"], funding["code"]) == (
        "ETH/USDT:USDT",
        0.39,
        "USDT",
    )
    trade = ex.parse_trade(acct.user_trades(ETH)[0])
    assert (trade["side"], trade["amount"], trade["price"], trade["fee"]["cost"]) == (
        "sell", 2, 2000, 2,
    )  # fmt: skip
    parsed = ex.parse_order(public_order(acct.open_orders(ETH)[0]))
    assert (parsed["status"], parsed["side"], parsed["price"], parsed["amount"]) == (
        "open", "buy", 1900, 1,
    )  # fmt: skip
