"""``backtrader-channels sweep``: the values it reads, the table and JSON it writes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from backtrader_channels.app.cli import main
from backtrader_channels.app.sweep_commands import parse_grid
from backtrader_channels.app.usage import UsageError
from backtrader_channels.loopback.synthetic import write_synthetic_days

STRATEGY = """
import backtrader as bt

class Every(bt.Strategy):
    params = (("every", 100), ("size", 0.01), ("name", "x"))

    def start(self):
        self.n = 0
        if self.p.every == 13:
            raise RuntimeError("13 is unlucky")

    def on_tick(self, tick):
        self.n += 1
        if self.n % self.p.every == 0:
            self.close() if self.position else self.buy(size=self.p.size)
"""


@pytest.fixture(scope="module")
def strategy_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("strat") / "every.py"
    path.write_text(STRATEGY)
    return f"{path}:Every"


class _P:
    import backtrader as bt

    class S(bt.Strategy):
        params = (("n", 10), ("x", 0.5), ("flag", False))


def test_parse_grid_reads_lists_ranges_and_steps():
    S = _P.S
    assert parse_grid(["n=10,20,30"], S) == {"n": [10, 20, 30]}
    assert parse_grid(["n=1..5"], S) == {"n": [1, 2, 3, 4, 5]}
    assert parse_grid(["n=2..10:4"], S) == {"n": [2, 6, 10]}
    assert parse_grid(["x=0.1..0.5:0.1"], S) == {"x": [0.1, 0.2, 0.3, 0.4, 0.5]}
    assert parse_grid(["n=7", "flag=true,false"], S) == {"n": [7], "flag": [True, False]}
    assert parse_grid(["n=1..5", "x=0.1..0.5"], S, search=True) == {"n": (1, 5), "x": (0.1, 0.5)}
    assert parse_grid(["n=1..9:2"], S, search=True) == {"n": (1, 9, 2)}


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["m=1,2"], "S has no parameter 'm' (its parameters: n, x, flag)"),
        (["n=1.5,2"], "n takes an int"),
        (["n=5..1"], "needs low <= high"),
        (["x=0.1..0.5"], "a float range needs a step"),
        (["n=1,2", "n=3"], "given twice"),
        (["flag=0..1"], "a range needs a number parameter"),
        ([], "give at least one --param"),
    ],
)
def test_parse_grid_names_what_is_wrong(items, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_grid(items, _P.S)


def test_sweep_prints_a_ranked_table_and_writes_json(strategy_file, sample, tmp_path, capsys):
    out = tmp_path / "sweep.json"
    argv = ["sweep", strategy_file, "--data", sample.trades, "--param", "every=100..103"]
    assert main([*argv, "--param", "size=0.01,0.02", "--jobs", "2", "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split() == [
        "rank", "every", "size", "pnl", "return", "sharpe", "orders", "trades"
    ]  # fmt: skip
    assert "ranked by pnl" in table
    runs = json.loads(out.read_text())["runs"]
    assert len(runs) == 8
    pnls = [r["pnl"] for r in runs]
    assert pnls == sorted(pnls, reverse=True)
    assert {r["params"]["every"] for r in runs} == {100, 101, 102, 103}
    assert all(r["orders"] == 9757 // r["params"]["every"] for r in runs)


def test_sweep_exits_1_and_names_a_failed_set(strategy_file, sample, capsys):
    argv = ["sweep", strategy_file, "--data", sample.trades, "--param", "every=12,13"]
    argv += ["--jobs", "1"]
    assert main([*argv, "--retries", "0"]) == 1
    out = capsys.readouterr().out
    assert "failed: {'every': 13}: RuntimeError: 13 is unlucky" in out


def test_sweep_split_days_and_walk_forward(strategy_file, tmp_path, capsys):
    root = write_synthetic_days(str(tmp_path / "days"), 3, 1000)
    base = ["sweep", strategy_file, "--data", root, "--param", "every=50,100"]
    assert main([*base, "--split-days", "--jobs", "2"]) == 0
    assert "ranked by pnl" in capsys.readouterr().out
    assert main([*base, "--walk-forward", "1", "--jobs", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count(" -> {'every': ") == 2
    assert "out of sample: pnl" in out


def test_sweep_usage_errors_exit_2(strategy_file, sample):
    cmd = [sys.executable, "-m", "backtrader_channels", "sweep", strategy_file]
    bad = subprocess.run(
        [*cmd, "--data", sample.trades, "--param", "evry=1,2"], capture_output=True, text=True
    )
    assert bad.returncode == 2
    assert "Every has no parameter 'evry'" in bad.stderr
    both = subprocess.run(
        [*cmd, "--data", sample.trades, "--param", "every=1", "--jobs", "2", "--ray", "auto"],
        capture_output=True,
        text=True,
    )
    assert both.returncode == 2
    assert "not allowed with argument" in both.stderr
