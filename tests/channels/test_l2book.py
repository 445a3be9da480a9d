"""L2Book: the compiled and pure-Python books agree bit for bit, and with OrderBookChannel."""

from __future__ import annotations

import importlib
import math
import struct
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backtrader_channels.channels import l2book
from backtrader_channels.channels.l2book import NEVER, NO_ID, CL2Book, PyL2Book
from backtrader_channels.channels.orderbook import OrderBookChannel
from backtrader_channels.events import OrderBookEvent

NOT_BUILT = "the C extension _l2book is not built (python setup.py build_ext --inplace)"
IMPLS = [
    pytest.param(PyL2Book, id="python"),
    pytest.param(
        CL2Book, id="compiled", marks=pytest.mark.skipif(CL2Book is None, reason=NOT_BUILT)
    ),
]
needs_c = pytest.mark.skipif(CL2Book is None, reason=NOT_BUILT)


# ---- building the arrays ------------------------------------------------------------------
@dataclass
class Msg:
    rows: list[tuple[bool, float, float]]  # (is_bid, price, size)
    snapshot: bool = False
    first: int | None = None
    last: int | None = None
    ts: int = 0


@dataclass
class Arrays:
    msg_start: np.ndarray
    ts: np.ndarray
    snapshot: np.ndarray
    first_id: np.ndarray
    last_id: np.ndarray
    is_bid: np.ndarray
    price: np.ndarray
    size: np.ndarray
    msgs: list[Msg] = field(default_factory=list)

    def args(self) -> tuple[np.ndarray, ...]:
        return (self.msg_start, self.ts, self.snapshot, self.first_id, self.last_id,
                self.is_bid, self.price, self.size)  # fmt: skip

    def __len__(self) -> int:
        return len(self.ts)


def arrays(msgs: list[Msg]) -> Arrays:
    counts = [len(m.rows) for m in msgs]
    rows = [r for m in msgs for r in m.rows]
    return Arrays(
        np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]).astype(np.int64),
        np.array([m.ts for m in msgs], dtype=np.int64),
        np.array([m.snapshot for m in msgs], dtype=np.uint8),
        np.array([NO_ID if m.first is None else m.first for m in msgs], dtype=np.int64),
        np.array([NO_ID if m.last is None else m.last for m in msgs], dtype=np.int64),
        np.array([r[0] for r in rows], dtype=np.uint8),
        np.array([r[1] for r in rows], dtype=np.float64),
        np.array([r[2] for r in rows], dtype=np.float64),
        msgs,
    )


def event(m: Msg) -> OrderBookEvent:
    bids = tuple((p, s) for b, p, s in m.rows if b)
    asks = tuple((p, s) for b, p, s in m.rows if not b)
    return OrderBookEvent(m.ts, bids, asks, m.snapshot, "X", m.ts, m.first, m.last)


def bits(x: float) -> bytes:
    return struct.pack("<d", x)


def lbits(levels: list[tuple[float, float]]) -> list[tuple[bytes, bytes]]:
    return [(bits(p), bits(s)) for p, s in levels]


def state(b) -> tuple:
    """Everything observable, floats as their bits."""
    bids, asks = b.levels(10**9)
    best = (b.best_bid(), b.best_ask())
    return (
        lbits(bids), lbits(asks), [None if x is None else bits(x) for x in best],
        bits(b.best_bid_size()), bits(b.best_ask_size()), b.depth(), b.synced,
        b.last_update_id, b.refused_stale, b.refused_gap, b.refused_unsynced, b.gap_from,
        b.gap_to, b.applied, b.last_stop,
        [(bits(p), bits(s)) for p, s in b.bids_dict().items()],
        [(bits(p), bits(s)) for p, s in b.asks_dict().items()],
    )  # fmt: skip


def snap(uid, bids, asks, ts=1) -> Msg:
    rows = [(True, p, s) for p, s in bids] + [(False, p, s) for p, s in asks]
    return Msg(rows, True, uid, uid, ts)


def delta(first, last, bids=(), asks=(), ts=2) -> Msg:
    rows = [(True, p, s) for p, s in bids] + [(False, p, s) for p, s in asks]
    return Msg(rows, False, first, last, ts)


