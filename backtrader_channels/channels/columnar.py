"""ColumnarBookChannel: an order book channel kept in the compiled book, fed columns.

``add_channel("orderbook", symbol, dataname=..., hear="best")`` makes one (``hear`` anything
but ``"all"``). The dispatch loop hands it recorded book messages as columns
(:class:`~backtrader_channels.sources.book_columns.BookColumns`) and it applies them in
:class:`~.l2book.L2Book` (C, or the identical pure-Python book) a stretch at a time, stopping
only where something must happen in Python (:mod:`backtrader_channels.dispatch.book_run`):

* ``hear="best"``: the strategies' ``on_orderbook`` (and ``on_event``) hear the messages that
  changed the best bid or ask price;
* ``hear=N`` (an int, milliseconds): at most one message every N ms of event time, the first
  at or after each multiple of N;
* ``hear="none"``: no message reaches a strategy (the book is kept, orders fill against it);
* and, whatever ``hear`` says, the broker looks at the book where its orders could fill:
  after a best-price change, a change at the price of a resting order (its queue), and after
  every message while an order waits to be matched for the first time.

Reading it is reading an ``OrderBookChannel``: ``best_bid``, ``levels()``, ``size_at()``,
``mid_price``, ``bids``/``asks`` (dicts built when read), ``synced``, ``refused``, ``gaps``.
``latest`` is the last message applied (built when read); ``history`` holds the messages heard.
``count`` counts every message applied.
"""

from __future__ import annotations

from collections import Counter
from typing import Literal, Protocol, TypeAlias, cast

import numpy as np

from ..events import Level, OrderBookEvent
from .l2book import L2Book
from .orderbook import OrderBookChannel

#: what the strategies hear of a book: every message, best-price changes, none, or at most
#: one message per N milliseconds (an int)
Hear: TypeAlias = 'Literal["all", "best", "none"] | int'
HEARS = ("all", "best", "none")
_NO_ID = -(1 << 63)
_F8, _U1, _I8 = np.float64, np.uint8, np.int64


class MessageColumns(Protocol):
    """Book messages as columns (``sources.book_columns.BookColumns``): per message ``ts``,
    ``start`` (row offsets, one more than the messages), ``snapshot``, ``first_id``,
    ``last_id``; per level row ``is_bid``, ``price``, ``size``; ``event(i)`` builds one."""

    ts: np.ndarray
    start: np.ndarray
    snapshot: np.ndarray
    first_id: np.ndarray
    last_id: np.ndarray
    is_bid: np.ndarray
    price: np.ndarray
    size: np.ndarray

    def event(self, i: int) -> OrderBookEvent: ...


def check_hear(hear: object) -> Hear:
    """``hear`` if it is one of :data:`HEARS` or a positive int (ms); else a ValueError."""
    if hear in HEARS or (isinstance(hear, int) and not isinstance(hear, bool) and hear > 0):
        return hear  # type: ignore[return-value]
    raise ValueError(
        f"hear={hear!r}: must be 'all', 'best', 'none' or a number of milliseconds (int > 0)"
    )


