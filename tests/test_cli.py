"""The CLI as a user runs it (subprocess)."""

import json
import subprocess
import sys


def cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "backtrader_channels", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_demo_prints_a_report():
    out = cli("demo")
    assert out.returncode == 0, out.stderr
    assert "events by channel" in out.stdout and "tick:BTC/USDT=9,757" in out.stdout


def test_demo_json():
    out = cli("demo", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["events"] == 9757 + 3450


def test_usage_errors_exit_2():
    assert cli().returncode == 2
    bad = cli("frobnicate")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