def run_all(book, a: Arrays, **kw) -> list[tuple[int, int]]:
    """Apply every message, resuming after each stop; the (returned index, stop) pairs."""
    out, m = [], 0
    while m < len(a):
        m = book.apply_messages(*a.args(), m, len(a), **kw)
        out.append((m, book.last_stop))
        if book.last_stop == 1:
            kw["until_ts"] = NEVER
    return out


# ---- hand-computed cases ------------------------------------------------------------------
@pytest.mark.parametrize("impl", IMPLS)
def test_snapshot_then_deltas(impl):
    a = arrays([
        snap(10, [(99.0, 1.0), (98.0, 2.0)], [(101.0, 1.5), (102.0, 3.0)]),
        delta(11, 12, bids=[(99.0, 0.0), (99.5, 4.0)], asks=[(103.0, 1.0)]),
        delta(13, 13, bids=[(50.0, 0.0)]),  # deleting an unknown level: a no-op
    ])  # fmt: skip
    b = impl()
    assert not b.synced
    assert b.last_update_id is None
    assert b.apply_messages(*a.args(), 0, 3) == 3
    assert b.last_stop == 0
    assert b.levels(2) == ([(99.5, 4.0), (98.0, 2.0)], [(101.0, 1.5), (102.0, 3.0)])
    assert (b.best_bid(), b.best_ask()) == (99.5, 101.0)
    assert (b.best_bid_size(), b.best_ask_size()) == (4.0, 1.5)
    assert b.size_at(103.0, False) == 1.0
    assert b.size_at(103.0, True) == 0.0
    assert b.size_at(99.0, True) == 0.0
    assert b.depth() == (2, 3)
    assert list(b.bids_dict().items()) == [(99.5, 4.0), (98.0, 2.0)]
    assert list(b.asks_dict().items()) == [(101.0, 1.5), (102.0, 3.0), (103.0, 1.0)]
    assert (b.applied, b.last_update_id, b.synced) == (3, 13, True)
    assert b.levels(0) == ([], [])
    with pytest.raises(ValueError, match="n must be"):
        b.levels(-1)
    b.clear()
    assert (b.depth(), b.synced, b.last_update_id, b.applied) == ((0, 0), False, None, 0)
    assert (b.best_bid(), b.best_ask(), b.best_bid_size()) == (None, None, 0.0)


@pytest.mark.parametrize("impl", IMPLS)
def test_refusals_and_gap_stop(impl):
    a = arrays([
        delta(1, 1, bids=[(1.0, 1.0)]),  # unsynced
        snap(10, [(99.0, 1.0)], [(101.0, 1.0)]),
        delta(5, 9, bids=[(99.0, 7.0)]),  # stale
        delta(8, 12, bids=[(99.0, 7.0)]),  # overlaps: applied
        delta(15, 16, bids=[(99.0, 5.0)]),  # 13..14 missing: a gap, stop 4
        delta(17, 17, bids=[(99.0, 6.0)]),  # unsynced
        delta(None, None, bids=[(99.0, 6.0)]),  # unsynced
        snap(20, [(98.0, 1.0)], [(100.0, 1.0)]),
        delta(None, None, asks=[(100.5, 2.0)]),  # no ids: applied, id kept
    ])  # fmt: skip
    b = impl()
    assert b.apply_messages(*a.args(), 0, len(a)) == 5
    assert (b.last_stop, b.gap_from, b.gap_to, b.refused_gap, b.synced) == (4, 13, 14, 1, False)
    assert (b.refused_stale, b.refused_unsynced, b.applied, b.last_update_id) == (1, 1, 2, 12)
    assert b.best_bid_size() == 7.0
    assert b.apply_messages(*a.args(), 5, len(a)) == len(a)
    assert (b.refused_unsynced, b.applied, b.last_update_id, b.synced) == (3, 4, 20, True)
    assert b.levels() == ([(98.0, 1.0)], [(100.0, 1.0), (100.5, 2.0)])


