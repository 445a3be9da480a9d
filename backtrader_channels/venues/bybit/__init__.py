"""Bybit v5: spot, linear and inverse contracts, one venue (``bybit``). Its profile: the frames
of its streams, the guard of its book's sequence (ccxt.pro does not check ``u``), its recent
trades as the backfill source of a gap in the stream's ids (their ``execId`` is the stream's
trade id), the order dialect (``orderLinkId``), its public archive as a file format (trades;
``ob500``/``ob200`` books), what Tardis.dev calls it, and its loopback server (``loopback/``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ...events import ChannelType
from ...live.venue_parts import LiveParts
from ...sources.progress import ReadMeter
from ...sources.registry import Content, FileFormat, SkipReport
from ..profile import Loopback, VenueProfile, register
from .archive import (
    book_contents,
    bybit_batches,
    is_book_archive,
    is_book_file,
    trade_contents,
    trade_layout,
)

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from .orders import BybitDialect

NAME = "bybit"
#: trades ``/v5/market/recent-trade`` gives (at most 60 on spot, 1,000 on contracts)
RECENT_TRADES = 1000


def _sniff(path: str, header: list[str] | None) -> bool:
    """A book archive by its name or first message; a trade file by its CSV header."""
    if header is None:
        return is_book_archive(path) or is_book_file(path)
    return trade_layout(header) is not None


def _contents(path: str, symbol: str | None = None) -> list[Content]:
    if is_book_file(path):
        sym, market = book_contents(path)
        return [Content(ChannelType.ORDERBOOK, sym, NAME, market)]
    sym, market = trade_contents(path, symbol)
    return [Content(ChannelType.TICK, sym, NAME, market)]


def _streams(
    path: str, channel_type: str, symbol: str, skip: SkipReport | None, meter: ReadMeter | None
) -> tuple[int | None, Iterator[tuple[pa.RecordBatch, int | np.ndarray]]]:
    first = 1 if is_book_file(path) else 2
    return first, bybit_batches(path, channel_type, symbol, skip, meter)


from .tickers import TICKERS  # noqa: E402 - beside the format it follows

ARCHIVE = FileFormat(
    name="bybit",
    venue=NAME,
    describe="Bybit's public archive (trades, ob500 books)",
    sniff=_sniff,
    contents=_contents,
    streams=_streams,
)


def live() -> LiveParts:
    """Its streams' frames, its book's sequence guard, its recent trades as backfill."""
    from ...live.backfill import RecentTrades
    from ...live.derivative import BYBIT_TICKER
    from .stream import BybitBookGuard, frame_kind

    return LiveParts(
        frame_kind=frame_kind,
        book_guard=BybitBookGuard,
        trade_source=lambda exchange: RecentTrades(exchange, RECENT_TRADES),
        mark_stream=BYBIT_TICKER,
    )


def dialect() -> type[BybitDialect]:
    """Its order dialect."""
    from .orders import BybitDialect

    return BybitDialect


def loopback() -> Loopback:
    """Its loopback server (Bybit v5's public and private spot protocol)."""
    from ...loopback.bybit import BybitLoopback, point_bybit_at

    return Loopback(BybitLoopback, point_bybit_at)


PROFILE = register(
    VenueProfile(
        name=NAME,
        ccxt_ids={"bybit": None},
        markets=("spot", "linear", "inverse"),
        live=live,
        dialect=dialect,
        formats=(ARCHIVE, TICKERS),
        tardis={"bybit-spot": "spot", "bybit": None},
        loopback=loopback,
    )
)
