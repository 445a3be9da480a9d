"""Tardis.dev's datasets API: a download with a key converted and backtested as the same files
converted by hand, the first day of a month without a key and the other days refused by name,
the key kept out of every output, idempotence, a damaged gzip fetched again, an empty day."""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json

import backtrader as bt
import pytest

import backtrader_channels as btch
from backtrader_channels.app.download_commands import add_download_parser, run_download_command
from backtrader_channels.app.usage import UsageError
from backtrader_channels.download import DownloadError, download_tardis
from backtrader_channels.download.tardis import KEY_HINT
from backtrader_channels.loopback.tardis_archive import API_KEY
from backtrader_channels.sources.convert import convert

D = dt.date
EXCHANGE = "binance-futures"


@pytest.fixture(autouse=True)
def _fresh(monkeypatch, archive_server):
    """No key nor base URL from the environment; the Authorization log emptied."""
    monkeypatch.delenv("TARDIS_API_KEY", raising=False)
    monkeypatch.delenv("BTCH_TARDIS_URL", raising=False)
    archive_server.tardis.authorizations.clear()


def _run(archive, dest, lines, **kw):
    args = {
        "exchange": EXCHANGE,
        "symbols": ["BTCUSDT"],
        "kinds": ["trades"],
        "start": D(2024, 7, 1),
        "end": D(2024, 7, 3),
        "dest": str(dest),
        "api_key": API_KEY,
        "base_url": archive.url,
        "progress": False,
        "backoff": 0.01,
        "echo": lines.append,
    }
    args.update(kw)
    return download_tardis(**args)


def _cli(archive, dest, *more):
    parser = argparse.ArgumentParser(prog="backtrader-channels")
    add_download_parser(parser.add_subparsers(dest="command"))
    argv = ["download", "tardis", "--exchange", EXCHANGE, "--symbol", "BTCUSDT"]
    argv += ["--from", "2024-07-01", "--to", "2024-07-02", "--dest", str(dest)]
    argv += ["--base-url", archive.url, "--no-progress", *more]
    return run_download_command(parser.parse_args(argv))


class _Count(bt.Strategy):
    """Buys and sells BTC in turn every 20 of its trades; counts trades and book updates."""

    def start(self):
        self.ticks, self.books = {}, 0

    def on_tick(self, tick):
        self.ticks[tick.symbol] = self.ticks.get(tick.symbol, 0) + 1
        if tick.symbol.startswith("BTC") and self.ticks[tick.symbol] % 20 == 0:
            (self.sell if self.position else self.buy)(size=0.01)

    def on_orderbook(self, book):
        self.books += 1


def _backtest(dataname):
    c = btch.Cerebro()
    for sym in ("BTC/USDT:USDT", "ETH/USDT:USDT"):
        c.add_channel(btch.TickChannel, symbol=sym, dataname=dataname)
        c.add_channel(btch.OrderBookChannel, symbol=sym, dataname=dataname)
    c.addstrategy(_Count)
    strat = c.run(mode=btch.RunMode.TICK)[0]
    return sorted(strat.ticks.items()), strat.books, round(c.broker.getvalue(), 8)


def test_with_a_key_converted_as_by_hand_and_idempotent(archive, tmp_path, quiet):
    converted, raw, by_hand = tmp_path / "data", tmp_path / "raw", tmp_path / "by_hand"
    kw = {"symbols": ["BTCUSDT", "ETHUSDT"], "kinds": ["trades", "incremental_book_L2"]}
    s = _run(archive, converted, quiet, **kw)
    assert len(s.fetched) == 12
    assert not s.missing
    assert not s.failed
    assert s.rows > 0
    assert "binance-futures_trades_2024-07-02_ETHUSDT.csv.gz" in s.fetched
    assert sorted({h.path for h in archive.hits})[0] == (
        "v1/binance-futures/incremental_book_L2/2024/07/01/BTCUSDT.csv.gz"
    )
    assert set(archive.tardis.authorizations) == {f"Bearer {API_KEY}"}
    manifest = json.load(open(converted / "manifest.json"))["files"]
    assert len(manifest) == 12
    for rec in manifest.values():
        served = archive.tardis.get(rec["url"].split("/", 3)[3])
        assert rec["sha256"] == hashlib.sha256(served).hexdigest()
    # venue and market from Tardis's exchange name
    assert (converted / "channel=tick/venue=binance/market=linear/symbol=BTCUSDT").is_dir()

    archive.hits.clear()
    again = _run(archive, converted, quiet, **kw)
    assert archive.hits == []
    assert len(again.skipped) == 12
    assert not again.fetched

    assert len(_run(archive, raw, quiet, raw=True, **kw).fetched) == 12
    files = sorted(str(p) for p in (raw / "raw/tardis").rglob("*.csv.gz"))
    assert len(files) == 12
    convert(files, str(by_hand), progress=False)
    got, want = _backtest(str(converted)), _backtest(str(by_hand))
    assert got == want
    ticks = dict(got[0])
    assert ticks["BTC/USDT:USDT"] == 3 * 109
    assert ticks["ETH/USDT:USDT"] == 3 * 478
    assert got[1] > 0
    assert got[2] != 10_000.0  # it traded (the default cash is 10,000)
    # the last trades of a day fall on the next one by exchange time: kept, in any order
    btc = converted / "channel=tick/venue=binance/market=linear/symbol=BTCUSDT"
    assert sorted(p.name for p in (btc / "date=2024-07-02").iterdir()) == [
        "part-BTCUSDT-trades-2024-07-01-000.parquet",
        "part-BTCUSDT-trades-2024-07-02-000.parquet",
    ]
    assert [p.name for p in (btc / "date=2024-07-04").iterdir()] == [
        "part-BTCUSDT-trades-2024-07-03-000.parquet"
    ]


