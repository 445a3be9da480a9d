"""``live`` as a user runs it: parameters and a paper commission, flags that do not apply to
real orders refused, Ctrl-C with an order working (the report agrees with the journal, the
open position shows, exit code 130), the smoke check's ``--config`` read in every mode."""

import json
import os
import signal
import subprocess
import sys
import time

from .test_cli import cli

PAPER = """
import backtrader as bt
class Flip(bt.Strategy):
    params = (("every", 200),)
    def start(self):
        self.n = 0
    def on_tick(self, t):
        self.n += 1
        if self.n % self.p.every == 0:
            self.close() if self.position else self.buy(size=0.01)
    def stop(self):
        print(f"EVERY={self.p.every} TICKS={self.n}")
"""

WORKING = """
import backtrader as bt
class BuyThenRest(bt.Strategy):
    def start(self):
        self.n = 0
    def on_tick(self, t):
        self.n += 1
        if self.n == 1:
            self.buy(size=0.001)
        if self.n == 50:
            self.buy(size=0.001, exectype=bt.Order.Limit, price=round(t.price - 5000, 2))
"""


def test_live_takes_params_and_a_paper_commission(tmp_path):
    strat = tmp_path / "flip.py"
    strat.write_text(PAPER)
    out = cli(
        "live", f"{strat}:Flip", "--replay-server", "--replay-rate", "1000", "--channels", "tick",
        "--param", "every=50", "--commission", "0.001", "--duration", "3",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "EVERY=50" in out.stdout
    fees = next(line for line in out.stdout.splitlines() if line.startswith("fees "))
    assert float(fees.split()[-1].replace(",", "")) > 0
    assert "ended                  duration" in out.stdout


def test_paper_flags_are_refused_with_real_orders():
    out = cli("live", "--replay-server", "--real", "--cash", "5000", "--duration", "3")
    assert out.returncode == 2
    assert "--cash sets the paper broker's; with --real the account's balance" in out.stderr
    out = cli("live", "--replay-server", "--real", "--commission", "0.001", "--duration", "3")
    assert out.returncode == 2
    assert "--commission sets the paper broker's" in out.stderr
    out = cli("live", "--replay-server", "--replay-rate", "0", "--duration", "3")
    assert out.returncode == 2
    assert "--replay-rate 0: frames per second, > 0" in out.stderr


def test_smoke_reads_the_config_file_in_every_mode(tmp_path):
    missing = tmp_path / "nowhere.json"
    out = cli("smoke", "--replay-server", "--qty", "0.001", "--config", str(missing))
    assert out.returncode == 2
    assert "--config" in out.stderr
    assert "nowhere.json" in out.stderr
    junk = tmp_path / "junk.json"
    junk.write_text("apiKey = abc\n")
    out = cli("smoke", "--replay-server", "--qty", "0.001", "--config", str(junk))
    assert out.returncode == 2
    assert "junk.json:1: not JSON" in out.stderr
    fields = tmp_path / "fields.json"
    fields.write_text(json.dumps({"apiKey": "k"}))
    out = cli("smoke", "--replay-server", "--qty", "0.001", "--config", str(fields))
    assert out.returncode == 2
    assert "needs the fields apiKey and secret" in out.stderr


def test_ctrl_c_with_an_order_working_reports_what_the_journal_says(tmp_path):
    strat = tmp_path / "rest.py"
    strat.write_text(WORKING)
    journal = tmp_path / "orders.jsonl"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "backtrader_channels",
            "live",
            f"{strat}:BuyThenRest",
            "--replay-server",
            "--real",
            "--channels",
            "tick",
            "--journal",
            str(journal),
            "--duration",
            "120",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the resting order is at the venue
            lines = journal.read_text().splitlines() if journal.exists() else []
            events = [json.loads(line) for line in lines]
            if sum(e["event"] == "open" for e in events) >= 2:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the resting order never opened")
        os.kill(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted (Ctrl-C)" in err
    report = dict(line.split(None, 1) for line in out.splitlines() if " " in line)
    assert out.count("ended                  interrupted") == 1
    # the report agrees with the journal: the working order was cancelled at the end
    events = [json.loads(line) for line in journal.read_text().splitlines()]
    last = {}
    for e in events:
        if e["client_id"] != "account":
            last[e["client_id"]] = e["state"]
    assert sorted(last.values()) == ["CANCELLED", "FILLED"]
    assert "venue orders" in out
    assert "CANCELLED=1" in out
    assert "OPEN" not in next(line for line in out.splitlines() if line.startswith("venue orders"))
    # the position left open shows
    positions = next(line for line in out.splitlines() if line.startswith("open positions"))
    assert "BTC/USDT=0.001 @ " in positions, report
