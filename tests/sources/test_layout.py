"""The partitioned layout keeps venue and market (issue 35, item 11): what each format says,
what the user gives, how readers choose, and the old layout still reading."""

from __future__ import annotations

import gzip
import json
import os

import backtrader as bt
import pyarrow.parquet as pq
import pytest

import backtrader_channels as btch
from backtrader_channels import ChannelError
from backtrader_channels.loopback.synthetic import write_synthetic_days
from backtrader_channels.sources.contents import file_contents
from backtrader_channels.sources.convert import convert
from backtrader_channels.sources.formats import open_source
from backtrader_channels.sources.layout import partition_files, partitions
from backtrader_channels.sources.venues import (
    ccxt_market,
    derivative_market,
    market_of,
    tardis_market,
)
from backtrader_channels.sources.writer import PartitionedWriter

from . import shapes


def events(path, kind="tick", symbol="BTC/USDT", **kw):
    return [e for _, chunk in open_source(str(path), kind, symbol, **kw) for e in chunk]


def tardis_as(tables, path, exchange):
    src = shapes.tardis_trades(tables, path.with_suffix(".tmp.csv"))
    text = open(src).read().replace("\nbinance,", f"\n{exchange},")
    with gzip.open(path, "wt") as fh:
        fh.write(text)
    return str(path)


@pytest.fixture(scope="module")
def futures_and_spot(tmp_path_factory, capture_tables):
    """The issue's case: Tardis binance-futures BTCUSDT and a Binance spot dump of BTCUSDT."""
    d = tmp_path_factory.mktemp("two")
    fut = tardis_as(capture_tables, d / "binance-futures_trades_2024-08-08_BTCUSDT.csv.gz",
                    "binance-futures")  # fmt: skip
    spot = shapes.binance_trades(capture_tables, d / "BTCUSDT-trades-2024-08-08.csv")
    out = str(d / "conv")
    summary = convert([fut, spot], out, progress=False)
    return out, fut, spot, summary


def test_convert_keeps_venue_and_market_apart(futures_and_spot):
    out, _, _, summary = futures_and_spot
    assert summary["events"] == {
        "tick:BTCUSDT@binance/linear": 9757,
        "tick:BTCUSDT@binance/spot": 9757,
    }
    assert [(p.venue, p.market, p.symbol) for p in partitions(out)] == [
        ("binance", "linear", "BTCUSDT"),
        ("binance", "spot", "BTCUSDT"),
    ]
    for f in partition_files(out, "tick", "BTCUSDT", market="linear"):
        assert "venue=binance" in f
        assert "market=linear" in f
        table = pq.read_table(f, columns=["venue", "market"])
        assert set(table.column("venue").to_pylist()) == {"binance"}
        assert set(table.column("market").to_pylist()) == {"linear"}


def test_a_reader_names_the_choices_and_reads_the_one_chosen(futures_and_spot):
    out, fut, spot, _ = futures_and_spot
    with pytest.raises(ChannelError, match=r"in binance/linear and binance/spot: pass market="):
        events(out)
    assert events(out, market="spot") == events(spot)
    assert events(out, market="linear", venue="binance") == events(fut, venue="binance")
    with pytest.raises(ChannelError, match=r"no 'tick' data for 'BTC/USDT' on bybit"):
        events(out, venue="bybit")


def test_add_channel_takes_the_market(futures_and_spot):
    out = futures_and_spot[0]
    c = btch.Cerebro()
    c.add_channel("tick", "BTC/USDT", dataname=out, market="linear")
    c.addstrategy(bt.Strategy)
    c.run(mode=btch.RunMode.TICK)
    assert c.last_run["events"] == 9757
    with pytest.raises(ChannelError, match=r"market='perp': must be one of"):
        c.add_channel("quote", "BTC/USDT", dataname=out, market="perp")


def test_one_venue_and_market_reads_without_naming_them(tmp_path, capture_path):
    out = str(tmp_path / "conv")
    convert(capture_path, out, progress=False)
    assert len(events(out)) == 9757
    assert len(events(out, venue="binance", market="spot")) == 9757


def test_the_old_layout_still_reads(tmp_path):
    root = write_synthetic_days(str(tmp_path / "old"), 2, 100)
    assert os.path.isdir(os.path.join(root, "channel=tick", "symbol=BTC-USDT"))
    assert len(events(root)) == 200
    assert len(events(root, venue="binance", market="spot")) == 200  # it does not say: any


def test_convert_takes_what_a_format_cannot_say_from_the_user(tmp_path, sample):
    out = str(tmp_path / "conv")
    summary = convert(sample.trades, out, progress=False)
    assert summary["unknown"] == ["tick:BTC/USDT@unknown/unknown"]
    assert os.path.isdir(os.path.join(out, "channel=tick", "venue=unknown", "market=unknown"))
    out2 = str(tmp_path / "conv2")
    summary = convert(sample.trades, out2, progress=False, venue="binance", market="spot")
    assert summary["events"] == {"tick:BTC/USDT@binance/spot": 9757}
    assert summary["unknown"] == []
    # what the data says is kept; a contradiction is an error
    with pytest.raises(ChannelError, match=r"venue 'binance', not 'bybit': leave venue="):
        convert(btch.datasets.binance_btcusdt_capture(), str(tmp_path / "x"), venue="bybit")


