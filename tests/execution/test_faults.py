"""One test per execution fault: no order placed twice, no fill lost, the journal complete and
in order, cash and position equal to the venue's, protection and the kill switch as specified."""

import asyncio

import backtrader as bt
import pytest

import backtrader_channels as btch
from backtrader_channels.dispatch.hold import NotReady

from .conftest import (
    assert_books_agree,
    assert_journal_in_order,
    assert_placed_once,
    journal_of,
    keyed,
    once_private_down,
    once_trading,
    run_real,
)


def _with_fault(**faults):
    """At this tick: arm the server's private fault switches, then buy 0.001 at market."""

    def act(s, t):
        for name, value in faults.items():
            setattr(s.server.private_faults, name, value)
        s.orders[len(s.orders)] = s.buy(size=0.001)

    return act


def _bind(server, script):
    """Scripts reach the server through the strategy (``s.server``)."""

    def wrap(fn):
        def act(s, t):
            s.server = server
            fn(s, t)

        return act

    return {n: wrap(fn) for n, fn in script.items()}


@pytest.mark.parametrize(
    ("fault", "threads"),
    [
        ({"lose_response": 1}, False),
        ({"lose_response": 1}, True),
        ({"unknown_5xx": 1}, False),
        ({"slow_reply_s": 1.5}, False),
    ],
    ids=["lost_response", "lost_response-threads", "5xx_placed", "slow_reply"],
)
def test_a_submit_with_an_unknown_outcome_is_found_not_repeated(server, tmp_path, fault, threads):
    """The order is placed but its reply is lost (or a 5xx says "status unknown", or the reply
    comes after ccxt's timeout): the broker asks for the client id and follows the order. (The
    user data events are muted, so that only the query can tell.)"""
    config = {"timeout": 1000} if "slow_reply_s" in fault else {}
    script = _bind(server, {200: _with_fault(mute_events=10**9, **fault)})
    cerebro, strat = run_real(
        server, script, stop_at=1200, tmp=str(tmp_path), exchange=config, threads=threads
    )
    order = strat.orders[0]
    assert strat.statuses(order.ref) == ["Submitted", "Accepted", "Completed"]
    assert [k for k, _ in server.order_requests] == ["new"]  # placed once
    lines = journal_of(str(tmp_path))
    assert [line["event"] for line in lines][:3] == ["submit", "unknown", "open"]
    assert_journal_in_order(lines)
    assert_books_agree(cerebro, server)


@pytest.mark.parametrize(
    ("fault", "why"),
    [({"fail_503": 1}, "ExchangeNotAvailable"), ({"rate_limit": 1}, "DDoSProtection: binance 429")],
    ids=["503_not_placed", "429"],
)
def test_a_submit_the_venue_never_took_ends_rejected_after_the_queries(
    server, tmp_path, fault, why
):
    script = _bind(server, {200: _with_fault(**fault)})
    cerebro, strat = run_real(server, script, stop_at=1200, tmp=str(tmp_path))
    order = strat.orders[0]
    assert strat.statuses(order.ref) == ["Submitted", "Rejected"]
    assert "not found at the venue" in order.info.reason
    assert server.order_requests == []
    lines = journal_of(str(tmp_path))
    assert [line["event"] for line in lines] == ["submit", "unknown", "rejected"]
    assert why in lines[1]["details"]["why"]
    assert_books_agree(cerebro, server)


def test_a_skewed_clock_is_resynced_and_the_order_resolved(server, tmp_path):
    """-1021: the timestamp is outside recvWindow (the venue's clock jumped 20 s ahead). The
    order is refused and never placed; the broker resyncs its clock and the next one goes."""

    def skew(s, t):
        server.private_faults.clock_skew_ms = 20_000
        s.orders[0] = s.buy(size=0.001)

    def again(s, t):
        s.orders[1] = s.buy(size=0.001)

    cerebro, strat = run_real(server, {200: skew, 1500: again}, stop_at=2000, tmp=str(tmp_path))
    assert strat.statuses(strat.orders[0].ref) == ["Submitted", "Rejected"]
    assert strat.statuses(strat.orders[1].ref) == ["Submitted", "Accepted", "Completed"]
    assert len(server.order_requests) == 1
    assert_books_agree(cerebro, server)