class ColumnarBookChannel(OrderBookChannel):
    """An L2 book of one symbol in :class:`~.l2book.L2Book` (see the module doc).

    Parameters
    ----------
    symbol : str
        The symbol.
    history_size : int, default 100
        How many heard messages ``history`` keeps.
    require_snapshot : bool, default True
        Refuse deltas until the first snapshot.
    hear : {"best", "none"} or int, default "best"
        What the strategies hear (module doc).
    """

    def __init__(
        self,
        symbol: str,
        history_size: int = 100,
        require_snapshot: bool = True,
        hear: Hear = "best",
    ) -> None:
        super().__init__(symbol, history_size, require_snapshot)
        self.hear = check_hear(hear)
        self.book = L2Book(require_snapshot)
        self._cols: MessageColumns | None = None  # the columns and index of the last message
        self._at = -1
        self._event: OrderBookEvent | None = None

    # ---- state the event channel keeps in attributes ------------------------------------
    @property
    def latest(self) -> OrderBookEvent | None:
        """The last message applied (built from its columns when first read)."""
        ev = self._event
        if ev is None and self._cols is not None:
            ev = self._event = self._cols.event(self._at)
        return ev

    @latest.setter
    def latest(self, event: OrderBookEvent | None) -> None:
        self._event, self._cols = event, None

    @property
    def latest_ts(self) -> int | None:
        """The time (ns) of the last message applied (no event built)."""
        cols = self._cols
        if cols is not None:
            return int(cols.ts[self._at])
        ev = self._event
        return None if ev is None else ev[0]

    @property
    def synced(self) -> bool:
        """Whether the book is in sequence (a snapshot seen, no gap since)."""
        return bool(self.book.synced)

    @synced.setter
    def synced(self, value: bool) -> None:
        pass  # (the book keeps it: OrderBookChannel.__init__ sets it)

    @property
    def last_update_id(self) -> int | None:
        """The update id of the last message applied (None without ids)."""
        return self.book.last_update_id

    @last_update_id.setter
    def last_update_id(self, value: int | None) -> None:
        pass

    @property
    def refused(self) -> Counter[str]:
        """Messages refused, by reason (stale, gap, unsynced)."""
        b = self.book
        counts = {"stale": b.refused_stale, "gap": b.refused_gap, "unsynced": b.refused_unsynced}
        return Counter({k: v for k, v in counts.items() if v})

    @refused.setter
    def refused(self, value: object) -> None:
        pass

    @property
    def bids(self) -> dict[float, float]:
        """The bid levels, price -> size (a new dict on each read)."""
        return self.book.bids_dict()

    @bids.setter
    def bids(self, value: object) -> None:
        pass

    @property
    def asks(self) -> dict[float, float]:
        """The ask levels, price -> size (a new dict on each read)."""
        return self.book.asks_dict()

    @asks.setter
    def asks(self, value: object) -> None:
        pass

    # ---- pickling (a sweep sends its Cerebro, channels included, to its workers) -----------
    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        book = state.pop("book")
        state["_cols"], state["_event"] = None, self.latest
        state["_levels"] = (book.bids_dict(), book.asks_dict(), book.last_update_id, book.synced)
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        levels_state = cast(
            "tuple[dict[float, float], dict[float, float], int | None, bool]",
            state.pop("_levels"),
        )
        bids, asks, last_id, synced = levels_state
        self.__dict__.update(state)
        self.book = L2Book(self.require_snapshot)
        if synced or bids or asks:  # the levels again, as a snapshot with the last id
            levels = (*bids.items(), *asks.items())
            n = len(levels)
            is_bid = np.zeros(n, _U1)
            is_bid[: len(bids)] = 1
            self.book.apply_messages(
                np.array((0, n), _I8), np.zeros(1, _I8), np.ones(1, _U1),
                np.array((_NO_ID,), _I8), np.array((_NO_ID if last_id is None else last_id,), _I8),
                is_bid, np.array([p for p, _ in levels], _F8),
                np.array([q for _, q in levels], _F8), 0, 1, _NO_WATCH, False, _NEVER,
            )  # fmt: skip

    def reset(self) -> None:
        """Empty the book and forget counters and gaps."""
        self.history.clear()
        self.count = 0
        self.book.clear()
        self.gaps.clear()
        self._cols, self._at, self._event = None, -1, None

    # ---- applying ------------------------------------------------------------------------
    def apply_columns(
        self,
        cols: MessageColumns,
        i: int,
        end: int,
        watch: np.ndarray,
        stop_on_best: bool,
        until_ts: int,
    ) -> int:
        """Apply messages ``i:end`` of ``cols`` (:class:`BookColumns`) until one that matters
        (``book.last_stop`` says which); the index of the next message to apply."""
        book = self.book
        before = book.applied
        j = book.apply_messages(
            cols.start, cols.ts, cols.snapshot, cols.first_id, cols.last_id,
            cols.is_bid, cols.price, cols.size, i, end, watch, stop_on_best, until_ts,
        )  # fmt: skip
        if j > i:
            self._cols, self._at, self._event = cols, j - 1, None
            self.count += book.applied - before
            if book.last_stop == 4:
                self.gaps.append((book.gap_from, book.gap_to))
        return j

    def push(self, event: OrderBookEvent) -> bool:
        """Apply one event (data given as events, not columns); False when it is refused."""
        book = self.book
        before = book.applied
        gaps = book.refused_gap
        bids, asks = event.bids, event.asks
        n = len(bids) + len(asks)
        is_bid = np.zeros(n, _U1)
        is_bid[: len(bids)] = 1
        levels = (*bids, *asks)
        price = np.fromiter((p for p, _ in levels), _F8, n)
        size = np.fromiter((s for _, s in levels), _F8, n)
        fid, lid = event.first_update_id, event.last_update_id
        book.apply_messages(
            np.array((0, n), _I8), np.array((event.timestamp,), _I8),
            np.array((event.is_snapshot,), _U1),
            np.array((_NO_ID if fid is None else fid,), _I8),
            np.array((_NO_ID if lid is None else lid,), _I8),
            is_bid, price, size, 0, 1, _NO_WATCH, False, _NEVER,
        )  # fmt: skip
        if book.refused_gap > gaps:
            self.gaps.append((book.gap_from, book.gap_to))
        if book.applied == before:
            return False
        self.latest = event
        self.history.append(event)
        self.count += 1
        return True

    # ---- read side -------------------------------------------------------------------------
    @property
    def best_bid_price(self) -> float | None:
        """Highest bid price, ``None`` when the side is empty."""
        return self.book.best_bid()

    @property
    def best_ask_price(self) -> float | None:
        """Lowest ask price, ``None`` when the side is empty."""
        return self.book.best_ask()

    def top_prices(self) -> tuple[float | None, float | None, float, float]:
        """Best bid and ask prices (None: an empty side) and their sizes (0.0 then), read
        from the compiled book at once: what the broker's fills look at."""
        book = self.book
        b, a = book.best_bid(), book.best_ask()
        return (
            b,
            a,
            0.0 if b is None else book.best_bid_size(),
            0.0 if a is None else book.best_ask_size(),
        )

    @property
    def best_bid(self) -> Level | None:
        """Best bid level."""
        p = self.book.best_bid()
        return None if p is None else Level(p, self.book.best_bid_size())

    @property
    def best_ask(self) -> Level | None:
        """Best ask level."""
        p = self.book.best_ask()
        return None if p is None else Level(p, self.book.best_ask_size())

    @property
    def mid_price(self) -> float | None:
        """Midpoint of best bid and ask, ``None`` if a side is empty."""
        b, a = self.book.best_bid(), self.book.best_ask()
        return None if b is None or a is None else (b + a) * 0.5

    @property
    def spread(self) -> float | None:
        """Best ask minus best bid."""
        b, a = self.book.best_bid(), self.book.best_ask()
        return None if b is None or a is None else a - b

    @property
    def microprice(self) -> float | None:
        """Size-weighted mid: ``(bid * ask_size + ask * bid_size) / (bid_size + ask_size)``."""
        book = self.book
        b, a = book.best_bid(), book.best_ask()
        if b is None or a is None:
            return None
        bs, as_ = book.best_bid_size(), book.best_ask_size()
        return (b * as_ + a * bs) / (bs + as_)

    @property
    def imbalance(self) -> float | None:
        """Top-of-book imbalance ``(bid_size - ask_size) / (bid_size + ask_size)`` in [-1, 1]."""
        book = self.book
        if book.best_bid() is None or book.best_ask() is None:
            return None
        bs, as_ = book.best_bid_size(), book.best_ask_size()
        return (bs - as_) / (bs + as_)

    @property
    def is_crossed(self) -> bool:
        """True when best bid >= best ask."""
        b, a = self.book.best_bid(), self.book.best_ask()
        return b is not None and a is not None and b >= a

    def levels(self, n: int = 10) -> tuple[list[Level], list[Level]]:
        """Top ``n`` levels: bids best first (descending), asks best first (ascending)."""
        bids, asks = self.book.levels(n)
        return [Level(p, s) for p, s in bids], [Level(p, s) for p, s in asks]

    def size_at(self, price: float, side: str | None = None) -> float:
        """Size resting at ``price`` on ``side`` (``"bid"``/``"ask"``; either when omitted)."""
        book = self.book
        if side in (None, "bid"):
            size = book.size_at(price, True)
            if size or side == "bid":
                return size
        return book.size_at(price, False)

    def depth(self) -> tuple[int, int]:
        """Number of bid and ask levels."""
        return self.book.depth()


_NO_WATCH = np.empty(0, _F8)
_NEVER = (1 << 63) - 1
