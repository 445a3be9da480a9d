"""Binance futures WebSocket captures: the ``pu`` chain, the diff that straddles the snapshot read
before it, gaps and resyncs, unified symbols, market tags and mark price frames.

The real data is the bundled head of the USDⓈ-M ETHUSDT capture (``datasets``); COIN-M, gaps and
``markPriceUpdate`` frames are in captures these tests write (GENERATED, not Binance's: the
recordings have no mark price frames and no breaks)."""

import gzip
import itertools
import json
import math

import pytest

from backtrader_channels import DataError, OrderBookChannel, datasets
from backtrader_channels.sources import SkipReport
from backtrader_channels.sources.contents import file_contents
from backtrader_channels.sources.formats import detect_format, open_source
from backtrader_channels.sources.registry import Content
from backtrader_channels.venues.binance.capture import capture_batches
from backtrader_channels.venues.binance.futures import unified_symbol

USDM = "ETH/USDT:USDT"
COINM = "ETH/USD:ETH"
MS = 1_000_000


def events(path, kind, symbol=USDM, **kw):
    return [e for _, chunk in open_source(str(path), kind, symbol, **kw) for e in chunk]


@pytest.fixture(scope="module")
def head():
    return datasets.binance_ethusdt_perp_capture_head()


def test_unified_symbols():
    assert unified_symbol("ethusdt") == ("ETH/USDT:USDT", "linear")
    assert unified_symbol("ethusd_perp") == ("ETH/USD:ETH", "inverse")
    assert unified_symbol("ETHUSD_240927") == ("ETH/USD:ETH-240927", "inverse")
    assert unified_symbol("BTCUSDC") == ("BTC/USDC:USDC", "linear")


def test_real_usdm_head_is_futures_linear(head):
    assert detect_format(head) == "binance_ws"
    assert file_contents(head) == [
        Content(kind, USDM, "binance", "linear") for kind in ("orderbook", "quote", "tick")
    ]


def test_real_usdm_book_joins_the_snapshot_by_the_futures_rule(head):
    book = events(head, "orderbook")
    # 1,000 lines: 125 diffs, of which 5 are older than the snapshot and one (line 39) has
    # u == lastUpdateId (nothing newer than the snapshot): the snapshot and 119 diffs
    assert len(book) == 120
    snap, first = book[0], book[1]
    assert snap.is_snapshot
    assert len(snap.bids) == len(snap.asks) == 1000
    assert snap.last_update_id == snap.first_update_id == 5123107856276
    assert snap.timestamp == 1723161256561 * MS  # the snapshot's own T
    assert snap.recv_timestamp == 1723161255378345766  # line 41
    assert snap.bids[0] == (2681.62, 16.969)
    assert snap.asks[0] == (2681.63, 37.442)
    # line 40 (read before the snapshot line): U 5123107856317, pu 5123107856276
    assert not first.is_snapshot
    assert (first.first_update_id, first.last_update_id) == (5123107856277, 5123107858544)
    assert first.timestamp == 1723161256610 * MS
    assert first.recv_timestamp == 1723161255344239866
    assert all(b.timestamp <= a.timestamp for b, a in itertools.pairwise(book))


def test_real_usdm_book_has_no_gap_and_equals_the_book_ticker(head):
    quotes = {q.update_id: q for q in events(head, "quote")}
    assert len(quotes) == 789
    chan = OrderBookChannel(USDM)
    checked = 0
    for e in events(head, "orderbook"):
        assert chan.push(e)
        q = quotes.get(e.last_update_id)
        if q is not None:  # the bookTicker of the same update id
            bid, ask = chan.best_bid_price, chan.best_ask_price
            assert (bid, chan.bids[bid], ask, chan.asks[ask]) == (
                q.bid_price,
                q.bid_size,
                q.ask_price,
                q.ask_size,
            )
            checked += 1
    assert checked == 9
    assert chan.gaps == []
    assert not chan.refused


def test_real_usdm_trades_and_quotes_use_transaction_times(head):
    trades = events(head, "tick")
    assert len(trades) == 85
    t = trades[0]
    assert (t.timestamp, t.price, t.volume, t.direction, t.trade_id) == (
        1723161256560 * MS,
        2681.62,
        1.0,
        "sell",
        4308068523,
    )
    q = events(head, "quote")[0]
    assert q.timestamp == 1723161256310 * MS  # futures bookTicker's T (spot: receive time)
    assert q.recv_timestamp == 1723161255088165267
    assert q.update_id == 5123107838717


def test_rows_are_tagged_with_venue_and_market(head):
    for batch, _ in capture_batches(head, "orderbook", USDM):
        assert set(batch.column("venue").to_pylist()) == {"binance"}
        assert set(batch.column("market").to_pylist()) == {"linear"}
    assert len(events(head, "tick", market="linear")) == 85
    assert events(head, "tick", "ETHUSDT")
    assert events(head, "tick", "ethusdt")
    with pytest.raises(Exception, match="no 'tick' data"):
        events(head, "tick", market="inverse")


