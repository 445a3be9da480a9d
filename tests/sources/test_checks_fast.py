"""The row checks' shortcuts for the usual file (one symbol, venue and market; every value
good; in time order) give what the full checks give, and bad rows are still found and named
by their row number."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backtrader_channels.errors import DataError
from backtrader_channels.sources.batches import SkipReport
from backtrader_channels.sources.checks import RowSpan, StreamChecker, all_in, in_values


def _dict(values: list[str | None], dictionary: list[str]) -> pa.DictionaryArray:
    idx = pa.array([None if v is None else dictionary.index(v) for v in values], pa.int32())
    return pa.DictionaryArray.from_arrays(idx, pa.array(dictionary))


@pytest.mark.parametrize(
    ("values", "dictionary", "wanted"),
    [
        (["a", "a", "a"], ["a"], ("a",)),
        (["a", "a", None], ["a"], ("a",)),
        (["a", "b", "a"], ["a", "b"], ("a",)),
        (["a", "a", "a"], ["a", "b"], ("a",)),  # an unused entry not wanted
        (["b", "b"], ["a", "b"], ("a",)),
        (["a", "b", "c"], ["a", "b", "c"], ("a", "c")),
    ],
)
def test_in_values_and_all_in_on_dictionaries_match_the_plain_strings(values, dictionary, wanted):
    d = _dict(values, dictionary)
    plain = pa.array(values, pa.string())
    expect = np.array([v in wanted for v in values])
    assert in_values(d, wanted).tolist() == expect.tolist()
    assert in_values(plain, wanted).tolist() == expect.tolist()
    assert all_in(d, wanted) == all_in(plain, wanted) == bool(expect.all())


def test_row_span_reads_as_the_row_numbers():
    rows = RowSpan(10, 4)
    assert len(rows) == 4
    assert rows[0] == 10
    assert rows[3] == 13
    assert rows[-1] == 13
    assert rows[np.array([True, False, True, False])].tolist() == [10, 12]
    with pytest.raises(IndexError):
        rows[4]


def _book(n: int, first: int = 0, **bad) -> pa.RecordBatch:
    cols = {
        "timestamp": pa.array(np.arange(first, first + n, dtype=np.int64) * 1000),
        "side": _dict(["bid", "ask"] * (n // 2), ["bid", "ask"]),
        "price": pa.array(np.full(n, 100.0)),
        "size": pa.array(np.full(n, 1.0)),
        "symbol": _dict(["BTCUSDT"] * n, ["BTCUSDT"]),
    }
    for name, (row, value) in bad.items():
        arr = cols[name].to_pylist() if name != "side" else ["bid", "ask"] * (n // 2)
        arr[row] = value
        cols[name] = pa.array(arr) if name != "side" else _dict(arr, ["bid", "ask", "mid"])
    return pa.RecordBatch.from_pydict(cols)


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"price": (5, 0.0)}, "price must be > 0"),
        ({"price": (5, float("nan"))}, "price must be > 0"),
        ({"size": (5, -1.0)}, "size must be >= 0"),
        ({"size": (5, None)}, "missing value"),
        ({"side": (5, "mid")}, "unknown side"),
        ({"timestamp": (5, 1000)}, "timestamp goes backwards"),
    ],
)
def test_a_bad_row_is_named_by_its_row_number(bad, reason):
    cur = StreamChecker("f.parquet", "orderbook", "BTCUSDT", line_offset=None)
    cur.check(_book(10), 0)  # a good batch first: row numbers go on from it
    with pytest.raises(DataError) as e:
        cur.check(_book(10, 10, **bad), 10)
    assert reason in str(e.value)
    assert "15" in str(e.value)
    skip = SkipReport()
    cur = StreamChecker("f.parquet", "orderbook", "BTCUSDT", on_error="skip", skip=skip)
    batch, rows = cur.check(_book(10, 10, **bad), 10)
    assert batch.num_rows == 9
    assert 15 not in list(rows)


def test_a_good_batch_keeps_every_row_without_a_mask():
    cur = StreamChecker("f.parquet", "orderbook", "BTCUSDT", line_offset=None)
    batch, rows = cur.check(_book(10), 0)
    assert batch.num_rows == 10
    assert isinstance(rows, RowSpan)
    assert rows[9] == 9


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sizes=st.lists(st.integers(1, 9), min_size=1, max_size=40),
    chunk_rows=st.integers(1, 23),
    same_ts=st.lists(st.booleans(), min_size=40, max_size=40),
)
def test_columnar_chunks_hold_the_event_paths_messages_at_any_batch_size(
    sizes, chunk_rows, same_ts
):
    """Messages cut by batches (carried into the next, over several batches) come out of the
    columnar reader as the event reader builds them."""
    import pandas as pd

    from backtrader_channels.sources.formats import open_source

    rows, ts, uid = [], 1_000, 0
    for k, n in enumerate(sizes):
        ts += 0 if same_ts[k] and k else 1_000  # equal times: the update id tells them apart
        uid += 1
        for j in range(n):
            side = "bid" if j % 2 else "ask"
            rows.append((ts, side, 100.0 + (j if side == "ask" else -j), 1.0 + j, k == 0, uid))
    df = pd.DataFrame(
        rows, columns=["timestamp", "side", "price", "size", "is_snapshot", "update_id"]
    )
    df["symbol"] = "BTC/USDT"
    events = [
        e for _, c in open_source(df, "orderbook", "BTC/USDT", chunk_rows=chunk_rows) for e in c
    ]
    columnar = [
        c.event(i)
        for _, c in open_source(df, "orderbook", "BTC/USDT", chunk_rows=chunk_rows, columnar=True)
        for i in range(len(c))
    ]
    assert columnar == events
    assert len(events) == len(sizes)
