"""What the loopback Bybit tells an ``orderbook.N`` subscriber: the venue's top N levels.

Bybit's ``orderbook.{N}.{SYMBOL}`` is a snapshot of the top N levels a side, then deltas that
keep the subscriber's book equal to the top N of the venue's: a level that enters the window
comes as an insert, one that leaves it as a delete (size ``"0"``), and changes outside the
window are not sent. The recording the loopback replays is ``orderbook.500`` (its deltas never
delete a level that only left the 500-level window), so the server's book holds far more than
any subscriber; sending its deltas as they are would leave a client started from a top-N
snapshot without the levels that later surface into its window.

:class:`DepthWindows` keeps, beside the server's :class:`~..book.LevelBook`, its prices in order
(best first, by bisection: no sort of the whole book per message) and, for each subscribed
depth, the window: what that depth's subscribers were last told. Every window is the book's top
N after every message, so a snapshot taken at any moment (``top``) agrees with the window, and
a socket that subscribes late gets deltas consistent with its own snapshot.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable

from ..book import LevelBook, LevelPairs, Levels

__all__ = ["DepthWindows"]

_NONE = float("inf")  # no level of a side touched by a message


class _Window:
    """One depth's window: price -> size a side, and each side's worst key (``inf`` while the
    side holds fewer than ``depth`` levels: then any level enters it)."""

    __slots__ = ("asks", "bids", "depth", "worst")

    def __init__(self, depth: int) -> None:
        self.depth = depth
        self.bids: dict[float, str] = {}
        self.asks: dict[float, str] = {}
        self.worst = [_NONE, _NONE]


class DepthWindows:
    """The ``orderbook.N`` windows of one :class:`~..book.LevelBook` (see module doc).

    After each book message is applied to ``book``, call :meth:`reload` (a snapshot replaced
    every level) or :meth:`follow` (a delta's levels), then :meth:`advance` for each depth
    subscribed: what to send that depth's subscribers.

    Parameters
    ----------
    book : LevelBook
        The server's book (read, never changed).
    """

    def __init__(self, book: LevelBook) -> None:
        self.book = book
        self.windows: dict[int, _Window] = {}
        # the book's prices as sort keys, best first: bids negated, asks as they are
        self._keys: tuple[list[float], list[float]] = ([], [])
        # the best key each side of the last delta touched (``_NONE``: none); whether the last
        # message was a snapshot instead
        self._touched = [_NONE, _NONE]
        self._replaced = False
        self.reload()

    # ---- following the book ------------------------------------------------------------------
    def reload(self) -> None:
        """The book was replaced (a snapshot): take its prices again; every window is then
        sent as a snapshot (:meth:`advance`)."""
        self._keys = (sorted(-p for p in self.book.bids), sorted(self.book.asks))
        self._replaced = True

    def follow(self, bids: LevelPairs, asks: LevelPairs) -> None:
        """The book took a delta with these ``[price, size]`` levels: keep the order of its
        prices, and note the best price the delta touched a side."""
        self._replaced = False
        self._touched = [
            self._follow(self._keys[0], self.book.bids, bids, -1.0),
            self._follow(self._keys[1], self.book.asks, asks, 1.0),
        ]

    @staticmethod
    def _follow(
        keys: list[float], side: dict[float, str], levels: LevelPairs, sign: float
    ) -> float:
        """Keep ``keys`` (one side's, best first) the prices of ``side`` after ``levels``; the
        best key among ``levels``."""
        best = _NONE
        for level in levels:
            price = float(level[0])
            key = sign * price
            if key < best:
                best = key
            i = bisect_left(keys, key)
            there = i < len(keys) and keys[i] == key
            if price in side:
                if not there:
                    keys.insert(i, key)
            elif there:
                del keys[i]
        return best

    def top(self, depth: int) -> tuple[Levels, Levels]:
        """The book's best ``depth`` levels a side, printed as :meth:`LevelBook.top` prints
        them (the highest bid, the lowest ask first)."""
        bids, asks = self.book.bids, self.book.asks
        return (
            [[repr(-k), bids[-k]] for k in self._keys[0][:depth]],
            [[repr(k), asks[k]] for k in self._keys[1][:depth]],
        )

    # ---- the windows ---------------------------------------------------------------------------
    def open(self, depth: int) -> tuple[Levels, Levels]:
        """A subscriber of ``depth`` wants a snapshot: the top ``depth`` levels, which the
        depth's window (opened here if it is new) holds too."""
        if depth not in self.windows:
            window = self.windows[depth] = _Window(depth)
            self._refill(window, 0)
            self._refill(window, 1)
        return self.top(depth)

    def keep(self, depths: Iterable[int]) -> None:
        """Forget the windows of depths nobody subscribes to any longer (a later subscriber
        opens a new one with its snapshot)."""
        wanted = set(depths)
        for depth in [d for d in self.windows if d not in wanted]:
            del self.windows[depth]

    def advance(self, depth: int) -> tuple[Levels, Levels]:
        """After the last message: the levels to send ``depth``'s subscribers (each side best
        first; a level that left the window with size ``"0"``), its window moved on. After a
        :meth:`reload`, that is the whole top ``depth`` (to send as a snapshot)."""
        window = self.windows.get(depth)
        if window is None:  # (no snapshot opened it: its subscribers start from here)
            levels = self.open(depth)
            return levels if self._replaced else ([], [])
        if self._replaced:
            self._refill(window, 0)
            self._refill(window, 1)
            return self.top(depth)
        return self._side_delta(window, 0), self._side_delta(window, 1)

    def _side_delta(self, window: _Window, side: int) -> Levels:
        touched = self._touched[side]
        # untouched, or touched only past a full window's worst level: nothing it shows moved
        if touched == _NONE or touched > window.worst[side]:
            return []
        old = window.bids if side == 0 else window.asks
        new = self._refill(window, side)
        sign = -1.0 if side == 0 else 1.0
        out = [(sign * p, [repr(p), "0"]) for p in old if p not in new]
        out.extend((sign * p, [repr(p), s]) for p, s in new.items() if old.get(p) != s)
        out.sort(key=lambda x: x[0])
        return [level for _, level in out]

    def _refill(self, window: _Window, side: int) -> dict[float, str]:
        """The window's side set to the book's top ``depth``; returns it."""
        keys = self._keys[side][: window.depth]
        if side == 0:
            book = self.book.bids
            levels = window.bids = {-k: book[-k] for k in keys}
        else:
            book = self.book.asks
            levels = window.asks = {k: book[k] for k in keys}
        window.worst[side] = keys[-1] if len(keys) == window.depth else _NONE
        return levels
