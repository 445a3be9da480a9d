"""Real orders on the second venue: the unmodified ccxt.pro.bybit against the loopback Bybit's
private v5 protocol (signed REST, the ``/v5/private`` WebSocket), then CCXTBroker end to end on
it, with the execution faults that matter most (a lost reply, a 503, a private socket down)."""

import asyncio

import backtrader as bt
import ccxt
import pytest

import backtrader_channels as btch

from .conftest import (
    assert_books_agree,
    assert_journal_in_order,
    assert_placed_once,
    journal_of,
    keyed,
    once_private_down,
    once_trading,
    public,
    run_real,
)


def _run(coro_fn, srv, **config):
    async def main():
        ex = keyed(srv, **config)
        try:
            await ex.load_markets()
            return await coro_fn(ex)
        finally:
            await ex.close()

    return asyncio.run(main())


# ---- the protocol, through ccxt ---------------------------------------------------------------
def test_a_bad_secret_or_key_is_refused(bybit_server):
    async def go(ex):
        await ex.fetch_balance()

    with pytest.raises(ccxt.AuthenticationError, match="error sign"):
        _run(go, bybit_server, secret="wrong")
    with pytest.raises(ccxt.AuthenticationError, match="API key is invalid"):
        _run(go, bybit_server, apiKey="nope")


def test_a_clock_outside_recv_window_is_refused_until_resynced(bybit_server):
    async def go(ex):
        bybit_server.private_faults.clock_skew_ms = 30_000  # the venue's clock jumps ahead
        with pytest.raises(ccxt.InvalidNonce, match="recv_window"):
            await ex.fetch_balance()
        await ex.load_time_difference()
        return await ex.fetch_balance()

    balance = _run(go, bybit_server)
    assert balance["total"]["USDT"] == pytest.approx(10_000.0)


def test_orders_duplicates_cancels_and_refusals(bybit_server):
    async def go(ex):
        out = {}
        o = await ex.create_order("BTC/USDT", "market", "buy", 0.001, None, {"clientOrderId": "m1"})
        out["ack"] = (o["id"], o["clientOrderId"])
        await ex.create_order("BTC/USDT", "limit", "buy", 0.001, 10_000, {"clientOrderId": "l1"})
        out["open"] = [x["clientOrderId"] for x in await ex.fetch_open_orders("BTC/USDT")]
        with pytest.raises(ccxt.InvalidOrder, match="Duplicate clientOrderId"):
            await ex.create_order("BTC/USDT", "limit", "buy", 0.001, 10_000,
                                  {"clientOrderId": "l1"})  # fmt: skip
        c = await ex.cancel_order(None, "BTC/USDT", {"orderLinkId": "l1"})
        out["cancelled"] = c["clientOrderId"]
        with pytest.raises(ccxt.OrderNotFound):
            await ex.cancel_order(None, "BTC/USDT", {"orderLinkId": "l1"})
        with pytest.raises(ccxt.InsufficientFunds):
            await ex.create_order("BTC/USDT", "market", "buy", 5.0)
        with pytest.raises(ccxt.InvalidOrder, match="quantity lower than the minimum"):
            await ex.create_order("BTC/USDT", "limit", "buy", 0.00001, 10_000)
        out["trades"] = await ex.fetch_my_trades("BTC/USDT")
        out["balance"] = (await ex.fetch_balance())["total"]
        return out

    out = _run(go, bybit_server)
    assert out["ack"] == ("1000001", "m1")
    assert out["open"] == ["l1"]
    assert out["cancelled"] == "l1"
    (fill,) = out["trades"]
    venue = bybit_server.account.trades[0]
    assert fill["price"] == pytest.approx(float(venue["price"]))
    assert fill["info"]["feeCurrency"] == "USDT"
    assert out["balance"]["BTC"] == pytest.approx(0.011)
    assert [k for k, _ in bybit_server.order_requests] == ["new", "new", "cancel"]


