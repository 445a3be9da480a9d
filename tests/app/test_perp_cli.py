"""``live --replay-server --exchange binanceusdm`` as a user runs it: the funding-aware perp demo
on the loopback Binance USDⓈ-M (the bundled ETH/USDT:USDT sample, once), paper and ``--real``;
the report says what funding was paid, the liquidations and the position."""

from __future__ import annotations

import json

from .test_cli import cli

SYMBOL = "ETH/USDT:USDT"


def _report(stdout: str) -> dict[str, str]:
    """The report's rows (``key   value``), by key."""
    rows = {}
    for line in stdout.splitlines():
        if line.startswith("perp demo"):
            continue
        key, _, value = line.partition("  ")
        if value:
            rows[key.strip()] = value.strip()
    return rows


def test_live_replay_server_binanceusdm_paper_runs_the_perp_demo():
    out = cli(
        "live", "--replay-server", "--exchange", "binanceusdm", "--symbol", SYMBOL,
        "--param", "hold=true", "--duration", "40", "--replay-speed", "20", timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "paper broker: simulated fills" in out.stderr
    assert "the recording is replayed: stopping" in out.stderr
    rows = _report(out.stdout)
    assert rows["ended"] == "stopped"  # by itself, once the replay was done
    assert f"derivative:{SYMBOL}" in rows["events by channel"]
    assert int(rows["orders"].replace(",", "")) >= 2
    # holding over 00:00 UTC (hold=true), the generated 0.01% funding is paid once
    assert rows["funding"].startswith(f"{SYMBOL}=paid ")
    assert rows["funding"].endswith(" in 1 payments")
    assert rows["liquidations"] == "0"
    assert rows["mark source"] == f"{SYMBOL}=derivative"
    assert "perp demo" in out.stdout
    assert "funding paid" in out.stdout  # notify_funding


def test_live_replay_server_binanceusdm_funding_aware_closes_before_funding():
    out = cli(
        "live", "--replay-server", "--exchange", "binanceusdm", "--channels", "tick",
        "--param", "every=150", "--duration", "40", "--replay-speed", "20", timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    rows = _report(out.stdout)
    # long 15 s before the funding time at a positive rate: closed (reduce_only), nothing paid
    assert "nothing new; close it" in out.stdout
    assert "close before funding: sell 0.2 reduce_only" in out.stdout
    assert rows["funding"] == f"{SYMBOL}=paid 0 in 0 payments"
    assert "funding paid" not in out.stdout


def test_live_replay_server_binanceusdm_real_orders(tmp_path):
    journal = tmp_path / "orders.jsonl"
    out = cli(
        "live", "--replay-server", "--exchange", "binanceusdm", "--real",
        "--channels", "tick", "--param", "hold=true", "--param", "every=300",
        "--journal", str(journal), "--duration", "45", "--replay-speed", "20", timeout=150,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "real orders: CCXTBroker" in out.stderr
    rows = _report(out.stdout)
    assert "venue orders" in rows
    assert rows["funding"].endswith(" in 1 payments")  # the venue's, from its income history
    assert rows["liquidations"] == "0"
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    assert any(line["event"] == "fill" for line in lines)
    assert "loopback-secret" not in journal.read_text() + out.stdout + out.stderr


def test_perp_flags_are_checked():
    out = cli(
        "live", "--replay-server", "--exchange", "binanceusdm", "--symbol", "BTC/USDT",
        "--duration", "3",
    )  # fmt: skip
    assert out.returncode == 2
    assert "replays ETH/USDT:USDT, not BTC/USDT" in out.stderr
    out = cli(
        "live", "--replay-server", "--exchange", "binanceusdm", "--leverage", "500",
        "--duration", "3",
    )  # fmt: skip
    assert out.returncode == 2
    assert "--leverage 500" in out.stderr
