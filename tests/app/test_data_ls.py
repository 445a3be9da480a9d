"""``backtrader-channels data ls PATH``: what a dataset holds, from its Parquet footers."""

from __future__ import annotations

import json
import shutil

import pytest

from backtrader_channels.app.cli import _Parser
from backtrader_channels.app.data_commands import add_data_parser
from backtrader_channels.app.usage import UsageError
from backtrader_channels.events import ChannelType
from backtrader_channels.loopback.synthetic import synthetic_trades, write_synthetic_days
from backtrader_channels.sources.catalog import catalog, day_ranges
from backtrader_channels.sources.convert import convert
from backtrader_channels.sources.writer import write_parquet


def data(*argv: str) -> int:
    """``backtrader-channels data ...`` (the ``data`` command's parser and runner)."""
    parser = _Parser(prog="backtrader-channels")
    add_data_parser(parser.add_subparsers(dest="command", parser_class=_Parser))
    args = parser.parse_args(list(argv))
    return int(args.func(args))


@pytest.fixture(scope="module")
def converted(tmp_path_factory, capture_path) -> str:
    out = str(tmp_path_factory.mktemp("ls") / "native")
    convert(capture_path, out, progress=False)
    return out


def test_a_converted_capture_lists_each_channel_with_its_rows_and_times(converted, capsys):
    assert data("data", "ls", converted, "--json") == 0
    got = json.loads(capsys.readouterr().out)
    assert got["path"] == converted
    rows = {r["kind"]: r for r in got["channels"]}
    assert sorted(rows) == ["orderbook", "quote", "tick"]
    assert {(r["venue"], r["market"], r["symbol"]) for r in rows.values()} == {
        ("binance", "spot", "BTCUSDT")
    }
    assert rows["tick"]["rows"] == 9757
    assert rows["quote"]["rows"] == 28040
    assert rows["orderbook"]["rows"] == 126073  # price levels of 3,450 updates
    tick = rows["tick"]
    assert (tick["first_day"], tick["last_day"], tick["days"], tick["gaps"]) == (
        "2024-08-08",
        "2024-08-09",
        2,
        [],
    )
    assert tick["start"] == "2024-08-08T23:54:15.342Z"
    assert tick["end"] == "2024-08-09T00:00:01.271Z"
    assert tick["files"] == 2
    assert tick["bytes"] > 0
    assert tick["path"].endswith("channel=tick/venue=binance/market=spot/symbol=BTCUSDT")

    assert data("data", "ls", converted) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"{converted}: 3 channel(s), 2024-08-08 to 2024-08-09 (UTC)\n")
    assert "binance  spot    BTCUSDT  tick       2024-08-08 23:54:15  2024-08-09 00:00:01" in text
    assert "gaps in" not in text


def test_missing_days_inside_the_range_are_gaps(tmp_path, capsys):
    root = write_synthetic_days(str(tmp_path / "days"), 6, 200)
    day_dirs = sorted((tmp_path / "days" / "channel=tick" / "symbol=BTC-USDT").iterdir())
    for gone in (day_dirs[1], day_dirs[3], day_dirs[4]):
        shutil.rmtree(gone)
    days = [d.name[5:] for d in day_dirs]
    (row,) = catalog(root)
    # the layout of earlier versions: no venue or market folders; the rows spell the symbol
    assert (row.venue, row.market, row.symbol, row.kind) == (
        "unknown",
        "unknown",
        "BTC/USDT",
        "tick",
    )
    assert row.days == (days[0], days[2], days[5])
    assert row.gaps == (days[1], days[3], days[4])
    assert row.rows == 600
    assert data("data", "ls", root) == 0
    text = capsys.readouterr().out
    assert (
        f"gaps in tick BTC/USDT (unknown/unknown): {days[1]}, {days[3]} to {days[4]} (3 days)"
        in text
    )
    assert day_ranges(["2024-02-28", "2024-02-29", "2024-03-01", "2024-03-03"]) == [
        ("2024-02-28", "2024-03-01"),
        ("2024-03-03", "2024-03-03"),
    ]


def test_a_native_file_is_described_from_its_footer(sample):
    (row,) = catalog(sample.orderbook)
    assert (row.venue, row.market, row.symbol, row.kind) == (
        "unknown",
        "unknown",
        "BTC/USDT",
        "orderbook",
    )
    assert row.rows == 126073
    assert (row.first_day, row.last_day, row.files) == ("2024-08-08", "2024-08-09", 1)


def test_a_native_file_of_several_symbols_counts_each(tmp_path):
    btc, eth = synthetic_trades(3000, 1, "BTC/USDT"), synthetic_trades(1000, 2, "ETH/USDT")
    path = write_parquet(str(tmp_path / "two.parquet"), [btc, eth], ChannelType.TICK)
    rows = catalog(path)
    assert [(r.symbol, r.rows, r.kind) for r in rows] == [
        ("BTC/USDT", 3000, "tick"),
        ("ETH/USDT", 1000, "tick"),
    ]
    assert rows[0].start_ns == btc.column("timestamp")[0].as_py()
    assert rows[1].end_ns == eth.column("timestamp")[-1].as_py()


def test_what_is_not_a_dataset_is_a_usage_error_naming_it(tmp_path, sample):
    csv = tmp_path / "trades.csv"
    csv.write_text("timestamp,price,volume,side\n1,1,1,buy\n")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(open(sample.trades, "rb").read()[:5000])
    plain = tmp_path / "plain"
    plain.mkdir()
    cases = {
        str(tmp_path / "nowhere"): "no such file or directory",
        str(csv): "not a Parquet file",
        str(broken): "not a readable Parquet file",
        str(plain): "not a partitioned directory",
    }
    for path, why in cases.items():
        with pytest.raises(UsageError, match=why) as err:
            data("data", "ls", path)
        assert path in str(err.value)
    with pytest.raises(UsageError, match="data ls PATH"):
        data("data")


def test_an_empty_partitioned_directory_holds_no_data(tmp_path, capsys):
    (tmp_path / "empty" / "channel=tick").mkdir(parents=True)
    assert catalog(str(tmp_path / "empty")) == []
    assert data("data", "ls", str(tmp_path / "empty")) == 0
    assert "no data" in capsys.readouterr().out