def test_the_private_stream_reports_orders_fills_and_the_wallet(bybit_server):
    async def go(ex):
        orders = asyncio.ensure_future(ex.watch_orders())
        fills = asyncio.ensure_future(ex.watch_my_trades())
        wallet = asyncio.ensure_future(ex.watch_balance())
        await asyncio.sleep(0.3)  # subscribed
        await ex.create_order("BTC/USDT", "market", "sell", 0.002, None, {"clientOrderId": "s1"})
        return await orders, await fills, await wallet

    orders, fills, wallet = _run(go, bybit_server)
    assert orders[-1]["clientOrderId"] == "s1"
    assert fills[-1]["amount"] == pytest.approx(0.002)
    assert wallet["total"]["BTC"] == pytest.approx(0.008)


def test_a_refused_login_surfaces(bybit_server):
    bybit_server.private_faults.reject_subscribe = True

    async def go(ex):
        await asyncio.wait_for(ex.watch_orders(), 5)

    with pytest.raises(ccxt.AuthenticationError):
        _run(go, bybit_server)


# ---- CCXTBroker on Bybit ----------------------------------------------------------------------
def _buy(size=0.001, **kw):
    def act(s, t):
        s.orders[len(s.orders)] = s.buy(size=size, **kw)

    return act


def test_market_and_limit_orders_fill_and_cancel_as_bybit_says(bybit_server, tmp_path):
    srv = bybit_server

    def sell_limit(s, t):
        # marketable on arrival: fills at the best bid (a resting fill is the socket test's);
        # 200 below the last trade the strategy saw, as the venue's market may be ahead of it
        s.orders[1] = s.sell(size=0.001, exectype=bt.Order.Limit, price=round(t.price - 200, 2))
        s.awaited.add(1)  # its fill is on its way: the run waits for it

    def rest_far(s, t):
        s.orders[2] = s.buy(size=0.001, exectype=bt.Order.Limit, price=round(t.price - 500, 2))

    def cancel(s, t):
        s.cancel(s.orders[2])
        s.awaited.add(2)  # the venue's answer is on its way: the run waits for it

    def rest_to_the_end(s, t):
        s.orders[3] = s.buy(size=0.001, exectype=bt.Order.Limit, price=round(t.price - 600, 2))

    script = {200: _buy(), 400: sell_limit, 600: rest_far, 800: cancel, 1000: rest_to_the_end}
    cerebro, strat = run_real(srv, script, stop_at=1500, tmp=str(tmp_path))
    done = ["Submitted", "Accepted", "Completed"]
    assert strat.statuses(strat.orders[0].ref) == done
    assert strat.statuses(strat.orders[1].ref) == done
    assert strat.statuses(strat.orders[2].ref) == ["Submitted", "Accepted", "Canceled"]
    assert strat.orders[0].executed.price == pytest.approx(float(srv.account.trades[0]["price"]))
    assert_books_agree(cerebro, srv)  # fees in USDT, as the venue charged them
    assert_placed_once(srv)
    assert_journal_in_order(journal_of(str(tmp_path)))
    # the order still working at the end was cancelled at the venue (cancel_on_stop)
    assert srv.account.open_orders(None) == []
    report = cerebro.last_run["execution"]
    assert report["fills"] == 2
    assert report["fees"] == pytest.approx(sum(float(t["commission"]) for t in srv.account.trades))


@pytest.mark.parametrize(
    "fault", [{"lose_response": 1}, {"unknown_5xx": 1}], ids=["lost_response", "timeout_170007"]
)
def test_a_submit_with_an_unknown_outcome_is_found_by_its_order_link_id(
    bybit_server, tmp_path, fault
):
    """The order is placed and its reply lost (or Bybit says "timeout waiting for the backend"):
    the broker finds it by ``orderLinkId`` and follows it; it is never placed again. The private
    stream is muted, so that only the query can tell."""
    srv = bybit_server

    def act(s, t):
        for name, value in dict(fault, mute_events=10**9).items():
            setattr(srv.private_faults, name, value)
        s.orders[0] = s.buy(size=0.001)

    cerebro, strat = run_real(srv, {200: act}, stop_at=2000, tmp=str(tmp_path))
    assert strat.statuses(strat.orders[0].ref) == ["Submitted", "Accepted", "Completed"]
    assert [k for k, _ in srv.order_requests] == ["new"]
    lines = journal_of(str(tmp_path))
    assert [line["event"] for line in lines][:3] == ["submit", "unknown", "open"]
    assert_books_agree(cerebro, srv)


