"""Choosing a reader: ``format=`` names one, or it is detected from the file name and header.

| format | what | detected by |
|---|---|---|
| ``native`` | the package's schema (CSV, .csv.gz, Parquet, partitioned directory, DataFrame) | ``.parquet``; a CSV header with the native required columns |
| ``tardis`` | Tardis.dev CSV: trades, quotes, incremental_book_L2, book_snapshot_25/5 | header starting ``exchange,symbol,timestamp,local_timestamp`` |
| ``binance`` | Binance public dumps: trades, aggTrades (spot, USD-M; with or without header) | ``-trades-`` / ``-aggTrades-`` in the file name |
| ``binance_ws`` | raw Binance WebSocket capture (``<receive_ns> <json>`` lines) | first line |
| ``bybit`` | Bybit's public archive: trades (derivatives and spot CSV), ``*_ob500.data.zip`` books | book file name; trade header ``timestamp,symbol,side,size,price`` / ``id,timestamp,price,volume,side`` |
"""  # noqa: E501

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Iterator
from typing import Any

from ..errors import ChannelError, DataError, check_choice
from ..symbols import symbol_aliases
from . import storage
from .batches import SkipReport, csv_header, expand_paths, is_csv, open_text
from .binance_capture import capture_batches, is_capture
from .binance_dumps import dump_batches, dump_kind, dump_line_offset
from .build import BatchStream, Chunk, columns_from_streams, events_from_streams
from .bybit import bybit_batches, is_book_archive, trade_layout
from .native import DEFAULT_CHUNK_ROWS, check_columns, native_streams
from .schema import COLUMNS, FORMATS, ON_ERROR, REQUIRED, Format, OnError
from .tardis import tardis_batches, tardis_kind
from .writer import safe_symbol

Window = tuple[int | None, int | None]  #: ``(start_ns, end_ns)``, either open (None)


def detect_format(path: str) -> str:
    """The format of one file, or a ChannelError saying it cannot tell."""
    if path.endswith(".parquet"):
        return "native"
    if storage.is_uri(path):
        raise ChannelError(
            f"{path}: over a URI only Parquet is read; convert it (backtrader-channels "
            "convert) or give a local or mounted path"
        )
    if is_book_archive(path):
        return "bybit"
    if is_capture(path):
        return "binance_ws"
    if is_csv(path):
        if _is_empty(path):
            raise DataError(path, "the file is empty")
        header = csv_header(path)
        if tardis_kind(header) is not None:
            return "tardis"
        if dump_kind(path) is not None:
            return "binance"
        if trade_layout(header) is not None:
            return "bybit"
        if any(all(c in header for c in req) for req in REQUIRED.values()):
            return "native"
        near = _nearest_native(header)
        if near is not None:  # a native file missing a column: say which, as format= would
            check_columns(path, header, near, 1)
        raise ChannelError(
            f"cannot tell the format of {path} (first line: {','.join(header)[:120]!r}); "
            f"pass format= one of {FORMATS}"
        )
    raise ChannelError(f"cannot tell the format of {path}; pass format= one of {FORMATS}")


def _is_empty(path: str) -> bool:
    try:
        with open_text(path) as fh:
            return not fh.read(1)
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise DataError(path, f"file is damaged or truncated: {exc}") from exc


def _nearest_native(header: list[str]) -> str | None:
    """The native channel type whose required columns ``header`` mostly has (at least the
    timestamp and half of them), or None."""
    best, best_have = None, 0
    for kind, req in REQUIRED.items():
        have = sum(c in header for c in req)
        if "timestamp" in header and have * 2 >= len(req) and have > best_have:
            best, best_have = kind, have
    return best


def is_partitioned(root: str) -> bool:
    """Whether ``root`` is a partitioned native directory (``channel=T/symbol=S/date=D/``)."""
    return storage.isdir(root) and any(n.startswith("channel=") for n in storage.listdir(root))


def partition_samples(root: str) -> list[str]:
    """One file per ``channel=/symbol=`` folder of a partitioned directory: its rows name their
    symbol in a column (folder names are the symbol made path-safe, not always reversible)."""
    return [
        expand_paths(storage.join(root, c, s))[0]
        for c in sorted(storage.listdir(root))
        for s in sorted(storage.listdir(storage.join(root, c)))
    ]


def partition_files(
    root: str, channel_type: str, symbol: str, window: Window | None = None
) -> list[str] | None:
    """Files of a partitioned native directory (``channel=T/symbol=S/date=D/*.parquet``) for
    this channel and symbol, or None when ``root`` is not such a directory. With ``window``
    (``start_ns, end_ns``, either None), only the days that overlap it."""
    sym_dir = _symbol_dir(root, channel_type, symbol)
    if sym_dir is None:
        return None
    if window is None or window == (None, None):
        return expand_paths(sym_dir)
    days = [d for d in partition_days(root, channel_type, symbol) or [] if _overlaps(d, window)]
    if not days:
        raise ChannelError(f"{root} has no {channel_type!r} data for {symbol!r} in {window}")
    return [f for d in days for f in expand_paths(storage.join(sym_dir, f"date={d}"))]


