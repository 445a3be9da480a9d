"""USDT perpetuals through an unmodified ``ccxt.pro.bybit`` against the loopback Bybit linear
(the Binance perp recording re-framed as Bybit v5's, on the loopback's margin account): markets,
public streams, settings, orders with Bybit's retCodes, positions, the unified wallet, the
private streams, a funding payment and a liquidation."""

from __future__ import annotations

import asyncio

import ccxt
import ccxt.pro as ccxtpro
import pytest

from backtrader_channels.loopback import BybitLinearLoopback, point_bybit_linear_at

KEY, SECRET = "loopback-key", "loopback-secret"
SYMBOL = "ETH/USDT:USDT"


@pytest.fixture
def linear():
    srv = BybitLinearLoopback()
    srv.start()
    yield srv
    srv.stop()


def keyed(srv):
    return point_bybit_linear_at(ccxtpro.bybit({"apiKey": KEY, "secret": SECRET}), srv.port)


def run(coro_fn, srv, timeout=60.0):
    """Run ``coro_fn(exchange)`` with a keyed client pointed at ``srv``, then close it."""

    async def go():
        ex = keyed(srv)
        try:
            return await asyncio.wait_for(coro_fn(ex), timeout)
        finally:
            await ex.close()

    return asyncio.run(go())


async def _order(ex, cid):
    return await ex.fetch_order(None, SYMBOL, {"acknowledged": True, "orderLinkId": cid})


def test_markets_and_public_streams():
    async def go(ex):
        await ex.load_markets()
        m = ex.markets[SYMBOL]
        assert (m["swap"], m["linear"], m["settle"], m["id"]) == (True, True, "USDT", "ETHUSDT")
        assert m["precision"]["amount"] == 0.001
        assert m["precision"]["price"] == 0.01
        assert m["limits"]["amount"]["min"] == 0.001
        assert m["limits"]["cost"]["min"] == 5
        assert m["limits"]["leverage"]["max"] == 125
        assert "BTC/USDT:USDT" in ex.markets
        book = await ex.watch_order_book(SYMBOL)
        assert book["bids"][0][0] < book["asks"][0][0]
        assert len(book["bids"]) <= 50
        book = await ex.watch_order_book(SYMBOL)  # a delta applied
        assert book["bids"][0][0] < book["asks"][0][0]
        trades = await ex.watch_trades(SYMBOL)
        assert trades[0]["symbol"] == SYMBOL
        assert trades[0]["price"] > 0
        assert trades[0]["side"] in ("buy", "sell")
        ticker = await ex.watch_ticker(SYMBOL)  # the snapshot
        assert ticker["symbol"] == SYMBOL
        assert ticker["markPrice"] > 0
        for _ in range(2000):  # deltas until a recorded mark update arrives
            ticker = await ex.watch_ticker(SYMBOL)
            if ticker["info"]["nextFundingTime"] != "0":
                break
        info = ticker["info"]
        assert float(info["fundingRate"]) == pytest.approx(0.0001)
        assert int(info["nextFundingTime"]) > 0
        assert ticker["markPrice"] > 0
        assert ticker["indexPrice"] > 0
        assert ticker["bid"] < ticker["ask"]

    srv = BybitLinearLoopback(rate=3000)  # paced: the replay outlasts the test's watches
    srv.start()
    try:
        run(go, srv)
    finally:
        srv.stop()


def test_settings(linear):
    async def go(ex):
        await ex.load_markets()
        with pytest.raises(ccxt.NotSupported):  # ccxt 4.5.90 has no fetchPositionMode on bybit
            await ex.fetch_position_mode(SYMBOL)
        with pytest.raises(ccxt.ExchangeError) as unchanged:
            await ex.set_position_mode(False, SYMBOL)
        assert "110025" in str(unchanged.value)
        await ex.set_position_mode(True, SYMBOL)
        assert linear.account.dual_side
        await ex.set_position_mode(False, SYMBOL)
        answer = await ex.set_margin_mode("cross", SYMBOL)  # account level: REGULAR_MARGIN
        assert answer["retCode"] == 0
        assert answer["result"]["reasons"] == []
        with pytest.raises(ccxt.ExchangeError) as isolated:
            await ex.set_margin_mode("isolated", SYMBOL)
        assert "3400045" in str(isolated.value)
        with pytest.raises(ccxt.BadRequest) as same:  # 10, Bybit's default
            await ex.set_leverage(10, SYMBOL)
        assert "110043" in str(same.value)
        await ex.set_leverage(20, SYMBOL)
        await ex.set_leverage(10, SYMBOL)
        assert linear.account.leverage("ETHUSDT") == 10

    run(go, linear)


