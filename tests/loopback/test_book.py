"""The loopback exchanges' one book: levels from a snapshot, moved by deltas, deleted by a zero
size, its best N each way printed as the venues print them; Binance's ``lastUpdateId`` and
Bybit's ``u``/``seq`` kept beside them."""

from __future__ import annotations

from backtrader_channels.loopback.book import BinanceBook, BybitBook, LevelBook

SNAPSHOT = {
    "lastUpdateId": 100,
    "bids": [["99.5", "1.0"], ["100.0", "2.0"], ["98.0", "3.0"]],
    "asks": [["101.0", "1.5"], ["100.5", "0.5"], ["102.0", "4.0"]],
}


def test_a_level_book_loads_updates_deletes_and_prints_its_best_levels_first():
    book = LevelBook()
    assert book.top(5) == ([], [])
    assert book.best() == (None, None)
    assert book.at == -1
    book.load(SNAPSHOT["bids"], SNAPSHOT["asks"])
    assert book.top(2) == (
        [["100.0", "2.0"], ["99.5", "1.0"]],
        [["100.5", "0.5"], ["101.0", "1.5"]],
    )
    assert book.best() == (100.0, 100.5)
    book.update([["100.0", "0"], ["99.9", "0.25"]], [["100.5", "0.00000000"], ["100.7", "1"]])
    assert book.best() == (99.9, 100.7)
    assert book.top(10) == (
        [["99.9", "0.25"], ["99.5", "1.0"], ["98.0", "3.0"]],
        [["100.7", "1"], ["101.0", "1.5"], ["102.0", "4.0"]],
    )
    book.update([["42.0", "0"]], [])  # deleting a level that is not there: nothing
    assert len(book.bids) == 3
    book.load([], [["103.0", "1"]])  # a snapshot replaces every level
    assert book.top(3) == ([], [["103.0", "1"]])


def test_the_top_levels_are_the_best_whatever_the_order_they_came_in():
    book = LevelBook()
    prices = [100.0 + (i * 37 % 101) / 100 for i in range(101)]
    book.update([[repr(p - 50), "1"] for p in prices], [[repr(p), "1"] for p in prices])
    bids, asks = book.top(5)
    assert [float(p) for p, _ in bids] == sorted((p - 50 for p in prices), reverse=True)[:5]
    assert [float(p) for p, _ in asks] == sorted(prices)[:5]


def test_binance_keeps_last_update_id_and_resets_with_a_laps_shift():
    book = BinanceBook(SNAPSHOT)
    assert book.last_id == 100
    assert book.snapshot(1) == {"lastUpdateId": 100, "bids": [["100.0", "2.0"]],
                                "asks": [["100.5", "0.5"]]}  # fmt: skip
    book.apply({"U": 101, "u": 103, "b": [["100.0", "0.0"]], "a": [["100.2", "0.1"]]})
    assert book.last_id == 103
    assert book.snapshot(1) == {"lastUpdateId": 103, "bids": [["99.5", "1.0"]],
                                "asks": [["100.2", "0.1"]]}  # fmt: skip
    book.reset(SNAPSHOT, id_shift=5_000)  # a new lap: the recording's book, the lap's ids
    assert book.last_id == 5_100
    assert book.snapshot(3) == {
        "lastUpdateId": 5_100,
        "bids": [["100.0", "2.0"], ["99.5", "1.0"], ["98.0", "3.0"]],
        "asks": [["100.5", "0.5"], ["101.0", "1.5"], ["102.0", "4.0"]],
    }


def test_bybit_keeps_u_and_seq_a_snapshot_replacing_every_level():
    book = BybitBook()
    assert (book.u, book.seq) == (0, 0)
    book.apply({"type": "snapshot", "data": {"b": SNAPSHOT["bids"], "a": SNAPSHOT["asks"],
                                             "u": 1, "seq": 70}})  # fmt: skip
    assert (book.u, book.seq) == (1, 70)
    assert book.best() == (100.0, 100.5)
    book.apply({"type": "delta", "data": {"b": [["100.0", "0"]], "a": [["100.5", "2.5"]],
                                          "u": 2, "seq": 75}})  # fmt: skip
    assert (book.u, book.seq) == (2, 75)
    assert book.top(1) == ([["99.5", "1.0"]], [["100.5", "2.5"]])
    book.apply({"type": "snapshot", "data": {"b": [["90.0", "1"], ["91.0", "0"]],
                                             "a": [["95.0", "1"]], "u": 1, "seq": 80}})  # fmt: skip
    assert (book.u, book.seq) == (1, 80)  # u back at 1: the venue restarted
    assert book.top(5) == ([["90.0", "1"]], [["95.0", "1"]])  # no level of before, no zero