# ---- GENERATED captures (COIN-M shape, a break, mark price frames) ------------------------------
def _depth(sym, first, last, prev, t, bids=(), asks=()):
    return {
        "stream": f"{sym}@depth@0ms",
        "data": {
            "e": "depthUpdate",
            "E": t + 5,
            "T": t,
            "s": sym.upper(),
            "U": first,
            "u": last,
            "pu": prev,
            "b": [list(b) for b in bids],
            "a": [list(a) for a in asks],
        },
    }


def _snap(last_id, t, bids, asks, symbol="ETHUSD_PERP"):
    return {
        "lastUpdateId": last_id,
        "E": t + 5,
        "T": t,
        "symbol": symbol,
        "pair": "ETHUSD",
        "bids": [list(b) for b in bids],
        "asks": [list(a) for a in asks],
    }


def _mark(sym, t, p, i, r, nxt):
    return {
        "e": "markPriceUpdate",
        "E": t,
        "s": sym,
        "p": p,
        "P": p,
        "i": i,
        "r": r,
        "T": nxt,
    }


def _write(path, frames):
    with gzip.open(path, "wt") as fh:
        for n, frame in enumerate(frames):
            fh.write(f"{1_723_161_000_000_000_000 + n * 1000} {json.dumps(frame)}\n")
    return str(path)


T0 = 1_723_161_257_000
P = "ethusd_perp"


@pytest.fixture
def coinm(tmp_path):
    frames = [
        _depth(P, 100, 110, 95, T0, [("2599.0", "5")]),  # 1: older than the snapshot
        {
            "stream": f"{P}@bookTicker",
            "data": {"u": 111, "e": "bookTicker", "s": "ETHUSD_PERP", "b": "2600.0", "B": "100"}
            | {"a": "2600.1", "A": "50", "T": T0 + 1, "E": T0 + 2},
        },
        _depth(P, 111, 130, 110, T0 + 10, [("2600.0", "90")]),  # 3: straddles 120
        _snap(120, T0 + 8, [("2600.0", "100"), ("2599.0", "5")], [("2600.1", "50")]),
        _depth(P, 131, 140, 130, T0 + 20, (), [("2600.1", "40")]),  # 5
        _depth(P, 150, 160, 145, T0 + 30, [("2599.5", "7")]),  # 6: breaks the chain
        _depth(P, 161, 170, 160, T0 + 40, [("2599.9", "3")]),  # 7: kept, straddles 165
        _snap(165, T0 + 35, [("2600.0", "80")], [("2600.2", "60")]),  # 8: resync
        _depth(P, 171, 180, 170, T0 + 50, [("2600.0", "0")]),  # 9
        {
            "stream": f"{P}@markPrice@1s",
            "data": _mark("ETHUSD_PERP", T0 + 60, "2600.05", "2599.8", "0.00010000", 1723190400000),
        },
        {
            "stream": "!markPrice@arr@1s",
            "data": [
                _mark("BTCUSD_PERP", T0 + 1060, "61000.1", "61001.0", "0.0001", 1723190400000),
                _mark("ETHUSD_PERP", T0 + 1060, "2600.15", "", "", 0),
            ],
        },
    ]  # fmt: skip
    return _write(tmp_path / "cm.jsonl.gz", frames)


def test_generated_coinm_straddling_diff_before_the_snapshot_is_applied(coinm):
    assert {c for c in file_contents(coinm) if c.channel_type != "derivative"} == {
        Content(kind, COINM, "binance", "inverse") for kind in ("orderbook", "quote")
    }
    book = events(coinm, "orderbook", COINM)
    snap, straddle = book[0], book[1]
    assert snap.is_snapshot
    assert snap.last_update_id == 120
    assert snap.timestamp == (T0 + 8) * MS
    assert (straddle.first_update_id, straddle.last_update_id) == (111, 130)
    assert straddle.bids == ((2600.0, 90.0),)
    q = events(coinm, "quote", "ETHUSD_PERP")[0]
    assert (q.bid_size, q.ask_size, q.timestamp) == (100.0, 50.0, (T0 + 1) * MS)  # contracts


