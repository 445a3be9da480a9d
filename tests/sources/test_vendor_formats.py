"""Tardis, Binance dump and raw capture readers against the native reading of the same data."""

import gzip

import pytest

from backtrader_channels import ChannelError, DataError, OrderBookChannel
from backtrader_channels.sources import SkipReport
from backtrader_channels.sources.convert import contents
from backtrader_channels.sources.formats import detect_format, open_source

from . import shapes


def events(path, kind="tick", symbol="BTC/USDT", **kw):
    return [e for _, chunk in open_source(path, kind, symbol, **kw) for e in chunk]


def native(tables, kind):
    return events(tables[kind], kind)


def us(ns):
    return ns // 1000 * 1000


def test_tardis_trades_equal_native(tmp_path, capture_tables):
    path = shapes.tardis_trades(
        capture_tables, tmp_path / "binance_trades_2024-08-08.csv.gz", extra_symbol=True
    )
    assert detect_format(path) == "tardis"
    got = events(path)
    want = native(capture_tables, "tick")
    assert len(got) == len(want) == 9757  # the interleaved ETHUSDT rows are not ours
    for g, w in zip(got, want):
        assert (g.timestamp, g.price, g.volume, g.direction, g.trade_id) == (
            w.timestamp,
            w.price,
            w.volume,
            w.direction,
            w.trade_id,
        )
        assert g.recv_timestamp == us(w.recv_timestamp)
    eth = events(path, symbol="ETHUSDT")
    assert len(eth) == 3253
    assert all(e.price == 2600.5 for e in eth)


def test_tardis_quotes_equal_native(tmp_path, capture_tables):
    path = shapes.tardis_quotes(capture_tables, tmp_path / "quotes.csv")
    got, want = events(path, "quote"), native(capture_tables, "quote")
    assert [(g.bid_price, g.bid_size, g.ask_price, g.ask_size) for g in got] == [
        (w.bid_price, w.bid_size, w.ask_price, w.ask_size) for w in want
    ]


def test_tardis_incremental_l2_rebuilds_the_same_book(tmp_path, capture_tables):
    path = shapes.tardis_l2(capture_tables, tmp_path / "incremental_book_L2.csv.gz")
    a, b = OrderBookChannel("X", require_snapshot=True), OrderBookChannel("X")
    got, want = events(path, "orderbook"), native(capture_tables, "orderbook")
    assert len(got) == len(want) == 3450
    assert got[0].is_snapshot
    for g, w in zip(got, want):
        assert a.push(g)
        assert b.push(w)
        assert (a.best_bid, a.best_ask) == (b.best_bid, b.best_ask)
    assert a.levels(50) == b.levels(50)


def test_tardis_book_snapshot_5(tmp_path, capture_tables):
    path, tops = shapes.tardis_snapshots(capture_tables, tmp_path / "book_snapshot_5.csv")
    got = events(path, "orderbook")
    assert len(got) == len(tops)
    book = OrderBookChannel("X")
    for ev, (bids, asks) in zip(got, tops):
        assert ev.is_snapshot
        assert book.push(ev)
        assert book.levels(5) == (bids, asks)


def test_tardis_type_mismatch_is_explained(tmp_path, capture_tables):
    path = shapes.tardis_quotes(capture_tables, tmp_path / "quotes.csv")
    with pytest.raises(ChannelError, match="Tardis 'quotes' data, which feeds a 'quote' channel"):
        events(path, "tick")


@pytest.mark.parametrize(
    ("layout", "unit", "name"),
    [
        ("spot", "ms", "BTCUSDT-trades-2024-08-08.csv"),
        ("spot", "us", "BTCUSDT-trades-2025-01-01.csv"),
        ("futures", "ms", "BTCUSDT-trades-2024-08-08.csv"),
    ],
)
def test_binance_trade_dumps(tmp_path, capture_tables, layout, unit, name):
    path = shapes.binance_trades(capture_tables, tmp_path / name, layout, unit)
    assert detect_format(path) == "binance"
    got, want = events(path), native(capture_tables, "tick")
    assert [(g.timestamp, g.price, g.volume, g.direction, g.trade_id) for g in got] == [
        (w.timestamp, w.price, w.volume, w.direction, w.trade_id) for w in want
    ]


@pytest.mark.parametrize("layout", ["spot", "futures"])
def test_binance_agg_trade_dumps(tmp_path, capture_tables, layout):
    path = shapes.binance_agg_trades(
        capture_tables, tmp_path / "BTCUSDT-aggTrades-2024-08.csv", layout
    )
    got = events(path)
    want = native(capture_tables, "tick")
    assert [(g.timestamp, g.price, g.direction) for g in got] == [
        (w.timestamp, w.price, w.direction) for w in want
    ]
    assert got[0].trade_id == 1000


