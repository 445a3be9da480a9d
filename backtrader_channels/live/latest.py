"""Books and best bid/ask from ccxt.pro: events for the latest state its caches hold.

ccxt.pro keeps one order book and one best bid/ask per symbol and resolves a waiting watch call
with it. An update that arrives while no call waits (the feed busy delivering the last one) is
applied to that state and resolves nothing: the next call returns only on the *next* message.
:class:`LatestState` turns the state into events and remembers what it delivered, so that the
feed can take an update still waiting in ccxt's cache (the last one before a quiet spell, or a
replay's very last) instead of calling the stream stale.
"""

from __future__ import annotations

from ..events import CcxtDict, OrderBookEvent, QuoteEvent
from .trades import int_id
from .validator import LiveDataValidator
from .venue_parts import CcxtExchange

_MS = 1_000_000
#: one side of a book event: ``(price, size)`` levels
_Side = tuple[tuple[float, float], ...]


class LatestState:
    """Book and quote events from ccxt's per-symbol state, each state delivered once.

    Parameters
    ----------
    book_depth : int
        Levels per side copied from ccxt's book into each :class:`OrderBookEvent`.
    venue : str
        The venue every event carries.
    validator : LiveDataValidator
        Where a best bid/ask with an empty side is recorded (``missing_value``).
    """

    def __init__(self, book_depth: int, venue: str, validator: LiveDataValidator) -> None:
        self.book_depth = book_depth
        self.venue = venue
        self.validator = validator
        self._book_ts: dict[str, int] = {}
        #: per symbol: the book delivered last, as (nonce, bids, asks)
        self._book_last: dict[str, tuple[int | None, _Side, _Side]] = {}
        #: per symbol: the ccxt dict its last quote came from
        self._quote_last: dict[str, CcxtDict] = {}

    # ---- order book ---------------------------------------------------------------------------
    def book_event(self, ob: CcxtDict, symbol: str, recv: int) -> list[OrderBookEvent]:
        """The book as an event; none when it is the one delivered last, unchanged."""
        depth = self.book_depth
        bids = tuple((float(p), float(s)) for p, s, *_ in ob["bids"][:depth])
        asks = tuple((float(p), float(s)) for p, s, *_ in ob["asks"][:depth])
        nonce, last = ob.get("nonce"), self._book_last.get(symbol)
        if last is not None and last[0] == nonce and last[1] == bids and last[2] == asks:
            return []  # the book handed over again unchanged (seen on Bybit at its snapshot)
        # A book just rebuilt from a REST snapshot has no exchange time; events are ordered by
        # exchange time only (the local clock may be far off): keep the book's last one, and
        # before there is one, wait for the next update (it carries the whole book anyway).
        if ob.get("timestamp"):
            ts = int(ob["timestamp"]) * _MS
        elif symbol in self._book_ts:
            ts = self._book_ts[symbol]
        else:
            return []
        self._book_ts[symbol] = ts
        self._book_last[symbol] = (nonce, bids, asks)
        return [OrderBookEvent(ts, bids, asks, True, symbol, recv, nonce, nonce, self.venue)]

    def book_from_cache(
        self, exchange: CcxtExchange, symbol: str, recv: int
    ) -> list[OrderBookEvent]:
        """ccxt's book for ``symbol`` if it moved on since the last delivery."""
        ob = getattr(exchange, "orderbooks", {}).get(symbol)
        if ob is None or ob.get("nonce") is None:
            return []
        if ob.get("nonce") == self._book_last.get(symbol, (None,))[0]:
            return []
        return self.book_event(ob, symbol, recv)

    # ---- best bid/ask -------------------------------------------------------------------------
    def quote_event(self, q: CcxtDict, symbol: str, recv: int) -> list[QuoteEvent]:
        """ccxt's best bid/ask dict as a :class:`QuoteEvent`; a missing side is recorded."""
        self._quote_last[symbol] = q
        if q.get("bid") is None or q.get("ask") is None:  # an empty side, or a bad frame
            self.validator.record(("quote", symbol), "missing_value", "bid or ask is None")
            return []
        ts = int(q["timestamp"]) * _MS if q.get("timestamp") else recv
        info = q.get("info") or {}
        return [
            QuoteEvent(
                ts,
                float(q["bid"]),
                float(q.get("bidVolume") or 0.0),
                float(q["ask"]),
                float(q.get("askVolume") or 0.0),
                symbol,
                recv,
                int_id(info.get("u")),
                self.venue,
            )
        ]

    def quote_from_cache(self, exchange: CcxtExchange, symbol: str, recv: int) -> list[QuoteEvent]:
        """ccxt's best bid/ask for ``symbol`` if no watch call returned it yet.

        ccxt parses each frame into a new dict, so a dict other than the one delivered last is
        an update nobody saw."""
        q = getattr(exchange, "bidsasks", {}).get(symbol)
        if q is None or q is self._quote_last.get(symbol):
            return []
        return self.quote_event(q, symbol, recv)
