"""What a recorded file holds: its channel types and symbols, and the venue and market they come
from as far as the format says (:mod:`.venues`). ``convert``, ``backtest --data``, ``inspect``
and the "no rows of this symbol" error ask here.

| format | venue and market from |
|---|---|
| ``tardis`` | the ``exchange`` column (``binance-futures``: binance, linear; venues' names) |
| a venue's own (``binance``, ...) | that venue; the market as its ``FileFormat`` tells |
| ``native`` | its ``venue`` and ``market`` columns, if it has them |

What a format cannot say is ``unknown`` here; ``convert(venue=, market=)`` fills it in.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import ChannelError
from .batches import SkipReport, broken, csv_batches, csv_header, is_csv
from .batches import parquet_schema as _parquet_schema
from .detect import detect_format
from .native import check_columns, check_types
from .registry import UNKNOWN, Content, file_format
from .schema import REQUIRED, TAGS, Format
from .tardis import channel_type_of, tardis_kind
from .venues import tardis_market


def file_contents(
    path: str, format: Format | None = None, symbol: str | None = None
) -> list[Content]:
    """The channels a file holds, sorted; ``symbol`` names the symbol of a file that does not
    (a native file without a symbol column, a renamed Bybit spot trade file)."""
    fmt = format or detect_format(path)
    venue_format = file_format(fmt)
    if venue_format is not None:  # a venue's own format says what its files hold
        found = venue_format.contents(path, symbol)
    elif fmt == "tardis":
        kind = tardis_kind(csv_header(path))
        if kind is None:
            raise ChannelError(f"{path}: not a Tardis file")
        rows = _unique_rows(path, ["symbol", "exchange"])
        # text: pyarrow reads an empty CSV cell of a string column as "", never as null
        found = [Content(channel_type_of(kind), s, *tardis_market(e, s)) for s, e in rows]  # type: ignore[arg-type]
    else:
        found = _native_contents(path, symbol)
    return sorted(set(found))


def contents(
    path: str, format: Format | None = None, symbol: str | None = None
) -> list[tuple[str, str]]:
    """The ``(channel type, symbol)`` pairs a file holds (see :func:`file_contents`)."""
    return list(
        dict.fromkeys((c.channel_type, c.symbol) for c in file_contents(path, format, symbol))
    )


def _native_contents(path: str, symbol: str | None) -> list[Content]:
    if is_csv(path):
        names = csv_header(path)
    else:
        schema = _parquet_schema(path)
        names = schema.names
    kinds = [k for k, req in REQUIRED.items() if all(c in names for c in req)]
    if not kinds:
        raise ChannelError(f"{path}: no native channel type matches its columns {names}")
    if not is_csv(path):
        check_types(path, schema, kinds[0], check_columns(path, names, kinds[0], None))
    tags = [t for t in TAGS if t in names]
    if "symbol" not in names:
        if symbol is None:
            raise ChannelError(
                f"{path} has no symbol column: name its symbol (--symbol, or "
                "add_channel(symbol=...))"
            )
        rows = _unique_rows(path, tags) if tags else [()]
        return [Content(kinds[0], symbol, *_tags(tags, row)) for row in rows]
    return [
        Content(kinds[0], row[0], *_tags(tags, row[1:]))
        for row in _unique_rows(path, ["symbol", *tags])
        if row[0]
    ]


def _tags(tags: list[str], values: tuple[str | None, ...]) -> tuple[str, str]:
    """``(venue, market)`` from the values of a file's tag columns (absent: unknown)."""
    have = dict(zip(tags, values))
    return have.get("venue") or UNKNOWN, have.get("market") or UNKNOWN


def _unique_rows(path: str, columns: list[str]) -> list[tuple[str | None, ...]]:
    """The distinct value combinations of ``columns``, read in chunks (memory stays flat)."""
    if not is_csv(path):
        constant = _parquet_constants(path, columns)
        if constant is not None:
            return [constant]
    found: set[tuple[str | None, ...]] = set()
    for batch in _column_batches(path, columns):
        if not batch.num_rows:
            continue
        table = pa.Table.from_batches([batch]).select(columns)
        table = table.cast(pa.schema([(c, pa.string()) for c in columns]))
        for row in table.group_by(columns).aggregate([]).to_pylist():
            found.add(tuple(row[c] for c in columns))
    return sorted(found, key=lambda r: tuple("" if v is None else str(v) for v in r))


def _column_batches(path: str, columns: list[str]) -> Iterable[pa.RecordBatch]:
    if is_csv(path):
        # rows with a wrong number of fields are left to the reader, which names their line
        skip = SkipReport()
        return (b for b, _ in csv_batches(path, {c: pa.string() for c in columns}, skip=skip))
    try:
        return pq.ParquetFile(path).iter_batches(columns=columns)
    except (OSError, pa.ArrowException) as exc:
        raise broken(path, exc) from exc


def _parquet_constants(path: str, columns: list[str]) -> tuple[str | None, ...] | None:
    """The one value of each column, when the file's statistics show every column constant
    (as the partitioned layout writes them): no data is read; else None."""
    try:
        meta = pq.ParquetFile(path).metadata
    except (OSError, pa.ArrowException) as exc:
        raise broken(path, exc) from exc
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    values = []
    for col in columns:
        idx = names.index(col)
        seen = set()
        for g in range(meta.num_row_groups):
            st = meta.row_group(g).column(idx).statistics
            if st is None or not st.has_min_max or st.min != st.max or st.null_count:
                return None
            seen.add(st.min)
        if len(seen) != 1:
            return None
        value = seen.pop()
        values.append(value.decode() if isinstance(value, bytes) else value)
    return tuple(values) if meta.num_row_groups else None