def test_without_a_key_the_first_of_the_month_only(archive, tmp_path, quiet):
    with pytest.raises(DownloadError) as err:
        _run(archive, tmp_path, quiet, api_key=None)
    s = err.value.summary
    assert s.fetched == ["binance-futures_trades_2024-07-01_BTCUSDT.csv.gz"]
    assert len(s.failed) == 2
    for day, line in zip(("2024-07-02", "2024-07-03"), sorted(s.failed)):
        assert f"BTCUSDT trades {day}: refused by the API (HTTP 401)" in line
        assert KEY_HINT in line
    assert quiet[0].startswith("no API key: without an API key Tardis.dev serves only the first")
    assert set(archive.tardis.authorizations) == {None}


def test_the_key_is_never_shown(archive, tmp_path, capsys, monkeypatch):
    secret = "td-SECRET-never-shown-123"
    assert _cli(archive, tmp_path / "a", "--api-key", secret) == 1
    out = capsys.readouterr()
    assert "BTCUSDT trades 2024-07-02: refused by the API (HTTP 401)" in out.err
    assert "API key was not accepted" in out.err
    assert secret not in out.out + out.err
    monkeypatch.setenv("TARDIS_API_KEY", API_KEY)
    assert _cli(archive, tmp_path / "b") == 0
    out = capsys.readouterr()
    assert "fetched 2 file(s)" in out.out
    assert API_KEY not in out.out + out.err
    for dest in ("a", "b"):
        for f in (tmp_path / dest).rglob("*"):
            if f.is_file() and not f.name.endswith(".parquet"):
                text = f.read_bytes()
                assert secret.encode() not in text
                assert API_KEY.encode() not in text
    assert not any(secret in h.path or API_KEY in h.path for h in archive.hits)
    assert f"Bearer {secret}" in archive.tardis.authorizations


def test_damaged_gzip_is_refetched(archive, tmp_path, quiet):
    archive.faults.corrupt["binance-futures/trades/2024/07/02/BTCUSDT"] = 1
    s = _run(archive, tmp_path, quiet)
    assert len(s.fetched) == 3
    assert s.refetched == 1
    assert any(
        "binance-futures_trades_2024-07-02_BTCUSDT.csv.gz: " in line and "damaged" in line
        for line in quiet
    )


def test_missing_and_empty_days(archive, tmp_path, quiet):
    archive.tardis.empty_days.add(D(2024, 8, 2))
    try:
        s = _run(
            archive, tmp_path, quiet, start=D(2024, 8, 2), end=D(2024, 8, 5), today=D(2024, 9, 1)
        )
    finally:
        archive.tardis.empty_days.clear()
    assert len(s.fetched) == 2  # the archive ends on 2024-08-03
    assert any("BTCUSDT trades 2024-08-02: no data that day" in line for line in quiet)
    assert [m.split(":")[1].strip() for m in s.missing] == [
        "BTCUSDT trades 2024-08-04",
        "BTCUSDT trades 2024-08-05",
    ]


def test_bad_arguments(archive, tmp_path):
    with pytest.raises(UsageError, match="--kinds: unknown Tardis data type 'book'"):
        _cli(archive, tmp_path, "--kinds", "trades,book")
    parser = argparse.ArgumentParser()
    add_download_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["download", "tardis", "--symbol", "X", "--from", "2024-07-01", "--to", "2024-07-01",
         "--dest", str(tmp_path)]
    )  # fmt: skip
    with pytest.raises(UsageError, match="--exchange is required"):
        run_download_command(args)
