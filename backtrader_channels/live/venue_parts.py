"""What a live feed needs to know of a venue that ccxt.pro does not tell it, by ccxt id.

Each venue's module (``backtrader_channels/venues/``) registers its parts here; the feed looks
them up by its exchange's ``id`` and never names a venue itself. A venue without parts gets
none: its frames are not counted, its book is not guarded, its trade gaps are reported but not
backfilled (ccxt's REST trades of most venues carry ids of their own).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeAlias

from ..btypes import JsonDict
from ..events import CcxtDict

if TYPE_CHECKING:  # (annotations only: importing the package imports no ccxt)
    import ccxt.pro
    from ccxt.async_support.base.ws.client import Client

    from .derivative import DerivativeVenue

#: a ccxt.pro exchange instance (``ccxt.pro.bybit(...)``): its REST calls, its streams, and
#: the caches they fill (``orderbooks``, ``trades``, ``bidsasks``, ``clients``)
CcxtExchange: TypeAlias = "ccxt.pro.Exchange"
#: one of a ccxt.pro exchange's WebSocket clients (``exchange.clients[url]``)
CcxtClient: TypeAlias = "Client"

#: ``message -> (channel type, venue market id)`` for a public market-data frame, else None
FrameKind = Callable[[JsonDict], "tuple[str, str] | None"]
#: what a book guard calls: ``(symbol, first, last)`` of a gap, ``(symbol, last_u, u)`` of a
#: restart of the venue's sequence
OnGap = Callable[[str, int, int], None]


class TradeSource(Protocol):
    """Where a feed gets the trades of an id range it missed (``live/backfill.py``)."""

    async def between(
        self, symbol: str, first: int, last: int
    ) -> tuple[list[CcxtDict], str | None]:
        """The venue's trades with ``first <= id <= last`` (ccxt trade dicts, in id order), and
        why some are missing (None when nothing is)."""
        ...


class BookGuard(Protocol):
    """Sits in front of an exchange instance's message handler and checks the book's sequence
    where ccxt.pro does not (see ``venues/bybit``)."""

    dropped: int

    def forget(self, url: str) -> None:
        """A socket is being replaced: its topics start again with a snapshot."""


#: ``(exchange, on_gap, on_restart) -> BookGuard``
BookGuardFactory = Callable[[CcxtExchange, OnGap, OnGap], BookGuard]
#: ``exchange -> TradeSource``: where the trades of a gap in the stream's ids come from
TradeSourceFactory = Callable[[CcxtExchange], TradeSource]


@dataclass(frozen=True)
class LiveParts:
    """A venue's live parts (each optional).

    Parameters
    ----------
    frame_kind : callable, optional
        Tells the venue's public market-data frames apart, to count them per stream.
    book_guard : callable, optional
        Builds the guard of the venue's book sequence (when ccxt.pro does not check it).
    trade_source : callable, optional
        Builds the backfill source whose REST trades carry the stream's own trade ids.
    mark_stream : DerivativeVenue, optional
        How its contracts' mark-price and funding stream is watched and read (the live
        ``derivative`` channel).
    """

    frame_kind: FrameKind | None = None
    book_guard: BookGuardFactory | None = None
    trade_source: TradeSourceFactory | None = None
    mark_stream: DerivativeVenue | None = None


_NONE = LiveParts()
#: per ccxt id: what builds its parts (a venue's module imports its parts on first use, so that
#: importing the package does not import ccxt), and the parts once built
_FACTORIES: dict[str, Callable[[], LiveParts]] = {}
_PARTS: dict[str, LiveParts] = {}


def register_live_parts(exchange_id: str, parts: Callable[[], LiveParts]) -> None:
    """Register what builds the parts of the ccxt exchange id ``exchange_id`` (a venue's
    module does)."""
    _FACTORIES[exchange_id] = parts
    _PARTS.pop(exchange_id, None)


def live_parts(exchange: CcxtExchange | str) -> LiveParts:
    """The parts registered for ``exchange``'s ccxt id, or the id itself (none: empty
    parts)."""
    cid = exchange if isinstance(exchange, str) else str(getattr(exchange, "id", ""))
    parts = _PARTS.get(cid)
    if parts is None:
        factory = _FACTORIES.get(cid)
        parts = _PARTS[cid] = factory() if factory is not None else _NONE
    return parts
