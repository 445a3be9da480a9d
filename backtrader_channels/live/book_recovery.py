"""How a live feed recovers its order books: a break in the update ids that ccxt.pro saw (a
resync, not a failure), a venue restarting the book's sequence, and a gap that the venue's book
guard saw (the stream is restarted and resubscribed). The state is the feed's; this is the
part that acts on it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from .faults import anomaly_of, describe_error
from .sequence import forget_rejected_book, resubscribe_book
from .streams import Backoff, FeedConfig, StreamState
from .validator import LiveDataValidator
from .venue_parts import CcxtExchange

#: a book stream's ``down`` reason while ccxt.pro rebuilds it from a new snapshot
RESYNCING = "resyncing the book (a break in its update ids)"


class BookRecovery:
    """Mixin of :class:`~.ccxt_feed.CCXTLiveFeed`: its books' recovery."""

    exchange: CcxtExchange
    validator: LiveDataValidator
    config: FeedConfig
    stall_timeout: float
    _streams: dict[tuple[str, str], StreamState]
    _gaps: dict[str, tuple[int, int]]
    _reset_socket: Callable[[str, str], Awaitable[None]]

    async def _on_sequence_break(self, st: StreamState, exc: Exception) -> bool:
        """Whether ``exc`` is ccxt seeing a break in the book's update ids (it then drops the
        book, by Binance's rules): a normal venue event, not a failure. Recorded once
        (``book_resync``); the next watch subscribes again and rebuilds the book from a REST
        snapshot, without a growing backoff."""
        kind, symbol = st.key
        if kind != "orderbook" or anomaly_of(kind, exc) != "book_resync":
            return False
        if st.down != RESYNCING:  # ccxt may hand the one break over again
            st.last_error = describe_error(exc, self.exchange)
            self.validator.record(st.key, "book_resync", type(exc).__name__)
        st.down = RESYNCING
        forget_rejected_book(self.exchange, symbol)
        await Backoff(self.config.backoff_initial, self.config.backoff_max).wait()
        return True

    def _on_book_restart(self, symbol: str, last: int, u: int) -> None:
        """The venue restarted the book's sequence (a snapshot with ``u`` back at ``u``, after
        ``last``): the snapshot replaced the book; recorded as a resync."""
        self.validator.record(
            ("orderbook", symbol), "book_resync", f"venue snapshot: u {last} -> {u}"
        )

    def _on_book_gap(self, symbol: str, first: int, last: int) -> None:
        """The guard saw ``u`` skip ``first..last``: restart the symbol's book stream (a stream
        not waiting on ccxt now takes the gap before its next watch call)."""
        self._gaps[symbol] = (first, last)
        st = self._streams.get(("orderbook", symbol))
        if st is not None and st.task is not None and st.since is not None and not st.stalled:
            st.since = None
            st.stalled = True
            st.task.cancel()

    async def _resync_book(self, symbol: str) -> bool:
        """A gap the guard saw in the book's ``u``: record it and resubscribe (a new
        subscription starts with a snapshot). False when no gap is pending."""
        gap = self._gaps.pop(symbol, None)
        if gap is None:
            return False
        key = ("orderbook", symbol)
        self.validator.record(key, "book_gap", gap)
        self._streams[key].down = "sequence gap, resubscribing"
        if not await resubscribe_book(self.exchange, symbol, self.stall_timeout):
            await self._reset_socket("orderbook", symbol)  # no unsubscribe here: a new socket
        return True
