"""Columnar chunks: events are built when first read, identical to eagerly built ones; Parquet's
dictionary-encoded strings (side, symbol) are checked and split like plain strings."""

import backtrader as bt
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import backtrader_channels as btch
from backtrader_channels import DataError, TickEvent
from backtrader_channels.sources import read_native
from backtrader_channels.sources.checks import in_values
from backtrader_channels.sources.lazy import LazyEvents


def test_tick_chunks_stay_columns_until_read(capture_tables):
    chunks = list(read_native(capture_tables["tick"], "tick", "BTC/USDT", chunk_rows=4000))
    ts, events = chunks[0]
    assert isinstance(events, LazyEvents)
    assert not events.built
    assert len(events) == len(ts) > 0
    first = events[0]
    assert events.built
    assert isinstance(first, TickEvent)
    assert [e.timestamp for e in events] == ts
    assert events == list(events)
    assert events[1:3] == list(events)[1:3]


def test_quote_chunks_are_lazy_and_equal_to_rows(capture_tables):
    table = capture_tables["quote"]
    (_ts, events), *_ = read_native(table, "quote", "BTC/USDT")
    assert isinstance(events, LazyEvents)
    assert not events.built
    row = table.slice(0, 1).to_pylist()[0]
    assert (events[0].bid_price, events[0].ask_size) == (row["bid_price"], row["ask_size"])


def test_a_windowed_run_dispatches_only_the_window(capture_tables, tmp_path):
    path = tmp_path / "t.parquet"
    pq.write_table(capture_tables["tick"], path)
    stamps = capture_tables["tick"].column("timestamp").to_pylist()
    start, end = stamps[100], stamps[200]
    cerebro = btch.Cerebro()
    cerebro.add_channel("tick", "BTC/USDT", str(path), start=start, end=end)
    seen = []

    class Collect(bt.Strategy):
        def on_tick(self, tick):
            seen.append(tick.timestamp)

    cerebro.addstrategy(Collect)
    cerebro.run(mode=btch.RunMode.TICK)
    assert seen == [t for t in stamps if start <= t < end]


def _dict_table(sides, symbols):
    n = len(sides)
    return pa.table(
        {
            "timestamp": pa.array(range(1, n + 1), pa.int64()),
            "price": pa.array([10.0 + i for i in range(n)]),
            "volume": pa.array([1.0] * n),
            "side": pa.array(sides).dictionary_encode(),
            "symbol": pa.array(symbols).dictionary_encode(),
        }
    )


def test_dictionary_strings_split_symbols_and_name_bad_sides(tmp_path):
    path = tmp_path / "d.parquet"
    pq.write_table(_dict_table(["buy", "sell", "buy"], ["BTCUSDT", "ETHUSDT", "BTCUSDT"]), path)
    got = [e for _, ch in read_native(str(path), "tick", "BTC/USDT") for e in ch]
    assert [(e.price, e.direction) for e in got] == [(10.0, "buy"), (12.0, "buy")]
    pq.write_table(_dict_table(["buy", "hold", "sell"], ["X"] * 3), path)
    with pytest.raises(DataError, match=r"row 1, column 'side': unknown side.*value: 'hold'"):
        list(read_native(str(path), "tick", "X"))
    pq.write_table(_dict_table(["buy", None, "sell"], ["X"] * 3), path)
    with pytest.raises(DataError, match=r"row 1, column 'side': missing value"):
        list(read_native(str(path), "tick", "X"))


@pytest.mark.parametrize("encode", [False, True])
def test_in_values_plain_and_dictionary(encode):
    arr = pa.array(["a", None, "b", "c", "a"])
    if encode:
        arr = arr.dictionary_encode()
    assert in_values(arr, ("a", "c")).tolist() == [True, False, False, True, True]
