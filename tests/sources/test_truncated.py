"""Every reader, given a file cut short or damaged (made here from the bundled data), raises a
DataError naming the file and where it broke (issue 35, item 6)."""

from __future__ import annotations

import gzip
import os
import re

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from backtrader_channels import DataError
from backtrader_channels.sources.convert import contents
from backtrader_channels.sources.formats import open_source

from . import shapes


def read(path, kind="tick"):
    return sum(len(c) for _, c in open_source(str(path), kind, "BTC/USDT"))


def cut(src, dst, fraction=0.6):
    data = open(src, "rb").read()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return str(dst)


def gzip_file(src, dst):
    with open(src, "rb") as f, gzip.open(dst, "wb") as g:
        g.write(f.read())
    return str(dst)


def whole_lines(path):
    """The lines of a cut gzip file that still decompress whole."""
    n = 0
    try:
        with gzip.open(path, "rb") as fh:
            for block in iter(lambda: fh.read1(4096), b""):
                n += block.count(b"\n")
    except EOFError:
        pass
    return n


def assert_after_line(info, path):
    msg = str(info.value)
    assert msg.startswith(str(path))
    assert "truncated" in msg
    m = re.search(r"after line (\d+)", msg)
    assert m, msg
    assert int(m.group(1)) == whole_lines(path)


@pytest.fixture
def native_csv(tmp_path, sample):
    path = tmp_path / "trades.csv"
    pacsv.write_csv(pq.read_table(sample.trades), path)
    return path


def test_plain_csv_cut_mid_line_names_its_last_line(tmp_path, native_csv):
    path = cut(native_csv, tmp_path / "cut.csv")
    lines = open(path).read().count("\n") + 1
    assert not open(path).read().endswith("\n")
    for call in (lambda: read(path), lambda: contents(path)):
        with pytest.raises(DataError, match="cut short") as info:
            call()
        assert (info.value.source, info.value.line) == (path, lines)


def test_native_csv_gz(tmp_path, native_csv):
    path = cut(gzip_file(native_csv, tmp_path / "t.csv.gz"), tmp_path / "cut.csv.gz")
    with pytest.raises(DataError) as info:
        read(path)
    assert_after_line(info, path)
    with pytest.raises(DataError) as info:
        contents(path)
    assert_after_line(info, path)


def test_parquet_without_its_footer(tmp_path, sample):
    path = cut(sample.trades, tmp_path / "cut.parquet")
    with pytest.raises(DataError, match=r"cut\.parquet: not a readable Parquet.*truncated"):
        read(path)


def test_parquet_with_a_damaged_row_group_names_it(tmp_path, sample):
    path = tmp_path / "rg.parquet"
    pq.write_table(pq.read_table(sample.trades), path, row_group_size=2000)
    meta = pq.ParquetFile(path).metadata
    data = bytearray(path.read_bytes())
    off = meta.row_group(2).column(1).data_page_offset
    for i in range(off + 20, off + 400):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    with pytest.raises(
        DataError, match=r"rg\.parquet, row 4000: row group 2 of 5 \(rows 4000-5999\)"
    ):
        sum(len(c) for _, c in open_source(str(path), "tick", "BTC/USDT", chunk_rows=1000))


def test_tardis_gz(tmp_path, capture_tables):
    src = shapes.tardis_trades(capture_tables, tmp_path / "trades.csv.gz")
    path = cut(src, tmp_path / "binance_trades_cut.csv.gz")
    with pytest.raises(DataError) as info:
        read(path)
    assert_after_line(info, path)


def test_binance_dump_cut_mid_line(tmp_path, capture_tables):
    src = shapes.binance_trades(capture_tables, tmp_path / "BTCUSDT-trades-2024-08-08.csv")
    os.makedirs(tmp_path / "cut")
    path = cut(src, tmp_path / "cut" / "BTCUSDT-trades-2024-08-08.csv", 0.5)
    with pytest.raises(DataError, match="cut short") as info:
        read(path)
    assert info.value.line == open(path).read().count("\n") + 1


def test_raw_binance_capture_gz(tmp_path, capture_path):
    """The issue's case: ``EOFError: Compressed file ended ...`` without a file name, from the
    first thing ``backtest --data`` and ``convert`` ask (what the file holds)."""
    path = cut(capture_path, tmp_path / "cap.jsonl.gz")
    for call in (lambda: contents(path), lambda: read(path, "quote")):
        with pytest.raises(DataError) as info:
            call()
        assert_after_line(info, path)


def test_bybit_trades_gz(tmp_path):
    import backtrader_channels as btch

    src = btch.datasets.bybit_btcusdt_sample().trades
    path = cut(src, tmp_path / "BTCUSDT2024-08-08.csv.gz")
    with pytest.raises(DataError) as info:
        read(path)
    assert_after_line(info, path)


def test_bybit_ob500_zip(tmp_path):
    import backtrader_channels as btch

    src = btch.datasets.bybit_btcusdt_sample().orderbook
    path = cut(src, tmp_path / "2024-08-08_BTCUSDT_ob500.data.zip")
    size = os.path.getsize(path)
    for call in (lambda: contents(path), lambda: read(path, "orderbook")):
        with pytest.raises(DataError, match=f"truncated.*{size:,} bytes") as info:
            call()
        assert info.value.source == path
