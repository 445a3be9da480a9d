"""The ``download`` command: its arguments, its exit codes, and that what it writes backtests
as the same files converted by hand."""

from __future__ import annotations

import argparse
import os
import zipfile

import backtrader as bt
import pytest

import backtrader_channels as btch
from backtrader_channels.app.download_commands import add_download_parser, run_download_command
from backtrader_channels.app.usage import UsageError
from backtrader_channels.sources.convert import convert


def _parse(argv):
    parser = argparse.ArgumentParser(prog="backtrader-channels")
    sub = parser.add_subparsers(dest="command")
    add_download_parser(sub)
    return parser.parse_args(argv)


def _cli(argv):
    return run_download_command(_parse(argv))


def _binance(archive, dest, *more):
    return [
        "download",
        "binance",
        "--symbol",
        "BTCUSDT",
        "--from",
        "2024-07-30",
        "--to",
        "2024-08-01",
        "--dest",
        str(dest),
        "--base-url",
        archive.url,
        "--no-progress",
        *more,
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--market", "xx"], "--market 'xx'"),
        (["--kinds", "trades,quotes"], "--kinds: unknown kind 'quotes'"),
        (["--kinds", "fundingRate"], "--kinds: 'fundingRate' is published for --market um"),
        (["--kinds", ""], "--kinds: give at least one kind"),
        (["--from", "2024-13-01"], "--from '2024-13-01'"),
        (["--from", "2024-08-05"], "--to 2024-08-01 is before --from 2024-08-05"),
        (["--jobs", "0"], "--jobs 0"),
    ],
)
def test_bad_arguments_name_the_option(archive, tmp_path, argv, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        _cli(_binance(archive, tmp_path, *argv))


def test_required_options(tmp_path):
    with pytest.raises(UsageError, match="--symbol is required"):
        _cli(["download", "binance", "--from", "2024-08-01", "--to", "2024-08-01"])
    with pytest.raises(UsageError, match="--dest is required"):
        _cli(["download", "bybit", "--symbol", "BTCUSDT", "--from", "2024-08-01"])
    with pytest.raises(UsageError, match="--to is required"):
        _cli(
            [
                "download",
                "bybit",
                "--symbol",
                "BTCUSDT",
                "--from",
                "2024-08-01",
                "--dest",
                str(tmp_path),
            ]
        )
    with pytest.raises(UsageError, match=r"--depth 500: 500 or 200 .*200 \(spot\)"):
        _cli(
            [
                "download",
                "bybit",
                "--symbol",
                "BTCUSDT",
                "--from",
                "2024-08-01",
                "--to",
                "2024-08-01",
                "--dest",
                str(tmp_path),
                "--category",
                "spot",
                "--depth",
                "500",
            ]
        )
    with pytest.raises(UsageError, match=r"download binance \.\.\. or download bybit"):
        _cli(["download"])


def test_exit_codes_and_output(archive, tmp_path, capsys):
    assert _cli(_binance(archive, tmp_path)) == 0
    out = capsys.readouterr().out
    assert "fetched 3 file(s)" in out
    assert _cli(_binance(archive, tmp_path)) == 0
    assert "nothing to fetch: every file is already there" in capsys.readouterr().out
    archive.faults.corrupt["BTCUSDT-aggTrades-2024-07-31.zip"] = 2
    assert _cli(_binance(archive, tmp_path, "--kinds", "aggTrades")) == 1
    err = capsys.readouterr().err
    assert "BTCUSDT-aggTrades-2024-07-31.zip: checksum mismatch" in err


class _Flip(bt.Strategy):
    """Buys and sells in turn every 25 trades; counts what it hears."""

    def start(self):
        self.n = 0

    def on_tick(self, tick):
        self.n += 1
        if self.n % 25 == 0:
            (self.sell if self.position else self.buy)(size=0.01)


def _backtest(dataname):
    c = btch.Cerebro()
    c.add_channel(btch.TickChannel, symbol="BTC/USDT", dataname=dataname)
    c.addstrategy(_Flip)
    strat = c.run(mode=btch.RunMode.TICK)[0]
    return strat.n, round(c.broker.getvalue(), 8), c.last_run["pnl"]


def test_downloaded_data_backtests_as_the_files_converted_by_hand(archive, tmp_path):
    converted, raw, by_hand = tmp_path / "data", tmp_path / "raw", tmp_path / "by_hand"
    assert _cli(_binance(archive, converted)) == 0
    assert _cli(_binance(archive, raw, "--raw")) == 0
    folder = raw / "raw/binance/spot/daily/trades/BTCUSDT"
    csvs = []
    for name in sorted(os.listdir(folder)):
        if name.endswith(".zip"):
            with zipfile.ZipFile(folder / name) as zf:
                zf.extractall(tmp_path / "csv")
                csvs += [str(tmp_path / "csv" / n) for n in zf.namelist()]
    convert(csvs, str(by_hand), progress=False)
    got, want = _backtest(str(converted)), _backtest(str(by_hand))
    assert got == want
    assert got[0] == 3 * 300
    assert got[2] != 0  # it traded