@pytest.mark.parametrize("impl", IMPLS)
def test_require_snapshot_false_and_no_ids(impl):
    a = arrays([delta(None, None, bids=[(1.0, 2.0)]), delta(None, 5, asks=[(2.0, 1.0)])])
    b = impl(require_snapshot=False)
    assert b.synced
    assert not b.require_snapshot
    assert b.apply_messages(*a.args(), 0, 2) == 2
    assert (b.depth(), b.last_update_id, b.applied) == ((1, 1), 5, 2)


@pytest.mark.parametrize("impl", IMPLS)
def test_until_ts_best_and_watch_stops(impl):
    a = arrays([
        snap(1, [(99.0, 1.0)], [(101.0, 1.0)], ts=10),
        delta(2, 2, bids=[(98.0, 1.0)], ts=20),  # best unchanged
        delta(3, 3, bids=[(99.5, 1.0)], ts=30),  # best bid changed
        delta(4, 4, asks=[(102.0, 1.0)], ts=40),  # watched 102.0 set
        delta(5, 5, asks=[(105.0, 0.0)], ts=50),  # no-op delete of a watched price: no stop
        delta(6, 6, asks=[(101.0, 0.0), (102.0, 0.0)], ts=60),  # best and watched: 3
        delta(7, 7, bids=[(99.5, 0.0)], ts=70),
    ])  # fmt: skip
    w = np.array([102.0, 105.0])
    b = impl()
    kw = {"watch": w, "stop_on_best": True}
    assert b.apply_messages(*a.args(), 0, 7, watch=w, until_ts=20) == 1  # the snapshot, ts 20
    assert b.last_stop == 1
    assert b.apply_messages(*a.args(), 1, 7, **kw, until_ts=20) == 1  # nothing applied
    assert b.applied == 1
    assert b.apply_messages(*a.args(), 1, 7, **kw) == 3
    assert (b.last_stop, b.best_bid()) == (2, 99.5)
    assert b.apply_messages(*a.args(), 3, 7, **kw) == 4
    assert b.last_stop == 3
    assert b.apply_messages(*a.args(), 4, 7, **kw) == 6
    assert (b.last_stop, b.best_ask()) == (3, None)
    assert b.apply_messages(*a.args(), 6, 7, **kw) == 7
    assert b.last_stop == 2  # the best bid went from 99.5 to 99.0
    assert b.apply_messages(*a.args(), 7, 7, **kw) == 7
    assert b.last_stop == 0
    # a snapshot that clears a watched level stops; a stop on the first message of a snapshot
    assert b.apply_messages(*a.args(), 0, 1, watch=np.array([98.0])) == 1
    assert b.last_stop == 3
    b.clear()
    assert b.apply_messages(*a.args(), 0, 7, stop_on_best=True) == 1  # sides appeared
    assert b.last_stop == 2
    assert b.apply_messages(*a.args(), 1, 7, watch=np.empty(0)) == 7


@pytest.mark.parametrize("impl", IMPLS)
def test_apply_levels_and_odd_floats(impl):
    price = np.array([1.0, 0.0, -0.0, math.nan, 2.0, 1.0, 3.0])
    size = np.array([1.0, 2.0, 5.0, 9.0, -0.0, math.inf, 0.5])
    isb = np.array([1, 1, 1, 1, 1, 0, 2], dtype=np.uint8)  # non-zero is a bid
    b = impl()
    b.apply_levels(isb, price, size, 0, 7)
    assert not b.synced
    assert b.applied == 0
    bids = b.levels(10)[0]
    assert lbits(bids) == lbits([(3.0, 0.5), (1.0, 1.0), (0.0, 5.0)])  # the first key is kept
    assert b.levels(10)[1] == [(1.0, math.inf)]
    assert b.size_at(-0.0, True) == 5.0
    assert b.size_at(math.nan, True) == 0.0
    b.apply_levels(isb.astype(bool), price, np.zeros(7), 1, 3)  # -0.0 deletes 0.0
    assert b.depth() == (2, 1)