def test_generated_break_is_a_gap_then_the_next_snapshot_resyncs(coinm):
    chan = OrderBookChannel(COINM)
    book = events(coinm, "orderbook", COINM)
    applied = [chan.push(e) for e in book]
    ids = [(e.is_snapshot, e.first_update_id, e.last_update_id) for e in book]
    assert ids == [
        (True, 120, 120),
        (False, 111, 130),
        (False, 131, 140),
        (False, 146, 160),  # the break: pu 145 != 140, so ids 141-145 are missing
        (True, 165, 165),
        (False, 161, 170),
        (False, 171, 180),
    ]
    assert applied == [True, True, True, False, True, True, True]
    assert chan.gaps == [(141, 145)]
    assert chan.refused == {"gap": 1}
    assert chan.synced
    assert dict(chan.bids) == {2599.9: 3.0}
    assert dict(chan.asks) == {2600.2: 60.0}


def test_generated_mark_price_frames_are_derivative_events(coinm):
    got = events(coinm, "derivative", COINM)
    assert len(got) == 2
    first, second = got
    assert first.timestamp == (T0 + 60) * MS
    assert first.recv_timestamp is not None
    assert (first.mark_price, first.index_price, first.funding_rate) == (2600.05, 2599.8, 0.0001)
    assert first.next_funding_ts == 1723190400000 * MS
    assert first.funding_ts is None
    # from !markPrice@arr: empty index and rate (as delivery contracts send) are not given
    assert second.mark_price == 2600.15
    assert second.next_funding_ts is None
    assert math.isnan(second.index_price)
    assert math.isnan(second.funding_rate)
    btc = events(coinm, "derivative", "BTC/USD:BTC")
    assert [e.mark_price for e in btc] == [61000.1]
    assert Content("derivative", COINM, "binance", "inverse") in file_contents(coinm)


def test_a_snapshot_that_cannot_join_is_a_located_error(tmp_path):
    path = _write(
        tmp_path / "stale.jsonl.gz",
        [_snap(50, T0, [("1", "1")], [("2", "1")], "ETHUSDT"), _depth("ethusdt", 60, 70, 59, T0)],
    )
    with pytest.raises(DataError, match="does not join the snapshot of line 1") as err:
        events(path, "orderbook")
    assert err.value.line == 2


def test_a_bad_mark_frame_is_located_or_skipped(tmp_path):
    bad = {"stream": "ethusdt@markPrice@1s", "data": {"e": "markPriceUpdate", "E": T0}}
    good = {"stream": "ethusdt@markPrice@1s", "data": _mark("ETHUSDT", T0, "1", "1", "0", 0)}
    path = _write(tmp_path / "bad.jsonl.gz", [good, bad, good])
    with pytest.raises(DataError, match="unexpected frame") as err:
        events(path, "derivative")
    assert err.value.line == 2
    assert str(path) in str(err.value)
    skip = SkipReport()
    assert len(events(path, "derivative", on_error="skip", skip=skip)) == 2
    assert skip.total == 1
    bad_mark = {"stream": "ethusdt@markPrice@1s", "data": _mark("ETHUSDT", T0, "-1", "1", "0", 0)}
    path = _write(tmp_path / "neg.jsonl.gz", [good, bad_mark])
    with pytest.raises(DataError, match="mark_price must be > 0") as err:
        events(path, "derivative")
    assert err.value.line == 2
    assert err.value.column == "mark_price"


def test_futures_book_rule_in_isolation():
    """Binance's futures rule on diffs alone: a repeat is ignored, a snapshot read while in
    sequence is left out, a break among the diffs kept before the first snapshot waits for the
    next snapshot."""
    from backtrader_channels.venues.binance.futures import Diff, FuturesBook

    written = []
    book = FuturesBook(
        "x",
        lambda diff, first: written.append(("diff", diff.lineno, first)),
        lambda line, recv, snap, first: written.append(("snap", line, snap["lastUpdateId"])),
    )

    def diff(line, first, last, prev):
        return Diff(line, 0, {"U": first, "u": last, "pu": prev, "T": line, "b": [], "a": []})

    book.on_diff(diff(1, 10, 20, 9))
    book.on_diff(diff(2, 21, 30, 20))
    book.on_diff(diff(3, 35, 40, 33))  # breaks the chain before any snapshot
    book.on_diff(diff(4, 41, 50, 40))
    book.on_snapshot(5, 0, {"lastUpdateId": 25})  # joins diff 2; then the break
    assert written == [("snap", 5, 25), ("diff", 2, 21), ("diff", 3, 34)]  # ids 31-33 missing
    assert book.breaks == 1
    assert not book.synced
    book.on_snapshot(6, 0, {"lastUpdateId": 45})  # joins diff 4, kept since the break
    assert written[3:] == [("snap", 6, 45), ("diff", 4, 41)]
    book.on_diff(diff(7, 41, 50, 40))  # a repeat of diff 4
    book.on_snapshot(8, 0, {"lastUpdateId": 50})  # in sequence: left out
    book.on_diff(diff(9, 51, 60, 50))
    assert written[5:] == [("diff", 9, 51)]
    assert (book.snapshots_skipped, book.breaks, book.last_u) == (1, 1, 60)
