"""The partitioned writer: any time-ordered events read back identically (property test)."""

import tempfile

from hypothesis import given, settings
from hypothesis import strategies as st

from backtrader_channels import OrderBookEvent, QuoteEvent, TickEvent
from backtrader_channels.sources.formats import open_source
from backtrader_channels.sources.writer import PartitionedWriter

DAY = 86_400_000_000_000
ts_st = st.lists(
    st.integers(1_700_000_000 * 10**9, 1_700_000_000 * 10**9 + 3 * DAY), min_size=1, max_size=40
).map(sorted)
px = st.floats(0.01, 1e6, allow_nan=False)
sz = st.floats(0.0, 1e4, allow_nan=False)


def read(root, kind):
    return [e for _, chunk in open_source(root, kind, "X/Y") for e in chunk]


@settings(max_examples=40, deadline=None)
@given(ts_st, st.data())
def test_ticks_round_trip(stamps, data):
    evs = [
        TickEvent(
            t,
            data.draw(px),
            data.draw(sz),
            data.draw(st.sampled_from(["buy", "sell"])),
            i,
            "X/Y",
            t + data.draw(st.integers(0, 10**9)),
        )
        for i, t in enumerate(stamps)
    ]
    with tempfile.TemporaryDirectory() as root:
        w = PartitionedWriter(root)
        w.write("tick", "X/Y", evs)
        w.close()
        assert read(root, "tick") == evs


@settings(max_examples=30, deadline=None)
@given(ts_st, st.data())
def test_quotes_and_books_round_trip(stamps, data):
    quotes = [
        QuoteEvent(t, data.draw(px), data.draw(sz), data.draw(px), data.draw(sz), "X/Y", t, i)
        for i, t in enumerate(stamps)
    ]
    levels = st.lists(st.tuples(px, sz), min_size=1, max_size=4).map(tuple)
    books = [
        OrderBookEvent(
            t, data.draw(levels), data.draw(levels), i == 0, "X/Y", t + 1, 2 * i, 2 * i + 1
        )
        for i, t in enumerate(stamps)
    ]
    with tempfile.TemporaryDirectory() as root:
        w = PartitionedWriter(root)
        w.write("quote", "X/Y", quotes)
        w.write("orderbook", "X/Y", books)
        w.flush()
        assert read(root, "quote") == quotes
        got = read(root, "orderbook")
        # consecutive updates with equal (timestamp, ids) would merge; ids are unique here
        assert got == books
