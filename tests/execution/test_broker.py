"""CCXTBroker end to end on the loopback venue: what a user checks after a run."""

import backtrader as bt
import pytest

import backtrader_channels as btch

from .conftest import (
    assert_books_agree,
    assert_journal_in_order,
    assert_placed_once,
    journal_of,
    keyed,
    run_real,
)


def _buy(size=0.001, **kw):
    def act(s, t):
        s.orders[len(s.orders)] = s.buy(size=size, **kw)

    return act


def _sell_limit(offset, size=0.001):
    def act(s, t):
        s.orders[len(s.orders)] = s.sell(
            size=size, exectype=bt.Order.Limit, price=round(t.price + offset, 2)
        )

    return act


@pytest.mark.parametrize("threads", [False, True], ids=["inline", "threads"])
def test_market_and_limit_orders_fill_as_the_venue_says(server, tmp_path, threads):
    script = {200: _buy(), 400: _sell_limit(0.5)}
    cerebro, strat = run_real(server, script, tmp=str(tmp_path), threads=threads)
    buy, sell = strat.orders[0], strat.orders[1]
    assert strat.statuses(buy.ref) == ["Submitted", "Accepted", "Completed"]
    assert strat.statuses(sell.ref) == ["Submitted", "Accepted", "Completed"]
    assert buy.executed.price == pytest.approx(float(server.account.trades[0]["price"]))
    # the position is the run's (the account's 0.01 BTC is not): one buy and one sell later
    # it is back at 0, and the account holds its 0.01 again
    assert_books_agree(cerebro, server)
    assert cerebro.broker.getposition(cerebro.instrument("BTC/USDT")).size == pytest.approx(0.0)
    assert cerebro.broker.holdings()["BTC"] == pytest.approx(0.01)
    assert_placed_once(server)
    lines = journal_of(str(tmp_path))
    assert_journal_in_order(lines)
    assert [line["event"] for line in lines if line["client_id"] == lines[0]["client_id"]] == [
        "submit",
        "open",
        "fill",
    ]
    report = cerebro.last_run["execution"]
    assert report["states"] == {"FILLED": 2}
    assert report["fills"] == 2
    fees = sum(float(t["commission"]) for t in server.account.trades)
    assert report["fees"] == pytest.approx(fees)
    assert cerebro.last_run["fees"] == pytest.approx(fees)  # what the account paid, the same


def test_partial_fills_notify_partial_then_completed(server, tmp_path):
    def split_then_buy(s, t):
        server.account.split_fills = 1
        _buy(0.002)(s, t)

    cerebro, strat = run_real(server, {200: split_then_buy}, tmp=str(tmp_path))
    order = strat.orders[0]
    assert strat.statuses(order.ref) == ["Submitted", "Accepted", "Partial", "Completed"]
    assert order.executed.size == pytest.approx(0.002)
    assert_books_agree(cerebro, server)
    fills = [line for line in journal_of(str(tmp_path)) if line["event"] == "fill"]
    assert len(fills) == 2


def test_a_late_cancel_after_the_fill_changes_nothing(server, tmp_path):
    """ccxt's own cache would show the order canceled with filled 0; the fill wins."""

    def late(s, t):
        server.account.late_cancels = 1
        _buy()(s, t)

    cerebro, strat = run_real(server, {200: late}, tmp=str(tmp_path))
    order = strat.orders[0]
    assert strat.statuses(order.ref) == ["Submitted", "Accepted", "Completed"]
    lines = journal_of(str(tmp_path))
    assert {line["state"] for line in lines[2:]} == {"FILLED"}  # after submit and open
    assert_books_agree(cerebro, server)


def test_cancel_goes_to_the_venue_and_is_confirmed(server, tmp_path):
    def cancel(s, t):
        s.cancel(s.orders[0])

    script = {200: _sell_limit(+5_000), 300: cancel}
    _cerebro, strat = run_real(server, script, tmp=str(tmp_path))
    order = strat.orders[0]
    assert strat.statuses(order.ref) == ["Submitted", "Accepted", "Canceled"]
    assert server.account.open_orders(None) == []
    assert [k for k, _ in server.order_requests] == ["new", "cancel"]


