"""The loopback exchange's private Binance protocol, through the real, unmodified ccxt."""

import asyncio

import ccxt
import pytest

from .conftest import keyed


def _run(coro_fn, server, **config):
    async def main():
        ex = keyed(server, **config)
        try:
            await ex.load_markets()
            return await coro_fn(ex)
        finally:
            await ex.close()

    return asyncio.run(main())


def test_a_bad_secret_is_refused(server):
    async def go(ex):
        await ex.fetch_balance()

    with pytest.raises(ccxt.AuthenticationError, match="Signature for this request is not valid"):
        _run(go, server, secret="wrong")


def test_a_bad_key_is_refused(server):
    async def go(ex):
        await ex.fetch_balance()

    with pytest.raises(ccxt.AuthenticationError, match="Invalid API-key"):
        _run(go, server, apiKey="nope")


def test_a_clock_outside_recv_window_is_refused_until_resynced(server):
    server.private_faults.clock_skew_ms = 30_000

    async def go(ex):
        with pytest.raises(ccxt.InvalidNonce):
            await ex.fetch_balance()
        await ex.load_time_difference()
        return await ex.fetch_balance()

    assert _run(go, server)["total"]["USDT"] == 10_000.0


def test_orders_filters_duplicates_and_cancels(server):
    async def go(ex):
        book = await ex.fetch_order_book("BTC/USDT")
        far = round(book["bids"][0][0] * 0.9, 2)
        o = await ex.create_order("BTC/USDT", "limit", "buy", 0.001, far, {"clientOrderId": "a"})
        assert o["status"] == "open"
        with pytest.raises(ccxt.InvalidOrder, match="Duplicate order sent"):
            await ex.create_order("BTC/USDT", "limit", "buy", 0.001, far, {"clientOrderId": "a"})
        with pytest.raises(ccxt.BadRequest, match="NOTIONAL"):
            await ex.create_order("BTC/USDT", "limit", "buy", 0.0001, far)
        with pytest.raises(ccxt.InsufficientFunds):
            await ex.create_order("BTC/USDT", "market", "buy", 1.0)
        found = await ex.fetch_order(None, "BTC/USDT", {"clientOrderId": "a"})
        assert found["status"] == "open"
        cancelled = await ex.cancel_order(None, "BTC/USDT", {"clientOrderId": "a"})
        assert cancelled["status"] == "canceled"
        assert cancelled["info"]["origClientOrderId"] == "a"
        with pytest.raises(ccxt.OrderNotFound):
            await ex.fetch_order(None, "BTC/USDT", {"clientOrderId": "never"})
        m = await ex.create_order("BTC/USDT", "market", "buy", 0.001)
        trades = await ex.fetch_my_trades("BTC/USDT")
        return m, trades, await ex.fetch_balance()

    m, trades, balance = _run(go, server)
    assert m["status"] == "closed"
    assert [t["order"] for t in trades] == [m["id"]]
    cost = trades[0]["price"] * 0.001
    assert balance["total"]["USDT"] == pytest.approx(10_000 - cost - trades[0]["fee"]["cost"])
    assert balance["total"]["BTC"] == pytest.approx(0.011)


def test_the_user_data_stream_reports_orders_and_balances(server):
    async def go(ex):
        orders = asyncio.ensure_future(ex.watch_orders())
        balance = asyncio.ensure_future(ex.watch_balance())
        await asyncio.sleep(0.3)
        await ex.create_order("BTC/USDT", "market", "sell", 0.001, None, {"clientOrderId": "s"})
        got = await asyncio.wait_for(orders, 5)
        bal = await asyncio.wait_for(balance, 5)
        return got, bal

    got, bal = _run(go, server)
    assert got[-1]["clientOrderId"] == "s"
    assert bal["BTC"]["total"] == pytest.approx(0.009)


def test_a_refused_subscription_surfaces(server):
    server.private_faults.reject_subscribe = True

    async def go(ex):
        await asyncio.wait_for(ex.watch_orders(), 5)

    with pytest.raises(Exception) as info:  # noqa: PT011 - ccxt raises KeyError('spot') here
        _run(go, server)
    err = info.value
    assert isinstance(err, ccxt.AuthenticationError) or isinstance(
        err.__context__, ccxt.AuthenticationError
    )
