"""L2Book: the backtest's fast L2 order book, compiled or in pure Python.

Two implementations share one API and one contract:

* ``CL2Book``, the C extension ``backtrader_channels.channels._l2book`` (built by ``setup.py``
  when a C compiler is available; ``BTCH_NO_EXT=1`` at build time skips it);
* ``PyL2Book``, this module's pure-Python book (dict + sorted list + bisect, like
  :class:`~backtrader_channels.channels.orderbook.OrderBookChannel`).

``L2Book`` is the compiled one when it imported, else the Python one; ``COMPILED`` says which.
``BTCH_PURE_PYTHON=1`` in the environment at import forces the Python one.

Contract: fed the same arrays, both give the same book bit for bit (the same price and size
floats, the same level sets, the same counters, the same return values and stop codes, the same
exception types), and the same book as ``OrderBookChannel.push`` fed the same messages as
``OrderBookEvent`` (its bids then asks; the two sides are independent, so row order only matters
within a side).

Input layout (any 1-d C-contiguous buffer: numpy arrays, ``array.array``, ``memoryview``):

* per level row: ``is_bid`` uint8 or bool (non-zero: bid), ``price`` float64, ``size`` float64
  (absolute size; ``0.0`` deletes, deleting an unknown level is a no-op). A NaN price never
  equals a level: such rows are ignored;
* per message ``m``: rows ``msg_start[m]:msg_start[m + 1]`` (``msg_start`` int64, one longer than
  the messages), ``ts`` int64 (ns), ``snapshot`` uint8/bool, ``first_id``/``last_id`` int64 update
  ids where :data:`NO_ID` (``-2**63``) means "none", like ``None`` in ``OrderBookEvent``.

Rules per message (``OrderBookChannel.push``): a snapshot clears the book, syncs it, and applies
its rows (no id checks). A delta on an unsynced book is refused (``refused_unsynced``). When the
delta has a ``last_id`` and the book a ``last_update_id``: ``last_id <= last_update_id`` is stale
(``refused_stale``, skipped); ``first_id > last_update_id + 1`` (``first_id`` given) is a gap:
the book becomes unsynced, ``gap_from``/``gap_to`` are the first and last missing ids,
``refused_gap`` counts it. An applied message counts in ``applied`` and sets
``last_update_id = last_id`` when it has one (a snapshot without ids keeps the old one).

``apply_messages`` stops early and returns the index of the next message to apply, and sets
``last_stop`` (0 when it ran through to ``m1``):

* 1: the next message has ``ts >= until_ts`` (not applied; ``2**63 - 1`` never stops);
* 4: the message just processed was a gap (refused, counted);
* 3: the message just applied set or deleted a level whose price is in ``watch`` (either side;
  a set counts even when the size is unchanged, a no-op delete does not; a snapshot also counts
  when a watched price was in the book it cleared);
* 2: ``stop_on_best`` and the message just applied changed the best bid or best ask price
  (a side becoming empty or non-empty counts).

One message gives one code: 3 wins over 2 (a gap applies nothing). Invalid arguments raise
``TypeError`` (an array of the wrong kind) or ``ValueError`` (lengths, ranges); a message whose
row range is out of bounds raises ``ValueError`` before it is applied, the messages before it
staying applied.

Reading: ``best_bid()``/``best_ask()`` are methods (``None`` when the side is empty);
``levels(n)`` lists best first; ``bids_dict()``/``asks_dict()`` are ordered best first. The
state attributes are read-only.
"""

from __future__ import annotations

import importlib
import os
from bisect import bisect_left, insort
from collections.abc import Sequence
from operator import index
from typing import Any

__all__ = ["COMPILED", "NEVER", "NO_ID", "L2Book", "PyL2Book"]

#: update id meaning "none" (turns the id checks off for the message)
NO_ID = -(2**63)
#: ``until_ts`` that never stops
NEVER = 2**63 - 1

_KINDS = {
    "uint8": ({"B", "?"}, 1),
    "float64": ({"d"}, 8),
    "int64": ({"l", "q"}, 8),
}
_FIRST_CHUNK = 8  # messages converted to lists at a time, doubling up to _MAX_CHUNK
_MAX_CHUNK = 4096


def _array(obj: Any, kind: str, name: str) -> memoryview:
    """``obj`` as a 1-d C-contiguous memoryview of ``kind`` (the checks of the C extension)."""
    chars, size = _KINDS[kind]
    msg = f"{name} must be a 1-d C-contiguous {kind} array"
    try:
        mv = memoryview(obj)
    except TypeError:
        raise TypeError(msg) from None
    fmt = mv.format[1:] if mv.format.startswith("@") else mv.format
    if mv.ndim != 1 or not mv.c_contiguous or fmt not in chars or mv.itemsize != size:
        raise TypeError(msg)
    return mv