def test_orders_working_at_the_end_are_cancelled(server, tmp_path):
    _cerebro, _strat = run_real(server, {200: _sell_limit(+5_000)}, stop_at=400, tmp=str(tmp_path))
    assert server.account.open_orders(None) == []
    assert journal_of(str(tmp_path))[-1]["state"] == "CANCELLED"


def test_risk_limits_refuse_with_the_rule_and_the_numbers(server, tmp_path):
    risk = btch.RiskLimits(max_order_notional=100, max_position={"BTC/USDT": 0.0005})
    script = {200: _buy(0.002), 300: _buy(0.001), 400: _buy(0.00001)}
    _cerebro, strat = run_real(server, script, tmp=str(tmp_path), risk=risk)
    reasons = [r for _, s, _, r in strat.notes if s == "Rejected"]
    assert reasons[0].startswith("max_order_notional: ")
    assert "> 100 (0.002 BTC/USDT at" in reasons[0]
    # the run's position (the account's 0.01 BTC is not the strategy's)
    assert reasons[1].startswith("max_position: BTC/USDT position would be 0.001, limit 0.0005")
    assert reasons[2].startswith("market rule: notional ")
    assert server.order_requests == []


def test_unsupported_order_types_are_refused_not_simulated(server, tmp_path):
    script = {200: _buy(exectype=bt.Order.Stop, price=1.0)}
    _cerebro, strat = run_real(server, script, tmp=str(tmp_path))
    assert strat.notes[-1][1] == "Rejected"
    assert "Stop orders are not sent live" in strat.notes[-1][3]


def test_without_keys_the_broker_refuses_to_start(server):
    import ccxt.pro as ccxtpro

    from backtrader_channels.feeds import CCXTLiveFeed
    from backtrader_channels.loopback import point_ccxt_at

    cerebro = btch.Cerebro()
    cerebro.add_live_feed(CCXTLiveFeed(point_ccxt_at(ccxtpro.binance(), server.port), ["BTC/USDT"]))
    cerebro.setbroker(btch.brokers.CCXTBroker(point_ccxt_at(ccxtpro.binance(), server.port)))
    cerebro.addstrategy(bt.Strategy)
    with pytest.raises(btch.ChannelError, match="CCXTBroker needs API keys"):
        cerebro.run(mode=btch.RunMode.TICK, duration=5)


def test_a_recorded_run_refuses_the_live_broker(server, sample):
    cerebro = btch.Cerebro()
    cerebro.add_channel("tick", "BTC/USDT", sample.trades)
    cerebro.setbroker(btch.brokers.CCXTBroker(keyed(server)))
    cerebro.addstrategy(bt.Strategy)
    with pytest.raises(btch.ChannelError, match="run it on live feeds"):
        cerebro.run(mode=btch.RunMode.TICK)


def test_bad_keys_stop_the_run_with_one_clear_error(server, tmp_path):
    import ccxt.pro as ccxtpro

    from backtrader_channels.feeds import CCXTLiveFeed
    from backtrader_channels.loopback import point_ccxt_at

    cerebro = btch.Cerebro()
    cerebro.add_live_feed(
        CCXTLiveFeed(
            point_ccxt_at(ccxtpro.binance(), server.port), ["BTC/USDT"], channels=("tick",)
        )
    )
    cerebro.setbroker(btch.brokers.CCXTBroker(keyed(server, secret="wrong-secret")))
    cerebro.addstrategy(bt.Strategy)
    with pytest.raises(RuntimeError, match="the API key was refused") as info:
        cerebro.run(mode=btch.RunMode.TICK, duration=20)
    assert "wrong-secret" not in str(info.value)


def test_a_cancel_right_after_the_submit_waits_for_the_venue_to_have_the_order(server, tmp_path):
    def place_and_cancel(s, t):
        server.private_faults.slow_reply_s = 0.3  # the reply comes after the cancel request
        s.orders[0] = s.sell(size=0.001, exectype=bt.Order.Limit, price=round(t.price + 5000, 2))
        s.cancel(s.orders[0])

    _cerebro, strat = run_real(server, {200: place_and_cancel}, stop_at=2000, tmp=str(tmp_path))
    order = strat.orders[0]
    assert strat.statuses(order.ref) == ["Submitted", "Accepted", "Canceled"]
    assert server.account.open_orders(None) == []
    events = [line["event"] for line in journal_of(str(tmp_path))]
    assert events[:2] == ["submit", "cancel requested"]
    assert "cancelled" in events
