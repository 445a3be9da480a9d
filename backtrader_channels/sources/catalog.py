"""What a dataset holds, per venue, market, symbol and channel type: its days, the days missing
inside its range, its first and last timestamps, rows, files and bytes (``backtrader-channels
data ls``), so that a user knows what a backtest will see.

A partitioned directory (``convert``'s layout, local or a URI such as ``s3://bucket/prefix``) is
listed once, recursively, and only its files' Parquet footers are read: rows from the row
groups' counts, times from the ``timestamp`` statistics, the symbol's spelling from the
``symbol`` statistics. A native Parquet file holding one symbol, venue and market (its
statistics say so) is described from its footer too; its days are those its row groups' time
spans reach. One holding several reads its ``timestamp``, ``symbol``, ``venue`` and ``market``
columns (nothing else) to count each one's rows.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import ChannelError, DataError
from . import storage
from .schema import REQUIRED
from .venues import UNKNOWN

__all__ = ["CatalogRow", "catalog", "day_ranges"]

_NS_PER_DAY = 86_400_000_000_000
#: footers read at once (object storage: one or two ranged requests each)
_FOOTER_THREADS = 8


@dataclass(frozen=True)
class CatalogRow:
    """What a dataset holds of one channel type of one symbol on one venue and market.

    Attributes
    ----------
    venue, market : str
        Where the rows come from (``unknown`` when the data does not say).
    symbol : str
        The symbol as its rows spell it (``BTC/USDT``), else as its folder does (``BTC-USDT``).
    kind : str
        The channel type: ``tick``, ``quote``, ``orderbook`` or ``derivative``.
    first_day, last_day : str or None
        The first and last UTC day with data (``YYYY-MM-DD``); None when there are no rows.
    days : tuple of str
        Every day with data, sorted.
    gaps : tuple of str
        The days between ``first_day`` and ``last_day`` with no data: a backtest over the
        range sees nothing on those days.
    rows : int
        Rows (a book's rows are price levels, so more than its updates).
    files : int
        Parquet files.
    bytes : int
        Their size.
    start_ns, end_ns : int or None
        The first and last ``timestamp`` (ns since the epoch, UTC), from the statistics; None
        when the files have none.
    path : str
        The partition folder (``.../symbol=S``) or the file.
    """

    venue: str
    market: str
    symbol: str
    kind: str
    first_day: str | None
    last_day: str | None
    days: tuple[str, ...]
    gaps: tuple[str, ...]
    rows: int
    files: int
    bytes: int
    start_ns: int | None
    end_ns: int | None
    path: str

    def as_dict(self) -> dict[str, object]:
        """The row as JSON-ready values (times also as ISO 8601 UTC strings)."""
        return {
            "venue": self.venue,
            "market": self.market,
            "symbol": self.symbol,
            "kind": self.kind,
            "first_day": self.first_day,
            "last_day": self.last_day,
            "days": len(self.days),
            "gaps": list(self.gaps),
            "rows": self.rows,
            "files": self.files,
            "bytes": self.bytes,
            "start": iso(self.start_ns),
            "end": iso(self.end_ns),
            "start_ns": self.start_ns,
            "end_ns": self.end_ns,
            "path": self.path,
        }


def iso(ns: int | None) -> str | None:
    """``ns`` since the epoch as ISO 8601 UTC (``2024-08-08T23:54:00.123Z``), None as None."""
    if ns is None:
        return None
    t = dt.datetime.fromtimestamp(ns // 1_000_000_000, tz=dt.timezone.utc)
    return f"{t:%Y-%m-%dT%H:%M:%S}.{ns % 1_000_000_000 // 1_000_000:03d}Z"


def day_ranges(days: Iterable[str]) -> list[tuple[str, str]]:
    """Sorted days grouped into runs of consecutive days: ``[(first, last), ...]``."""
    out: list[tuple[str, str]] = []
    prev: dt.date | None = None
    for d in sorted(days):
        this = dt.date.fromisoformat(d)
        if prev is not None and (this - prev).days == 1:
            out[-1] = (out[-1][0], d)
        else:
            out.append((d, d))
        prev = this
    return out


@dataclass
class _Footer:
    """What one file's footer says."""

    rows: int
    size: int
    kind: str | None
    spans: list[tuple[int, int]]  # each row group's (min, max) timestamp, where known
    constants: dict[str, str | None]  # symbol, venue, market: the one value, or None


@dataclass
class _Group:
    """The files of one (kind, venue, market, folder symbol), added up."""

    folder: str
    rows: int = 0
    files: int = 0
    size: int = 0
    spells: set[str | None] = field(default_factory=set)
    day_rows: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    spans: list[tuple[int, int]] = field(default_factory=list)


def catalog(path: str) -> list[CatalogRow]:
    """What a dataset holds, one row per venue, market, symbol and channel type, sorted.

    Parameters
    ----------
    path : str
        A partitioned directory (``DST/channel=*/venue=*/market=*/symbol=*/date=*/``, and the
        layout of earlier versions without venue and market), local or a URI
        (``s3://bucket/prefix``, ``gs://...``, ``file:///...``), or a native Parquet file.

    Returns
    -------
    list of CatalogRow
        Sorted by venue, market, symbol and channel type.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ChannelError
        ``path`` is neither a partitioned directory nor a native Parquet file.
    DataError
        A Parquet file is damaged (its footer cannot be read).
    """
    if storage.isdir(path):
        from .layout import is_partitioned

        if not is_partitioned(path):
            raise ChannelError(
                f"{path}: not a partitioned directory (no channel=* folders: write one with "
                "backtrader-channels convert SRC DST) nor a native Parquet file"
            )
        return _partitioned(path)
    if not storage.isfile(path):
        raise FileNotFoundError(f"{path}: no such file or directory")
    if not storage.split_query(path)[0].endswith(".parquet"):
        raise ChannelError(
            f"{path}: not a Parquet file; data ls lists native Parquet (a file, or the "
            "partitioned layout: backtrader-channels convert SRC DST)"
        )
    return _native_file(path)


def _partitioned(root: str) -> list[CatalogRow]:
    files = storage.sized_files_under(root, (".parquet",))
    base = storage.split_query(root)[0].rstrip("/")
    keyed: list[tuple[tuple[str, str, str, str], str, str, int]] = []
    for f, size in files:
        parts = dict(
            p.split("=", 1)
            for p in storage.split_query(f)[0][len(base) + 1 :].split("/")
            if "=" in p
        )
        if not {"channel", "symbol", "date"} <= parts.keys():
            continue  # not a part of the layout
        key = (
            parts["channel"],
            parts.get("venue", UNKNOWN),
            parts.get("market", UNKNOWN),
            parts["symbol"],
        )
        keyed.append((key, parts["date"], f, size))
    footers = _footers([(f, size) for _, _, f, size in keyed])
    groups: dict[tuple[str, str, str, str], _Group] = {}
    for (key, day, f, _), foot in zip(keyed, footers):
        kind, venue, market, symbol = key
        folder = f[: f.index(f"/symbol={symbol}/") + len(f"/symbol={symbol}")]
        g = groups.setdefault(key, _Group(storage.split_query(folder)[0]))
        g.rows += foot.rows
        g.files += 1
        g.size += foot.size
        g.spells.add(foot.constants.get("symbol"))
        g.day_rows[day] += foot.rows
        g.spans.extend(foot.spans)
    rows = []
    for (kind, venue, market, symbol), g in groups.items():
        spelled = g.spells.pop() if len(g.spells) == 1 else None
        days = [d for d, n in g.day_rows.items() if n]
        rows.append(_row(kind, venue, market, spelled or symbol, days, g, g.folder))
    return sorted(rows, key=lambda r: (r.venue, r.market, r.symbol, r.kind))


def _row(
    kind: str, venue: str, market: str, symbol: str, days: list[str], g: _Group, path: str
) -> CatalogRow:
    days = sorted(days)
    return CatalogRow(
        venue=venue,
        market=market,
        symbol=symbol,
        kind=kind,
        first_day=days[0] if days else None,
        last_day=days[-1] if days else None,
        days=tuple(days),
        gaps=tuple(_gaps(days)),
        rows=g.rows,
        files=g.files,
        bytes=g.size,
        start_ns=min(s for s, _ in g.spans) if g.spans else None,
        end_ns=max(e for _, e in g.spans) if g.spans else None,
        path=path,
    )


def _gaps(days: list[str]) -> list[str]:
    """The days between the first and the last of ``days`` (sorted) that are not in it."""
    if not days:
        return []
    have = set(days)
    first, last = dt.date.fromisoformat(days[0]), dt.date.fromisoformat(days[-1])
    every = (first + dt.timedelta(days=i) for i in range((last - first).days + 1))
    return [d.isoformat() for d in every if d.isoformat() not in have]


def _footers(files: list[tuple[str, int]]) -> list[_Footer]:
    """Each file's footer, read a few at a time (object storage answers in parallel)."""
    if len(files) <= 1:
        return [_footer(f, s) for f, s in files]
    with ThreadPoolExecutor(max_workers=_FOOTER_THREADS) as pool:
        return list(pool.map(lambda fs: _footer(*fs), files))


def _footer(path: str, size: int) -> _Footer:
    try:
        with storage.open_input(path) as fh:
            meta = pq.ParquetFile(fh).metadata
    except (OSError, pa.ArrowException) as exc:
        raise DataError(
            path,
            f"not a readable Parquet file (damaged or truncated?): {' '.join(str(exc).split())}",
        ) from exc
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    kind = next((k for k, req in REQUIRED.items() if all(c in names for c in req)), None)
    spans = []
    if "timestamp" in names:
        idx = names.index("timestamp")
        for g in range(meta.num_row_groups):
            st = meta.row_group(g).column(idx).statistics
            if meta.row_group(g).num_rows and st is not None and st.has_min_max:
                spans.append((_ns(st.min), _ns(st.max)))
    constants = {c: _constant(meta, names, c) for c in ("symbol", "venue", "market")}
    return _Footer(meta.num_rows, size, kind, spans, constants)


def _ns(value: object) -> int:
    """A timestamp statistic as ns (an int64 column's value, or a datetime: naive is UTC)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        delta = value - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
        return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
    return int(value)  # type: ignore[call-overload]


def _constant(meta: pq.FileMetaData, names: list[str], column: str) -> str | None:
    """The one value of a string column, when every row group's statistics say it has one
    (the layout writes one symbol, venue and market per file); None otherwise or if absent."""
    if column not in names:
        return None
    idx = names.index(column)
    seen = set()
    for g in range(meta.num_row_groups):
        st = meta.row_group(g).column(idx).statistics
        if st is None or not st.has_min_max or st.min != st.max or st.null_count:
            return None
        seen.add(st.min.decode() if isinstance(st.min, bytes) else str(st.min))
    return seen.pop() if len(seen) == 1 else None


def _native_file(path: str) -> list[CatalogRow]:
    foot = _footer(path, storage.size(path))
    if foot.kind is None:
        raise ChannelError(f"{path}: no native channel type matches its columns")
    with storage.open_input(path) as fh:
        names = pq.ParquetFile(fh).schema_arrow.names
    tags = [c for c in ("symbol", "venue", "market") if c in names]
    if all(foot.constants[c] is not None for c in tags):
        g = _Group(path, foot.rows, 1, foot.size, spans=foot.spans)
        days = {
            _day(d * _NS_PER_DAY)
            for s, e in foot.spans
            for d in range(s // _NS_PER_DAY, e // _NS_PER_DAY + 1)
        }
        c = foot.constants
        symbol = c["symbol"] or "?"
        row = _row(
            foot.kind, c["venue"] or UNKNOWN, c["market"] or UNKNOWN, symbol, list(days), g, path
        )
        return [row]
    return _counted(path, foot, tags)


def _counted(path: str, foot: _Footer, tags: list[str]) -> list[CatalogRow]:
    """Rows per symbol, venue and market of a file holding several: their columns and the
    timestamps are read (in batches), nothing else."""
    per: dict[tuple[str, str, str], _Group] = {}
    days: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    with storage.open_input(path) as fh:
        for batch in pq.ParquetFile(fh).iter_batches(columns=["timestamp", *tags]):
            table = pa.Table.from_batches([batch])
            ts = table.column("timestamp")
            if pa.types.is_timestamp(ts.type):
                ts = ts.cast(pa.timestamp("ns"))
            ts = ts.cast(pa.int64())
            cols = {c: table.column(c).cast(pa.string()) for c in tags}
            keyed = pa.table({"ts": ts, "day": pc.divide(ts, _NS_PER_DAY), **cols})
            stats = keyed.group_by([*tags, "day"]).aggregate(
                [("ts", "count"), ("ts", "min"), ("ts", "max")]
            )
            for r in stats.to_pylist():
                key = tuple(r.get(c) or (UNKNOWN if c != "symbol" else "?") for c in tags)
                full = dict(zip(tags, key))
                k = (
                    full.get("symbol", "?"),
                    full.get("venue", UNKNOWN),
                    full.get("market", UNKNOWN),
                )
                g = per.setdefault(k, _Group(path, files=1, size=foot.size))
                g.rows += r["ts_count"]
                g.spans.append((r["ts_min"], r["ts_max"]))
                days[k].add(_day(r["day"] * _NS_PER_DAY))
    kind = foot.kind or "?"
    rows = [_row(kind, v, m, s, sorted(days[(s, v, m)]), g, path) for (s, v, m), g in per.items()]
    return sorted(rows, key=lambda r: (r.venue, r.market, r.symbol, r.kind))


def _day(ns: int) -> str:
    return (dt.datetime(1970, 1, 1) + dt.timedelta(days=ns // _NS_PER_DAY)).strftime("%Y-%m-%d")