def test_native_rows_name_their_venue_and_market(tmp_path, sample):
    """A native file with venue/market columns (one convert wrote) says them to convert."""
    out = str(tmp_path / "conv")
    convert(sample.trades, out, progress=False, venue="bybit", market="linear")
    f = partition_files(out, "tick", "BTC/USDT")[0]
    assert file_contents(f)[0][2:] == ("bybit", "linear")
    both = str(tmp_path / "both.parquet")
    a, b = pq.read_table(f), pq.read_table(f)
    import pyarrow as pa

    b = b.set_column(b.schema.get_field_index("market"), "market", pa.array(["spot"] * len(b)))
    pq.write_table(pa.concat_tables([a, b.cast(a.schema)]), both)
    with pytest.raises(ChannelError, match=r"market.*\['linear', 'spot'\]: pass market="):
        events(both)
    assert len(events(both, market="spot")) == len(b)


def test_the_writer_takes_a_ccxt_venue_and_a_market_per_symbol(tmp_path, sample):
    """What a live feed's recorder gives it: its exchange's id and markets (ccxt, offline)."""
    import ccxt

    exchange = ccxt.binanceusdm()
    market_fn = market_of(exchange)
    assert market_fn("BTC/USDT:USDT") == "linear"  # markets not loaded: the id says
    assert market_of(ccxt.bybit())("BTC/USDT:USDT") == "unknown"
    exchange.set_markets(
        [{"id": "BTCUSDT", "symbol": "BTC/USDT:USDT", "base": "BTC", "quote": "USDT",
          "settle": "USDT", "type": "swap", "spot": False, "swap": True, "linear": True,
          "inverse": False}]
    )  # fmt: skip
    w = PartitionedWriter(str(tmp_path), venue=exchange.id, market=market_fn)
    w.write("tick", "BTC/USDT:USDT", events(sample.trades)[:50])
    w.close()
    assert [(p.venue, p.market, p.symbol) for p in partitions(str(tmp_path))] == [
        ("binance", "linear", "BTC-USDT-USDT")
    ]
    assert ccxt_market("binancecoinm") == ("binance", "inverse")


@pytest.mark.parametrize(
    ("exchange", "symbol", "want"),
    [
        ("binance", "BTCUSDT", ("binance", "spot")),
        ("binance-futures", "BTCUSDT", ("binance", "linear")),
        ("binance-delivery", "BTCUSD_PERP", ("binance", "inverse")),
        ("bybit-spot", "BTCUSDT", ("bybit", "spot")),
        ("bybit", "BTCUSDT", ("bybit", "linear")),
        ("bybit", "BTCUSD", ("bybit", "inverse")),
        ("okex-swap", "BTC-USD-SWAP", ("okx", "inverse")),
        ("deribit", "BTC-PERPETUAL", ("deribit", "inverse")),
        ("somewhere", "BTCUSD", ("somewhere", "unknown")),
    ],
)
def test_tardis_exchanges(exchange, symbol, want):
    assert tardis_market(exchange, symbol) == want


def test_binance_dumps_and_captures_say_their_market(tmp_path, capture_tables, capture_path):
    spot = shapes.binance_trades(capture_tables, tmp_path / "BTCUSDT-trades-2024-08-08.csv")
    os.makedirs(tmp_path / "f")
    usdm = shapes.binance_trades(
        capture_tables, tmp_path / "f" / "BTCUSDT-trades-2024-08-08.csv", "futures"
    )
    assert file_contents(spot)[0][2:] == ("binance", "spot")
    assert file_contents(usdm)[0][2:] == ("binance", "linear")
    assert {c[2:] for c in file_contents(capture_path)} == {("binance", "spot")}
    assert derivative_market("BTCUSD_PERP") == "inverse"


def test_a_coin_m_capture_is_inverse_and_reads(tmp_path, capture_path):
    """Futures aggTrade frames (no ``M``) of a COIN-M symbol, from the bundled capture's trades;
    ``btcusd_perp@`` streams used to match no symbol at all."""
    lines = []
    with gzip.open(capture_path, "rt") as fh:
        for line in fh:
            if "@trade" in line:
                recv, _, body = line.partition(" ")
                msg = json.loads(body)
                data = {k: v for k, v in msg["data"].items() if k not in ("M", "t")}
                data.update(e="aggTrade", s="BTCUSD_PERP", a=msg["data"]["t"])
                frame = {"stream": "btcusd_perp@aggTrade", "data": data}
                lines.append(f"{recv} {json.dumps(frame)}")
    path = tmp_path / "coinm.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert [tuple(c) for c in file_contents(str(path))] == [
        ("tick", "BTC/USD:BTC", "binance", "inverse")
    ]
    assert len(events(path, symbol="BTCUSD_PERP")) == len(lines) == 9757


def test_a_venue_label_that_is_no_ccxt_id_still_reads_files(sample, tmp_path):
    """A channel's venue is any label (``docs/venues.md``); it only chooses among folders."""
    assert len(events(sample.trades, venue="Binance Spot")) == 9757
    root = write_synthetic_days(str(tmp_path / "old"), 1, 50)
    assert len(events(root, venue="my venue")) == 50
