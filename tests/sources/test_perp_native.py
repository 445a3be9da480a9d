"""The derivative channel in the native schema, ``convert`` and the partitioned layout, and the
bundled perpetual sample (real book and trades, GENERATED mark prices and funding)."""

import math
import os

import backtrader as bt
import pyarrow as pa
import pytest

import backtrader_channels as btch
from backtrader_channels import DataError, OrderBookChannel, datasets
from backtrader_channels.events import DerivativeEvent
from backtrader_channels.sources.contents import file_contents
from backtrader_channels.sources.convert import convert
from backtrader_channels.sources.formats import detect_format, open_source
from backtrader_channels.sources.registry import Content
from backtrader_channels.sources.writer import events_table

SYMBOL = "ETH/USDT:USDT"
NAN = math.nan
MIDNIGHT = 1_723_161_600_000_000_000


def events(data, kind="derivative", symbol=SYMBOL, **kw):
    return [e for _, c in open_source(data, kind, symbol, **kw) for e in c]


def same(a, b):
    """Two derivative events equal, NaN equal to NaN (venue aside)."""
    return all(
        (x != x and y != y) or x == y for x, y in zip(a._replace(venue=""), b._replace(venue=""))
    )


@pytest.fixture(scope="module")
def perp():
    return datasets.binance_ethusdt_perp_sample()


def test_native_table_round_trip():
    evs = [
        DerivativeEvent(1, 2600.0, NAN, 0.0001, 10, SYMBOL, 3),
        DerivativeEvent(2, NAN, 2599.0, NAN, None, SYMBOL, 4, funding_ts=2),
    ]
    table = events_table(evs, "derivative")
    assert table.column("mark_price").to_pylist() == [2600.0, None]  # not given: null
    got = events(table)
    assert len(got) == 2
    assert all(same(g, e) for g, e in zip(got, evs))
    assert got[1].is_settlement


def test_native_csv_derivative(tmp_path):
    path = tmp_path / "marks.csv"
    path.write_text(
        "timestamp,mark_price,index_price,funding_rate,next_funding_ts,symbol\n"
        "1,2600.5,2600.0,0.0001,1000,ETHUSDT\n"
        "2,,2600.1,,,ETHUSDT\n"
    )
    assert detect_format(str(path)) == "native"
    assert file_contents(str(path)) == [Content("derivative", "ETHUSDT")]
    a, b = events(str(path))
    assert (a.mark_price, a.next_funding_ts) == (2600.5, 1000)
    assert math.isnan(b.mark_price)
    assert b.index_price == 2600.1
    assert b.next_funding_ts is None
    path.write_text("timestamp,mark_price\n1,2600\nx,2601\n")
    with pytest.raises(DataError) as err:
        events(str(path))
    assert (err.value.line, err.value.column) == (3, "timestamp")
    path.write_text("timestamp,mark_price\n2,2600\n1,2601\n")
    with pytest.raises(DataError, match="backwards") as err:
        events(str(path))
    assert err.value.line == 3


def test_convert_capture_and_derivative_to_the_layout_and_back(tmp_path, perp):
    head = datasets.binance_ethusdt_perp_capture_head()
    summary = convert([head, perp.derivative], str(tmp_path / "out"), progress=False)
    assert summary["events"] == {
        "orderbook:ETH/USDT:USDT@binance/linear": 120,
        "quote:ETH/USDT:USDT@binance/linear": 789,
        "tick:ETH/USDT:USDT@binance/linear": 85,
        "derivative:ETH/USDT:USDT@binance/linear": 101,
    }
    out = tmp_path / "out"
    folder = out / "channel=derivative" / "venue=binance" / "market=linear"
    assert [p.name for p in folder.iterdir()] == ["symbol=ETH-USDT-USDT"]
    back = events(str(out), market="linear", venue="binance")
    assert len(back) == 101
    assert all(same(a, b) for a, b in zip(back, events(perp.derivative)))
    book = events(str(out), "orderbook")
    chan = OrderBookChannel(SYMBOL)
    assert all(chan.push(e) for e in book)
    assert chan.gaps == []
    assert events(str(out), "derivative", "ETHUSDT")  # any spelling
    with pytest.raises(Exception, match="no 'derivative' data"):
        events(str(out), market="inverse")