def test_a_venue_rejection_is_a_rejection(server, tmp_path):
    def too_big(s, t):
        s.orders[0] = s.buy(size=5.0)  # 5 BTC with 10,000 USDT

    _cerebro, strat = run_real(server, {200: too_big}, tmp=str(tmp_path))
    order = strat.orders[0]
    assert strat.statuses(order.ref) == ["Submitted", "Margin"]  # as backtrader says it
    assert "InsufficientFunds" in order.info.reason
    assert "insufficient balance" in order.info.reason


@pytest.mark.parametrize("threads", [False, True], ids=["inline", "threads"])
def test_fills_made_while_the_private_socket_was_down_are_recovered(server, tmp_path, threads):
    """A resting order fills while the user data socket is down (and its resubscription is
    refused for a while): nothing is replayed on the socket; the sweep after the resubscription
    brings the fill. Meanwhile new orders are refused (protection); trading then resumes."""
    faults = server.private_faults

    def rest(s, t):
        # far below the recording's whole range (277 USDT): only ``cross_resting`` fills it. At
        # 50 below, a run lagging the venue's replay by ~1,000 trades saw the market fill it
        # (on the socket) before the drop
        s.orders[0] = s.buy(size=0.001, exectype=bt.Order.Limit, price=round(t.price - 1000, 2))

    def drop(s, t):
        faults.reject_subscribe = True
        server.drop_private()

    def fill_while_down(s, t):
        server.cross_resting()
        s.orders[1] = s.buy(size=0.001)  # refused: the private stream is down
        s.p.script[s.n + 150] = heal

    def heal(s, t):
        faults.reject_subscribe = False

    def after(s, t):
        s.orders[2] = s.buy(size=0.001)

    script = {
        200: rest,
        400: drop,
        450: once_private_down(fill_while_down),
        4000: once_trading(after),  # how soon the stream is back depends on the machine
    }
    cerebro, strat = run_real(server, script, stop_at=4500, tmp=str(tmp_path), threads=threads)
    assert strat.statuses(strat.orders[0].ref)[-1] == "Completed"
    refused = strat.orders[1]
    assert strat.statuses(refused.ref) == ["Submitted", "Rejected"]
    assert refused.info.reason.startswith("protection: private stream down")
    assert strat.statuses(strat.orders[2].ref) == ["Submitted", "Accepted", "Completed"]
    assert_books_agree(cerebro, server)
    lines = journal_of(str(tmp_path))
    assert_journal_in_order(lines)
    first = [line for line in lines if line["client_id"] == lines[0]["client_id"]]
    assert [line["source"] for line in first if line["event"] == "fill"] == ["rest"]
    assert_placed_once(server)


def test_events_lost_on_a_live_socket_are_recovered_by_the_periodic_sweep(server, tmp_path):
    def rest(s, t):
        server.private_faults.mute_events = 10**9  # the socket stays up, says nothing
        s.orders[0] = s.sell(size=0.001, exectype=bt.Order.Limit, price=round(t.price - 30, 2))

    cerebro, strat = run_real(server, {200: rest}, stop_at=3000, tmp=str(tmp_path),
                              sweep_interval=0.3)  # fmt: skip
    order = strat.orders[0]
    assert strat.statuses(order.ref)[-1] == "Completed"
    assert_books_agree(cerebro, server)


def test_the_kill_switch_cancels_everything_and_stops_the_run(server, tmp_path):
    def rest(s, t):
        s.orders[0] = s.sell(size=0.001, exectype=bt.Order.Limit, price=round(t.price + 5000, 2))

    def bad(s, t):
        s.orders[len(s.orders)] = s.buy(size=5.0)  # rejected: insufficient balance

    risk = btch.RiskLimits(kill_after=(2, 60))
    script = {200: rest, 300: bad, 400: bad, 500: bad}
    cerebro, strat = run_real(server, script, stop_at=5000, tmp=str(tmp_path), risk=risk)
    assert strat.n < 1000  # stopped early
    report = cerebro.last_run["execution"]
    assert report["kill_switch"].startswith("kill switch: 2 faults within 60 s")
    assert server.account.open_orders(None) == []
    lines = journal_of(str(tmp_path))
    assert [line for line in lines if line["client_id"] == lines[0]["client_id"]][-1][
        "state"
    ] == "CANCELLED"


