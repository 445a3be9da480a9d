"""Binance futures (USDⓈ-M linear, COIN-M inverse) in recorded WebSocket captures: their unified
symbols, how their frames are told from spot's, and the order book's sequence rule.

**Symbols.** A stream names a futures contract as Binance does (``ethusdt``, ``ethusd_perp``);
rows and contents carry ccxt's unified symbol: ``ETH/USDT:USDT`` (USDⓈ-M, linear), ``ETH/USD:ETH``
(COIN-M perpetual, inverse, sizes in contracts), ``ETH/USD:ETH-240927`` (a COIN-M delivery).

**Frames.** Futures depth diffs carry ``pu``, futures bookTicker frames ``E`` and ``T`` (spot's
have neither), futures trades no ``M``; ``markPriceUpdate`` frames are futures only.

**Depth sequence** (Binance's futures rule, :class:`FuturesBook`): diffs read before the REST
snapshot are kept; diffs with ``u < lastUpdateId`` are dropped; the first applied diff has
``U <= lastUpdateId <= u``; then each diff's ``pu`` equals the previous diff's ``u``. The diff
that straddles the snapshot usually arrives *before* the snapshot line. A diff whose ``u``
equals ``lastUpdateId`` holds nothing newer than the snapshot and is not written. Written diffs
carry ``first_update_id = pu + 1`` (the first id after the diff they continue), so that the
book channel's continuity check (a delta starts at or before its last id + 1) is the futures
chain: a break (``pu`` != the previous ``u``) reaches the channel as a gap, counted and reported
there, and the reader keeps the diffs after it until a snapshot joins them again (as at the
start; a snapshot that cannot be joined is a located ``DataError``). A snapshot read while the
book is in sequence is older than the book the diffs built (or as new) and is left out.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import NamedTuple

from ...btypes import JsonDict
from ...errors import DataError

#: USDⓈ-M quote (and settle) assets, longest first
_LINEAR_QUOTES = ("FDUSD", "USDT", "USDC", "BUSD")
#: diffs kept after a break, waiting for a snapshot (the oldest are let go: a snapshot joins
#: diffs read around it, never ones this far back)
_KEEP_AFTER_BREAK = 20_000


def unified_symbol(raw: str) -> tuple[str, str]:
    """``(ccxt symbol, market)`` of a Binance futures contract id (``ethusdt``: ``ETH/USDT:USDT``,
    linear; ``ethusd_perp``: ``ETH/USD:ETH``, inverse; ``ETHUSD_240927``:
    ``ETH/USD:ETH-240927``)."""
    pair, _, suffix = raw.upper().partition("_")
    tail = f"-{suffix}" if suffix and suffix != "PERP" else ""
    for quote in _LINEAR_QUOTES:
        if pair.endswith(quote) and len(pair) > len(quote):
            return f"{pair[: -len(quote)]}/{quote}:{quote}{tail}", "linear"
    if pair.endswith("USD") and len(pair) > 3:
        base = pair[:-3]
        return f"{base}/USD:{base}{tail}", "inverse"
    return raw.upper(), "linear"


def frame_market(kind: str, data: object) -> str | None:
    """``"spot"`` or ``"futures"`` from a Binance frame's fields (futures frames carry ``pu`` in
    depth, ``E`` in bookTicker, no ``M`` in trades; mark prices are futures only); None if the
    frame does not say."""
    if kind.startswith("markPrice"):
        return "futures"
    if not isinstance(data, dict):
        return None
    if kind == "depth":
        return "futures" if "pu" in data else "spot"
    if kind == "bookTicker":
        return "futures" if "E" in data else "spot"
    return "spot" if "M" in data else "futures"


class Diff(NamedTuple):
    """A depth diff as read: its line, receive time (ns) and frame data."""

    lineno: int
    recv: int
    data: JsonDict


#: ``(diff, first_update_id)``: write this diff's rows
WriteDiff = Callable[[Diff, int], None]
#: ``(snapshot line, receive time, snapshot, first diff applied)``: write the snapshot's rows
WriteSnapshot = Callable[[int, int, JsonDict, Diff], None]


class FuturesBook:
    """Binance's futures depth rule over one capture (see the module doc); it decides which
    diffs and snapshots are written, and calls ``write_diff`` / ``write_snapshot`` for them."""

    def __init__(self, path: str, write_diff: WriteDiff, write_snapshot: WriteSnapshot):
        self.path = path
        self._write_diff, self._write_snapshot = write_diff, write_snapshot
        self.synced = False
        self.last_u: int | None = None
        self.pending: deque[Diff] = deque()
        self.snapshot: tuple[int, int, JsonDict] | None = None
        #: breaks of the ``pu`` chain met (each is a gap in the book channel)
        self.breaks = 0
        #: snapshots left out because the book was in sequence
        self.snapshots_skipped = 0

    def on_snapshot(self, lineno: int, recv: int, snap: JsonDict) -> None:
        if self.synced:
            self.snapshots_skipped += 1
            return
        self.snapshot = (lineno, recv, snap)
        self._join()

    def on_diff(self, diff: Diff) -> None:
        if not self.synced:
            if self.snapshot is None and len(self.pending) >= _KEEP_AFTER_BREAK:
                self.pending.popleft()
            self.pending.append(diff)
            if self.snapshot is not None:
                self._join()
            return
        self._in_sequence(diff)

    def _in_sequence(self, diff: Diff) -> None:
        d = diff.data
        last, prev = int(d["u"]), int(d["pu"])
        assert self.last_u is not None
        if last <= self.last_u:
            return  # a repeat of what the book has
        if prev == self.last_u:
            self._write_diff(diff, prev + 1)
            self.last_u = last
            return
        # a break: written so that the book channel sees the gap (its first id is past the
        # book's last + 1), then kept, with the diffs after it, until a snapshot joins them
        self.breaks += 1
        self._write_diff(diff, max(prev + 1, self.last_u + 2))
        self.synced, self.snapshot = False, None
        self.pending = deque([diff])

    def _join(self) -> None:
        assert self.snapshot is not None
        snap_line, snap_recv, snap = self.snapshot
        snap_id = int(snap["lastUpdateId"])
        while self.pending and int(self.pending[0].data["u"]) < snap_id:
            self.pending.popleft()  # older than the snapshot
        if not self.pending:
            return  # the diff that joins it is still to come
        first = self.pending.popleft()
        lo, hi = int(first.data["U"]), int(first.data["u"])
        if not lo <= snap_id <= hi:
            raise DataError(
                self.path,
                f"depth diff U={lo} u={hi} does not join the snapshot of line {snap_line} "
                f"(lastUpdateId={snap_id}; Binance futures: U <= lastUpdateId <= u)",
                line=first.lineno,
            )
        self._write_snapshot(snap_line, snap_recv, snap, first)
        if hi > snap_id:
            self._write_diff(first, int(first.data["pu"]) + 1)
        self.synced, self.snapshot, self.last_u = True, None, hi
        rest, self.pending = self.pending, deque()
        for diff in rest:
            if self.synced:
                self._in_sequence(diff)
            else:  # a break among the diffs kept
                self.pending.append(diff)
