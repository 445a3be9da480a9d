"""Alerts from real-broker runs on the loopback venue (the real ccxt.pro client and CCXTBroker,
faults injected as in ``tests/execution/test_faults.py``): each alert reaches the loopback
Telegram and webhook receivers once, within 5 s of its condition."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import backtrader as bt

import backtrader_channels as btch
from backtrader_channels.alerts import Alerts, paper_probe
from tests.execution.conftest import (
    ReplayExchange,
    once,
    once_private_down,
    once_trading,
    public,
    run_real,
)
from tests.execution.conftest import server as server

from .conftest import CHAT, TOKEN, arrivals, kinds

WITHIN_S = 5.0


def _alerts(webhook, **kw):
    return Alerts([f"telegram:{TOKEN}:{CHAT}", f"webhook:{webhook.hook_url}"], **kw)


def _once_each(telegram, webhook, expected):
    for rx in (telegram, webhook):
        got = kinds(rx)
        assert sorted(got) == sorted(expected), got


def test_an_unknown_order_then_the_kill_switch_then_the_stop(server, tmp_path, telegram, webhook):
    """A submit answered 503 (never placed): UNKNOWN, then not found after its queries (an
    ``unknown_order`` alert); the two faults trip the kill switch (a ``kill_switch`` alert);
    the run stops (one ``run_stopped`` alert with the kill switch's reason and the P&L)."""

    def fault(s, t):
        server.private_faults.fail_503 = 1
        s.orders[0] = s.buy(size=0.001)

    alerts = _alerts(webhook)
    risk = btch.RiskLimits(kill_after=(2, 60))
    cerebro, _strat = run_real(server, {200: fault}, stop_at=4000, tmp=str(tmp_path), risk=risk,
                              alerts=alerts)  # fmt: skip
    alerts.run_ended(cerebro.last_run)
    alerts.close()
    assert cerebro.last_run["execution"]["kill_switch"].startswith("kill switch: 2 faults")
    _once_each(telegram, webhook, ["unknown_order", "kill_switch", "run_stopped"])
    lines = cerebro.broker.journal.lines
    (rejected,) = [ln for ln in lines if ln["event"] == "rejected"]
    for rx in (telegram, webhook):
        for kind in ("unknown_order", "kill_switch"):
            (at,) = arrivals(rx, kind)
            assert 0 <= at - rejected["ns"] / 1e9 < WITHIN_S, kind
    (stop,) = [r.body for r in webhook.delivered() if r.body["kind"] == "run_stopped"]
    assert stop["text"].startswith("run stopped: kill switch: 2 faults within 60 s")
    assert "| pnl +0.00" in stop["text"]
    assert "orders 1, fills 0" in stop["text"]
    assert alerts.stats()["dropped"] == 0


def test_a_balance_correction_and_a_private_stream_down(server, tmp_path, telegram, webhook):
    """The venue's cash moves by hand (a ``correction`` alert once two sweeps agree), then the
    private stream drops and cannot resubscribe for 2.5 s (one ``stream_down`` alert after
    ``stream_down_s``=1, none per reconnect attempt); the run then stops normally."""
    faults = server.private_faults
    seen: dict[str, float] = {}

    def by_hand(s, t):
        server.account.free["USDT"] += Decimal(100)

    def corrected(s):
        return any(ln["event"].startswith("correction") for ln in s.broker.journal.lines)

    def drop(s, t):
        faults.reject_subscribe = True
        server.drop_private()

    def down(s, t):
        seen["down"] = time.time()
        heal = threading.Timer(2.5, lambda: setattr(faults, "reject_subscribe", False))
        heal.start()

    alerts = _alerts(webhook, stream_down_s=1.0)
    script = {
        200: by_hand,
        201: once(corrected, drop),
        202: once_private_down(down),
        1500: once_trading(lambda s, t: None),  # the run lasts until the stream is back
    }
    cerebro, _strat = run_real(server, script, stop_at=1600, tmp=str(tmp_path),
                               sweep_interval=0.3, alerts=alerts)  # fmt: skip
    alerts.run_ended(cerebro.last_run)
    alerts.close()
    _once_each(telegram, webhook, ["correction", "stream_down", "run_stopped"])
    (fix,) = [ln for ln in cerebro.broker.journal.lines if ln["event"].startswith("correction")]
    assert fix["event"] == "correction: balances"
    for rx in (telegram, webhook):
        (at,) = arrivals(rx, "correction")
        assert 0 <= at - fix["ns"] / 1e9 < WITHIN_S
        (at,) = arrivals(rx, "stream_down")
        assert 0.5 <= at - seen["down"] < 1.0 + WITHIN_S
    texts = [r.body["text"] for r in webhook.delivered()]
    assert any(t.startswith("stream down for 1 s: private (private stream down") for t in texts)
    assert any(t.startswith("run stopped: stopped | pnl") for t in texts)
    for r in telegram.received + webhook.received:
        assert TOKEN not in str(r.body)


def test_a_paper_run_with_a_market_data_stream_down(webhook):
    """Paper trading (no real broker): the order book's REST snapshot keeps failing, so its
    stream is down; one ``stream_down`` alert after ``stream_down_s``, then the stop."""
    srv = ReplayExchange(rate=4_000, start_when=1)
    srv.start()
    srv.faults.fail_depth_rest = 10**9
    try:
        alerts = Alerts([f"webhook:{webhook.hook_url}"], stream_down_s=1.0)
        feed = btch.feeds.CCXTLiveFeed(public(srv), ["BTC/USDT"], channels=("tick", "orderbook"))
        cerebro = btch.Cerebro()
        cerebro.add_live_feed(feed)
        cerebro.addstrategy(bt.Strategy)
        alerts.watch(paper_probe([feed], cerebro.broker, alerts.stream_down_s, 5.0))
        t0 = time.time()
        cerebro.run(mode=btch.RunMode.TICK, duration=4)
        alerts.run_ended(cerebro.last_run)
        alerts.close()
    finally:
        srv.stop()
    assert kinds(webhook) == ["stream_down", "run_stopped"]
    down, stop = (r.body["text"] for r in webhook.delivered())
    assert down == "stream down for 1 s: orderbook:BTC/USDT (failing (OperationFailed))"
    assert arrivals(webhook, "stream_down")[0] - t0 < 1.0 + WITHIN_S
    assert stop.startswith("run stopped: duration | pnl +0.00")
