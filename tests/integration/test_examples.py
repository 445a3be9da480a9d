"""Every example runs as-is on the bundled sample and prints what it did: the backtests' numbers
are pinned (the same data gives the same trades every run); the live replay must deliver."""

import glob
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = sorted(glob.glob(os.path.join(ROOT, "examples", "*.py")))
assert EXAMPLES, f"no examples under {ROOT}/examples"

#: what each backtest example prints (exact), or a pattern for the live replay
EXPECTED = {
    "perp_funding.py": "orders: 23  fills: 17  flattened before funding: yes  position at "
    "funding: flat  funding payments: 0  funding paid: 0.0000 USDT  liquidations: 0  "
    "final equity: 997.97",
    "cross_venue_spread.py": "signals: 9  hedges: 8  fills: 32  net BTC exposure: 0.0000  "
    "pnl: 3.55",
    "bars_from_ticks.py": "ticks: 9,757  bars: 344  orders: 3  max drawdown: 0.0195%  "
    "final value: 9,998.98",
    "market_maker.py": "orders: 159  fills: 158  amends: 224  cancel+replace: 0  post-only "
    "refusals: 0  position: +0.10  fees: 0.8475  final value: 9,998.52",
    "imbalance_limit_orders.py": "orders: 10  fills: 5  closed trades: 2  final value: 9,998.47",
    "sma_bridge.py": "orders: 36  closed trades: 18  final value: 10,000.96",
    "tick_scalper.py": "events: 13,207  orders: 322  closed trades: 161  final value: 10,003.44",
    "two_symbol_spread.py": "ratios: 19,439  orders: 612  final value: 9,996.36",
    "live_replay.py": re.compile(
        r"live events: \{'tick': [1-9]\d*, 'orderbook': [1-9]\d*\}  orders: \d+  "
        r"final value: [\d,.]+  anomalies: \{\}"
    ),
}


def test_every_example_has_an_expectation():
    assert sorted(EXPECTED) == sorted(os.path.basename(p) for p in EXAMPLES)


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_example_runs(path):
    out = subprocess.run([sys.executable, path], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    last = out.stdout.strip().splitlines()[-1]
    want = EXPECTED[os.path.basename(path)]
    if isinstance(want, str):
        assert last == want
    else:
        assert want.fullmatch(last), last
