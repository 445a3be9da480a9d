"""Binance's futures dumps (fundingRate, mark / index / premium index klines) and Tardis's
``derivative_ticker``: files written by these tests in the published layouts (GENERATED values)."""

import gzip
import math
import zipfile

import pytest

from backtrader_channels import DataError
from backtrader_channels.sources.contents import file_contents
from backtrader_channels.sources.formats import detect_format, open_source
from backtrader_channels.sources.registry import Content

MS = 1_000_000
H = 3_600_000 * MS
KLINE_HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,"
    "taker_buy_quote_volume,ignore\n"
)
FUNDING = (
    "calc_time,funding_interval_hours,last_funding_rate\n"
    "1722470400000,8,0.00010000\n"
    "1722499200000,8,0.00007319\n"
    "1722528000001,4,-0.00002100\n"
)
KLINES = (
    "1723161600000,2681.50,2682.00,2681.00,2681.75,0,1723161659999,0,60,0,0,0\n"
    "1723161660000,2681.75,2683.00,2681.50,2682.90,0,1723161719999,0,60,0,0,0\n"
)


def events(path, symbol="ETH/USDT:USDT", **kw):
    return [e for _, c in open_source(str(path), "derivative", symbol, **kw) for e in c]


def _zip(path, inner_name, text):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(inner_name, text)
    return path


@pytest.mark.parametrize("packing", ["csv", "csv.gz", "zip"])
def test_funding_rate_settlements(tmp_path, packing):
    name = "ETHUSDT-fundingRate-2024-08"
    if packing == "csv":
        path = tmp_path / f"{name}.csv"
        path.write_text(FUNDING)
    elif packing == "csv.gz":
        path = tmp_path / f"{name}.csv.gz"
        path.write_bytes(gzip.compress(FUNDING.encode()))
    else:
        path = _zip(tmp_path / f"{name}.zip", f"{name}.csv", FUNDING)
    assert detect_format(str(path)) == "binance_futures"
    assert file_contents(str(path)) == [Content("derivative", "ETH/USDT:USDT", "binance", "linear")]
    got = events(path)
    assert [(e.timestamp, e.funding_ts, e.funding_rate, e.next_funding_ts) for e in got] == [
        (1722470400000 * MS, 1722470400000 * MS, 0.0001, 1722470400000 * MS + 8 * H),
        (1722499200000 * MS, 1722499200000 * MS, 0.00007319, 1722499200000 * MS + 8 * H),
        (1722528000001 * MS, 1722528000001 * MS, -0.000021, 1722528000001 * MS + 4 * H),
    ]
    assert all(e.is_settlement and math.isnan(e.mark_price) for e in got)
    assert len(events(path, "ETHUSDT")) == 3


def test_another_symbol_names_what_the_dump_holds(tmp_path):
    path = tmp_path / "ETHUSDT-fundingRate-2024-08.csv"
    path.write_text(FUNDING)
    with pytest.raises(Exception, match=r"derivative ETH/USDT:USDT \(binance/linear\)"):
        events(path, "BTC/USDT:USDT")


@pytest.mark.parametrize("header", [True, False])
def test_mark_and_index_klines_at_close_time(tmp_path, header):
    text = (KLINE_HEADER if header else "") + KLINES
    folder = tmp_path / "data" / "futures" / "cm" / "daily"
    folder.mkdir(parents=True)
    mark = folder / "ETHUSD_PERP-markPriceKlines-1m-2024-08-09.csv"
    mark.write_text(text)
    index = tmp_path / "ETHUSDT-indexPriceKlines-1m-2024-08-09.csv"
    index.write_text(text)
    assert file_contents(str(mark)) == [Content("derivative", "ETH/USD:ETH", "binance", "inverse")]
    got = events(mark, "ETH/USD:ETH")
    assert [(e.timestamp, e.mark_price) for e in got] == [
        (1723161659999 * MS, 2681.75),
        (1723161719999 * MS, 2682.9),
    ]
    assert all(math.isnan(e.index_price) and math.isnan(e.funding_rate) for e in got)
    got = events(index, format="binance")  # the trade dumps' format name reads them too
    assert [e.index_price for e in got] == [2681.75, 2682.9]
    assert all(math.isnan(e.mark_price) for e in got)


