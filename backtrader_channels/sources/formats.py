"""Opening recorded data in any known format: a DataFrame or Table, files, directories and
globs (each file read with its ``format=`` or the detected one, :mod:`.detect`), or a partitioned
directory, whose files are chosen by channel type, symbol, venue and market (:mod:`.layout`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from ..errors import ChannelError, check_choice
from ..events import ChannelType
from ..symbols import same_symbol
from . import storage
from .batches import SkipReport, expand_paths
from .book_columns import book_column_chunks
from .build import BatchStream, Chunk, events_from_streams
from .contents import file_contents
from .detect import detect_format
from .layout import (
    Window,
    day_window,
    is_partitioned,
    partition_days,
    partition_files,
    partition_samples,
)
from .native import DEFAULT_CHUNK_ROWS, native_streams
from .progress import ReadMeter
from .registry import file_format, format_names
from .schema import COLUMNS, ON_ERROR, DataName, Format, NativeTable, OnError
from .tardis import tardis_batches
from .venues import UNKNOWN, venue_key

__all__ = [
    "Window",
    "batch_streams",
    "day_window",
    "detect_format",
    "is_partitioned",
    "open_source",
    "partition_days",
    "partition_files",
    "partition_samples",
    "source_files",
]


def open_source(
    dataname: DataName,
    channel_type: str,
    symbol: str,
    format: Format | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    on_error: OnError = "raise",
    skip: SkipReport | None = None,
    window: Window | None = None,
    venue: str = "",
    market: str | None = None,
    meter: ReadMeter | None = None,
    columnar: bool = False,
) -> Iterator[Chunk]:
    """Event chunks of ``channel_type`` for ``symbol`` from ``dataname`` in any known format,
    each event carrying ``venue``; with ``columnar``, an order book's chunks are
    :class:`~.book_columns.BookColumns` (the fast L2 path: events built only when read).

    ``venue`` and ``market`` also choose among the venues and markets of a partitioned
    directory (:mod:`.layout`) and the rows of a native file with ``venue``/``market``
    columns. Data that holds no row of ``symbol`` but rows of other symbols is a
    ChannelError naming them (a typo must not run on nothing). ``meter`` follows how much of
    the files has been read (:mod:`.progress`): their sizes are added to its total at once."""
    if format is not None:
        check_choice("format", format, format_names(), ChannelError)
    check_choice("on_error", on_error, ON_ERROR, ChannelError)
    if channel_type not in COLUMNS:
        raise ChannelError(f"unknown channel type {channel_type!r}")
    # readers drop unparseable rows only in skip mode: with "raise" they raise a located error
    row_skip = skip if on_error == "skip" else None
    files = source_files(dataname, channel_type, symbol, window, venue, market)
    if files is None:
        streams: Iterable[BatchStream] = native_streams(
            dataname, channel_type, chunk_rows, row_skip, meter
        )
    else:
        if meter is not None:
            meter.expect(files)
        streams = _streams(files, channel_type, symbol, format, chunk_rows, row_skip, meter)
    if columnar and channel_type == ChannelType.ORDERBOOK:
        chunks: Iterator[Chunk] = book_column_chunks(streams, symbol, on_error, skip, venue, market)
    else:
        chunks = events_from_streams(streams, channel_type, symbol, on_error, skip, venue, market)
    return _or_what_it_holds(chunks, dataname, files, format, (channel_type, symbol, venue, market))


def batch_streams(
    dataname: DataName,
    channel_type: str,
    symbol: str,
    format: Format | None,
    chunk_rows: int,
    skip: SkipReport | None,
    window: Window | None = None,
    venue: str = "",
    market: str | None = None,
    meter: ReadMeter | None = None,
) -> Iterable[BatchStream]:
    """The batch streams of ``dataname``: a DataFrame or Table (native), a partitioned
    directory's files for this channel and symbol (and venue, market), or files, directories
    and globs.

    ``skip`` is where readers count the rows they cannot parse and drop (``on_error="skip"``);
    None makes them raise a located :class:`DataError` at the first such row instead.
    ``window`` (ns) leaves out the days of a partitioned directory that lie outside it (the
    rows inside are still filtered by the caller)."""
    files = source_files(dataname, channel_type, symbol, window, venue, market)
    if files is None:
        return native_streams(dataname, channel_type, chunk_rows, skip, meter)
    return _streams(files, channel_type, symbol, format, chunk_rows, skip, meter)


def source_files(
    dataname: DataName,
    channel_type: str,
    symbol: str,
    window: Window | None = None,
    venue: str = "",
    market: str | None = None,
) -> list[str] | None:
    """The files :func:`open_source` reads for this channel (a partitioned directory's, of
    the days in ``window``), or None for a DataFrame or Table."""
    if not isinstance(dataname, (str, os.PathLike, list, tuple)):
        return None
    if isinstance(dataname, (str, os.PathLike)):
        found = partition_files(os.fspath(dataname), channel_type, symbol, window, venue, market)
        if found is not None:
            return found
    return expand_paths(dataname)


def _streams(
    files: list[str],
    channel_type: str,
    symbol: str,
    format: str | None,
    chunk_rows: int,
    skip: SkipReport | None,
    meter: ReadMeter | None = None,
) -> Iterator[BatchStream]:
    """One batch stream per file, each read with its (given or detected) format, lazily."""
    for path in files:
        fmt = format or detect_format(path)
        if storage.is_uri(path) and not storage.split_query(path)[0].endswith(".parquet"):
            detect_format(path)  # says what a URI can hold
        venue_format = file_format(fmt)
        if venue_format is not None:  # a venue's own format
            first, batches = venue_format.streams(path, channel_type, symbol, skip, meter)
            yield path, first, batches
        elif fmt == "tardis":
            yield path, 2, tardis_batches(path, channel_type, skip, meter)
        else:  # native: its header is checked once, by native_streams
            yield from native_streams(path, channel_type, chunk_rows, skip, meter)


def _or_what_it_holds(
    chunks: Iterator[Chunk],
    dataname: DataName,
    files: list[str] | None,
    format: Format | None,
    wanted: tuple[str, str, str, str | None],
) -> Iterator[Chunk]:
    """``chunks``; if there were none, a ChannelError when the data holds other symbols (or
    venues, markets) than the ``(channel type, symbol, venue, market)`` wanted."""
    empty = True
    for chunk in chunks:
        empty = False
        yield chunk
    if empty:
        held = _held(dataname, files, format, wanted)
        channel_type, symbol = wanted[:2]
        if held:
            what = files[0] if files and len(files) == 1 else _label(dataname)
            raise ChannelError(
                f"no {channel_type!r} data for {symbol!r} in {what}; it holds: "
                f"{', '.join(held[:12])}"
                + (f" and {len(held) - 12} more" if len(held) > 12 else "")
            )


def _label(dataname: DataName) -> str:
    if isinstance(dataname, (str, os.PathLike)):
        return os.fspath(dataname)
    if isinstance(dataname, (list, tuple)):
        return f"{len(dataname)} paths ({os.fspath(dataname[0])}, ...)"
    return f"<{type(dataname).__name__}>"


def _held(
    dataname: DataName,
    files: list[str] | None,
    format: Format | None,
    wanted: tuple[str, str, str, str | None],
) -> list[str]:
    """What data with no row of ``symbol`` holds (``"tick BTCUSDT (binance/spot)"``), or []
    when it holds ``symbol`` after all (every row dropped as bad), or nothing at all."""
    channel_type, symbol, venue, market = wanted
    found: dict[str, None] = {}
    if files is None:  # a Table (column_names) or a DataFrame (columns)
        names = getattr(dataname, "column_names", None) or list(getattr(dataname, "columns", []))
        if "symbol" in names:
            # a Table or a DataFrame here (no files), which mypy cannot tell from the paths
            for s in (str(v) for v in dataname["symbol"].unique()):  # type: ignore[index, call-overload, union-attr]
                if same_symbol(s, symbol):
                    return []
                found[f"{channel_type} {s}"] = None
        return list(found)
    for path in files:
        for c in file_contents(path, format, symbol):
            if (
                c.channel_type == channel_type
                and same_symbol(c.symbol, symbol)
                and (not venue or c.venue in (UNKNOWN, venue_key(venue)))
                and (not market or c.market in (UNKNOWN, market))
            ):
                return []
            found[f"{c.channel_type} {c.symbol} ({c.venue}/{c.market})"] = None
    return list(found)


def read_tables(path: str, symbol: str, format: Format | None = None) -> dict[str, NativeTable]:
    """A whole file as native-schema arrow tables keyed by channel type (tick, quote,
    orderbook, derivative; a type the file does not hold is an empty table; the venue and
    market columns some readers add are left out)."""
    import pyarrow as pa

    from .schema import schema_for

    fmt = format or detect_format(path)
    out = {}
    for kind in COLUMNS:
        schema = schema_for(kind)
        batches = [
            batch.select(schema.names)
            for _, _, stream in _streams([path], kind, symbol, fmt, DEFAULT_CHUNK_ROWS, None)
            for batch, _ in stream
        ]
        out[kind] = pa.Table.from_batches(batches, schema=schema)
    return out