def test_a_submit_bybit_never_took_ends_rejected_after_the_queries(bybit_server, tmp_path):
    def act(s, t):
        bybit_server.private_faults.fail_503 = 1
        s.orders[0] = s.buy(size=0.001)

    cerebro, strat = run_real(
        bybit_server, {200: act}, stop_at=2000, tmp=str(tmp_path), unknown_retries=3
    )
    order = strat.orders[0]
    assert strat.statuses(order.ref) == ["Submitted", "Rejected"]
    assert "not found at the venue" in order.info.reason
    assert bybit_server.order_requests == []
    assert_books_agree(cerebro, bybit_server)


def test_a_bybit_rejection_is_a_rejection(bybit_server, tmp_path):
    _cerebro, strat = run_real(bybit_server, {200: _buy(size=5.0)}, tmp=str(tmp_path))
    order = strat.orders[0]
    assert strat.statuses(order.ref) == ["Submitted", "Margin"]
    assert "Insufficient balance" in order.info.reason


def test_fills_made_while_the_private_socket_was_down_are_recovered(bybit_server, tmp_path):
    srv, faults = bybit_server, bybit_server.private_faults

    def rest(s, t):
        # far below the recording's whole range (277 USDT): only ``cross_resting`` fills it. At
        # 50 below, a run lagging the venue's replay by ~1,000 trades saw the market fill it
        # (on the socket) before the drop
        s.orders[0] = s.buy(size=0.001, exectype=bt.Order.Limit, price=round(t.price - 1000, 2))

    def drop(s, t):
        faults.reject_subscribe = True
        srv.drop_private()

    def fill_while_down(s, t):
        srv.cross_resting()
        s.orders[1] = s.buy(size=0.001)  # refused: the private stream is down
        s.p.script[s.n + 150] = heal

    def heal(s, t):
        faults.reject_subscribe = False

    script = {
        200: rest,
        400: drop,
        450: once_private_down(fill_while_down),
        2000: once_trading(_buy()),  # once the private stream is back
    }
    cerebro, strat = run_real(srv, script, stop_at=2500, tmp=str(tmp_path))
    assert strat.statuses(strat.orders[0].ref)[-1] == "Completed"
    assert strat.orders[1].info.reason.startswith("protection: private stream down")
    assert strat.statuses(strat.orders[2].ref) == ["Submitted", "Accepted", "Completed"]
    assert_books_agree(cerebro, srv)
    lines = journal_of(str(tmp_path))
    first = [line for line in lines if line["client_id"] == lines[0]["client_id"]]
    assert [line["source"] for line in first if line["event"] == "fill"] == ["rest"]
    assert_placed_once(srv)


def test_bad_bybit_keys_stop_the_run_with_one_clear_error(bybit_server):
    from backtrader_channels.feeds import CCXTLiveFeed

    cerebro = btch.Cerebro()
    cerebro.add_live_feed(CCXTLiveFeed(public(bybit_server), ["BTC/USDT"], channels=("tick",)))
    cerebro.setbroker(btch.brokers.CCXTBroker(keyed(bybit_server, secret="wrong-secret")))
    cerebro.addstrategy(bt.Strategy)
    with pytest.raises(RuntimeError, match="the API key was refused") as info:
        cerebro.run(mode=btch.RunMode.TICK, duration=20)
    assert "wrong-secret" not in str(info.value)
