"""Binance: spot (``binance``), USDⓈ-M (``binanceusdm``, linear) and COIN-M (``binancecoinm``,
inverse), one venue. Its profile: the frames of its streams, the REST trades that backfill a
gap in the stream's ids, the order dialect, its public dumps and raw WebSocket captures as file
formats, what Tardis.dev calls it, and its loopback server (``loopback/``). Binance.US
(``binanceus``) shares its streams and REST trades: a venue of its own, registered here too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ...errors import ChannelError
from ...events import ChannelType
from ...live.venue_parts import LiveParts
from ...sources.progress import ReadMeter
from ...sources.registry import Content, FileFormat, SkipReport
from ..profile import Loopback, VenueProfile, register
from .capture import capture_batches, capture_contents, is_capture
from .dumps import dump_batches, dump_kind, dump_line_offset, dump_market, dump_symbol

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from .orders import BinanceDialect

NAME = "binance"


def _dump_contents(path: str, symbol: str | None = None) -> list[Content]:
    if dump_kind(path) is None:
        raise ChannelError(f"{path}: not a Binance dump file name")
    return [Content(ChannelType.TICK, dump_symbol(path), NAME, dump_market(path))]


def _dump_streams(
    path: str, channel_type: str, symbol: str, skip: SkipReport | None, meter: ReadMeter | None
) -> tuple[int | None, Iterator[tuple[pa.RecordBatch, int]]]:
    return dump_line_offset(path), dump_batches(path, channel_type, skip, meter, symbol)


def _capture_streams(
    path: str, channel_type: str, symbol: str, skip: SkipReport | None, meter: ReadMeter | None
) -> tuple[int | None, Iterator[tuple[pa.RecordBatch, np.ndarray]]]:
    return 1, capture_batches(path, channel_type, symbol, skip, meter)


from .futures_dumps import FUTURES_DUMPS  # noqa: E402 - beside the formats it precedes

DUMPS = FileFormat(
    name="binance",
    venue=NAME,
    describe="Binance's trade and aggTrade dumps",
    sniff=lambda path, header: header is not None and dump_kind(path) is not None,
    contents=_dump_contents,
    streams=_dump_streams,
)
CAPTURE = FileFormat(
    name="binance_ws",
    venue=NAME,
    describe="raw Binance WebSocket captures ('<receive_ns> <json>' lines)",
    sniff=lambda path, header: header is None and is_capture(path),
    contents=capture_contents,
    streams=_capture_streams,
)


def live() -> LiveParts:
    """Its streams' frames, and the REST trades that backfill a gap in the stream's ids."""
    from ...live.derivative import BINANCE_MARK
    from .stream import BinanceTrades, frame_kind

    return LiveParts(frame_kind=frame_kind, trade_source=BinanceTrades, mark_stream=BINANCE_MARK)


def us_live() -> LiveParts:
    """Binance.US: Binance's REST trades backfill its streams too."""
    from .stream import BinanceTrades

    return LiveParts(trade_source=BinanceTrades)


def dialect() -> type[BinanceDialect]:
    """Its order dialect."""
    from .orders import BinanceDialect

    return BinanceDialect


def loopback() -> Loopback:
    """Its loopback server (Binance spot's public and private protocol)."""
    from ...loopback.binance import BinanceLoopback, point_binance_at

    return Loopback(BinanceLoopback, point_binance_at)


def futures_loopback() -> Loopback:
    """Its USDⓈ-M loopback server (one pass over the bundled perpetual sample)."""
    from ...loopback.binance.futures import BinanceFuturesLoopback, point_binance_futures_at

    return Loopback(
        BinanceFuturesLoopback, point_binance_futures_at, ("ETH/USDT:USDT",), one_pass=True
    )


PROFILE = register(
    VenueProfile(
        name=NAME,
        ccxt_ids={"binance": None, "binanceusdm": "linear", "binancecoinm": "inverse"},
        markets=("spot", "linear", "inverse"),
        live=live,
        # its streams' frames and the REST trades with the streams' ids (fapi / dapi for futures)
        live_ids=("binance", "binanceusdm", "binancecoinm"),
        dialect=dialect,
        dialect_ids=("binance", "binanceusdm", "binancecoinm"),
        formats=(FUTURES_DUMPS, DUMPS, CAPTURE),  # futures dumps are sniffed first
        tardis={"binance": "spot", "binance-futures": "linear", "binance-delivery": "inverse"},
        loopback=loopback,
        loopbacks={"binanceusdm": futures_loopback},
    )
)
US = register(
    VenueProfile(
        name="binanceus",
        ccxt_ids={"binanceus": "spot"},
        live=us_live,
        tardis={"binance-us": "spot"},
    )
)