def test_bundled_perp_sample(perp):
    assert (perp.symbol, perp.market, perp.venue) == (SYMBOL, "linear", "binance")
    counts = {
        kind: len(events(path, kind))
        for kind, path in (
            ("tick", perp.trades),
            ("quote", perp.quotes),
            ("orderbook", perp.orderbook),
            ("derivative", perp.derivative),
        )
    }
    assert counts == {"tick": 5366, "quote": 16558, "orderbook": 1900, "derivative": 101}
    book = events(perp.orderbook, "orderbook")
    chan = OrderBookChannel(SYMBOL)
    assert all(chan.push(e) for e in book)
    assert chan.gaps == []
    assert not chan.refused
    assert book[0].is_snapshot
    assert book[0].timestamp == 1723161501145000000
    marks = events(perp.derivative)
    first = marks[0]
    assert (first.timestamp, first.mark_price, first.index_price) == (
        1723161502000000000,
        2679.45,
        2678.91,
    )
    assert (first.funding_rate, first.next_funding_ts) == (0.0001, MIDNIGHT)
    settle = [e for e in marks if e.is_settlement]
    assert [(e.timestamp, e.funding_ts, e.funding_rate) for e in settle] == [
        (MIDNIGHT, MIDNIGHT, 0.0001)
    ]
    assert marks[-1].next_funding_ts == MIDNIGHT + 8 * 3_600_000_000_000
    # the mark follows the book: within 1.0 of the best bid/ask mid at every second
    quotes = events(perp.quotes, "quote")
    q = 0
    for m in (e for e in marks if not e.is_settlement):
        while q + 1 < len(quotes) and quotes[q + 1].timestamp <= m.timestamp:
            q += 1
        assert abs(m.mark_price - (quotes[q].bid_price + quotes[q].ask_price) / 2) < 1.0


def test_a_run_sees_the_derivative_channel(perp):
    seen = []

    class Watch(bt.Strategy):
        def on_event(self, event):
            if event.channel_type == "derivative":
                seen.append(event)

    cerebro = btch.Cerebro()
    cerebro.add_channel("derivative", SYMBOL, dataname=perp.derivative)
    cerebro.add_channel("tick", SYMBOL, dataname=perp.trades)
    cerebro.addstrategy(Watch)
    cerebro.run(mode=btch.RunMode.TICK)
    assert len(seen) == 101
    assert sum(e.is_settlement for e in seen) == 1


def test_partial_nulls_in_an_optional_derivative_column_are_not_given():
    table = pa.table(
        {
            "timestamp": pa.array([1, 2], pa.int64()),
            "mark_price": pa.array([1.0, None], pa.float64()),
            "funding_ts": pa.array([None, 2], pa.int64()),
        }
    )
    a, b = events(table)
    assert a.funding_ts is None
    assert b.funding_ts == 2
    assert math.isnan(b.mark_price)


def test_inspect_and_backtest_see_the_derivative_channel(tmp_path, perp, capsys):
    from backtrader_channels.app.backtest_commands import run_backtest_command, run_inspect_command
    from backtrader_channels.app.cli import build_parser

    folder = os.path.dirname(perp.derivative)  # the sample's own folder, read in place
    assert run_inspect_command(build_parser().parse_args(["inspect", folder])) == 0
    out = capsys.readouterr().out
    assert "derivative" in out
    assert "101 events" in out
    strategy = tmp_path / "count.py"
    strategy.write_text("import backtrader as bt\nclass Count(bt.Strategy):\n    pass\n")
    ns = build_parser().parse_args(["backtest", f"{strategy}:Count", "--data", folder])
    assert run_backtest_command(ns) == 0
    assert "derivative:ETH/USDT:USDT=101" in capsys.readouterr().out
