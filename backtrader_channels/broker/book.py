"""The book each data's orders fill against: its best bid and ask with their sizes, and
whether the book is stale.

A data's *price source* is its order book or quote channel (an order book wins over a quote
channel); its *trade source* is its tick channel. A book or quote is stale when it is older
than the latest trade by more than ``max_age_ns``, or contradicted by a later trade printed
outside it (above its ask or below its bid): fills that would use it go to the next trade
instead, and are counted (``TickBroker.stale_book_fills``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import NamedTuple, Protocol, runtime_checkable

from ..events import Level, TickEvent
from .latency import MarketEvent


class BookTop(NamedTuple):
    """A data's best bid and ask with their sizes (None and 0.0 when there is no book, or
    when it is stale), and whether it is stale."""

    bid: float | None
    ask: float | None
    bid_size: float
    ask_size: float
    #: a book was there but is stale: orders that would fill at it fill on trades instead
    stale: bool


#: no book for the data
NO_BOOK = BookTop(None, None, 0.0, 0.0, False)
#: a book that is stale (:func:`PriceSources.top`)
STALE_BOOK = BookTop(None, None, 0.0, 0.0, True)
_new = tuple.__new__  # (a NamedTuple built without its Python __new__: ~100 ns less per event)
#: a book's top: best bid and ask prices (None: an empty side) and their sizes (0.0 then)
Prices = tuple["float | None", "float | None", float, float]


def _top_prices(src: TopOfBook) -> Prices:
    """``src``'s top read from its best levels (a channel without ``top_prices``)."""
    bid, ask = src.best_bid, src.best_ask
    return (
        None if bid is None else bid.price,
        None if ask is None else ask.price,
        0.0 if bid is None else bid.size,
        0.0 if ask is None else ask.size,
    )


@runtime_checkable
class TopOfBook(Protocol):
    """A price source: a quote or order book channel."""

    @property
    def channel_type(self) -> str: ...

    @property
    def best_bid(self) -> Level | None: ...

    @property
    def best_ask(self) -> Level | None: ...

    @property
    def latest(self) -> MarketEvent | None: ...

    @property
    def latest_ts(self) -> int | None:
        """The time of ``latest`` (ns), None before the first."""
        ...


@runtime_checkable
class DepthBook(Protocol):
    """A price source with depth (an order book channel): book walking and queue position."""

    def levels(self, n: int = 10) -> tuple[list[Level], list[Level]]:
        """The top ``n`` levels: bids best first, asks best first."""
        ...

    def size_at(self, price: float, side: str | None = None) -> float:
        """The size shown at ``price`` on ``side`` (``"bid"`` or ``"ask"``)."""
        ...


class TradeSource(Protocol):
    """A trade source: a tick channel (its latest trade)."""

    @property
    def latest(self) -> TickEvent | None: ...


class PriceSources:
    """The price and trade sources of each data, and their book tops.

    Parameters
    ----------
    max_age_ns : int or None
        A book older than the latest trade by more than this is stale; None: never stale.
    use_books : bool
        False (``market_fill="trade"``): no price source is kept, every fill is on trades.
    """

    __slots__ = ("_age_ok", "_books", "_depth", "_max_age", "_tops", "_trades", "use_books")

    def __init__(self, max_age_ns: int | None, use_books: bool) -> None:
        self._age_ok = max_age_ns is not None
        self._max_age = max_age_ns or 0
        self.use_books = use_books
        self._books: dict[object, TopOfBook] = {}
        #: each book's top as (bid, ask, bid size, ask size): its ``top_prices`` (a columnar
        #: book's, four reads of the compiled book) or read from its best levels
        self._tops: dict[object, Callable[[], Prices]] = {}
        self._depth: dict[object, DepthBook] = {}
        self._trades: dict[object, TradeSource] = {}

    def set_book(self, data: object, channel: TopOfBook) -> None:
        """``channel`` (order book or quote) is ``data``'s book; an order book stays so."""
        if not self.use_books:
            return
        current = self._books.get(data)
        if current is None or channel.channel_type == "orderbook":
            self._books[data] = channel
            fast = getattr(channel, "top_prices", None)
            self._tops[data] = fast if callable(fast) else partial(_top_prices, channel)
            if isinstance(channel, DepthBook):
                self._depth[data] = channel
            else:
                self._depth.pop(data, None)

    def set_trades(self, data: object, channel: TradeSource) -> None:
        """``channel`` (a tick channel) holds ``data``'s latest trade."""
        self._trades[data] = channel

    @property
    def can_be_stale(self) -> bool:
        """Whether a book may ever be stale (``max_book_age_ns`` is not None)."""
        return self._age_ok

    def book(self, data: object) -> TopOfBook | None:
        """``data``'s book or quote channel (None without one)."""
        return self._books.get(data)

    def depth(self, data: object) -> DepthBook | None:
        """``data``'s order book, when its book has depth (None for a quote channel)."""
        return self._depth.get(data)

    def top(self, data: object) -> BookTop:
        """``data``'s best bid and ask with their sizes, and whether the book is stale."""
        src = self._books.get(data)
        if src is None:
            return NO_BOOK
        bid, ask, bid_sz, ask_sz = self._tops[data]()
        tick = self._trades.get(data)
        if tick is not None and self._age_ok:
            trade, book_ts = tick.latest, src.latest_ts
            if trade is not None and book_ts is not None and trade[0] > book_ts:
                px = trade[1]
                if (
                    trade[0] - book_ts > self._max_age
                    or (bid is not None and px < bid)
                    or (ask is not None and px > ask)
                ):
                    return STALE_BOOK
        return _new(BookTop, (bid, ask, bid_sz, ask_sz, False))