def _rows(isb: Any, px: Any, sz: Any) -> tuple[memoryview, memoryview, memoryview]:
    b = _array(isb, "uint8", "is_bid")
    p = _array(px, "float64", "price")
    s = _array(sz, "float64", "size")
    if not len(b) == len(p) == len(s):
        raise ValueError("is_bid, price and size must have the same length")
    return b, p, s


def _apply_rows(
    bids: dict[float, float],
    bp: list[float],
    asks: dict[float, float],
    ap: list[float],
    isb: Sequence[int],
    px: Sequence[float],
    sz: Sequence[float],
    watch: frozenset[float],
) -> bool:
    """Apply level rows (as OrderBookChannel's ``_apply_side``); True when a watched level was
    set or deleted."""
    hit = False
    for b, p, q in zip(isb, px, sz):
        if p != p:  # NaN price: ignored
            continue
        if b:
            book, prices = bids, bp
        else:
            book, prices = asks, ap
        if q == 0.0:
            if p in book:
                del book[p]
                del prices[bisect_left(prices, p)]
                if p in watch:
                    hit = True
        else:
            if p not in book:
                insort(prices, p)
            book[p] = q
            if p in watch:
                hit = True
    return hit


def _apply_rows_plain(
    bids: dict[float, float],
    bp: list[float],
    asks: dict[float, float],
    ap: list[float],
    isb: Sequence[int],
    px: Sequence[float],
    sz: Sequence[float],
) -> bool:
    """``_apply_rows`` for rows without a NaN price and no watched prices (the common case)."""
    for b, p, q in zip(isb, px, sz):
        if b:
            book, prices = bids, bp
        else:
            book, prices = asks, ap
        if q == 0.0:
            if p in book:
                del book[p]
                del prices[bisect_left(prices, p)]
        else:
            if p not in book:
                insort(prices, p)
            book[p] = q
    return False


