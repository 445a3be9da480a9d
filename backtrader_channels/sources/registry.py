"""What the readers know of venues, filled by the venues' modules (``backtrader_channels/venues``).

Two things live here, so that nothing in ``sources/`` names a venue:

* **File formats** of a venue's own (Binance's dumps and WebSocket captures, Bybit's archive):
  a :class:`FileFormat` says how to tell a file of it (:attr:`FileFormat.sniff`), what a file
  holds (:attr:`FileFormat.contents`) and how to read it (:attr:`FileFormat.streams`). The
  package's native schema and Tardis.dev CSV are the readers' own, not a venue's.
* **Venue names**: the ccxt ids that are one market of a venue (``binanceusdm``: Binance's
  linear futures), and the names a data vendor gives venues (Tardis.dev's ``binance-futures``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, NamedTuple, get_args

from .batches import SkipReport
from .progress import ReadMeter
from .schema import Batches

#: a venue's market: its spot market, or its linear or inverse derivatives
Market = Literal["spot", "linear", "inverse"]
MARKETS: tuple[Market, ...] = get_args(Market)
#: what is written (folder and column) for a venue or market nobody said
UNKNOWN = "unknown"


class Content(NamedTuple):
    """One channel of a file: its type, symbol (as the file spells it), venue and market."""

    channel_type: str
    symbol: str
    venue: str = UNKNOWN
    market: str = UNKNOWN


#: ``(path, channel type, symbol, skip, meter) -> (first data line or None, batches)``
Streams = Callable[
    [str, str, str, "SkipReport | None", "ReadMeter | None"], "tuple[int | None, Batches]"
]


@dataclass(frozen=True)
class FileFormat:
    """A venue's file format (see module doc).

    Parameters
    ----------
    name : str
        The format's public name (``format="bybit"``, ``--format bybit``).
    venue : str
        The venue whose data it is (its ccxt id).
    describe : str
        What it reads, for messages ("Bybit's public archive (trades, ob500 books)").
    sniff : callable
        ``(path, csv header or None) -> bool``: whether ``path`` is of this format. Asked first
        with no header (a file recognised by its name, first line or container), then, for a
        text file no format claimed, with its CSV header.
    contents : callable
        ``(path, symbol or None) -> list of Content``: the channels a file holds.
    streams : callable
        ``(path, channel type, symbol, skip, meter) -> (first line, batches)``: the file's
        native-schema record batches for one channel and symbol.
    """

    name: str
    venue: str
    describe: str
    sniff: Callable[[str, list[str] | None], bool]
    contents: Callable[[str, str | None], list[Content]]
    streams: Streams


_FORMATS: dict[str, FileFormat] = {}
#: ccxt ids that are one market of a venue: ``id -> (venue, market or None)``
_CCXT_IDS: dict[str, tuple[str, Market | None]] = {}
#: Tardis.dev exchange ids (its ``exchange`` column): ``(venue, market or None)``; a None
#: market is read from the symbol
_TARDIS: dict[str, tuple[str, Market | None]] = {}


def register_format(fmt: FileFormat) -> None:
    """Register a venue's file format (a venue module does, once)."""
    if fmt.name in ("native", "tardis"):
        raise ValueError(f"format name {fmt.name!r} is the readers' own")
    _FORMATS[fmt.name] = fmt


def file_format(name: str) -> FileFormat | None:
    """The registered format ``name`` (None for ``native``, ``tardis`` and unknown names)."""
    return _FORMATS.get(name)


def file_formats() -> list[FileFormat]:
    """Every registered format, in registration order (the order files are sniffed in)."""
    return list(_FORMATS.values())


def format_names() -> tuple[str, ...]:
    """Every format the readers read: ``native``, ``tardis`` and the venues' formats."""
    return ("native", "tardis", *_FORMATS)


#: per venue, its own rule for a derivative's market from its symbol
_SYMBOL_MARKETS: dict[str, Callable[[str], Market | None]] = {}


def register_names(
    venue: str,
    ccxt_ids: dict[str, Market | None] | None = None,
    tardis: dict[str, Market | None] | None = None,
    symbol_market: Callable[[str], Market | None] | None = None,
) -> None:
    """Register the names of ``venue``: ccxt ids that are one of its markets
    (``{"binanceusdm": "linear"}``; the venue's own id may map to None), Tardis.dev's exchange
    names for it (``{"binance-futures": "linear"}``; None: read from the symbol), and its own
    rule for a derivative's market from its symbol where the common one does not fit."""
    for cid, market in (ccxt_ids or {}).items():
        _CCXT_IDS[cid] = (venue, market)
    for name, market in (tardis or {}).items():
        _TARDIS[name] = (venue, market)
    if symbol_market is not None:
        _SYMBOL_MARKETS[venue] = symbol_market


def symbol_market_rule(venue: str) -> Callable[[str], Market | None] | None:
    """``venue``'s own rule for a derivative's market from its symbol, or None."""
    return _SYMBOL_MARKETS.get(venue)


def ccxt_id(name: str) -> tuple[str, Market | None] | None:
    """``(venue, market)`` of a registered ccxt id, or None."""
    return _CCXT_IDS.get(name)


def tardis_exchange(name: str) -> tuple[str, Market | None] | None:
    """``(venue, market)`` of a registered Tardis.dev exchange name, or None."""
    return _TARDIS.get(name)
