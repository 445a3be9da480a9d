"""The CLI as a user runs it (subprocess, real files): --help and one real run per command."""

import json
import os
import subprocess
import sys

import pytest
from PIL import Image

import backtrader_channels as btch

SAMPLE = os.path.join(os.path.dirname(os.path.abspath(btch.__file__)), "data")
TRADES = os.path.join(SAMPLE, "binance_btcusdt_20240808", "trades.parquet")
CAPTURE = os.path.join(SAMPLE, "binance_btcusdt_20240808_capture.jsonl.gz")
STRATEGY = """
import backtrader as bt
class Flip(bt.Strategy):
    params = (("every", 200),)
    def start(self):
        self.n = 0
    def on_tick(self, t):
        self.n += 1
        if self.n % self.p.every == 0:
            if self.position:
                self.close()
            else:
                self.buy(size=0.01)
"""


def cli(*args, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "backtrader_channels", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize("command", ["demo", "backtest", "live", "convert", "record", "inspect"])
def test_every_command_has_help(command):
    out = cli(command, "--help")
    assert out.returncode == 0
    assert "usage: backtrader-channels " + command in out.stdout


def test_demo_prints_a_report():
    out = cli("demo")
    assert out.returncode == 0, out.stderr
    assert "events by channel" in out.stdout
    assert "tick:BTC/USDT=9,757" in out.stdout


def test_demo_json():
    out = cli("demo", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["events"] == 9757 + 3450


def test_backtest_with_params_plot_and_json(tmp_path):
    strat = tmp_path / "flip.py"
    strat.write_text(STRATEGY)
    png, js = tmp_path / "run.png", tmp_path / "run.json"
    out = cli(
        "backtest",
        f"{strat}:Flip",
        "--data",
        TRADES,
        "--param",
        "every=300",
        "--commission",
        "0.0001",
        "--plot",
        str(png),
        "--json",
        str(js),
        "--from",
        "2024-08-08T23:55:00",
        "--to",
        "2024-08-08T23:59:00",
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(js.read_text())
    assert 0 < report["events"] < 9757
    assert report["orders"] > 0
    assert report["start"] >= "2024-08-08T23:55"
    assert report["end"] < "2024-08-08T23:59"
    assert report["fees"] > 0
    assert "sharpe_annualized" in report  # a short run: "n/a (...)"
    assert "max_drawdown_pct" in report
    with Image.open(png) as img:  # a real PNG, three panels tall
        assert img.format == "PNG"
        assert img.size[1] > 600
        rgb = img.convert("RGB")
        assert len(rgb.getcolors(maxcolors=1 << 24)) > 50  # something is drawn


def test_inspect_names_channels_symbols_span(tmp_path):
    out = cli("inspect", CAPTURE, "--json")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    counts = {c["channel"]: c["events"] for c in info["channels"]}
    assert info["format"] == "binance_ws"
    assert counts == {
        "orderbook": 3450,
        "quote": 28040,
        "tick": 9757,
    }
    text = cli("inspect", CAPTURE)
    assert text.returncode == 0
    assert "BTCUSDT" in text.stdout
    assert "9,757 events" in text.stdout


def test_record_from_the_replay_server(tmp_path):
    out = cli(
        "record",
        "--replay-server",
        "--symbol",
        "BTC/USDT",
        "--channels",
        "tick",
        "--out",
        str(tmp_path / "rec"),
        "--duration",
        "3",
    )
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "rec" / "channel=tick").is_dir()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ((), "COMMAND"),
        (("frobnicate",), "invalid choice"),
        (("backtest",), "required"),
        (("backtest", "nosuchmodule:X", "--data", TRADES), "cannot import"),
        (("backtest", "x:Y", "--data", "/no/such/file.csv"), "no such file"),
        (("inspect", "/no/such/file.csv"), "no such file"),
        (("live", "--real"), "--real needs API keys"),
        (("live", "--real", "--config", "/no/such/keys.json"), "/no/such/keys.json"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(args, needle):
    out = cli(*args)
    assert out.returncode == 2
    lines = [ln for ln in out.stderr.strip().splitlines() if ln.strip()]
    if args:
        assert len(lines) == 1
        assert needle in lines[0]


HALF = """
import backtrader as bt
class Half(bt.Strategy):
    def start(self):
        self.n = 0
    def on_tick(self, t):
        self.n += 1
        if self.n == 100:
            self.order_target_percent(target=0.5)
"""


def test_lot_sizes_target_orders_in_fractions(tmp_path):
    (tmp_path / "half.py").write_text(HALF)
    strategy, js = f"{tmp_path / 'half.py'}:Half", tmp_path / "run.json"
    out = cli("backtest", strategy, "--data", TRADES, "--commission", "0.001", "--lot", "0.00001",
              "--json", str(js))  # fmt: skip
    assert out.returncode == 0, out.stderr
    report = json.loads(js.read_text())
    assert (report["orders"], report["fills"]) == (1, 1)  # whole units: 0 BTC, no order
    assert report["fees"] == pytest.approx(report["starting_value"] * 0.5 * 0.001, rel=1e-3)
    out = cli("backtest", strategy, "--data", TRADES, "--lot", "-1")
    assert out.returncode == 2
    assert out.stderr.strip() == (
        "backtrader-channels: error: --lot -1: must be a number >= 0 (0: fractions, unrounded)"
    )


BAD_STRATEGY = """
import backtrader as bt
class Bad(bt.Strategy):
    params = (("lookback", 20), ("side", "buy"))
    def on_tick(self, t):
        self.helper(t)
    def helper(self, t):
        return undefined_name
"""


def test_an_error_in_the_users_strategy_shows_where(tmp_path):
    strat = tmp_path / "bad.py"
    strat.write_text(BAD_STRATEGY)
    out = cli("backtest", f"{strat}:Bad", "--data", TRADES)
    assert out.returncode == 1
    lines = out.stderr.splitlines()
    assert lines[0] == (
        "backtrader-channels: error: NameError: name 'undefined_name' is not defined"
    )
    assert f"  {strat}:6 in on_tick" in lines
    assert f"  {strat}:8 in helper" in lines
    assert "backtrader_channels" not in out.stderr.replace("backtrader-channels", "")
    debug = cli("--debug", "backtest", f"{strat}:Bad", "--data", TRADES)
    assert debug.returncode == 1
    assert "Traceback (most recent call last)" in debug.stderr
    assert "backtrader_channels/dispatch/loop.py" in debug.stderr


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ("lookback=abc", "--param lookback=abc: lookback takes an int (default 20)"),
        (
            "nosuch=3",
            "--param nosuch: Bad has no parameter 'nosuch' (its parameters: lookback, side)",
        ),
        ("lookback", "--param 'lookback': use name=value"),
    ],
)
def test_bad_params_exit_2_naming_the_parameter(tmp_path, param, message):
    strat = tmp_path / "bad.py"
    strat.write_text(BAD_STRATEGY)
    out = cli("backtest", f"{strat}:Bad", "--data", TRADES, "--param", param)
    assert out.returncode == 2
    assert out.stderr.strip() == f"backtrader-channels: error: {message}"


KEYED_STRATEGY = """
import backtrader as bt
class Keyed(bt.Strategy):
    def start(self):
        self.ticks = self.channels[("tick", "BTC/USDT")]
    def stop(self):
        print("ticks seen", self.ticks.count)
"""


@pytest.mark.parametrize("symbol", [None, "BTC/USDT"])
def test_one_symbol_rule_through_the_cli(tmp_path, capture_tables, symbol):
    """A strategy keyed on ("tick", "BTC/USDT") runs on Tardis data spelled BTCUSDT."""
    from ..sources import shapes

    data = shapes.tardis_trades(capture_tables, tmp_path / "binance_trades_2024-08-08.csv")
    strat = tmp_path / "keyed.py"
    strat.write_text(KEYED_STRATEGY)
    extra = ["--symbol", symbol] if symbol else []
    out = cli("backtest", f"{strat}:Keyed", "--data", str(data), *extra)
    assert out.returncode == 0, out.stderr
    assert "ticks seen 9757" in out.stdout


def test_a_folder_mixing_trades_quotes_and_books(tmp_path):
    """The bundled sample folder holds three native files of different channel types."""
    strat = tmp_path / "keyed.py"
    strat.write_text(KEYED_STRATEGY)
    out = cli("backtest", f"{strat}:Keyed", "--data", os.path.dirname(TRADES))
    assert out.returncode == 0, out.stderr
    assert "ticks seen 9757" in out.stdout
    assert "quote:BTC/USDT=28,040" in out.stdout


def test_the_cli_log_handler_writes_to_stderr_as_it_is_now(monkeypatch):
    """``main`` run in-process (as a test runner or a notebook does) adds the stderr handler
    once; a record logged after stderr was swapped and the old one closed goes to the new one
    (it used to raise "I/O operation on closed file" inside logging)."""
    import io
    import logging

    from backtrader_channels.app import cli as cli_module
    from backtrader_channels.log import logger

    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    monkeypatch.setattr(logger, "handlers", list(logger.handlers))  # restored after the test
    monkeypatch.setattr(logger, "level", logger.level)
    cli_module._log_to_stderr()
    first.close()
    now = io.StringIO()
    monkeypatch.setattr(sys, "stderr", now)
    logger.log(logging.WARNING, "a reconnect")
    assert now.getvalue() == "backtrader-channels: WARNING: a reconnect\n"