def test_orders_positions_and_wallet(linear):
    async def go(ex):
        await ex.load_markets()
        book = await ex.fetch_order_book(SYMBOL)
        bid, ask = book["bids"][0][0], book["asks"][0][0]
        made = await ex.create_order(SYMBOL, "market", "buy", 0.1, None, {"clientOrderId": "m1"})
        assert made["clientOrderId"] == "m1"
        order = await _order(ex, "m1")
        assert (order["status"], order["filled"], order["side"]) == ("closed", 0.1, "buy")
        assert order["average"] == pytest.approx(ask)
        assert order["fee"]["currency"] == "USDT"
        assert order["fee"]["cost"] > 0
        (pos,) = await ex.fetch_positions([SYMBOL])
        assert (pos["side"], pos["contracts"], pos["leverage"]) == ("long", 0.1, 10)
        assert pos["entryPrice"] == pytest.approx(ask)

        with pytest.raises(ccxt.InvalidOrder) as reduce_only:
            await ex.create_order(SYMBOL, "market", "buy", 0.1, None, {"reduceOnly": True})
        assert "110017" in str(reduce_only.value)
        with pytest.raises(ccxt.InsufficientFunds) as margin:
            await ex.create_order(SYMBOL, "market", "buy", 100)
        assert "110007" in str(margin.value)
        assert "ab not enough" in str(margin.value)
        with pytest.raises(ccxt.InvalidOrder) as duplicate:
            await ex.create_order(SYMBOL, "market", "buy", 0.1, None, {"clientOrderId": "m1"})
        assert "110072" in str(duplicate.value)

        # post-only that would take: accepted, then cancelled
        await ex.create_order(
            SYMBOL, "limit", "buy", 0.1, ask + 5, {"postOnly": True, "clientOrderId": "po"}
        )
        po = await _order(ex, "po")
        assert po["status"] == "canceled"
        assert po["info"]["rejectReason"] == "EC_PostOnlyWillTakeLiquidity"
        assert po["info"]["timeInForce"] == "PostOnly"
        # IOC and FOK away from the book: cancelled unfilled
        for tif, cid in (("IOC", "ioc"), ("FOK", "fok")):
            params = {"timeInForce": tif, "clientOrderId": cid}
            await ex.create_order(SYMBOL, "limit", "buy", 0.1, round(bid - 100, 2), params)
            o = await _order(ex, cid)
            assert (o["status"], o["filled"], o["timeInForce"]) == ("canceled", 0, tif)
        # a resting limit order: open, then cancelled by its orderLinkId
        await ex.create_order(
            SYMBOL, "limit", "buy", 0.1, round(bid - 50, 2), {"clientOrderId": "r1"}
        )
        (open_order,) = await ex.fetch_open_orders(SYMBOL)
        assert (open_order["clientOrderId"], open_order["status"]) == ("r1", "open")
        await ex.cancel_order(None, SYMBOL, {"orderLinkId": "r1"})
        assert await ex.fetch_open_orders(SYMBOL) == []
        query = {"category": "linear", "symbol": "ETHUSDT", "orderLinkId": "r1"}
        rows = (await ex.privateGetV5OrderHistory(query))["result"]["list"]
        assert rows[0]["orderStatus"] == "Cancelled"
        assert rows[0]["cancelType"] == "CancelByUser"
        with pytest.raises(ccxt.OrderNotFound):
            await ex.cancel_order(None, SYMBOL, {"orderLinkId": "r1"})

        closed = await ex.create_order(SYMBOL, "market", "sell", 0.1, None, {"reduceOnly": True})
        assert (await ex.fetch_order(closed["id"], SYMBOL, {"acknowledged": True}))["filled"] == 0.1
        (flat,) = await ex.fetch_positions([SYMBOL])
        assert flat["contracts"] == 0
        assert flat["side"] is None
        trades = sorted(await ex.fetch_my_trades(SYMBOL), key=lambda t: t["id"])
        assert [t["side"] for t in trades] == ["buy", "sell"]
        assert trades[1]["info"]["closedSize"] == "0.1"
        balance = await ex.fetch_balance()
        acct = linear.account
        assert balance["USDT"]["total"] == pytest.approx(float(acct.wallet))
        fees = sum(t["fee"]["cost"] for t in trades)
        pnl = 0.1 * (trades[1]["price"] - trades[0]["price"])
        assert balance["USDT"]["total"] == pytest.approx(10_000 + pnl - fees)

    run(go, linear)