@pytest.mark.parametrize("impl", IMPLS)
def test_bad_arguments(impl):
    a = arrays([snap(1, [(99.0, 1.0)], [(101.0, 1.0)]), delta(2, 2, bids=[(98.0, 1.0)])])
    b = impl()
    args = list(a.args())
    wrongs = [
        (0, a.msg_start.astype(np.int32)),
        (6, a.price.astype(np.float32)),
        (5, a.is_bid.astype(np.int16)),
        (6, a.price.tolist()),
        (6, a.price[::-1][::2]),
    ]
    for i, bad in wrongs:
        wrong = list(args)
        wrong[i] = bad
        with pytest.raises(TypeError):
            b.apply_messages(*wrong, 0, 2)
    with pytest.raises(TypeError):
        b.apply_messages(*args, 0, 2, watch=np.array([1], dtype=np.int64))
    with pytest.raises(ValueError, match="out of range"):
        b.apply_messages(*args, 0, 3)
    with pytest.raises(ValueError, match="out of range"):
        b.apply_messages(*args, 2, 1)
    with pytest.raises(ValueError, match="same length"):
        b.apply_messages(*args[:5], a.is_bid, a.price[:1], a.size, 0, 2)
    bad_start = np.array([0, 2, 99], dtype=np.int64)
    with pytest.raises(ValueError, match="message 1"):
        b.apply_messages(bad_start, *args[1:], 0, 2)
    assert (b.applied, b.depth()) == (1, (1, 1))  # message 0 applied before the error
    with pytest.raises(ValueError, match=r"rows 1\.\.9"):
        b.apply_levels(a.is_bid, a.price, a.size, 1, 9)
    with pytest.raises(AttributeError):
        b.synced = True


def test_pure_python_switch(monkeypatch):
    monkeypatch.setenv("BTCH_PURE_PYTHON", "1")
    try:
        mod = importlib.reload(l2book)
        assert mod.L2Book is mod.PyL2Book
        assert not mod.COMPILED
    finally:
        monkeypatch.delenv("BTCH_PURE_PYTHON")
        mod = importlib.reload(l2book)
    assert mod.COMPILED == (mod.CL2Book is not None)
    assert mod.L2Book is (mod.CL2Book if mod.COMPILED else mod.PyL2Book)


# ---- the reference: OrderBookChannel plus the stop rules --------------------------------------
def reference(msgs: list[Msg], calls: list[dict]) -> tuple[OrderBookChannel, list[tuple[int, int]]]:
    """Drive an OrderBookChannel with the documented stop rules, call after call."""
    ch = OrderBookChannel("X")
    out, m = [], 0
    for kw in calls:
        if m >= len(msgs):
            break
        watch = set(kw.get("watch", ()))
        until, stop = kw.get("until_ts", NEVER), 0
        while m < len(msgs) and not stop:
            msg = msgs[m]
            if msg.ts >= until:
                stop = 1
                break
            old_best = (ch.best_bid_price, ch.best_ask_price)
            hit = msg.snapshot and any(w in ch.bids or w in ch.asks for w in watch)
            sides = ({}, {}) if msg.snapshot else (dict(ch.bids), dict(ch.asks))
            for b, p, s in msg.rows:
                d = sides[0] if b else sides[1]
                if s == 0.0:
                    hit = hit or (p in d and p in watch)
                    d.pop(p, None)
                else:
                    hit = hit or p in watch
                    d[p] = s
            ngaps = len(ch.gaps)
            applied = ch.push(event(msg))
            m += 1
            if len(ch.gaps) > ngaps:
                stop = 4
            elif applied and hit:
                stop = 3
            elif (
                applied
                and kw.get("stop_on_best")
                and old_best != (ch.best_bid_price, ch.best_ask_price)
            ):
                stop = 2
        out.append((m, stop))
    return ch, out


def agree_with_channel(book, ch: OrderBookChannel) -> None:
    bids, asks = ch.levels(10**9)
    assert lbits(book.levels(10**9)[0]) == lbits([tuple(x) for x in bids])
    assert lbits(book.levels(10**9)[1]) == lbits([tuple(x) for x in asks])
    assert book.bids_dict() == ch.bids
    assert book.asks_dict() == ch.asks
    assert (book.best_bid(), book.best_ask()) == (ch.best_bid_price, ch.best_ask_price)
    assert (book.synced, book.last_update_id, book.applied) == (
        ch.synced,
        ch.last_update_id,
        ch.count,
    )
    refused = (book.refused_stale, book.refused_gap, book.refused_unsynced)
    assert refused == (ch.refused["stale"], ch.refused["gap"], ch.refused["unsynced"])
    assert (book.gap_from, book.gap_to) == (ch.gaps[-1] if ch.gaps else (0, 0))


