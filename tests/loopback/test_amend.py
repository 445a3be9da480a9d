"""Amending an open order on the loopback venues through the real, unmodified ccxt
``edit_order``: Binance USDⓈ-M's ``PUT /fapi/v1/order``, Bybit linear's ``POST
/v5/order/amend`` (both in place, the id kept) and Binance spot's ``POST
/api/v3/order/cancelReplace`` (a new order, the old one cancelled); and the account's
queue-priority rule of each venue (:mod:`backtrader_channels.loopback.amend_rules`)."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal as D

import ccxt
import ccxt.pro as ccxtpro
import pytest

from backtrader_channels.datasets import binance_exchange_info
from backtrader_channels.loopback import (
    BinanceFuturesLoopback,
    BinanceLoopback,
    BybitLinearLoopback,
    BybitLoopback,
    point_binance_at,
    point_binance_futures_at,
    point_bybit_at,
    point_bybit_linear_at,
)
from backtrader_channels.loopback.account import Account, VenueError
from backtrader_channels.loopback.amend_rules import (
    AT_MOST_FILLED,
    KEEP_ON_DECREASE,
    REQUEUE_ALWAYS,
    amend_futures,
    amend_spot,
    keeps_priority,
)
from backtrader_channels.loopback.bybit.protocol import SPOT_RULES
from backtrader_channels.loopback.futures_account import FuturesAccount

KEY, SECRET = "loopback-key", "loopback-secret"
PERP = "ETH/USDT:USDT"
SPOT = "BTC/USDT"


def _serve(srv):
    srv.start()
    return srv


@pytest.fixture
def usdm():
    srv = _serve(BinanceFuturesLoopback())
    yield srv
    srv.stop()


@pytest.fixture
def linear():
    srv = _serve(BybitLinearLoopback())
    yield srv
    srv.stop()


@pytest.fixture
def spot():
    srv = _serve(BinanceLoopback(rate=2_000, balances={"USDT": 10_000.0, "BTC": 0.01}))
    yield srv
    srv.stop()


@pytest.fixture
def bybit_spot():
    srv = _serve(BybitLoopback(rate=2_000, balances={"USDT": 10_000.0, "BTC": 0.01}))
    yield srv
    srv.stop()


def _client(srv):
    config = {"apiKey": KEY, "secret": SECRET, "rateLimit": 5}
    if isinstance(srv, BybitLoopback):
        return point_bybit_at(ccxtpro.bybit(config), srv.port)
    if isinstance(srv, BinanceFuturesLoopback):
        return point_binance_futures_at(ccxtpro.binanceusdm(config), srv.port)
    if isinstance(srv, BybitLinearLoopback):
        return point_bybit_linear_at(ccxtpro.bybit(config), srv.port)
    return point_binance_at(ccxtpro.binance(config), srv.port)


def run(srv, coro_fn, timeout=20.0):
    """Run ``coro_fn(exchange)`` with a keyed client of ``srv`` (markets loaded)."""

    async def go():
        ex = _client(srv)
        try:
            await ex.load_markets()
            return await asyncio.wait_for(coro_fn(ex), timeout)
        finally:
            await ex.close()

    return asyncio.run(go())


async def _until(predicate, what):
    for _ in range(250):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never: {what}")


async def _streamed(ex, symbol, oid, predicate):
    """The private stream's last update of order ``oid`` once ``predicate`` accepts it (ccxt's
    ``watch_orders`` cache, which the stream fills whether or not a watch is waiting)."""
    for _ in range(250):
        cached = ex.orders.hashmap.get(symbol, {}).get(oid) if ex.orders else None
        if cached is not None and predicate(cached):
            return cached
        await asyncio.sleep(0.02)
    raise AssertionError(f"the stream never showed order {oid} as expected")


def _fills_in_order(srv):
    """The order ids of the account's fills, oldest first."""
    return [t["orderId"] for t in srv.account.trades]