def test_a_replayed_decision_is_never_placed_twice(server, tmp_path):
    """The same decision on the same event (a restart that replays it) has the same client id,
    which the store has seen: the second run does not send it."""
    from backtrader_channels.execution.ids import IdStore

    def buy(s, t):
        s.orders[0] = s.buy(size=0.001)

    run_real(server, {200: buy}, tmp=str(tmp_path))
    (cid,) = [c for _, c in server.order_requests]
    store = IdStore(str(tmp_path / "orders.jsonl.ids"))
    assert store.get(cid)["state"] == "FILLED"
    assert not store.claim(cid, "BTC/USDT", "buy", "market", 0.001, None)
    store.close()


def test_an_order_left_open_by_a_crashed_run_is_resumed(server, tmp_path):
    """Run 1 leaves a resting order (cancel_on_stop=False, as after a crash); run 2 finds it in
    the store, follows it, and its fill reaches the position."""

    def rest(s, t):
        s.orders[0] = s.sell(size=0.001, exectype=bt.Order.Limit, price=round(t.price + 500, 2))

    run_real(server, {100: rest}, stop_at=300, tmp=str(tmp_path), cancel_on_stop=False)
    assert len(server.account.open_orders(None)) == 1

    def cross(s, t):
        server.cross_resting()

    cerebro, _strat = run_real(server, {100: cross}, stop_at=1000, tmp=str(tmp_path))
    assert server.account.open_orders(None) == []
    lines = journal_of(str(tmp_path))
    resumed = [line for line in lines if line["client_id"] == lines[0]["client_id"]]
    assert resumed[-1]["state"] == "FILLED"
    assert_books_agree(cerebro, server)
    assert_placed_once(server)


def test_a_foreign_order_is_reported_and_left_alone(server, tmp_path):
    async def place():
        ex = keyed(server)
        await ex.load_markets()
        await ex.create_order(
            "BTC/USDT", "limit", "sell", 0.001, 90_000.0, {"clientOrderId": "mine"}
        )
        await ex.close()

    asyncio.run(place())
    cerebro, _strat = run_real(server, {}, stop_at=300, tmp=str(tmp_path))
    foreign = cerebro.last_run["execution"]["foreign_orders"]
    assert [f["clientOrderId"] for f in foreign] == ["mine"]
    assert [o["clientOrderId"] for o in server.account.open_orders(None)] == ["mine"]


def test_a_start_the_package_cannot_explain_refuses_to_trade(server, tmp_path):
    """The store says an order is working; the venue never heard of it."""
    from backtrader_channels.execution.ids import IdStore

    store = IdStore(str(tmp_path / "orders.jsonl.ids"))
    store.claim("btch-00000000000000000000000000", "BTC/USDT", "buy", "limit", 0.001, 50_000.0)
    store.update("btch-00000000000000000000000000", "OPEN", "123")
    store.close()

    # the strategies never start: the run stops at once (waiting cannot help) with the reason
    with pytest.raises(NotReady, match=r"start refused: btch-0+ is OPEN in the store"):
        run_real(server, {}, stop_at=300, tmp=str(tmp_path), duration=8)
    assert server.order_requests == []


def test_no_order_goes_out_while_market_data_is_down_and_trading_resumes(server, tmp_path):
    """The order book cannot be built (its REST snapshot keeps failing): orders on the symbol
    are refused with the reason; once the book is back, they go out again."""
    server.faults.fail_depth_rest = 10**9

    def during(s, t):
        s.orders[0] = s.buy(size=0.001)

    def heal(s, t):
        server.faults.fail_depth_rest = 0

    def after(s, t):
        s.orders[1] = s.buy(size=0.001)

    script = {1000: during, 1001: heal, 5000: once_trading(after)}  # once the book is back
    _cerebro, strat = run_real(server, script, stop_at=5200, tmp=str(tmp_path),
                               channels=("tick", "orderbook"), gate=False)  # fmt: skip
    refused = strat.orders[0]
    assert strat.statuses(refused.ref) == ["Submitted", "Rejected"]
    assert refused.info.reason.startswith("protection: market data orderbook:BTC/USDT")
    assert strat.statuses(strat.orders[1].ref) == ["Submitted", "Accepted", "Completed"]