# ---- hypothesis: random message sequences -------------------------------------------------
PRICES = st.sampled_from([0.0, -0.0, 1.0, 1.5, 2.0, 2.5, 3.0, 100.25, 1e300, math.inf])
SIZES = st.sampled_from([0.0, -0.0, 0.0, 1.0, 2.5, 3.0, 1e-9, math.inf])
ROWS = st.lists(st.tuples(st.booleans(), PRICES, SIZES), max_size=8)


@st.composite
def messages(draw) -> list[Msg]:
    msgs, uid, ts = [], draw(st.integers(-5, 5)), 0
    for _ in range(draw(st.integers(0, 25))):
        kind = draw(st.sampled_from(["ok", "ok", "ok", "stale", "gap", "overlap", "noid", "snap"]))
        n = draw(st.integers(0, 3))
        first, last = {"ok": (uid + 1, uid + 1 + n), "stale": (uid - n - 1, uid - 1),
                       "gap": (uid + 2 + n, uid + 2 + 2 * n), "overlap": (uid - n, uid + 1),
                       "noid": (None, None), "snap": (None, uid + n)}[kind]  # fmt: skip
        if draw(st.integers(0, 9)) == 0:
            first = None
        ts += draw(st.integers(0, 3))
        msgs.append(Msg(draw(ROWS), kind == "snap", first, last, ts))
        uid = max(uid, last) if last is not None and kind != "stale" else uid
        if kind == "snap":
            uid = last
    return msgs


CALLS = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "watch": st.lists(PRICES, max_size=3),
            "stop_on_best": st.booleans(),
            "until_ts": st.integers(0, 60),
        },
    ),
    min_size=1,
    max_size=40,
)


def drive(book, a: Arrays, calls: list[dict]) -> list[tuple[int, int]]:
    out, m = [], 0
    for kw in calls:
        if m >= len(a):
            break
        kw = dict(kw)
        if "watch" in kw:
            kw["watch"] = np.array(kw["watch"], dtype=np.float64)
        m = book.apply_messages(*a.args(), m, len(a), **kw)
        out.append((m, book.last_stop))
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(msgs=messages(), calls=CALLS, require=st.booleans())
def test_python_book_matches_the_channel(msgs, calls, require):
    a = arrays(msgs)
    book = PyL2Book()
    stops = drive(book, a, calls)
    ch, expected = reference(msgs, calls)
    assert stops == expected
    agree_with_channel(book, ch)
    free = PyL2Book(require_snapshot=require)
    run_all(free, a)
    other = OrderBookChannel("X", require_snapshot=require)
    for m in msgs:
        other.push(event(m))
    agree_with_channel(free, other)


@needs_c
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(msgs=messages(), calls=CALLS, nan=st.booleans(), require=st.booleans())
def test_compiled_book_matches_python_bit_for_bit(msgs, calls, nan, require):
    if nan and msgs:  # NaN prices are outside OrderBookChannel's contract, not outside ours
        msgs[0].rows.append((True, math.nan, 1.0))
    a = arrays(msgs)
    c, p = CL2Book(require), PyL2Book(require)
    assert drive(c, a, calls) == drive(p, a, calls)
    assert state(c) == state(p)
    c.apply_levels(a.is_bid, a.price, a.size, 0, len(a.price))
    p.apply_levels(a.is_bid, a.price, a.size, 0, len(a.price))
    assert state(c) == state(p)
    c.clear()
    p.clear()
    assert state(c) == state(p)