class PyL2Book:
    """Pure-Python L2 book: the same API and results as the compiled ``L2Book``.

    Parameters
    ----------
    require_snapshot : bool
        When True (default) the book starts unsynced and refuses deltas until a snapshot.

    Notes
    -----
    The rules, input layout and stop codes are in the module docstring.
    """

    __slots__ = (
        "_ap",
        "_applied",
        "_asks",
        "_bids",
        "_bp",
        "_gap_from",
        "_gap_to",
        "_last_stop",
        "_last_update_id",
        "_refused_gap",
        "_refused_stale",
        "_refused_unsynced",
        "_require_snapshot",
        "_synced",
    )

    def __init__(self, require_snapshot: bool = True) -> None:
        self._require_snapshot = bool(require_snapshot)
        self._bids: dict[float, float] = {}
        self._asks: dict[float, float] = {}
        self._bp: list[float] = []  # ascending: the best bid is the last
        self._ap: list[float] = []  # ascending: the best ask is the first
        self.clear()

    def clear(self) -> None:
        """Empty the book, zero the counters, forget the last update id.

        ``synced`` becomes ``not require_snapshot``.
        """
        self._bids.clear()
        self._asks.clear()
        self._bp.clear()
        self._ap.clear()
        self._synced = not self._require_snapshot
        self._last_update_id: int | None = None
        self._refused_stale = self._refused_gap = self._refused_unsynced = 0
        self._gap_from = self._gap_to = self._applied = 0
        self._last_stop = 0

    # ---- state (read-only) ----------------------------------------------------------------
    @property
    def require_snapshot(self) -> bool:
        """Whether a fresh or cleared book waits for a snapshot."""
        return self._require_snapshot

    @property
    def synced(self) -> bool:
        """False before the first snapshot (when required) and after a gap."""
        return self._synced

    @property
    def last_update_id(self) -> int | None:
        """``last_id`` of the latest applied message that had one."""
        return self._last_update_id

    @property
    def refused_stale(self) -> int:
        """Deltas refused as stale."""
        return self._refused_stale

    @property
    def refused_gap(self) -> int:
        """Deltas refused as a gap."""
        return self._refused_gap

    @property
    def refused_unsynced(self) -> int:
        """Deltas refused because the book was unsynced."""
        return self._refused_unsynced

    @property
    def gap_from(self) -> int:
        """First missing id of the latest gap (0 before any)."""
        return self._gap_from

    @property
    def gap_to(self) -> int:
        """Last missing id of the latest gap (0 before any)."""
        return self._gap_to

    @property
    def applied(self) -> int:
        """Messages applied since the last ``clear``."""
        return self._applied

    @property
    def last_stop(self) -> int:
        """Why the latest ``apply_messages`` returned (module docstring's codes)."""
        return self._last_stop

    # ---- applying -------------------------------------------------------------------------
    def apply_messages(
        self,
        msg_start: Any,
        ts: Any,
        snapshot: Any,
        first_id: Any,
        last_id: Any,
        is_bid: Any,
        price: Any,
        size: Any,
        m0: int,
        m1: int,
        watch: Any = None,
        stop_on_best: bool = False,
        until_ts: int = NEVER,
    ) -> int:
        """Apply messages ``m0`` to ``m1 - 1`` in order, stopping early (module docstring).

        Parameters
        ----------
        msg_start : int64 array
            Row offsets, at least ``m1 + 1`` long.
        ts, snapshot, first_id, last_id : arrays
            Per message: int64 ns, uint8/bool, int64 ids (:data:`NO_ID`: none).
        is_bid, price, size : arrays
            Per level row: uint8/bool, float64, float64; the same length.
        m0, m1 : int
            The messages to apply, ``0 <= m0 <= m1``.
        watch : float64 array or None
            Prices whose levels stop the run when set or deleted.
        stop_on_best : bool
            Stop after a message that changed a best price.
        until_ts : int
            Stop before the first message with ``ts >= until_ts``.

        Returns
        -------
        int
            The index of the next message to apply (``m1`` when it ran through).
        """
        views = (
            _array(msg_start, "int64", "msg_start"),
            _array(ts, "int64", "ts"),
            _array(snapshot, "uint8", "snapshot"),
            _array(first_id, "int64", "first_id"),
            _array(last_id, "int64", "last_id"),
        )
        rows = _rows(is_bid, price, size)
        wset: frozenset[float] = frozenset(
            () if watch is None else _array(watch, "float64", "watch").tolist()
        )
        m0, m1 = index(m0), index(m1)
        if m0 < 0 or m1 < m0 or len(views[0]) < m1 + 1 or min(map(len, views[1:])) < m1:
            raise ValueError(f"messages {m0}..{m1} out of range of the message arrays")
        self._last_stop = 0
        m, chunk = m0, _FIRST_CHUNK
        until = index(until_ts)
        while m < m1:
            c1 = min(m1, m + chunk)
            m, stop = self._run(views, rows, m, c1, wset, bool(stop_on_best), until)
            if stop:
                self._last_stop = stop
                return m
            chunk = min(chunk * 2, _MAX_CHUNK)
        return m1

    def _run(
        self,
        views: tuple[memoryview, ...],
        rows: tuple[memoryview, memoryview, memoryview],
        c0: int,
        c1: int,
        watch: frozenset[float],
        stop_on_best: bool,
        until: int,
    ) -> tuple[int, int]:
        """Messages ``c0..c1-1`` (one chunk); returns (next message, stop code)."""
        starts = views[0][c0 : c1 + 1].tolist()
        nrows = len(rows[0])
        ok = 0  # messages of the chunk whose rows are in bounds
        while ok < c1 - c0 and 0 <= starts[ok] <= starts[ok + 1] <= nrows:
            ok += 1
        base, top = (starts[0], starts[ok]) if ok else (0, 0)
        isb, px, sz = (r[base:top].tolist() for r in rows)
        tss, snaps, firsts, lasts = (v[c0:c1].tolist() for v in views[1:])
        bids, asks, bp, ap = self._bids, self._asks, self._bp, self._ap
        total = sum(px)  # NaN when a price is NaN (or both infinities are present)
        careful = bool(watch) or total != total
        for k in range(c1 - c0):
            if tss[k] >= until:
                return c0 + k, 1
            if k == ok:
                s, e = starts[k], starts[k + 1]
                raise ValueError(f"message {c0 + k}: rows {s}..{e} out of 0..{nrows}")
            last = lasts[k]
            before = (bp[-1] if bp else None, ap[0] if ap else None)
            hit = False
            if snaps[k]:
                hit = any(w in bids or w in asks for w in watch)
                bids.clear()
                asks.clear()
                bp.clear()
                ap.clear()
                self._synced = True
            else:
                code = self._admit(firsts[k], last)
                if code == 4:
                    return c0 + k + 1, 4
                if code:
                    continue
            s, e = starts[k] - base, starts[k + 1] - base
            if careful:
                hit = _apply_rows(bids, bp, asks, ap, isb[s:e], px[s:e], sz[s:e], watch) or hit
            else:
                _apply_rows_plain(bids, bp, asks, ap, isb[s:e], px[s:e], sz[s:e])
            if last != NO_ID:
                self._last_update_id = last
            self._applied += 1
            if hit:
                return c0 + k + 1, 3
            if stop_on_best and before != (bp[-1] if bp else None, ap[0] if ap else None):
                return c0 + k + 1, 2
        return c1, 0

    def _admit(self, first: int, last: int) -> int:
        """0 to apply a delta, 1 when refused (counted), 4 for a gap (counted, unsynced)."""
        if not self._synced:
            self._refused_unsynced += 1
            return 1
        prev = self._last_update_id
        if last == NO_ID or prev is None:
            return 0
        if last <= prev:
            self._refused_stale += 1
            return 1
        if first != NO_ID and first > prev + 1:
            self._synced = False
            self._gap_from, self._gap_to = prev + 1, first - 1
            self._refused_gap += 1
            return 4
        return 0

    def apply_levels(self, is_bid: Any, price: Any, size: Any, start: int, end: int) -> None:
        """Apply level rows ``start`` to ``end - 1`` (a delta's levels) with no id checks.

        Parameters
        ----------
        is_bid, price, size : arrays
            uint8/bool, float64, float64; the same length.
        start, end : int
            The rows, ``0 <= start <= end <= len(price)``.
        """
        b, p, s = _rows(is_bid, price, size)
        start, end = index(start), index(end)
        if start < 0 or end < start or end > len(p):
            raise ValueError(f"rows {start}..{end} out of 0..{len(p)}")
        _apply_rows(
            self._bids,
            self._bp,
            self._asks,
            self._ap,
            b[start:end].tolist(),
            p[start:end].tolist(),
            s[start:end].tolist(),
            frozenset(),
        )

    # ---- reading --------------------------------------------------------------------------
    def best_bid(self) -> float | None:
        """Highest bid price, ``None`` when there is no bid."""
        return self._bp[-1] if self._bp else None

    def best_ask(self) -> float | None:
        """Lowest ask price, ``None`` when there is no ask."""
        return self._ap[0] if self._ap else None

    def best_bid_size(self) -> float:
        """Size at the best bid, ``0.0`` when there is no bid."""
        return self._bids[self._bp[-1]] if self._bp else 0.0

    def best_ask_size(self) -> float:
        """Size at the best ask, ``0.0`` when there is no ask."""
        return self._asks[self._ap[0]] if self._ap else 0.0

    def size_at(self, price: float, is_bid: bool) -> float:
        """Size resting at ``price`` on the bid (``is_bid``) or ask side, ``0.0`` when none."""
        return (self._bids if is_bid else self._asks).get(float(price), 0.0)

    def levels(self, n: int = 10) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        """Top ``n`` levels: bids best first (descending), asks best first (ascending)."""
        n = index(n)
        if n < 0:
            raise ValueError("n must be >= 0")
        bids, asks = self._bids, self._asks
        top = self._bp[-n:] if n else []
        return [(p, bids[p]) for p in reversed(top)], [(p, asks[p]) for p in self._ap[:n]]

    def depth(self) -> tuple[int, int]:
        """Number of bid and ask levels."""
        return len(self._bp), len(self._ap)

    def bids_dict(self) -> dict[float, float]:
        """The bids as ``{price: size}``, best (highest) first."""
        bids = self._bids
        return {p: bids[p] for p in reversed(self._bp)}

    def asks_dict(self) -> dict[float, float]:
        """The asks as ``{price: size}``, best (lowest) first."""
        asks = self._asks
        return {p: asks[p] for p in self._ap}

    def __repr__(self) -> str:
        nb, na = self.depth()
        return f"<L2Book (Python) bids={nb} asks={na} synced={self._synced}>"


try:  # (by name: the import graph of the layer checks has no compiled modules)
    CL2Book: Any = importlib.import_module(f"{__package__}._l2book").L2Book
except ImportError:  # not built (no compiler, BTCH_NO_EXT=1)
    CL2Book = None

#: whether ``L2Book`` is the compiled book
COMPILED: bool = CL2Book is not None and os.environ.get("BTCH_PURE_PYTHON", "") in ("", "0")
#: the book the backtest uses: compiled when available
L2Book: Any = CL2Book if COMPILED else PyL2Book
