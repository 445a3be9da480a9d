"""What a recorded file holds: its channel types and symbols, and the venue and market they come
from as far as the format says (:mod:`.venues`). ``convert``, ``backtest --data``, ``inspect``
and the "no rows of this symbol" error ask here.

| format | venue and market from |
|---|---|
| ``tardis`` | the ``exchange`` column (``binance-futures``: binance, linear; table in ``venues``) |
| ``binance`` | binance; spot, USD-M (linear) or COIN-M (inverse) from the layout and the symbol |
| ``binance_ws`` | binance; the frames' fields (futures depth frames carry ``pu``) and the symbol |
| ``bybit`` | bybit; the trade layout (spot or derivatives), the book depth, the symbol |
| ``native`` | its ``venue`` and ``market`` columns, if it has them |

What a format cannot say is ``unknown`` here; ``convert(venue=, market=)`` fills it in.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import ChannelError
from ..events import ChannelType
from .batches import BROKEN, SkipReport, broken, csv_batches, csv_header, is_csv, open_text
from .batches import parquet_schema as _parquet_schema
from .binance_dumps import dump_kind, dump_market, dump_symbol
from .bybit import book_contents, is_book_file, trade_contents
from .detect import detect_format
from .native import check_columns, check_types
from .schema import REQUIRED, TAGS, Format
from .tardis import channel_type_of, tardis_kind
from .venues import UNKNOWN, tardis_market


class Content(NamedTuple):
    """One channel of a file: its type, symbol (as the file spells it), venue and market."""

    channel_type: str
    symbol: str
    venue: str = UNKNOWN
    market: str = UNKNOWN


def file_contents(
    path: str, format: Format | None = None, symbol: str | None = None
) -> list[Content]:
    """The channels a file holds, sorted; ``symbol`` names the symbol of a file that does not
    (a native file without a symbol column, a renamed Bybit spot trade file)."""
    fmt = format or detect_format(path)
    if fmt == "tardis":
        kind = tardis_kind(csv_header(path))
        if kind is None:
            raise ChannelError(f"{path}: not a Tardis file")
        rows = _unique_rows(path, ["symbol", "exchange"])
        found = [Content(channel_type_of(kind), s, *tardis_market(e, s)) for s, e in rows]
    elif fmt == "binance":
        if dump_kind(path) is None:
            raise ChannelError(f"{path}: not a Binance dump file name")
        found = [Content(ChannelType.TICK, dump_symbol(path), "binance", dump_market(path))]
    elif fmt == "binance_ws":
        found = _capture_contents(path)
    elif fmt == "bybit":
        if is_book_file(path):
            sym, market = book_contents(path)
            found = [Content(ChannelType.ORDERBOOK, sym, "bybit", market)]
        else:
            sym, market = trade_contents(path, symbol)
            found = [Content(ChannelType.TICK, sym, "bybit", market)]
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


def _tags(tags: list[str], values: tuple[Any, ...]) -> tuple[str, str]:
    """``(venue, market)`` from the values of a file's tag columns (absent: unknown)."""
    have = dict(zip(tags, values))
    return have.get("venue") or UNKNOWN, have.get("market") or UNKNOWN


def _unique_rows(path: str, columns: list[str]) -> list[tuple[Any, ...]]:
    """The distinct value combinations of ``columns``, read in chunks (memory stays flat)."""
    if not is_csv(path):
        constant = _parquet_constants(path, columns)
        if constant is not None:
            return [constant]
    found: set[tuple[Any, ...]] = set()
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


def _parquet_constants(path: str, columns: list[str]) -> tuple[Any, ...] | None:
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


_STREAM_KINDS = {
    "trade": ChannelType.TICK,
    "aggTrade": ChannelType.TICK,
    "bookTicker": ChannelType.QUOTE,
    "depth": ChannelType.ORDERBOOK,
}


def _frame_market(kind: str, data: Any) -> str | None:
    """Spot or futures, from a Binance frame's fields (futures frames carry ``pu`` in depth,
    ``E`` in bookTicker, no ``M`` in trades); None if the frame does not say."""
    if not isinstance(data, dict):
        return None
    if kind == "depth":
        return "futures" if "pu" in data else "spot"
    if kind == "bookTicker":
        return "futures" if "E" in data else "spot"
    return "spot" if "M" in data else "futures"


def _capture_contents(path: str) -> list[Content]:
    found: set[tuple[str, str]] = set()
    markets: dict[str, str] = {}
    lineno = 0
    try:
        with open_text(path) as fh:
            for lineno, line in enumerate(fh, 1):  # noqa: B007 - named if the file breaks
                try:
                    msg = json.loads(line.partition(" ")[2])
                    stream = msg.get("stream")
                except (ValueError, AttributeError):
                    continue  # left to the reader, which names the line (or skips and counts it)
                if not isinstance(stream, str):
                    continue
                sym, _, rest = stream.partition("@")
                kind = rest.split("@")[0]
                ctype = _STREAM_KINDS.get(kind)
                if ctype is None:
                    continue
                sym = sym.upper()
                found.add((ctype, sym))
                if sym not in markets:
                    verdict = _frame_market(kind, msg.get("data"))
                    if verdict is not None:
                        markets[sym] = verdict
    except BROKEN as exc:
        raise broken(path, exc, lineno) from exc
    return [Content(c, s, "binance", _futures(s, markets.get(s))) for c, s in found]


def _futures(symbol: str, verdict: str | None) -> str:
    if verdict is None:
        return UNKNOWN
    if verdict == "spot":
        return "spot"
    return "inverse" if "_" in symbol else "linear"