def test_raw_capture_equals_bundled_sample(capture_path, sample):
    assert detect_format(capture_path) == "binance_ws"
    for kind, path in (
        ("tick", sample.trades),
        ("quote", sample.quotes),
        ("orderbook", sample.orderbook),
    ):
        assert events(capture_path, kind) == events(path, kind)


# ---- bad input ---------------------------------------------------------------------------------
def test_tardis_bad_price_is_located(tmp_path, capture_tables):
    path = shapes.tardis_trades(capture_tables, tmp_path / "t.csv")
    lines = open(path).read().splitlines()
    lines[100] = lines[100].rsplit(",", 2)[0] + ",-5.0,0.1"
    open(path, "w").write("\n".join(lines) + "\n")
    with pytest.raises(DataError) as info:
        events(path)
    assert (info.value.line, info.value.column, info.value.value) == (101, "price", -5.0)


def test_tardis_truncated_gzip(tmp_path, capture_tables):
    path = shapes.tardis_trades(capture_tables, tmp_path / "t.csv.gz")
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) * 2 // 3])
    with pytest.raises(DataError, match="truncated"):
        events(path)


def test_headerless_dump_bad_value_line(tmp_path, capture_tables):
    path = shapes.binance_trades(capture_tables, tmp_path / "BTCUSDT-trades-2024-08-08.csv")
    lines = open(path).read().splitlines()
    lines[41] = lines[41].replace(",True,True", ",maybe,True")
    open(path, "w").write("\n".join(lines) + "\n")
    with pytest.raises(DataError) as info:
        events(path)
    assert (info.value.line, info.value.column, info.value.value) == (42, "is_buyer_maker", "maybe")


def test_capture_bad_json_line(tmp_path, capture_path):
    with gzip.open(capture_path, "rt") as fh:
        lines = fh.read().splitlines()[:50]
    lines[19] = lines[19][:40]
    path = tmp_path / "cap.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"cap.jsonl, line 20: not '<receive_ns> <json>'"):
        events(str(path), "quote")


def test_capture_bad_lines_skipped_once_for_every_channel(tmp_path, capture_path):
    with gzip.open(capture_path, "rt") as fh:
        lines = fh.read().splitlines()[:400]
    trade, other = [i for i, ln in enumerate(lines) if "@trade" in ln][3:5]
    quote = [i for i, ln in enumerate(lines) if "@bookTicker" in ln][5]
    good = tmp_path / "good.jsonl"
    bad = (trade, other, quote)
    good.write_text("\n".join(ln for i, ln in enumerate(lines) if i not in bad) + "\n")
    lines[trade] = lines[trade][:60]  # a truncated trade frame
    lines[other] = lines[other].partition(" ")[0] + ' {"stream":"btcusdt@trade","data":{}}'
    lines[quote] = "garbage"
    path = tmp_path / "cap.jsonl"
    path.write_text("\n".join(lines) + "\n")
    # what backtest --data and inspect ask first: the file's channels, bad lines and all
    assert ("tick", "BTCUSDT") in contents(str(path))
    skip = SkipReport()
    for kind in ("tick", "quote", "orderbook"):  # one read of the file per channel type
        got = events(str(path), kind, on_error="skip", skip=skip)
        assert got == events(str(good), kind)
    assert skip.as_dict() == {str(path): {"not '<receive_ns> <json>'": 2, "unexpected frame": 1}}


def test_skip_mode_counts_per_file_and_reason(tmp_path, capture_tables):
    path = shapes.tardis_trades(capture_tables, tmp_path / "t.csv")
    lines = open(path).read().splitlines()
    lines[10] = lines[10].rsplit(",", 2)[0] + ",abc,0.1"  # not a number
    lines[20] = lines[20].replace(",buy,", ",hold,").replace(",sell,", ",hold,")
    lines[30] = lines[30].rsplit(",", 1)[0] + ",-1"  # negative size
    lines[40] = "binance,BTCUSDT,1"  # too few fields
    open(path, "w").write("\n".join(lines) + "\n")
    skip = SkipReport()
    got = events(path, on_error="skip", skip=skip)
    assert len(got) == 9757 - 4
    reasons = skip.as_dict()[path]
    assert reasons["wrong number of fields"] == 1
    assert reasons["volume must be >= 0"] == 1
    assert sum(reasons.values()) == 4
    assert any("not a valid double" in r for r in reasons)
    assert any("unknown side" in r for r in reasons)


def test_undetectable_file(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(ChannelError, match="cannot tell the format"):
        events(str(p))
