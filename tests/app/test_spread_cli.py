"""``backtrader-channels spread``: one command, the bundled two-venue sample, read-only."""

import json

import pytest

import backtrader_channels as btch
from backtrader_channels.app.spread_commands import parse_fees
from backtrader_channels.app.usage import UsageError

from .test_cli import cli


def test_spread_on_the_bundled_sample_prints_signals_and_health(tmp_path):
    out = tmp_path / "spread.json"
    r = cli("spread", "--json", str(out))
    assert r.returncode == 0, r.stderr
    assert "on binance, bybit (backtest of the bundled two-venue sample; read-only)" in r.stdout
    assert "signals: 9 (taker fees binance 1 bps, bybit 1 bps); best net 7.81 bps" in r.stdout
    assert "binance        3450" in r.stdout
    assert "bybit          3453" in r.stdout
    report = json.loads(out.read_text())
    assert report["signals"] == 9
    assert report["run"]["fills"] == 0  # read-only: no order
    assert set(report["health"]) == {"binance", "bybit"}
    assert not any(h["stale"] for h in report["health"].values())


def test_spread_hedge_trades_both_venues_flat(tmp_path):
    r = cli("spread", "--hedge", "--fee", "0.5", "--threshold-bps", "2")
    assert r.returncode == 0, r.stderr
    assert "hedging with paper fills" in r.stdout
    assert "net exposure {'BTC': 0.0}" in r.stdout


def test_spread_on_named_venue_files(tmp_path):
    s, b = btch.datasets.binance_btcusdt_sample(), btch.datasets.bybit_btcusdt_sample()
    r = cli(
        "spread",
        "--venue",
        f"a={s.orderbook}",
        "--venue",
        f"b={b.orderbook}",
        "--fee",
        "b=3",
        "--threshold-bps",
        "0",
    )
    assert r.returncode == 0, r.stderr
    assert "taker fees a 1 bps, b 3 bps" in r.stdout


def test_spread_usage_errors():
    r = cli("spread", "--venue", "only=x.csv")
    assert r.returncode == 2
    assert "two venues or more" in r.stderr
    with pytest.raises(UsageError, match="VENUE=BPS"):
        parse_fees(["bybit=cheap"])
    assert parse_fees(["2", "bybit=5"]) == {"*": 0.0002, "bybit": 0.0005}


def test_spread_live_on_both_loopback_venues():
    r = cli("spread", "--live", "--replay-server", "--duration", "4", "--threshold-bps", "-100")
    assert r.returncode == 0, r.stderr
    assert "(live (loopback replay servers); read-only)" in r.stdout
    lines = [
        ln.split() for ln in r.stdout.splitlines() if ln.strip().startswith(("binance", "bybit"))
    ]
    health = {ln[0]: ln for ln in lines if len(ln) == 8}
    assert set(health) == {"binance", "bybit"}
    assert all(int(h[1]) > 10 and h[-1] == "ok" for h in health.values())


def test_spread_real_hedges_on_both_loopback_venues(tmp_path):
    """--real: one CCXTBroker over both loopback venues (their own keys), a risk limit per
    venue; the hedges are real orders on both, and the account ends flat."""
    journal = tmp_path / "orders.jsonl"
    r = cli(
        "spread", "--live", "--replay-server", "--hedge", "--real", "--duration", "5",
        "--threshold-bps", "-100", "--journal", str(journal),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "hedging with real orders" in r.stdout
    # what the run changed: balanced hedges (not the accounts' seeded coins)
    assert "net exposure {'BTC': 0.0}" in r.stdout
    orders = next(ln for ln in r.stdout.splitlines() if ln.startswith("orders: "))
    assert orders.count("protection none") == 2
    assert "binance" in orders
    assert "bybit" in orders
    lines = [json.loads(ln) for ln in journal.read_text().splitlines()]
    assert {ln["venue"] for ln in lines if ln["event"] == "fill"} == {"binance", "bybit"}
    assert "loopback-secret" not in r.stdout + r.stderr + journal.read_text()


def test_spread_real_needs_live_hedge_and_keys(monkeypatch):
    r = cli("spread", "--real")
    assert r.returncode == 2
    assert "give --live and --hedge" in r.stderr
    monkeypatch.delenv("BYBIT_API_KEY", raising=False)
    from backtrader_channels.app.spread_commands import _venue_files

    with pytest.raises(UsageError, match="VENUE=FILE"):
        _venue_files(["nofile"])
