"""convert: any input to partitioned native Parquet, read back identically."""

import os
import re
import subprocess
import sys

import backtrader as bt

import backtrader_channels as btch
from backtrader_channels.sources.convert import convert
from backtrader_channels.sources.formats import open_source

from . import shapes


def events(path, kind, symbol):
    return [e for _, chunk in open_source(path, kind, symbol) for e in chunk]


def test_capture_round_trip(tmp_path, capture_path):
    out = str(tmp_path / "native")
    summary = convert(capture_path, out, progress=False)
    assert summary["events"] == {
        "orderbook:BTCUSDT@binance/spot": 3450,
        "quote:BTCUSDT@binance/spot": 28040,
        "tick:BTCUSDT@binance/spot": 9757,
    }
    assert summary["unknown"] == []
    day = ("channel=tick", "venue=binance", "market=spot", "symbol=BTCUSDT", "date=2024-08-08")
    assert os.path.isdir(os.path.join(out, *day))
    for kind in ("tick", "quote", "orderbook"):
        assert events(out, kind, "BTCUSDT") == events(capture_path, kind, "BTCUSDT")
    # the ccxt spelling finds the same partition
    assert len(events(out, "tick", "BTC/USDT")) == 9757


def test_tardis_multi_symbol_split_by_symbol(tmp_path, capture_tables):
    src = shapes.tardis_trades(capture_tables, tmp_path / "trades.csv.gz", extra_symbol=True)
    out = str(tmp_path / "native")
    summary = convert(src, out, progress=False)
    assert summary["events"] == {
        "tick:BTCUSDT@binance/spot": 9757,
        "tick:ETHUSDT@binance/spot": 3253,
    }
    assert events(out, "tick", "ETHUSDT") == events(src, "tick", "ETHUSDT")


def test_converted_data_runs_in_a_backtest(tmp_path, capture_path):
    out = str(tmp_path / "native")
    convert(capture_path, out, progress=False)

    class Count(bt.Strategy):
        def start(self):
            self.n = 0

        def on_event(self, ev):
            self.n += 1

    c = btch.Cerebro()
    c.add_channel(btch.TickChannel, symbol="BTC/USDT", dataname=out)
    c.add_channel(btch.OrderBookChannel, symbol="BTC/USDT", dataname=out)
    c.addstrategy(Count)
    assert c.run(mode=btch.RunMode.TICK)[0].n == 9757 + 3450


def test_cli_convert(tmp_path, capture_path):
    out = tmp_path / "native"
    res = subprocess.run(
        [sys.executable, "-m", "backtrader_channels", "convert", capture_path, str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    assert "tick:BTCUSDT" in res.stdout
    assert "9,757 events" in res.stdout
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "backtrader_channels",
            "convert",
            str(tmp_path / "missing.csv"),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode == 2
    assert "missing.csv" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_skipped_rows_reach_the_run_summary(tmp_path, capture_tables):
    path = shapes.tardis_trades(capture_tables, tmp_path / "t.csv")
    lines = open(path).read().splitlines()
    lines[5] = lines[5].rsplit(",", 2)[0] + ",0,0.1"
    open(path, "w").write("\n".join(lines) + "\n")
    c = btch.Cerebro()
    c.add_channel(btch.TickChannel, symbol="BTC/USDT", dataname=path, on_error="skip")
    c.addstrategy(bt.Strategy)
    s = c.run(mode=btch.RunMode.TICK)[0]
    assert c.last_run["skipped"] == {path: {"price must be > 0": 1}}
    from backtrader_channels.app.report import format_report, run_report

    text = format_report(run_report(c, s))
    assert "price must be > 0" in text


def test_convert_progress_has_a_total_percentage_and_eta(tmp_path, capture_path, sample, capsys):
    """Issue 35, item 14: the bar counts the bytes read against the files' total."""
    convert([capture_path, sample.trades], str(tmp_path / "out"), progress=True)
    err = capsys.readouterr().err.replace("\r", "\n")
    last = [ln for ln in err.splitlines() if ln.startswith("convert:")][-1]
    m = re.search(r"convert: 100%\|.*\| (\S+)/\1 \[\d\d:\d\d<\d\d:\d\d", last)
    assert m, last
    size = 3 * os.path.getsize(capture_path) + os.path.getsize(sample.trades)  # 3 channels
    from tqdm import tqdm

    assert m.group(1) == tqdm.format_sizeof(size)
