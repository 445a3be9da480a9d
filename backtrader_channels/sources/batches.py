"""Streaming files into arrow record batches: CSV (plain or gzip, with or without header), Parquet,
in-memory tables. Bad CSV text is located to its line; ``skip`` mode drops and counts such rows.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import glob
import gzip
import io
import os
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..errors import DataError
from . import storage
from .progress import ReadMeter, reading

if TYPE_CHECKING:
    import pandas as pd

    from .schema import Paths

# 2 MB blocks: 4 MB ones doubled peak RSS (pyarrow reads several blocks ahead) at no speed gain
_CSV_BLOCK_BYTES = 2 << 20
_DICTIONARY_COLUMNS = ("side", "symbol", "venue", "market")
DATA_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".txt", ".txt.gz", ".data.zip", ".data")
#: what reading a damaged or cut-short text file raises (gzip: EOFError, zlib.error; pyarrow:
#: OSError); zip archives add zipfile.BadZipFile where they are read
BROKEN = (OSError, EOFError, zlib.error, UnicodeDecodeError)
#: what pyarrow's CSV reader asks about a row with a wrong number of fields: "skip" or "error"
RowHandler = Callable[[pacsv.InvalidRow], str]


class SkipReport:
    """Rows dropped under ``on_error="skip"``, counted per file and reason."""

    def __init__(self) -> None:
        self.counts: dict[str, Counter[str]] = {}
        self._lines: set[tuple[str, int]] = set()

    def add_line(self, source: str, reason: str, line: int) -> None:
        """Count line ``line`` of ``source`` dropped for ``reason``, once however many readers
        drop it (a capture is read once per channel type)."""
        if (source, line) not in self._lines:
            self._lines.add((source, line))
            self.add(source, reason)

    def add(self, source: str, reason: str, n: int = 1) -> None:
        """Count ``n`` rows of ``source`` dropped for ``reason``."""
        if n:
            self.counts.setdefault(source, Counter())[reason] += n

    @property
    def total(self) -> int:
        """All rows dropped."""
        return sum(sum(c.values()) for c in self.counts.values())

    def as_dict(self) -> dict[str, dict[str, int]]:
        """``{file: {reason: count}}``."""
        return {src: dict(c) for src, c in self.counts.items()}


def expand_paths(dataname: Paths) -> list[str]:
    """A file, a list of files, a directory (its data files, recursively, sorted) or a glob."""
    if isinstance(dataname, (list, tuple)):
        return [p for d in dataname for p in expand_paths(d)]
    path = os.fspath(dataname)
    if storage.isdir(path):
        files = sorted(storage.files_under(path, DATA_SUFFIXES))
    elif storage.is_uri(path):
        files = [path]
    elif any(ch in path for ch in "*?["):
        files = sorted(glob.glob(path, recursive=True))
    else:
        files = [path]
    if not files:
        raise FileNotFoundError(f"no data files match {path!r}")
    for f in files:
        if not storage.isfile(f):
            raise FileNotFoundError(f"data file not found: {f}")
    return files


def is_csv(path: str) -> bool:
    """Whether ``path`` names a (possibly gzipped) text file."""
    return path.endswith((".csv", ".csv.gz", ".txt", ".txt.gz"))


def open_text(path: str) -> IO[str]:
    """``path`` opened for reading as UTF-8 text, decompressed when it ends in ``.gz``."""
    if path.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def open_text_raw(path: str) -> tuple[IO[str], IO[bytes]]:
    """``path`` as UTF-8 text (decompressed when it ends in ``.gz``) and the raw file under it,
    whose position says how far into the file a reader is; close both."""
    raw = open(path, "rb")
    stream: gzip.GzipFile | io.BufferedReader = (
        gzip.GzipFile(fileobj=raw) if path.endswith(".gz") else raw
    )
    return io.TextIOWrapper(stream, encoding="utf-8"), raw


def broken(path: str, exc: BaseException, after_line: int | None = None) -> DataError:
    """The DataError of a file that cannot be read on: damaged, or cut short (truncated),
    after line ``after_line`` (the last line read whole), if known."""
    where = f" after line {after_line}" if after_line is not None else ""
    what = " ".join(str(exc).split()) or type(exc).__name__
    return DataError(path, f"file is damaged or truncated (cut short){where}: {what}")


def check_complete(path: str) -> None:
    """A DataError when an uncompressed text file ends in the middle of a line (without a
    newline after its last line): it was cut short, and its last value may be too. Compressed
    files say so themselves (their stream ends without its end marker)."""
    if path.endswith(".gz") or storage.is_uri(path):
        return
    with open(path, "rb") as fh:
        end = fh.seek(0, os.SEEK_END)
        if not end:
            return
        fh.seek(end - 1)
        if fh.read(1) == b"\n":
            return
        fh.seek(0)
        lines = 1 + sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b""))
    raise DataError(
        path,
        "the file ends in the middle of this line (no newline after it): it was cut short "
        "(truncated), and the line may be too; a complete file ends with a newline",
        line=lines,
    )


def first_line(path: str) -> str:
    """The first line of a text file (gzip-aware)."""
    try:
        with open_text(path) as fh:
            return str(fh.readline()).strip()
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise DataError(path, f"cannot read the file: {exc}", line=1) from exc


def csv_header(path: str) -> list[str]:
    """Column names in the first line (quoted or not)."""
    return [c.strip() for c in next(csv.reader([first_line(path)]), [])]


def csv_batches(
    path: str,
    types: dict[str, pa.DataType],
    *,
    column_names: list[str] | None = None,
    skip: SkipReport | None = None,
    meter: ReadMeter | None = None,
) -> Iterator[tuple[pa.RecordBatch, int]]:
    """Yield ``(batch, first_row)`` of the columns in ``types``. With ``column_names`` the file
    has no header row. The first bad row raises a located ``DataError``, unless ``skip``; a
    file cut short is a ``DataError`` in both modes. ``meter`` follows how far the read is."""
    check_complete(path)
    first_line_no = 1 if column_names else 2
    row = 0
    counted = 0  # rows with a wrong number of fields counted so far
    bad_rows: list[pacsv.InvalidRow] = []

    def on_bad_row(r: pacsv.InvalidRow) -> str:
        bad_rows.append(r)
        return "skip"

    # use_threads=False: the threaded reader parses ahead of a slower consumer without bound
    # (468 MB at 10M rows against 281 MB), for about 7% more speed
    read_opts = pacsv.ReadOptions(
        use_threads=False, block_size=_CSV_BLOCK_BYTES, column_names=column_names
    )
    parse_opts = pacsv.ParseOptions(invalid_row_handler=on_bad_row if skip else None)
    convert = pacsv.ConvertOptions(column_types=types, include_columns=list(types))
    raw = _open_raw(path)
    try:
        with raw, reading(meter, path, raw.tell):
            stream = pa.CompressedInputStream(raw, "gzip") if path.endswith(".gz") else raw
            reader = pacsv.open_csv(
                stream, read_options=read_opts, parse_options=parse_opts, convert_options=convert
            )
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                if skip is not None and bad_rows:
                    skip.add(path, "wrong number of fields", len(bad_rows))
                    counted += len(bad_rows)
                    bad_rows.clear()
                yield batch, row
                row += batch.num_rows
    except pa.ArrowInvalid as exc:
        if skip is None:
            raise _locate_csv_error(path, types, column_names, exc) from exc
        yield from _csv_batches_as_text(path, types, column_names, skip, row, counted)
        return
    except BROKEN as exc:
        raise broken(path, exc, _whole_lines(path, row + first_line_no - 1)) from exc
    if skip is not None and bad_rows:
        skip.add(path, "wrong number of fields", len(bad_rows))


def _whole_lines(path: str, at_least: int) -> int:
    """Error path: how many whole lines a damaged gzip file gives before it breaks (pyarrow
    reads megabytes ahead, so the rows it gave say less); ``at_least`` for other files."""
    if not path.endswith(".gz"):
        return at_least
    n = 0
    try:
        with gzip.open(path, "rb") as fh:
            for block in iter(lambda: fh.read1(1 << 16), b""):  # read1: what is there
                n += block.count(b"\n")
    except BROKEN:
        pass
    return max(n, at_least)


def _open_raw(path: str) -> pa.OSFile:
    try:
        return pa.OSFile(path)
    except OSError as exc:
        raise DataError(path, f"cannot open the file: {exc}") from exc


def _text_reader(
    path: str, types: dict[str, pa.DataType], column_names: list[str] | None, handler: RowHandler
) -> pacsv.CSVStreamingReader:
    return pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(
            use_threads=False, block_size=_CSV_BLOCK_BYTES, column_names=column_names
        ),
        parse_options=pacsv.ParseOptions(invalid_row_handler=handler),
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in types}, include_columns=list(types)
        ),
    )


def _bad_values(texts: list[str | None], typ: pa.DataType) -> list[int]:
    """Indices of values that do not convert to ``typ`` (empty values are left to the checks)."""
    bad = []
    for i, text in enumerate(texts):
        if text is None or text == "":
            continue
        try:
            if pa.types.is_boolean(typ):
                if text.lower() not in ("true", "false", "0", "1"):
                    raise ValueError(text)
            elif pa.types.is_integer(typ):
                int(text)
            elif not pa.types.is_string(typ):
                float(text)
        except ValueError:
            bad.append(i)
    return bad


def _csv_batches_as_text(
    path: str,
    types: dict[str, pa.DataType],
    column_names: list[str] | None,
    skip: SkipReport,
    start_row: int,
    counted: int,
) -> Iterator[tuple[pa.RecordBatch, int]]:
    """Skip mode's slow path for a file with unconvertible values: read text, drop bad rows.
    ``start_row`` rows were already yielded and ``counted`` short rows already counted."""
    short_rows: list[int] = []

    def on_bad_row(r: pacsv.InvalidRow) -> str:
        short_rows.append(r.number)
        return "skip"

    try:
        yield from _kept_as_text(path, types, column_names, skip, start_row, on_bad_row)
    except BROKEN as exc:
        raise broken(path, exc) from exc
    skip.add(path, "wrong number of fields", len(short_rows) - counted)


def _kept_as_text(
    path: str,
    types: dict[str, pa.DataType],
    column_names: list[str] | None,
    skip: SkipReport,
    start_row: int,
    on_bad_row: RowHandler,
) -> Iterator[tuple[pa.RecordBatch, int]]:
    row = 0
    for batch in _text_reader(path, types, column_names, on_bad_row):
        n = batch.num_rows
        if row + n <= start_row:
            row += n
            continue
        keep = [True] * n
        for name, typ in types.items():
            for i in _bad_values(batch.column(name).to_pylist(), typ):
                if keep[i]:
                    keep[i] = False
                    skip.add(path, f"not a valid {typ} in '{name}'")
        for i in range(max(0, start_row - row)):
            keep[i] = False  # already yielded by the typed reader
        batch = batch.filter(pa.array(keep))
        arrays = [pc.cast(batch.column(c), types[c]) for c in types]
        yield pa.RecordBatch.from_arrays(arrays, names=list(types)), row
        row += n


def _locate_csv_error(
    path: str, types: dict[str, pa.DataType], column_names: list[str] | None, exc: Exception
) -> DataError:
    """Error path only: rescan the file as text to find the line and column of ``exc``."""
    first_line_no = 1 if column_names else 2
    bad: list[DataError] = []

    def on_bad_row(r: pacsv.InvalidRow) -> str:
        if not bad:
            bad.append(
                DataError(
                    path,
                    f"expected {r.expected_columns} fields, got {r.actual_columns}",
                    line=r.number,
                    value=r.text,
                )
            )
        return "skip"

    row = 0
    try:
        for batch in _text_reader(path, types, column_names, on_bad_row):
            if bad:
                return bad[0]
            for name, typ in types.items():
                texts = batch.column(name).to_pylist()
                idx = _bad_values(texts, typ)
                if idx:
                    return DataError(
                        path,
                        f"not a valid {typ}",
                        line=row + idx[0] + first_line_no,
                        column=name,
                        value=texts[idx[0]],
                    )
            row += batch.num_rows
    except BROKEN as exc2:
        return broken(path, exc2, row + first_line_no - 1)
    return bad[0] if bad else DataError(path, f"cannot parse CSV: {exc}")


def parquet_batches(
    path: str, columns: list[str], chunk_rows: int, meter: ReadMeter | None = None
) -> Iterator[tuple[pa.RecordBatch, int]]:
    """Yield ``(batch, first_row)`` of ``columns`` from a Parquet file; a row group that cannot
    be read is a ``DataError`` naming it and its first row."""
    # pre_buffer=False: the default buffers whole row-group ranges ahead and RSS grows with
    # the file (680 MB for 20M rows); without it, memory stays flat at no measured speed cost.
    # side/symbol as dictionaries: a handful of distinct strings, decoded 2x faster this way
    # (checks and event builders read dictionary arrays through checks.in_values)
    dict_cols = [c for c in columns if c in _DICTIONARY_COLUMNS]
    try:
        pf = pq.ParquetFile(path, pre_buffer=False, read_dictionary=dict_cols)
    except (OSError, pa.ArrowException) as exc:
        raise _not_parquet(path, exc) from exc
    total = max(pf.metadata.num_rows, 1)
    row = 0
    with reading(meter, path) as progress:
        try:
            for batch in pf.iter_batches(batch_size=chunk_rows, columns=columns):
                yield batch, row
                row += batch.num_rows
                progress.pos = progress.size * row // total
        except (OSError, pa.ArrowException) as exc:
            raise _broken_row_group(path, pf.metadata, row, exc) from exc


def _broken_row_group(path: str, meta: pq.FileMetaData, row: int, exc: Exception) -> DataError:
    """The DataError of a row group that cannot be read (its first row is ``row`` or before)."""
    starts = [0]
    for i in range(meta.num_row_groups):
        starts.append(starts[-1] + meta.row_group(i).num_rows)
    group = max(0, min(bisect.bisect_right(starts, row) - 1, meta.num_row_groups - 1))
    first, last = starts[group], starts[group + 1] - 1
    return DataError(
        path,
        f"row group {group} of {meta.num_row_groups} (rows {first}-{last}) cannot be read, the "
        f"file is damaged: {' '.join(str(exc).split())}",
        row=first,
    )


def parquet_span(paths: list[str]) -> tuple[int, int] | None:
    """The first and last ``timestamp`` (ns) of time-ordered Parquet files, from the first
    file's and the last file's statistics (their footers only); None when they have none."""
    ends = []
    for path, which in ((paths[0], 0), (paths[-1], 1)) if paths else ():
        try:
            meta = pq.ParquetFile(path).metadata
        except (OSError, pa.ArrowException) as exc:
            raise _not_parquet(path, exc) from exc
        names = [meta.schema.column(i).name for i in range(meta.num_columns)]
        if "timestamp" not in names or not meta.num_row_groups:
            return None
        idx = names.index("timestamp")
        group = 0 if which == 0 else meta.num_row_groups - 1
        stats = meta.row_group(group).column(idx).statistics
        if stats is None or not stats.has_min_max:
            return None
        value = stats.min if which == 0 else stats.max
        if isinstance(value, dt.datetime):  # a timestamp column (naive: UTC)
            if value.tzinfo is None:
                value = value.replace(tzinfo=dt.timezone.utc)
            value = round(value.timestamp() * 1e6) * 1000
        ends.append(int(value))
    return (ends[0], ends[1]) if ends else None


def parquet_schema(path: str) -> pa.Schema:
    """The arrow schema of a Parquet file; a DataError naming the file when it is not one."""
    try:
        return pq.ParquetFile(path).schema_arrow
    except (OSError, pa.ArrowException) as exc:
        raise _not_parquet(path, exc) from exc


def _not_parquet(path: str, exc: Exception) -> DataError:
    return DataError(
        path,
        "not a readable Parquet file (damaged or truncated? a Parquet file ends with its "
        f"footer, which describes its row groups): {' '.join(str(exc).split())}",
    )


def table_batches(
    table: pa.Table, columns: list[str], chunk_rows: int
) -> Iterator[tuple[pa.RecordBatch, int]]:
    """Yield ``(batch, first_row)`` of ``columns`` from an in-memory table."""
    row = 0
    for batch in table.select(columns).to_batches(max_chunksize=chunk_rows):
        yield batch, row
        row += batch.num_rows


def dataframe_table(df: pd.DataFrame) -> pa.Table:
    """A pandas DataFrame as an arrow Table (a ``timestamp`` index becomes a column)."""
    if df.index.name == "timestamp":
        df = df.reset_index()
    return pa.Table.from_pandas(df, preserve_index=False)