def test_unrealized_profit_in_equity_not_wallet(linear):
    async def go(ex):
        await ex.load_markets()
        await ex.create_order(SYMBOL, "market", "buy", 1)
        linear.move_mark(+20.0)
        balance = await ex.fetch_balance()
        (coin,) = balance["info"]["result"]["list"][0]["coin"]
        wallet, equity = float(coin["walletBalance"]), float(coin["equity"])
        assert balance["USDT"]["total"] == pytest.approx(wallet)
        assert equity - wallet == pytest.approx(float(coin["unrealisedPnl"]))
        assert equity > wallet

    run(go, linear)


def test_private_streams(linear):
    async def go(ex):
        await ex.load_markets()
        assert await ex.watch_positions([SYMBOL]) == []  # the REST snapshot: flat
        orders = asyncio.create_task(ex.watch_orders(SYMBOL))
        mine = asyncio.create_task(ex.watch_my_trades(SYMBOL))
        positions = asyncio.create_task(ex.watch_positions([SYMBOL]))
        for _ in range(200):  # until the three topics are subscribed
            subs = set().union(*linear._private_subs.values()) if linear._private_subs else set()
            if {"order", "execution", "position"} <= subs:
                break
            await asyncio.sleep(0.02)
        await ex.create_order(SYMBOL, "market", "buy", 0.2, None, {"clientOrderId": "w1"})
        got = await orders
        while got[-1]["status"] != "closed":
            got = await ex.watch_orders(SYMBOL)
        assert got[-1]["clientOrderId"] == "w1"
        assert got[-1]["filled"] == 0.2
        (fill,) = await mine
        assert (fill["side"], fill["amount"], fill["takerOrMaker"]) == ("buy", 0.2, "taker")
        (pos,) = await positions
        assert (pos["side"], pos["contracts"]) == ("long", 0.2)

    run(go, linear)


def test_funding_payment_in_history_and_transaction_log():
    srv = BybitLinearLoopback()
    srv.start()
    try:

        async def go(ex):
            await ex.load_markets()
            since = ex.milliseconds()
            await ex.create_order(SYMBOL, "market", "buy", 1)  # before the replay starts
            await ex.watch_trades(SYMBOL)  # starts the replay
            assert await asyncio.to_thread(srv.done.wait, 60)
            (funding,) = await ex.fetch_funding_history(SYMBOL, since)
            mark = float(funding["info"]["markPrice"])
            assert funding["amount"] == pytest.approx(1 * mark * 0.0001, rel=1e-6)  # paid
            assert funding["rate"] == pytest.approx(0.0001)
            assert funding["info"]["execType"] == "Funding"
            log = await ex.privateGetV5AccountTransactionLog({"type": "SETTLEMENT"})
            (row,) = log["result"]["list"]
            assert float(row["funding"]) == pytest.approx(funding["amount"])
            assert float(row["change"]) == pytest.approx(-funding["amount"])
            assert float(row["cashBalance"]) == pytest.approx(float(srv.account.wallet))
            ledger = await ex.fetch_ledger("USDT", since)
            assert [e["info"]["type"] for e in ledger] == ["TRADE", "SETTLEMENT"]
            rates = await ex.fetch_funding_rate_history(SYMBOL)
            assert [r["fundingRate"] for r in rates] == [0.0001]

        run(go, srv)
    finally:
        srv.stop()


def test_liquidation_after_move_mark():
    srv = BybitLinearLoopback(wallet=1_000.0)
    srv.start()
    try:

        async def go(ex):
            await ex.load_markets()
            await ex.create_order(SYMBOL, "market", "buy", 3)
            await ex.create_order(SYMBOL, "limit", "buy", 0.1, 1000.0, {"clientOrderId": "rest"})
            srv.move_mark(-400.0)  # far below the liquidation price
            (pos,) = await ex.fetch_positions([SYMBOL])
            assert pos["contracts"] == 0
            balance = await ex.fetch_balance()
            assert balance["USDT"]["total"] == 0  # bankruptcy: the wallet is gone
            (liq,) = await ex.fetch_my_liquidations(SYMBOL)
            assert liq["contracts"] == 3
            assert liq["info"]["execType"] == "BustTrade"
            assert [t["side"] for t in await ex.fetch_my_trades(SYMBOL)] == ["buy"]
            rows = (await ex.privateGetV5OrderHistory({"category": "linear"}))["result"]["list"]
            closes = [r for r in rows if r["createType"] != "CreateByUser"]
            assert [r["createType"] for r in closes] == ["CreateByTakeOverPassThrough"]
            assert closes[0]["orderStatus"] == "Filled"
            assert closes[0]["side"] == "Sell"
            rest = await _order(ex, "rest")
            assert rest["status"] == "canceled"
            assert rest["info"]["cancelType"] == "CancelAllBeforeLiq"

        run(go, srv)
    finally:
        srv.stop()