def test_market_from_the_path(tmp_path):
    folder = tmp_path / "futures" / "cm"
    folder.mkdir(parents=True)
    path = folder / "ETHUSDT-markPriceKlines-1m-2024-08-09.csv"
    path.write_text(KLINES)
    assert file_contents(str(path))[0].market == "inverse"  # the path says COIN-M


def test_premium_index_klines_are_a_funding_estimate(tmp_path):
    path = tmp_path / "ETHUSDT-premiumIndexKlines-1m-2024-08-09.csv"
    path.write_text(
        KLINE_HEADER
        + "1723161600000,0,0,0,0.00012,0,1723161659999,0,12,0,0,0\n"
        + "1723161660000,0,0,0,-0.0009,0,1723161719999,0,12,0,0,0\n"
        + "1723161720000,0,0,0,0.0008,0,1723161779999,0,12,0,0,0\n"
    )
    got = events(path)
    # premium + clamp(0.01% - premium, -0.05%, 0.05%)
    assert [round(e.funding_rate, 10) for e in got] == [0.0001, -0.0004, 0.0003]
    assert all(math.isnan(e.mark_price) and math.isnan(e.index_price) for e in got)


def test_bad_values_are_located(tmp_path):
    path = tmp_path / "ETHUSDT-fundingRate-2024-08.csv"
    path.write_text(FUNDING.replace("0.00007319", "x7319"))
    with pytest.raises(DataError) as err:
        events(path)
    assert (err.value.line, err.value.column) == (3, "last_funding_rate")
    assert err.value.source == str(path)
    zipped = _zip(tmp_path / "ETHUSDT-fundingRate-2024-09.zip", "x.csv", path.read_text())
    with pytest.raises(DataError) as err:
        events(zipped)
    assert err.value.source == str(zipped)
    assert err.value.line == 3
    short = tmp_path / "ETHUSDT-markPriceKlines-1m-2024-08-09.csv"
    short.write_text("1723161600000,2681.50,2682.00\n")
    with pytest.raises(DataError, match="has 12 fields, got 3") as err:
        events(short)
    assert err.value.line == 1
    negative = tmp_path / "ETHUSDT-markPriceKlines-1m-2024-08-10.csv"
    negative.write_text(KLINES.replace("2682.90", "-2682.90"))
    with pytest.raises(DataError, match="mark_price must be > 0") as err:
        events(negative)
    assert err.value.line == 2


TARDIS = (
    "exchange,symbol,timestamp,local_timestamp,funding_timestamp,funding_rate,"
    "predicted_funding_rate,open_interest,last_price,index_price,mark_price\n"
    "binance-futures,ETHUSDT,1723161599000000,1723161599012345,1723161600000000,0.0001,,"
    "1234.5,2681.6,2681.1,2681.55\n"
    "binance-futures,BTCUSDT,1723161599000000,1723161599012345,1723161600000000,0.0001,,"
    "1234.5,61000,61000,61001\n"
    "binance-futures,ETHUSDT,1723161600000000,1723161600010000,1723190400000000,0.00005,,"
    "1234.5,2681.7,,2681.65\n"
)


def test_tardis_derivative_ticker(tmp_path):
    path = tmp_path / "binance-futures_derivative_ticker_2024-08-08_ETHUSDT.csv.gz"
    path.write_bytes(gzip.compress(TARDIS.encode()))
    assert detect_format(str(path)) == "tardis"
    assert file_contents(str(path)) == [
        Content("derivative", "BTCUSDT", "binance", "linear"),
        Content("derivative", "ETHUSDT", "binance", "linear"),
    ]
    got = events(path, venue="binance")
    assert len(got) == 2
    a, b = got
    assert (a.timestamp, a.recv_timestamp) == (1723161599000000000, 1723161599012345000)
    assert (a.mark_price, a.index_price, a.funding_rate) == (2681.55, 2681.1, 0.0001)
    assert a.next_funding_ts == 1723161600000000000
    assert a.funding_ts is None
    assert b.mark_price == 2681.65
    assert math.isnan(b.index_price)
    assert b.next_funding_ts == 1723190400000000000


def test_tardis_derivative_ticker_bad_value(tmp_path):
    path = tmp_path / "derivative_ticker.csv"
    path.write_text(TARDIS.replace("2681.65", "2681,65x"))
    with pytest.raises(DataError) as err:
        events(path)
    assert err.value.line == 4
    path.write_text(TARDIS.replace("2681.55", "abc"))
    with pytest.raises(DataError) as err:
        events(path)
    assert (err.value.line, err.value.column) == (2, "mark_price")
