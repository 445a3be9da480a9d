"""Native-schema reader: CSV, .csv.gz, Parquet, DataFrame; bad input located exactly."""

import gzip

import pandas as pd
import pyarrow.parquet as pq
import pytest

from backtrader_channels import DataError, OrderBookEvent, TickEvent
from backtrader_channels.sources import read_native
from backtrader_channels.sources.convert import contents

HEADER = "timestamp,price,volume,side,trade_id\n"
GOOD = ["1000,100.5,0.1,buy,1\n", "1000,100.6,0.2,sell,2\n", "2000,100.4,0.3,buy,3\n"]


def events(path, kind="tick", symbol="BTC/USDT", chunk_rows=65_536):
    return [e for _, chunk in read_native(path, kind, symbol, chunk_rows) for e in chunk]


def write(tmp_path, rows, name="t.csv", header=HEADER):
    p = tmp_path / name
    text = header + "".join(rows)
    if name.endswith(".gz"):
        p.write_bytes(gzip.compress(text.encode()))
    else:
        p.write_text(text)
    return str(p)


def test_csv_and_gzip_read_the_same_events(tmp_path):
    a = events(write(tmp_path, GOOD))
    b = events(write(tmp_path, GOOD, "t.csv.gz"))
    assert a == b
    assert a[0] == TickEvent(1000, 100.5, 0.1, "buy", 1, "BTC/USDT", 1000)
    assert [e.direction for e in a] == ["buy", "sell", "buy"]


def test_parquet_and_dataframe_round_trip(tmp_path, capture_tables):
    table = capture_tables["tick"]
    path = tmp_path / "trades.parquet"
    pq.write_table(table, path)
    from_file = events(str(path), chunk_rows=1000)
    from_df = events(table.to_pandas())
    assert from_file == from_df
    assert len(from_file) == 9757
    assert from_file[0].trade_id == table.column("trade_id")[0].as_py()


def test_symbol_column_selects_rows(tmp_path):
    header = "timestamp,symbol,price,volume,side\n"
    rows = ["1,BTC/USDT,10,1,buy\n", "2,ETH/USDT,5,1,buy\n", "3,BTC/USDT,11,1,sell\n"]
    path = write(tmp_path, rows, header=header)
    assert [e.price for e in events(path)] == [10.0, 11.0]
    assert [e.price for e in events(path, symbol="ETH/USDT")] == [5.0]


@pytest.mark.parametrize(
    ("bad_row", "line", "column", "reason"),
    [
        ("3000,abc,0.1,buy,4\n", 5, "price", "not a valid double"),
        ("3000,-1.0,0.1,buy,4\n", 5, "price", "price must be > 0"),
        ("3000,0,0.1,buy,4\n", 5, "price", "price must be > 0"),
        ("3000,100,-0.1,buy,4\n", 5, "volume", "volume must be >= 0"),
        ("3000,100,0.1,hold,4\n", 5, "side", "unknown side"),
        ("1500,100,0.1,buy,4\n", 5, "timestamp", "timestamp goes backwards"),
        ("3000,,0.1,buy,4\n", 5, "price", "missing value"),
    ],
)
def test_bad_rows_name_file_line_column_value(tmp_path, bad_row, line, column, reason):
    path = write(tmp_path, [*GOOD, bad_row])
    with pytest.raises(DataError) as info:
        events(path)
    err = info.value
    assert (err.source, err.line, err.column) == (path, line, column)
    assert reason in str(err)
    assert f"{path}, line {line}, column '{column}'" in str(err)


def test_short_row_is_located(tmp_path):
    path = write(tmp_path, [*GOOD, "3000,100\n"])
    with pytest.raises(DataError, match=r"line 5: expected 5 fields, got 2"):
        events(path)


def test_a_long_row_is_located_when_the_symbols_are_read_from_the_file(tmp_path):
    """What ``backtest --data`` and ``inspect`` do first: the symbols the file holds."""
    rows = ["1000,100.5,0.1,buy,1,BTC/USDT\n", "1000,100.6,0.2,sell,2,BTC/USDT,9\n"]
    path = write(tmp_path, rows, header="timestamp,price,volume,side,trade_id,symbol\n")
    assert contents(path) == [("tick", "BTC/USDT")]
    with pytest.raises(DataError, match=r"t.csv, line 3: expected 6 fields, got 7"):
        events(path)


def test_missing_column_is_named(tmp_path):
    path = write(tmp_path, ["1,2,buy\n"], header="timestamp,price,side\n")
    with pytest.raises(DataError, match=r"line 1, column 'volume': missing required column"):
        events(path)


def test_bad_row_in_a_later_chunk_is_located(tmp_path):
    rows = [f"{i},100.0,1.0,buy,{i}\n" for i in range(1, 50_001)]
    rows[42_000] = "42001,100.0,1.0,short,42001\n"
    path = write(tmp_path, rows)
    with pytest.raises(DataError) as info:
        events(path)
    assert info.value.line == 42_002
    assert info.value.value == "short"


def test_truncated_gzip_is_an_error(tmp_path):
    rows = [f"{i},100.0,1.0,buy,{i}\n" for i in range(1, 20_001)]
    path = tmp_path / "t.csv.gz"
    data = gzip.compress((HEADER + "".join(rows)).encode())
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="truncated"):
        events(str(path))


def test_parquet_errors_name_the_row(tmp_path):
    df = pd.DataFrame(
        {
            "timestamp": [1, 2, 3],
            "price": [1.0, 2.0, -3.0],
            "volume": [1.0, 1.0, 1.0],
            "side": ["buy", "buy", "sell"],
        }
    )
    path = tmp_path / "t.parquet"
    df.to_parquet(path)
    with pytest.raises(DataError, match=r"t.parquet, row 2, column 'price': price must be > 0"):
        events(str(path))


def test_book_rows_group_into_events_across_chunks(tmp_path, capture_tables):
    book = capture_tables["orderbook"]
    whole = events(book, "orderbook")
    small = events(book, "orderbook", chunk_rows=777)
    assert whole == small
    assert len(whole) == 3450
    assert isinstance(whole[0], OrderBookEvent)
    assert whole[0].is_snapshot
    assert len(whole[0].bids) == 1000
    assert len(whole[0].asks) == 1000
    assert not any(e.is_snapshot for e in whole[1:])


def test_files_of_a_glob_continue_in_time(tmp_path):
    d = tmp_path / "days"
    d.mkdir()
    write(d, GOOD[:2], "a.csv")
    write(d, GOOD[2:], "b.csv")
    assert len(events(str(d / "*.csv"))) == 3
    assert len(events(str(d))) == 3
    write(d, ["500,1,1,buy,9\n"], "c.csv")
    with pytest.raises(DataError, match=r"c\.csv, line 2, column 'timestamp'"):
        events(str(d))


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.csv"):
        events(str(tmp_path / "nope.csv"))
