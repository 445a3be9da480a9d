"""Bybit's public archive: trades (derivatives and spot layouts) and ob500 book archives."""

import gzip
import json
import zipfile

import pytest

import backtrader_channels as btch
from backtrader_channels import ChannelError, DataError, OrderBookChannel
from backtrader_channels.sources import SkipReport
from backtrader_channels.sources.convert import contents, convert
from backtrader_channels.sources.formats import detect_format, open_source
from backtrader_channels.venues.bybit.archive_writer import (
    book_messages,
    write_book,
    write_trades,
)


def events(path, kind="tick", symbol="BTC/USDT", **kw):
    return [e for _, chunk in open_source(str(path), kind, symbol, **kw) for e in chunk]


@pytest.fixture(scope="module")
def bybit():
    return btch.datasets.bybit_btcusdt_sample()


@pytest.fixture(scope="module")
def binance_ticks(sample):
    return events(sample.trades)


def test_bundled_trades_read_exactly(bybit, binance_ticks):
    assert detect_format(bybit.trades) == "bybit"
    got = events(bybit.trades, venue="bybit")
    assert len(got) == len(binance_ticks) == 9757
    lag = 150_000_000  # the sample is the Binance recording, 150 ms later
    for b, t in zip(got, binance_ticks):
        assert (b.timestamp, b.price, b.volume, b.direction) == (
            t.timestamp + lag,
            t.price,
            t.volume,
            t.direction,
        )
        assert b.trade_id is None
        assert b.venue == "bybit"
        assert b.symbol == "BTC/USDT"


def test_bundled_book_rebuilds_never_crossed_and_equal_to_each_snapshot(bybit):
    assert detect_format(bybit.orderbook) == "bybit"
    evs = events(bybit.orderbook, "orderbook")
    assert len(evs) == 3453
    assert sum(e.is_snapshot for e in evs) == 4  # the first, then one after each 1,000 deltas
    book = OrderBookChannel("BTC/USDT")
    compared = 0
    for ev in evs:
        if ev.is_snapshot and book.count:
            assert (dict(ev.bids), dict(ev.asks)) == (book.bids, book.asks)
            compared += 1
        assert book.push(ev)
        assert book.best_bid_price < book.best_ask_price
    assert compared == 3
    assert not book.refused


def test_book_matches_the_binance_book_it_came_from(bybit, sample):
    a, b = OrderBookChannel("BTC/USDT"), OrderBookChannel("BTC/USDT")
    for ev in events(sample.orderbook, "orderbook"):
        a.push(ev)
    for ev in events(bybit.orderbook, "orderbook"):
        b.push(ev)
    assert (a.bids, a.asks) == (b.bids, b.asks)


def _messages(path):
    with zipfile.ZipFile(path) as zf:
        return [json.loads(line) for line in zf.read(zf.namelist()[0]).splitlines()]


def _book(tmp_path, msgs, name="2024-12-01_BTCUSDT_ob500.data.zip"):
    path = tmp_path / name
    write_book(str(path), msgs)
    return path


def test_a_gap_in_u_is_refused_until_the_next_snapshot(tmp_path, bybit):
    msgs = _messages(bybit.orderbook)[:1200]
    del msgs[10]  # a lost delta: u jumps by 2
    evs = events(_book(tmp_path, msgs), "orderbook")
    book = OrderBookChannel("BTC/USDT")
    applied = [book.push(e) for e in evs]
    assert book.gaps == [(11, 11)]  # the snapshot is u=1, the lost delta u=11
    resumed = next(i for i, e in enumerate(evs) if e.is_snapshot and i > 0)
    assert all(applied[:10])
    assert not any(applied[10:resumed])
    assert all(applied[resumed:])
    assert book.refused["gap"] == 1
    assert book.refused["unsynced"] == resumed - 11


def test_an_empty_delta_advances_u_without_a_gap(tmp_path, bybit):
    msgs = _messages(bybit.orderbook)[:50]
    msgs[5]["data"]["b"], msgs[5]["data"]["a"] = [], []
    evs = events(_book(tmp_path, msgs), "orderbook")
    assert len(evs) == 49
    book = OrderBookChannel("BTC/USDT")
    assert all(book.push(e) for e in evs)
    assert not book.gaps