# ---- a long synthetic stream ----------------------------------------------------------------
def synthetic(n_rows: int, rows_per_msg: int = 60, levels: int = 1000, seed: int = 7) -> Arrays:
    """A snapshot of ``levels`` per side then deltas: random-walk mid on a 0.01 grid."""
    rng = np.random.default_rng(seed)
    n_msgs = n_rows // rows_per_msg
    mid = 1_000_000 + np.cumsum(rng.integers(-2, 3, n_msgs))  # in ticks
    off = np.minimum(rng.geometric(3.0 / levels, n_rows), 2 * levels)
    is_bid = rng.integers(0, 2, n_rows).astype(np.uint8)
    msg_of_row = np.minimum(np.arange(n_rows) // rows_per_msg, n_msgs - 1)
    ticks = mid[msg_of_row] + np.where(is_bid == 1, -off, off)
    size = np.where(rng.random(n_rows) < 0.3, 0.0, np.round(rng.random(n_rows) * 10, 3))
    snap_ticks = np.arange(1, levels + 1)
    snap_bid = np.concatenate([np.ones(levels), np.zeros(levels)]).astype(np.uint8)
    snap_px = np.concatenate([mid[0] - snap_ticks, mid[0] + snap_ticks]) / 100.0
    starts = np.concatenate([[0], 2 * levels + rows_per_msg * np.arange(n_msgs + 1)])
    starts[-1] = 2 * levels + n_rows
    ids = np.arange(n_msgs + 1, dtype=np.int64)
    return Arrays(
        starts.astype(np.int64), np.arange(n_msgs + 1, dtype=np.int64),
        np.concatenate([[1], np.zeros(n_msgs)]).astype(np.uint8), ids, ids,
        np.concatenate([snap_bid, is_bid]), np.concatenate([snap_px, ticks / 100.0]),
        np.concatenate([np.ones(2 * levels), size]),
    )  # fmt: skip


def test_synthetic_stream_agrees():
    a = synthetic(60_000)
    p = PyL2Book()
    assert p.apply_messages(*a.args(), 0, len(a)) == len(a)
    ch = OrderBookChannel("X")
    for m in range(len(a)):
        s, e = a.msg_start[m], a.msg_start[m + 1]
        rows = list(zip(a.is_bid[s:e].tolist(), a.price[s:e].tolist(), a.size[s:e].tolist()))
        last = int(a.last_id[m])
        ch.push(event(Msg(rows, bool(a.snapshot[m]), last, last, int(a.ts[m]))))
    agree_with_channel(p, ch)
    assert p.depth()[0] > 500
    assert p.depth()[1] > 500
    if CL2Book is not None:
        c = CL2Book()
        stops_c = run_all(c, a, stop_on_best=True, watch=np.array([10000.0, 10000.5]))
        p2 = PyL2Book()
        stops_p = run_all(p2, a, stop_on_best=True, watch=np.array([10000.0, 10000.5]))
        assert stops_c == stops_p
        assert len(stops_c) > 100  # it did stop, many times
        assert state(c) == state(p2)
        assert state(c)[:3] == state(p)[:3]


@needs_c
@pytest.mark.parametrize("seed", range(4))
def test_compiled_large_books_with_odd_prices(seed):
    """Books of hundreds of levels (the compiled search interpolates and gallops there) over
    grid, skewed and extreme prices: the same book as Python's at every step."""
    rng = np.random.default_rng(seed)
    extremes = [0.0, -0.0, 1e308, -1e308, 5e-324, -5e-324, math.nan]
    if seed % 2:
        extremes += [math.inf, -math.inf]
    pool = np.concatenate(
        [
            np.arange(-300, 300) / 100.0,
            rng.lognormal(0, 3, 300),
            -rng.lognormal(0, 3, 100),
            extremes,
        ]
    )
    n = 30_000
    price = rng.choice(pool, n)
    size = np.where(rng.random(n) < 0.35, 0.0, rng.random(n))
    is_bid = rng.integers(0, 2, n).astype(np.uint8)
    c, p = CL2Book(), PyL2Book()
    for s in range(0, n, 3000):
        c.apply_levels(is_bid, price, size, s, s + 3000)
        p.apply_levels(is_bid, price, size, s, s + 3000)
        assert state(c) == state(p)
        for x in pool[::7].tolist() + extremes:
            assert bits(c.size_at(x, True)) == bits(p.size_at(x, True))
            assert bits(c.size_at(x, False)) == bits(p.size_at(x, False))
    assert min(c.depth()) > 100
