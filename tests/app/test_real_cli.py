"""``live --real`` and ``smoke`` against the loopback venue, as a user runs them."""

import json

from .test_cli import cli

STRATEGY = """
import backtrader as bt
class OneRoundTrip(bt.Strategy):
    def start(self):
        self.n = 0
    def on_tick(self, t):
        if not self.broker.trading:
            return
        self.n += 1
        if self.n == 100:
            self.buy(size=0.001)
        if self.n == 300:
            self.close()
        if self.n == 600:
            self.env.runstop()
"""


def test_smoke_prints_the_timeline_and_exits_0():
    out = cli("smoke", "--replay-server", "--qty", "0.001")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    steps = [line.split(maxsplit=4)[-1] for line in lines[:-1]]
    assert steps[-1] == "seen cancelled on the exchange"
    assert any(s.startswith("placed: open") for s in steps)
    assert lines[-1].startswith("smoke: OK")


def test_smoke_with_bad_keys_says_so_in_one_line():
    out = cli("smoke", "--replay-server", "--qty", "0.001", "--bad-keys-for-test")
    assert out.returncode == 1
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, out.stderr
    assert "FAILED: the exchange refused the API key" in lines[0]
    assert "loopback-secret" not in out.stderr + out.stdout


def test_smoke_refuses_an_order_below_the_minimum_notional():
    out = cli("smoke", "--replay-server", "--qty", "0.00001")
    assert out.returncode == 1
    assert "below BTC/USDT's minimum notional 10" in out.stderr


def test_live_real_trades_and_journals(tmp_path):
    strat = tmp_path / "strat.py"
    strat.write_text(STRATEGY)
    journal = tmp_path / "orders.jsonl"
    out = cli(
        "live",
        f"{strat}:OneRoundTrip",
        "--replay-server",
        "--replay-rate",
        "1500",
        "--real",
        "--channels",
        "tick",
        "--journal",
        str(journal),
        "--max-order-notional",
        "500",
        "--duration",
        "60",
    )
    assert out.returncode == 0, out.stderr
    assert "real orders: CCXTBroker" in out.stderr
    assert "venue orders" in out.stdout
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    assert {line["state"] for line in lines if line["event"] == "fill"} == {"FILLED"}
    assert len({line["client_id"] for line in lines}) == 2
    assert "loopback-secret" not in journal.read_text() + out.stdout + out.stderr


def test_live_without_real_says_it_is_paper():
    out = cli("live", "--replay-server", "--duration", "3")
    assert out.returncode == 0, out.stderr
    assert "paper broker: simulated fills" in out.stderr