# ---- Binance USDⓈ-M: PUT /fapi/v1/order ---------------------------------------------------------
def test_usdm_edit_order_amends_in_place(usdm):
    async def go(ex):
        book = await ex.fetch_order_book(PERP)
        bid, ask = book["bids"][0][0], book["asks"][0][0]
        watching = asyncio.ensure_future(ex.watch_orders(PERP))
        await _until(lambda: usdm._user_sockets, "the user data stream")
        made = await ex.create_order(PERP, "limit", "buy", 0.1, round(bid - 50, 2))
        await watching
        new_price = round(bid - 40, 2)
        edited = await ex.edit_order(made["id"], PERP, "limit", "buy", 0.2, new_price)
        assert (edited["id"], edited["price"], edited["amount"]) == (made["id"], new_price, 0.2)
        seen = await _streamed(ex, PERP, made["id"], lambda o: o["info"].get("x") == "AMENDMENT")
        assert (seen["id"], seen["price"], seen["amount"], seen["status"]) == (
            made["id"], new_price, 0.2, "open")  # fmt: skip
        fetched = await ex.fetch_order(made["id"], PERP)
        assert (fetched["price"], fetched["amount"], fetched["status"]) == (new_price, 0.2, "open")

        # ccxt maps -5027 (OperationRejected), -5022 (OrderNotFillable) and spot's -2021/-2022
        # (BadResponse) by the venue's hostname only: against 127.0.0.1, ExchangeError
        with pytest.raises(ccxt.ExchangeError, match="-5027"):  # nothing changes
            await ex.edit_order(made["id"], PERP, "limit", "buy", 0.2, new_price)
        with pytest.raises(ccxt.OrderNotFound):
            await ex.edit_order("123", PERP, "limit", "buy", 0.2, new_price)
        raw = {"symbol": "ETHUSDT", "side": "BUY", "orderId": made["id"], "quantity": "0.2",
               "price": f"{new_price:.2f}1"}  # fmt: skip  # (ccxt would round it)
        with pytest.raises(ccxt.BadRequest, match="-1111"):  # more decimals than the symbol's
            await ex.fapiPrivatePutOrder(raw)
        assert (await ex.fetch_order(made["id"], PERP))["price"] == new_price  # unchanged

        # post-only (GTX) moved to a price that would take: -5022, the order ends (Binance's
        # documented rule: the order is cancelled), its price never changed
        po = await ex.create_order(PERP, "limit", "buy", 0.1, round(bid - 60, 2),
                                   {"postOnly": True})  # fmt: skip
        with pytest.raises(ccxt.ExchangeError, match="-5022"):
            await ex.edit_order(po["id"], PERP, "limit", "buy", 0.1, round(ask + 5, 2))
        gone = await ex.fetch_order(po["id"], PERP)
        assert (gone["status"], gone["price"], gone["filled"]) == ("expired", round(bid - 60, 2), 0)
        assert usdm.account.position("ETHUSDT").size == 0

    run(usdm, go)


def test_usdm_every_modify_requeues(usdm):
    """Binance USDⓈ-M reorders a modified order in the queue, even for a smaller quantity."""

    async def go(ex):
        bid = (await ex.fetch_order_book(PERP))["bids"][0][0]
        price = round(bid - 50, 2)
        first = await ex.create_order(PERP, "limit", "buy", 0.2, price)
        second = await ex.create_order(PERP, "limit", "buy", 0.2, price)
        await ex.edit_order(first["id"], PERP, "limit", "buy", 0.1, price)  # smaller
        usdm.cross_resting()
        return int(first["id"]), int(second["id"])

    first, second = run(usdm, go)
    assert _fills_in_order(usdm) == [second, first]


# ---- Bybit linear: POST /v5/order/amend ---------------------------------------------------------
async def _bybit_order(ex, oid):
    return await ex.fetch_order(oid, PERP, {"acknowledged": True})


