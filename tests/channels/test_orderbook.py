"""OrderBookChannel: snapshot + deltas, gap refusal, and reconstruction of the real recording."""

from backtrader_channels import OrderBookChannel, OrderBookEvent
from backtrader_channels.sources import read_native


def snap(uid, bids, asks, ts=1):
    return OrderBookEvent(ts, tuple(bids), tuple(asks), True, "X", ts, uid, uid)


def delta(first, last, bids=(), asks=(), ts=2):
    return OrderBookEvent(ts, tuple(bids), tuple(asks), False, "X", ts, first, last)


def test_snapshot_then_deltas():
    b = OrderBookChannel("X")
    assert b.push(snap(10, [(99.0, 1.0), (98.0, 2.0)], [(101.0, 1.5), (102.0, 3.0)]))
    assert b.best_bid.price == 99.0
    assert b.best_ask.price == 101.0
    assert b.mid_price == 100.0
    assert b.spread == 2.0
    assert b.push(delta(11, 12, bids=[(99.0, 0.0), (99.5, 4.0)], asks=[(103.0, 1.0)]))
    assert b.best_bid == (99.5, 4.0)
    assert b.levels(2) == ([(99.5, 4.0), (98.0, 2.0)], [(101.0, 1.5), (102.0, 3.0)])
    assert b.size_at(103.0, "ask") == 1.0
    assert b.size_at(99.0) == 0.0
    assert not b.is_crossed
    assert b.depth() == (2, 3)


def test_deleting_unknown_level_is_a_noop():
    b = OrderBookChannel("X")
    b.push(snap(1, [(99.0, 1.0)], [(101.0, 1.0)]))
    assert b.push(delta(2, 2, bids=[(50.0, 0.0)]))
    assert b.depth() == (1, 1)


def test_gap_refuses_deltas_until_next_snapshot():
    b = OrderBookChannel("X")
    b.push(snap(10, [(99.0, 1.0)], [(101.0, 1.0)]))
    assert not b.push(delta(13, 14, bids=[(99.0, 5.0)]))  # 11..12 missing
    assert b.gaps == [(11, 12)]
    assert not b.synced
    assert not b.push(delta(15, 15, bids=[(99.0, 6.0)]))
    assert b.best_bid.size == 1.0
    assert b.refused == {"gap": 1, "unsynced": 1}
    assert b.push(snap(20, [(98.0, 1.0)], [(100.0, 1.0)]))
    assert b.synced
    assert b.best_bid.price == 98.0


def test_stale_delta_is_ignored_and_overlap_allowed():
    b = OrderBookChannel("X")
    b.push(snap(10, [(99.0, 1.0)], [(101.0, 1.0)]))
    assert not b.push(delta(5, 9, bids=[(99.0, 7.0)]))
    assert b.refused["stale"] == 1
    assert b.push(delta(8, 12, bids=[(99.0, 7.0)]))  # Binance rule: U <= last+1 <= u
    assert b.best_bid.size == 7.0
    assert b.last_update_id == 12


def test_deltas_before_a_snapshot_are_refused():
    b = OrderBookChannel("X")
    assert not b.push(delta(1, 2, bids=[(1.0, 1.0)]))
    assert b.refused["unsynced"] == 1
    free = OrderBookChannel("X", require_snapshot=False)
    assert free.push(delta(1, 2, bids=[(1.0, 1.0)]))


def test_crossed_flag():
    b = OrderBookChannel("X")
    b.push(snap(1, [(101.0, 1.0)], [(100.0, 1.0)]))
    assert b.is_crossed


def test_real_book_matches_recorded_best_bid_ask(capture_tables):
    """Rebuild the real book; at every depth update id that a bookTicker also reports, the
    rebuilt best bid/ask equals the recording's, and the book is never crossed."""
    quotes = capture_tables["quote"].to_pydict()
    by_uid = {
        u: (b, a) for u, b, a in zip(quotes["update_id"], quotes["bid_price"], quotes["ask_price"])
    }
    book = OrderBookChannel("BTC/USDT")
    compared = 0
    events = 0
    for _, chunk in read_native(capture_tables["orderbook"], "orderbook", "BTC/USDT"):
        for ev in chunk:
            assert book.push(ev)
            events += 1
            assert not book.is_crossed
            rec = by_uid.get(book.last_update_id)
            if rec is not None:
                assert (book.best_bid.price, book.best_ask.price) == rec
                compared += 1
    assert events == 3450
    assert not book.refused
    assert compared >= 50
