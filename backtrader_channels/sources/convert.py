"""``convert``: any supported input rewritten as partitioned native Parquet (see ``writer``)."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..errors import ChannelError, DataError
from ..events import ChannelType
from ..gctune import streaming_gc
from .batches import SkipReport, csv_header, expand_paths, is_csv, open_text, parquet_schema
from .binance_dumps import dump_kind
from .bybit import archive_contents
from .formats import detect_format, open_source
from .native import check_columns, check_types
from .schema import REQUIRED, Format, OnError
from .tardis import channel_type_of, tardis_kind
from .writer import PartitionedWriter

FLUSH_EVENTS = 1_000_000


def _unique_symbols(path: str) -> list[str]:
    try:
        if is_csv(path):
            # rows with a wrong number of fields are left to the reader, which names their
            # line (or skips and counts them, with on_error="skip")
            table = pacsv.read_csv(
                path,
                parse_options=pacsv.ParseOptions(invalid_row_handler=lambda row: "skip"),
                convert_options=pacsv.ConvertOptions(include_columns=["symbol"]),
            )
        else:
            table = pq.read_table(path, columns=["symbol"])
    except (OSError, EOFError, pa.ArrowException) as exc:
        raise DataError(path, f"file is damaged or truncated: {exc}") from exc
    return sorted(str(s) for s in pc.unique(table.column("symbol")).to_pylist() if s)


def _capture_contents(path: str) -> list[tuple[str, str]]:
    kinds = {
        "trade": ChannelType.TICK,
        "aggTrade": ChannelType.TICK,
        "bookTicker": ChannelType.QUOTE,
        "depth": ChannelType.ORDERBOOK,
    }
    found: set[tuple[str, str]] = set()
    with open_text(path) as fh:
        for line in fh:
            try:
                stream = json.loads(line.partition(" ")[2]).get("stream")
            except (ValueError, AttributeError):
                continue  # left to the reader, which names the line (or skips and counts it)
            if isinstance(stream, str):
                sym, _, kind = stream.partition("@")
                ctype = kinds.get(kind.split("@")[0])
                if ctype:
                    found.add((ctype, sym.upper()))
    return sorted(found)


def contents(
    path: str, format: Format | None = None, symbol: str | None = None
) -> list[tuple[str, str]]:
    """The ``(channel type, symbol)`` pairs a file holds; ``symbol`` names the symbol of a
    native file without a symbol column."""
    fmt = format or detect_format(path)
    if fmt == "tardis":
        kind = tardis_kind(csv_header(path))
        if kind is None:
            raise ChannelError(f"{path}: not a Tardis file")
        return [(channel_type_of(kind), s) for s in _unique_symbols(path)]
    if fmt == "binance":
        if dump_kind(path) is None:
            raise ChannelError(f"{path}: not a Binance dump file name")
        return [(ChannelType.TICK, os.path.basename(path).split("-")[0])]
    if fmt == "binance_ws":
        return _capture_contents(path)
    if fmt == "bybit":
        return [archive_contents(path)]
    if is_csv(path):
        names = csv_header(path)
    else:
        schema = parquet_schema(path)
        names = schema.names
    kinds = [k for k, req in REQUIRED.items() if all(c in names for c in req)]
    if not kinds:
        raise ChannelError(f"{path}: no native channel type matches its columns {names}")
    if not is_csv(path):
        check_types(path, schema, kinds[0], check_columns(path, names, kinds[0], None))
    if "symbol" not in names:
        if symbol is not None:
            return [(kinds[0], symbol)]
        raise ChannelError(
            f"{path} has no symbol column: name its symbol (--symbol, or add_channel(symbol=...))"
        )
    return [(kinds[0], s) for s in _unique_symbols(path)]


def convert(
    src: Any,
    dst: str,
    format: Format | None = None,
    symbols: list[str] | None = None,
    on_error: OnError = "raise",
    progress: bool | None = None,
) -> dict[str, Any]:
    """Rewrite every file of ``src`` into the partitioned native layout under ``dst``.

    Returns a summary: events per ``"type:symbol"``, rows written, files, skipped rows.
    """
    files = expand_paths(src)
    if progress is None:
        progress = sys.stderr.isatty()
    bar: Any = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(unit=" events", unit_scale=True, file=sys.stderr, desc="convert")
    writer = PartitionedWriter(dst)
    skip = SkipReport()
    counts: dict[str, int] = {}
    buffered = 0
    with streaming_gc():
        try:
            for path in files:
                pairs = contents(path, format)
                if symbols:  # the file's spelling, or the user's (readers match both)
                    pairs = [(c, s) for c, s in pairs if s in symbols] or [
                        (c, s) for c in dict.fromkeys(c for c, _ in pairs) for s in symbols
                    ]
                for channel_type, symbol in dict.fromkeys(pairs):
                    for _, events in open_source(
                        path, channel_type, symbol, format, on_error=on_error, skip=skip
                    ):
                        writer.write(channel_type, symbol, events)
                        buffered += len(events)
                        if buffered >= FLUSH_EVENTS:
                            writer.flush()
                            buffered = 0
                        key = f"{channel_type}:{symbol}"
                        counts[key] = counts.get(key, 0) + len(events)
                        if bar is not None:
                            bar.update(len(events))
        finally:
            writer.close()
            if bar is not None:
                bar.close()
    return {
        "events": counts,
        "rows_written": writer.rows_written,
        "files": len(writer.files),
        "skipped": skip.as_dict(),
    }
