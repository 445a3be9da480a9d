"""The live dashboard over HTTP (the browser's view is test_browser.py): the token on every
request, loopback only unless told, the snapshot of a paper and a real run, and the controls
(pause, resume, cancel all, stop), each done on the engine's thread and journaled."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

import backtrader_channels as btch
from backtrader_channels.app.cli import main
from backtrader_channels.dashboard import Dashboard, parse_bind
from backtrader_channels.errors import ChannelError
from backtrader_channels.execution.journal import read_journal

from .conftest import LiveRun, get_json, post_json


def _status(url, token=None):
    req = urllib.request.Request(url)
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


@pytest.mark.parametrize(
    ("spec", "bound"),
    [
        ("8765", ("127.0.0.1", 8765)),
        (0, ("127.0.0.1", 0)),
        ("localhost:9000", ("localhost", 9000)),
        ("127.0.0.2:9000", ("127.0.0.2", 9000)),
        ("[::1]:9000", ("::1", 9000)),
    ],
)
def test_loopback_binds_are_taken(spec, bound):
    assert parse_bind(spec) == bound
    assert btch.dashboard.Dashboard is Dashboard  # the public name docs/live.md gives


def test_a_remote_host_is_refused_unless_allowed():
    with pytest.raises(ValueError, match=r"0\.0\.0\.0 is not a loopback address.*allow-remote"):
        parse_bind("0.0.0.0:8765")
    assert parse_bind("0.0.0.0:8765", allow_remote=True) == ("0.0.0.0", 8765)
    with pytest.raises(ValueError, match=r"\[HOST:\]PORT"):
        parse_bind("here")
    with pytest.raises(ValueError, match=r"0\.\.65535"):
        parse_bind("70000")


def test_the_cli_refuses_a_remote_dashboard_before_anything_starts(capsys):
    code = main(["live", "--replay-server", "--duration", "1", "--dashboard", "10.1.2.3:8765"])
    assert code == 2
    err = capsys.readouterr().err
    assert "--dashboard '10.1.2.3:8765': 10.1.2.3 is not a loopback address" in err
    assert "replay exchange" not in err  # refused before the run started


def test_a_recorded_run_has_no_dashboard():
    cerebro = btch.Cerebro()
    cerebro.add_channel("tick", "BTC/USDT", dataname=btch.datasets.binance_btcusdt_sample().trades)
    with pytest.raises(ChannelError, match="watches live runs"):
        cerebro.run(mode=btch.RunMode.TICK, dashboard=Dashboard(0, out=None))


def test_every_request_needs_the_token_and_a_paper_run_is_shown(venue):
    run = LiveRun(venue, duration=30.0).start()
    try:
        base, token = run.base, run.token
        for path in ("/", "/api/state", "/ws"):
            assert _status(base + path) == 401
            assert _status(base + path, token="wrong") == 401
            assert _status(f"{base}{path}?token=wrong") == 401
        code, _ = post_json(base + "/api/control", {"action": "stop"})
        assert code == 401
        assert _status(f"{base}/?token={token}") == 200
        assert _status(base + "/api/state", token=token) == 200
        # the paper run: marked PAPER, the position after the first buy, the fill, the feeds
        state = run.wait_for(lambda: (s := run.state())["positions"] and s, what="a position")
        assert state["run"]["mode"] == "PAPER"
        assert state["run"]["state"] == "running"
        (pos,) = state["positions"]
        assert pos["symbol"] == "BTC/USDT"
        assert pos["size"] == pytest.approx(0.001)
        assert state["fills"][0]["side"] == "buy"
        (tick,) = [h for h in state["health"] if h["stream"] == "tick:BTC/USDT"]
        assert tick["ok"] is True
        assert tick["events"] > 0
        assert tick["age_s"] is not None
        assert state["account"]["equity"] == pytest.approx(10_000.0, rel=0.01)
        assert len(state["equity"]) >= 1
        code, body = run.control("stop")
        assert (code, body["ok"], body["done"]) == (200, True, True)
        run.join()
    finally:
        run.cerebro.runstop()
    kept = run.cerebro.last_run["dashboard"]
    assert kept["refused_requests"] == 10
    assert [a["action"] for a in kept["actions"]] == ["stop"]
    assert run.cerebro.last_run["ended"] == "stopped"


def test_pause_refuses_new_orders_resume_allows_them_cancel_all_cancels(venue):
    run = LiveRun(venue, duration=40.0).start()
    try:
        run.wait_for(lambda: run.state()["orders"], what="a resting limit order")
        code, body = run.control("pause", who="alice")
        assert code == 200
        assert body["done"]
        assert body["who"] == "alice from 127.0.0.1"
        strat = run.strategy
        run.wait_for(lambda: strat.reasons, what="an order refused while paused")
        assert strat.reasons[0].startswith("paused from the dashboard (alice from 127.0.0.1, ")
        state = run.wait_for(lambda: (s := run.state())["run"]["paused_refusals"] and s,
                             what="the refusal on the page")  # fmt: skip
        assert state["run"]["paused"].startswith("paused from the dashboard (alice")
        code, body = run.control("cancel_all", who="alice")
        assert body["detail"].startswith("cancel asked for ")
        run.wait_for(lambda: not run.state()["orders"], what="the open orders cancelled")
        assert "Canceled" in strat.statuses  # cancels go out while paused
        refused = len(strat.reasons)
        run.control("resume", who="bob")
        run.wait_for(lambda: run.state()["orders"], what="a new order after resume")
        assert len(strat.reasons) == refused
        run.control("stop")
        run.join()
    finally:
        run.cerebro.runstop()
    actions = run.cerebro.last_run["dashboard"]["actions"]
    assert [a["action"] for a in actions] == ["pause", "cancel_all", "resume", "stop"]
    assert all(a["done"] for a in actions)


def test_a_real_run_journals_each_control_with_who_and_when(venue, tmp_path):
    journal = tmp_path / "orders.jsonl"
    run = LiveRun(venue, real=True, duration=40.0, journal=str(journal)).start()
    try:
        state = run.wait_for(lambda: (s := run.state())["positions"] and s, what="a position")
        assert state["run"]["mode"] == "REAL"
        assert any(h["stream"] == "private" and h["ok"] for h in state["health"])
        _code, body = run.control("pause", who="carol")
        assert body["done"]
        strat = run.strategy
        run.wait_for(lambda: strat.reasons, what="an order refused while paused")
        # a real broker's pause is a protection reason: refused, never a kill-switch fault
        assert strat.reasons[0].startswith("protection: paused from the dashboard (carol")
        sent = len([k for k, _ in venue.order_requests if k == "new"])
        run.control("stop", who="carol")
        run.join()
    finally:
        run.cerebro.runstop()
    assert len([k for k, _ in venue.order_requests if k == "new"]) == sent
    lines = [ln for ln in read_journal(str(journal)) if ln["client_id"] == "run"]
    assert [ln["event"] for ln in lines] == ["dashboard: pause", "dashboard: stop"]
    assert lines[0]["details"]["who"] == "carol from 127.0.0.1"
    assert lines[0]["details"]["at"].startswith("20")
    summary = run.cerebro.last_run["execution"]
    assert summary["orders"] >= 1  # the run's own lines are not orders


def test_a_control_when_no_run_dispatches_is_refused(venue):
    run = LiveRun(venue, duration=3.0).start()
    base, token = run.base, run.token
    code, body = run.control("fly")
    assert code == 400
    assert "unknown control 'fly'" in body["error"]
    run.join()
    with pytest.raises(urllib.error.URLError):  # the run ended: the dashboard is gone
        get_json(f"{base}/api/state?token={token}")


def test_a_perpetual_shows_its_leverage_and_distance_to_liquidation():
    """By hand (tests/broker/test_perp_accounts.py's case): 2 bought at 2000 at 10x, 998.00 of
    wallet after the fee, the mark at 2050: liquidation at 1507.0281, 26.49% below the mark."""
    from backtrader_channels.cerebro.watch import CerebroWatch
    from backtrader_channels.dashboard import RunState

    from ..broker.test_perp_accounts import LIN_SYM, D, Q, run_perp

    cerebro, _ = run_perp(
        {1: lambda s: s.buy(size=2)},
        quotes=[Q(1, 1999, 2000), Q(2, 1999, 2000)],
        derivs=[D(3, 2050)],
    )
    state = RunState(CerebroWatch(cerebro), "PAPER").sample()
    (pos,) = state["positions"]
    assert pos["symbol"] == LIN_SYM
    assert pos["size"] == 2
    assert pos["entry"] == 2000
    assert pos["price"] == 2050
    assert pos["unrealized"] == pytest.approx(100.0)
    assert pos["leverage"] == 10
    assert pos["liquidation"] == pytest.approx(1507.0281, abs=1e-4)
    assert pos["liquidation_pct"] == pytest.approx(26.49, abs=0.005)
    assert state["account"]["equity"] == pytest.approx(1098.0, abs=0.005)
    # the run's trace (the plot's and the HTML report's equity) counts it too: it left it out
    assert cerebro.trace.value[-1] == pytest.approx(cerebro.broker.getvalue()) == 1098.0


def test_live_serves_the_dashboard_and_prints_its_url():
    """As a user runs it: the URL with its token on stderr, the run's end in the report."""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "backtrader_channels", "live", "--replay-server",
         "--replay-rate", "1000", "--duration", "3", "--dashboard", "0"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    (line,) = [ln for ln in out.stderr.splitlines() if ln.startswith("dashboard: ")]
    assert line.startswith("dashboard: http://127.0.0.1:")
    assert "/?token=" in line
    assert len(line.split("token=")[1]) >= 20