def test_bad_book_line_is_named(tmp_path, bybit):
    msgs = _messages(bybit.orderbook)[:30]
    path = tmp_path / "2024-12-01_BTCUSDT_ob500.data"
    lines = [json.dumps(m) for m in msgs]
    lines[16] = lines[16].replace('"delta"', '"deltaa"')
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"ob500.data, line 17: .*neither 'snapshot' nor"):
        events(path, "orderbook")
    lines[16] = lines[16][:50]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"line 17: not a Bybit book message"):
        events(path, "orderbook")


def test_a_damaged_zip_is_reported(tmp_path, bybit):
    data = open(bybit.orderbook, "rb").read()
    path = tmp_path / "2024-12-01_BTCUSDT_ob500.data.zip"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="damaged or truncated"):
        events(path, "orderbook")


def test_a_book_archive_is_not_trades(bybit):
    with pytest.raises(ChannelError, match="order-book data, not 'tick'"):
        events(bybit.orderbook, "tick")
    with pytest.raises(ChannelError, match="trades, not 'orderbook'"):
        events(bybit.trades, "orderbook")


def test_bad_trade_rows_are_named_or_skipped(tmp_path, bybit):
    with gzip.open(bybit.trades, "rt") as fh:
        lines = fh.read().splitlines()[:200]
    lines[50] = lines[50].replace(",Sell,", ",Hold,").replace(",Buy,", ",Hold,")
    path = tmp_path / "BTCUSDT2024-08-08.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as info:
        events(path)
    assert (info.value.line, info.value.column, info.value.value) == (51, "side", "hold")
    lines[80] = lines[80].rsplit(",", 6)[0]  # cut short
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"BTCUSDT2024-08-08.csv, line 81: expected 10 fields"):
        events(path)
    skip = SkipReport()
    got = events(path, on_error="skip", skip=skip)
    assert len(got) == 199 - 2
    assert sum(skip.as_dict()[str(path)].values()) == 2


def test_spot_layout(tmp_path, binance_ticks):
    path = tmp_path / "BTCUSDT_2024-08-08.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("id,timestamp,price,volume,side,rpi\n")
        for i, t in enumerate(binance_ticks[:100], 1):
            fh.write(f"{i},{t.timestamp // 1_000_000},{t.price},{t.volume},{t.direction},0\n")
    assert detect_format(str(path)) == "bybit"
    got = events(path)
    assert [(e.timestamp, e.price, e.volume, e.direction) for e in got] == [
        (t.timestamp, t.price, t.volume, t.direction) for t in binance_ticks[:100]
    ]
    assert [e.trade_id for e in got] == list(range(1, 101))
    assert contents(str(path)) == [("tick", "BTCUSDT")]


def test_other_symbols_in_a_file_are_named_not_read(tmp_path, binance_ticks):
    path = tmp_path / "MIX2024-08-08.csv"
    write_trades(str(path) + ".gz", binance_ticks[:10], symbol="ETHUSDT")
    with pytest.raises(ChannelError, match=r"no 'tick' data for 'BTC/USDT'.*holds: tick ETHUSDT"):
        events(str(path) + ".gz")
    assert len(events(str(path) + ".gz", symbol="ETH/USDT")) == 10


def test_convert_then_read(tmp_path, bybit):
    out = tmp_path / "native"
    summary = convert([bybit.trades, bybit.orderbook], str(out), progress=False)
    assert summary["events"] == {
        "tick:BTCUSDT@bybit/linear": 9757,
        "orderbook:BTCUSDT@bybit/linear": 3453,
    }
    assert len(events(out, symbol="BTCUSDT")) == 9757
    assert len(events(out, "orderbook", symbol="BTCUSDT")) == 3453
    assert contents(bybit.orderbook) == [("orderbook", "BTCUSDT")]


def test_book_messages_round_trip(tmp_path, sample):
    evs = events(sample.orderbook, "orderbook")[:300]
    path = _book(tmp_path, book_messages(evs, snapshot_every=100))
    back = events(path, "orderbook")
    assert sum(e.is_snapshot for e in back) == 1 + 2  # after deltas 100 and 200 (299 deltas)