def partition_days(root: str, channel_type: str, symbol: str) -> list[str] | None:
    """The days (``YYYY-MM-DD``, sorted) of a partitioned directory's channel and symbol, or
    None when ``root`` is not partitioned."""
    sym_dir = _symbol_dir(root, channel_type, symbol)
    if sym_dir is None:
        return None
    return sorted(n[5:] for n in storage.listdir(sym_dir) if n.startswith("date="))


def day_window(day: str) -> tuple[int, int]:
    """``[start_ns, end_ns)`` of a UTC day ``YYYY-MM-DD``."""
    start = dt.datetime.fromisoformat(day).replace(tzinfo=dt.timezone.utc)
    ns = int(start.timestamp()) * 1_000_000_000
    return ns, ns + 86_400_000_000_000


def _overlaps(day: str, window: Window) -> bool:
    d0, d1 = day_window(day)
    start, end = window
    return (start is None or start < d1) and (end is None or end > d0)


def _symbol_dir(root: str, channel_type: str, symbol: str) -> str | None:
    if not is_partitioned(root):
        return None
    ch_dir = storage.join(root, f"channel={channel_type}")
    for alias in symbol_aliases(symbol):
        sym_dir = storage.join(ch_dir, f"symbol={safe_symbol(alias)}")
        if storage.isdir(sym_dir):
            return sym_dir
    raise ChannelError(f"{root} has no {channel_type!r} data for {symbol!r}")


def open_columns(
    dataname: Any,
    channel_type: str,
    symbol: str,
    columns: list[str],
    format: Format | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    on_error: OnError = "raise",
) -> dict[str, Any]:
    """Native columns of the rows :func:`open_source` turns into events (tick/quote data)."""
    streams = batch_streams(
        dataname,
        channel_type,
        symbol,
        format,
        chunk_rows,
        SkipReport() if on_error == "skip" else None,
    )
    return columns_from_streams(streams, channel_type, symbol, columns, on_error)


def open_source(
    dataname: Any,
    channel_type: str,
    symbol: str,
    format: Format | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    on_error: OnError = "raise",
    skip: SkipReport | None = None,
    window: Window | None = None,
    venue: str = "",
) -> Iterator[Chunk]:
    """Event chunks of ``channel_type`` for ``symbol`` from ``dataname`` in any known format,
    each event carrying ``venue``."""
    if format is not None:
        check_choice("format", format, FORMATS, ChannelError)
    check_choice("on_error", on_error, ON_ERROR, ChannelError)
    if channel_type not in COLUMNS:
        raise ChannelError(f"unknown channel type {channel_type!r}")
    # readers drop unparseable rows only in skip mode: with "raise" they raise a located error
    row_skip = skip if on_error == "skip" else None
    streams = batch_streams(dataname, channel_type, symbol, format, chunk_rows, row_skip, window)
    return events_from_streams(streams, channel_type, symbol, on_error, skip, venue)


def batch_streams(
    dataname: Any,
    channel_type: str,
    symbol: str,
    format: Format | None,
    chunk_rows: int,
    skip: SkipReport | None,
    window: Window | None = None,
) -> Iterable[BatchStream]:
    """The batch streams of ``dataname``: a DataFrame or Table (native), a partitioned
    directory's files for this channel and symbol, or files, directories and globs.

    ``skip`` is where readers count the rows they cannot parse and drop (``on_error="skip"``);
    None makes them raise a located :class:`DataError` at the first such row instead.
    ``window`` (ns) leaves out the days of a partitioned directory that lie outside it (the
    rows inside are still filtered by the caller)."""
    if not isinstance(dataname, (str, os.PathLike, list, tuple)):
        if format not in (None, "native"):
            raise ChannelError(f"format {format!r} reads files; got {type(dataname).__name__}")
        return native_streams(dataname, channel_type, chunk_rows, skip)
    files = None
    if isinstance(dataname, (str, os.PathLike)):
        files = partition_files(os.fspath(dataname), channel_type, symbol, window)
    if files is None:
        files = expand_paths(dataname)
    return _streams(files, channel_type, symbol, format, chunk_rows, skip)


def _streams(
    files: list[str],
    channel_type: str,
    symbol: str,
    format: Format | None,
    chunk_rows: int,
    skip: SkipReport | None,
) -> Iterator[BatchStream]:
    """One batch stream per file, each read with its (given or detected) format, lazily."""
    for path in files:
        fmt = format or detect_format(path)
        if storage.is_uri(path) and not path.endswith(".parquet"):
            detect_format(path)  # says what a URI can hold
        if fmt == "tardis":
            yield path, 2, tardis_batches(path, channel_type, skip)
        elif fmt == "binance":
            yield path, dump_line_offset(path), dump_batches(path, channel_type, skip)
        elif fmt == "binance_ws":
            yield path, 1, capture_batches(path, channel_type, symbol, skip)
        elif fmt == "bybit":
            yield (
                path,
                1 if is_book_archive(path) else 2,
                bybit_batches(path, channel_type, symbol, skip),
            )
        else:  # native: its header is checked once, by native_streams
            yield from native_streams(path, channel_type, chunk_rows, skip)
