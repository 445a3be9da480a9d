"""Market-data frames a venue sent, counted per stream, beside the events the feed made of them.

ccxt.pro hands over its latest book and best bid/ask when a watch call asks: frames that arrive
while the feed is busy are merged into the next answer (a book loses no level, a best bid/ask
keeps only the newest). A strategy that saw every one of 28,040 recorded bookTicker updates in
a backtest may see a few hundred of them live, on a client that reads slower than they come.
:class:`FrameCounter` sits in front of the exchange instance's message handler (an attribute of
that one instance; ccxt itself is not changed) and counts each public market-data frame by
``(channel type, venue market id)``, so that the run report can say how many frames each
stream's events stand for. How to tell a venue's frames apart is the venue's to say (its
``frame_kind``, ``live/venue_parts.py``); a venue that says nothing has its frames uncounted.
"""

from __future__ import annotations

from .venue_parts import CcxtClient, CcxtExchange, FrameKind, live_parts


class FrameCounter:
    """Counts the public market-data frames ``exchange`` handles (see module doc).

    Parameters
    ----------
    exchange : ccxt.pro.Exchange
        The instance whose ``handle_message`` is wrapped.
    kind_of : callable, optional
        The venue's ``frame_kind``: ``message -> (channel type, market id)`` or None; default:
        the one its venue registered (a ValueError when it registered none).
    """

    def __init__(self, exchange: CcxtExchange, kind_of: FrameKind | None = None) -> None:
        self.exchange = exchange
        if kind_of is None:
            kind_of = live_parts(exchange).frame_kind
            if kind_of is None:
                raise ValueError(f"{getattr(exchange, 'id', exchange)}: no venue says its frames")
        self._kind_of = kind_of
        self.counts: dict[tuple[str, str], int] = {}  # (type, venue market id) -> frames
        self.inner = exchange.handle_message
        exchange.handle_message = self.handle_message

    def handle_message(self, client: CcxtClient, message: object) -> None:
        if type(message) is dict:
            key = self._kind_of(message)
            if key is not None:
                counts = self.counts
                counts[key] = counts.get(key, 0) + 1
        return self.inner(client, message)

    def frames(self, kind: str, symbol: str) -> int:
        """Frames of ``kind`` received for the unified ``symbol`` so far."""
        try:
            market_id = self.exchange.market(symbol)["id"]
        except Exception:  # noqa: BLE001 - markets not loaded (the venue never answered)
            return 0
        return self.counts.get((kind, market_id), 0)