def test_bybit_edit_order_amends_in_place(linear):
    async def go(ex):
        book = await ex.fetch_order_book(PERP)
        bid, ask = book["bids"][0][0], book["asks"][0][0]
        watching = asyncio.ensure_future(ex.watch_orders(PERP))
        await _until(lambda: "order" in set().union(*linear._private_subs.values()), "order topic")
        made = await ex.create_order(PERP, "limit", "buy", 0.1, round(bid - 50, 2),
                                     {"clientOrderId": "a1"})  # fmt: skip
        await watching
        new_price = round(bid - 40, 2)
        edited = await ex.edit_order(made["id"], PERP, "limit", "buy", 0.2, new_price)
        assert (edited["id"], edited["clientOrderId"]) == (made["id"], "a1")
        seen = await _streamed(ex, PERP, made["id"], lambda o: o["price"] == new_price)
        assert (seen["id"], seen["amount"], seen["status"]) == (made["id"], 0.2, "open")
        fetched = await _bybit_order(ex, made["id"])
        assert (fetched["price"], fetched["amount"], fetched["status"]) == (new_price, 0.2, "open")
        by_link = await ex.edit_order(None, PERP, "limit", "buy", 0.15, None,
                                      {"clientOrderId": "a1"})  # fmt: skip
        assert by_link["id"] == made["id"]
        assert (await _bybit_order(ex, made["id"]))["amount"] == 0.15

        with pytest.raises(ccxt.BadRequest, match="order not modified"):
            await ex.edit_order(made["id"], PERP, "limit", "buy", 0.15, new_price)
        with pytest.raises(ccxt.OrderNotFound, match="110001"):
            await ex.edit_order("999", PERP, "limit", "buy", 0.2, new_price)

        # PostOnly moved to a price that would take: accepted, then cancelled, as Bybit treats
        # a PostOnly order that would take; its price never changed
        po = await ex.create_order(PERP, "limit", "buy", 0.1, round(bid - 60, 2),
                                   {"postOnly": True, "clientOrderId": "po"})  # fmt: skip
        await ex.edit_order(po["id"], PERP, "limit", "buy", 0.1, round(ask + 5, 2))
        gone = await _bybit_order(ex, po["id"])
        assert (gone["status"], gone["filled"]) == ("canceled", 0)
        assert gone["price"] == round(bid - 60, 2)
        assert gone["info"]["rejectReason"] == "EC_PostOnlyWillTakeLiquidity"
        with pytest.raises(ccxt.OrderNotFound):  # an ended order is not amended
            await ex.edit_order(po["id"], PERP, "limit", "buy", 0.1, round(bid - 60, 2))

    run(linear, go)


@pytest.mark.parametrize(
    ("amend", "filled_first"),
    [("smaller", "first"), ("larger", "second"), ("away_and_back", "second")],
)
def test_bybit_queue_priority(linear, amend, filled_first):
    """A smaller quantity keeps the order's place; a larger one, or a price moved away and
    back, sends it behind the account's other order at that price."""

    async def go(ex):
        bid = (await ex.fetch_order_book(PERP))["bids"][0][0]
        price = round(bid - 50, 2)
        first = await ex.create_order(PERP, "limit", "buy", 0.2, price)
        second = await ex.create_order(PERP, "limit", "buy", 0.2, price)
        if amend == "smaller":
            await ex.edit_order(first["id"], PERP, "limit", "buy", 0.1, price)
        elif amend == "larger":
            await ex.edit_order(first["id"], PERP, "limit", "buy", 0.3, price)
        else:
            await ex.edit_order(first["id"], PERP, "limit", "buy", 0.2, round(price - 1, 2))
            await ex.edit_order(first["id"], PERP, "limit", "buy", 0.2, price)
        linear.cross_resting()
        return {"first": int(first["id"]), "second": int(second["id"])}

    ids = run(linear, go)
    other = "second" if filled_first == "first" else "first"
    assert _fills_in_order(linear) == [ids[filled_first], ids[other]]


# ---- Bybit spot: POST /v5/order/amend ----------------------------------------------------------
def test_bybit_spot_edit_order_amends_in_place(bybit_spot):
    async def go(ex):
        bid = (await ex.fetch_order_book(SPOT))["bids"][0][0]
        watching = asyncio.ensure_future(ex.watch_orders(SPOT))
        await _until(lambda: "order" in set().union(*bybit_spot._private_subs.values()), "topic")
        price = round(bid * 0.9, 2)
        first = await ex.create_order(SPOT, "limit", "buy", 0.001, price, {"clientOrderId": "s1"})
        second = await ex.create_order(SPOT, "limit", "buy", 0.001, price)
        await watching
        new_price = round(bid * 0.95, 2)
        edited = await ex.edit_order(first["id"], SPOT, "limit", "buy", 0.002, new_price)
        assert (edited["id"], edited["clientOrderId"]) == (first["id"], "s1")
        seen = await _streamed(ex, SPOT, first["id"], lambda o: o["price"] == new_price)
        assert (seen["amount"], seen["status"]) == (0.002, "open")
        got = await ex.fetch_order(first["id"], SPOT, {"acknowledged": True})
        assert (got["price"], got["amount"], got["status"]) == (new_price, 0.002, "open")
        locked = bybit_spot.account.locked["USDT"]
        assert float(locked) == pytest.approx(0.002 * new_price * 1.001 + 0.001 * price * 1.001)
        with pytest.raises(ccxt.BadRequest, match="order not modified"):
            await ex.edit_order(first["id"], SPOT, "limit", "buy", 0.002, new_price)
        with pytest.raises(ccxt.OrderNotFound, match="170213"):
            await ex.edit_order("999", SPOT, "limit", "buy", 0.002, new_price)
        with pytest.raises(ccxt.InsufficientFunds, match="170131"):
            await ex.edit_order(first["id"], SPOT, "limit", "buy", 5, new_price)
        # back to the shared price: behind the second order, which fills first
        await ex.edit_order(first["id"], SPOT, "limit", "buy", 0.002, price)
        bybit_spot.cross_resting()
        return int(first["id"]), int(second["id"])

    first, second = run(bybit_spot, go)
    assert _fills_in_order(bybit_spot) == [second, first]
    assert bybit_spot.account.locked["USDT"] == 0


