"""``examples/perp_funding.py`` as a user runs it: the funding-aware quoter flattens before the
funding time on the bundled perpetual sample (and pays nothing), ``--hold`` keeps the position
and pays the funding once, and the same strategy paper-trades live on the loopback Binance
USDⓈ-M replaying that sample."""

from __future__ import annotations

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "examples", "perp_funding.py")
#: the summary's ``key: value`` pairs, two spaces apart
PAIR = re.compile(r"([a-z][a-z ]*): (\S+(?: USDT)?)(?:  |$)")


def run(*args: str, timeout: float = 120) -> tuple[str, dict[str, str]]:
    out = subprocess.run(
        [sys.executable, EXAMPLE, *args], capture_output=True, text=True, timeout=timeout
    )
    assert out.returncode == 0, out.stderr[-3000:]
    last = out.stdout.strip().splitlines()[-1]
    return out.stdout, dict(PAIR.findall(last))


def _times(stdout: str, marker: str) -> list[str]:
    """The HH:MM:SS.mmm of the lines that contain ``marker``."""
    return [line.split()[0] for line in stdout.splitlines() if marker in line]


def test_backtest_flattens_before_funding_and_pays_none():
    stdout, s = run()
    assert "GENERATED" in stdout  # says the marks and funding are not Binance's
    assert int(s["fills"]) >= 3  # it traded a few times
    assert s["flattened before funding"] == "yes"
    assert s["position at funding"] == "flat"
    assert s["funding payments"] == "0"
    assert s["funding paid"] == "0.0000 USDT"
    assert s["liquidations"] == "0"
    # the reduce-only flatten went out and filled before 00:00:00 UTC (the sample's funding)
    (flatten,) = _times(stdout, "flatten: sell")
    assert flatten.startswith("23:59:")
    assert "it would pay" in stdout
    assert "FUNDING" not in stdout
    assert "position +" in stdout  # the position lines (broker.perp_position)
    assert "liquidation " in stdout


def test_hold_keeps_the_position_and_pays_funding_once():
    stdout, s = run("--hold")
    assert s["flattened before funding"] == "no"
    assert s["position at funding"].startswith("+")
    assert s["funding payments"] == "1"
    paid = float(s["funding paid"].split()[0])
    assert paid > 0  # a long pays at a positive rate
    (funding,) = [line for line in stdout.splitlines() if "FUNDING of 00:00:00.000: paid" in line]
    assert "rate +0.0100%" in funding
    assert "flatten: " not in stdout
    # the same decisions as the backtest up to the funding window
    flat_out, _ = run()
    assert flat_out.split("stop quoting")[0] == stdout.split("stop quoting")[0]


def test_live_paper_on_the_loopback_flattens_before_funding():
    stdout, s = run("--live", "--speed", "20", "--duration", "25", timeout=90)
    assert "loopback Binance USDⓈ-M on 127.0.0.1:" in stdout
    assert int(s["orders"]) >= 1
    assert s["flattened before funding"] == "yes"  # the quoter keeps a long: it would pay
    assert s["position at funding"] == "flat"
    assert s["funding payments"] == "0"
    assert s["liquidations"] == "0"
    assert "funding at " in stdout  # it saw the funding time coming (live mark stream)