def test_amend_spot_rules():
    acct = Account({"USDT": 10_000.0, "BTC": 0.0}, {"BTCUSDT": SPOT_RULES})
    best = (59_999.0, 60_000.0)
    params = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01"}
    a = acct.place(dict(params, price="50000", newClientOrderId="a"), best)
    b = acct.place(dict(params, price="50000", newClientOrderId="b"), best)
    amend_spot(acct, a, D("0.005"), D("50000"), best)  # smaller: keeps its place
    assert list(acct._resting) == [a["orderId"], b["orderId"]]
    amend_spot(acct, a, D("0.006"), D("50000"), best)  # larger: to the back
    assert list(acct._resting) == [b["orderId"], a["orderId"]]
    acct._execute(b, D("0.004"), D("50000"), maker=True)  # b partly filled
    with pytest.raises(VenueError) as below:
        amend_spot(acct, b, D("0.004"), D("50000"), best)
    assert below.value.code == AT_MOST_FILLED
    assert b["origQty"] == "0.01"
    amend_spot(acct, b, D("0.005"), D("50000"), best)  # above the filled part: fine
    assert acct._resting[b["orderId"]]["_locked"] == D("0.001") * 50000 * D("1.001")


# ---- Binance spot: POST /api/v3/order/cancelReplace ---------------------------------------------
def test_spot_edit_order_cancels_and_replaces(spot):
    async def go(ex):
        book = await ex.fetch_order_book(SPOT)
        bid, ask = book["bids"][0][0], book["asks"][0][0]
        watching = asyncio.ensure_future(ex.watch_orders(SPOT))
        await _until(lambda: spot._ws_api, "the user data stream")
        made = await ex.create_order(SPOT, "limit", "buy", 0.001, round(bid * 0.9, 2))
        await watching
        new_price = round(bid * 0.95, 2)
        edited = await ex.edit_order(made["id"], SPOT, "limit", "buy", 0.002, new_price)
        assert edited["id"] != made["id"]
        assert (edited["price"], edited["amount"], edited["status"]) == (new_price, 0.002, "open")
        old = await ex.fetch_order(made["id"], SPOT)
        new = await ex.fetch_order(edited["id"], SPOT)
        assert old["status"] == "canceled"
        assert (new["price"], new["amount"], new["status"]) == (new_price, 0.002, "open")
        seen = await _streamed(ex, SPOT, edited["id"], lambda o: o["status"] == "open")
        assert (seen["price"], seen["amount"]) == (new_price, 0.002)
        await _streamed(ex, SPOT, made["id"], lambda o: o["status"] == "canceled")
        assert [o["id"] for o in await ex.fetch_open_orders(SPOT)] == [edited["id"]]

        with pytest.raises(ccxt.ExchangeError, match="-2022") as unknown:  # cancel failed
            await ex.edit_order("42", SPOT, "limit", "buy", 0.002, new_price)
        body = json.loads(str(unknown.value).split(" ", 1)[1])
        assert body["data"]["cancelResult"] == "FAILURE"
        assert body["data"]["newOrderResult"] == "NOT_ATTEMPTED"
        assert body["data"]["cancelResponse"]["code"] == -2011
        assert [o["id"] for o in await ex.fetch_open_orders(SPOT)] == [edited["id"]]

        # a LIMIT_MAKER that would take: the cancel is done, the new order refused (-2021)
        with pytest.raises(ccxt.ExchangeError, match="-2021") as partial:
            await ex.edit_order(edited["id"], SPOT, "limit", "buy", 0.002, round(ask * 1.01, 2),
                                {"postOnly": True})  # fmt: skip
        data = json.loads(str(partial.value).split(" ", 1)[1])["data"]
        assert (data["cancelResult"], data["newOrderResult"]) == ("SUCCESS", "FAILURE")
        assert data["newOrderResponse"]["code"] == -2010
        assert await ex.fetch_open_orders(SPOT) == []

        # ALLOW_FAILURE: the cancel fails, the new order is placed all the same (-2021)
        raw = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
               "quantity": "0.001", "price": f"{bid * 0.9:.2f}", "cancelOrderId": "42",
               "cancelReplaceMode": "ALLOW_FAILURE"}  # fmt: skip
        with pytest.raises(ccxt.ExchangeError, match="-2021") as allowed:
            await ex.privatePostOrderCancelReplace(raw)
        data = json.loads(str(allowed.value).split(" ", 1)[1])["data"]
        assert (data["cancelResult"], data["newOrderResult"]) == ("FAILURE", "SUCCESS")
        (placed,) = await ex.fetch_open_orders(SPOT)
        assert placed["id"] == str(data["newOrderResponse"]["orderId"])
        await ex.cancel_order(placed["id"], SPOT)
        return made["id"], edited["id"]

    reports: list[tuple[str, int]] = []
    spot.account.listeners.append(
        lambda e: reports.append((e["x"], e["i"])) if e["e"] == "executionReport" else None
    )
    first, second = run(spot, go)
    # the user stream: the old order's CANCELED, then the new one's NEW
    i = reports.index(("CANCELED", int(first)))
    assert reports[i + 1] == ("NEW", int(second))
    assert ("cancel", spot.account.orders[int(first)]["clientOrderId"]) in spot.order_requests
    assert spot.account.free["USDT"] == pytest.approx(10_000.0)  # every lock released


# ---- the account's rule, unit by unit -----------------------------------------------------------
def test_priority_rules():
    p, q = D("100"), D("2")
    assert keeps_priority(KEEP_ON_DECREASE, (p, q), (p, D("1")))
    assert not keeps_priority(KEEP_ON_DECREASE, (p, q), (p, D("3")))
    assert not keeps_priority(KEEP_ON_DECREASE, (p, q), (D("99"), D("1")))
    assert not keeps_priority(REQUEUE_ALWAYS, (p, q), (p, D("1")))


@pytest.fixture(scope="module")
def perp_symbols() -> dict:
    with open(binance_exchange_info(), encoding="utf-8") as f:
        return {s["symbol"]: s for s in json.load(f)["linear"]["symbols"]}


def test_amend_futures_refusals_leave_the_order(perp_symbols):
    acct = FuturesAccount(10_000, perp_symbols, clock=lambda: 1_700_000_000_000)
    events: list[dict] = []
    acct.listeners.append(events.append)
    best = (1999.5, 2000.0)
    params = {"symbol": "ETHUSDT", "side": "BUY", "type": "LIMIT", "quantity": "1",
              "price": "1990", "timeInForce": "GTC"}  # fmt: skip
    order = acct.place(params, best)
    before = dict(order)
    for qty, price, code in (
        (D("1"), D("1990"), -5027),  # nothing changes
        (D("0"), D("1990"), -4003),  # quantity 0
        (D("1.0001"), D("1990"), -1111),  # too many decimals
        (D("1000"), D("1990"), -2019),  # margin
    ):
        with pytest.raises(VenueError) as refused:
            amend_futures(acct, order, qty, price, best, None, REQUEUE_ALWAYS)
        assert refused.value.code == code
        assert order == before
    assert [e["o"]["x"] for e in events] == ["NEW"]
    # a GTC amend to a price through the book: amended, then taken at the ask
    amend_futures(acct, order, D("1"), D("2001"), best, None, KEEP_ON_DECREASE)
    assert [e["o"]["x"] for e in events if e["e"] == "ORDER_TRADE_UPDATE"] == [
        "NEW", "AMENDMENT", "TRADE"]  # fmt: skip
    assert (order["status"], order["avgPrice"]) == ("FILLED", "2000")
    with pytest.raises(VenueError) as ended:
        amend_futures(acct, order, D("2"), D("1990"), best, None, KEEP_ON_DECREASE)
    assert ended.value.code == -2013


def test_amend_futures_at_most_the_filled_quantity_cancels(perp_symbols):
    """Binance: a partly filled order amended to at most its filled quantity is cancelled."""
    acct = FuturesAccount(10_000, perp_symbols, clock=lambda: 1_700_000_000_000)
    best = (1999.5, 2000.0)
    params = {"symbol": "ETHUSDT", "side": "BUY", "type": "LIMIT", "quantity": "1",
              "price": "1990", "timeInForce": "GTC"}  # fmt: skip
    order = acct.place(params, best)
    acct._execute(order, D("0.4"), D("1990"), maker=True)  # a partial fill
    amend_futures(acct, order, D("0.4"), D("1990"), best, None, REQUEUE_ALWAYS)
    assert (order["status"], order["executedQty"]) == ("CANCELED", "0.4")
    assert acct.open_orders() == []
