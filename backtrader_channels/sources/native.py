"""The native schema reader: CSV, .csv.gz, Parquet, directories and globs of them, a DataFrame
or an arrow Table, as batch streams for the shared event builder (:mod:`.build`)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pyarrow as pa

from ..errors import DataError
from .batches import (
    SkipReport,
    csv_batches,
    csv_header,
    dataframe_table,
    expand_paths,
    is_csv,
    parquet_batches,
    parquet_schema,
    table_batches,
)
from .build import BatchStream, Chunk, events_from_streams
from .progress import ReadMeter
from .schema import COLUMNS, REQUIRED, TAGS, DataName, OnError

DEFAULT_CHUNK_ROWS = 65_536


def check_columns(label: str, names: list[str], channel_type: str, line: int | None) -> list[str]:
    """The native columns present in ``names``; a DataError naming a missing required one."""
    missing = [c for c in REQUIRED[channel_type] if c not in names]
    if missing:
        raise DataError(
            label,
            f"missing required column(s) {missing} for {channel_type!r} data; "
            f"columns present: {names}",
            line=line,
            column=missing[0],
        )
    return [c for c in COLUMNS[channel_type] if c in names]


def check_types(label: str, schema: pa.Schema, channel_type: str, columns: list[str]) -> None:
    """A DataError naming the first of ``columns`` whose stored type cannot hold its values
    (text where a number belongs); numbers of another width or kind convert."""
    want = COLUMNS[channel_type]
    for name in columns:
        have = schema.field(name).type
        if pa.types.is_dictionary(have):
            have = have.value_type
        if not _fits(have, want[name], name):
            raise DataError(label, f"stored as {have}, expected {want[name]}", column=name)


def _fits(have: pa.DataType, need: pa.DataType, name: str) -> bool:
    t = pa.types
    if t.is_null(have):  # an all-null optional column: read as absent
        return True
    if t.is_string(need):
        return bool(t.is_string(have) or t.is_large_string(have))
    if t.is_boolean(need):
        return bool(t.is_boolean(have) or t.is_integer(have))
    if name.endswith("timestamp") and t.is_timestamp(have):
        return True
    return bool(t.is_integer(have) or t.is_floating(have))


def native_streams(
    dataname: DataName,
    channel_type: str,
    chunk_rows: int,
    skip: SkipReport | None = None,
    meter: ReadMeter | None = None,
) -> list[BatchStream]:
    """Batch streams of native data: paths (file, list, directory, glob), DataFrame, Table.
    ``meter`` follows how far the files are read (tables have no size it can count)."""
    if meter is not None and not isinstance(dataname, (str, os.PathLike, list, tuple)):
        meter.known = False
    if isinstance(dataname, pa.Table):
        cols = check_columns("<Table>", dataname.column_names, channel_type, None)
        check_types("<Table>", dataname.schema, channel_type, cols)
        cols += [t for t in TAGS if t in dataname.column_names]
        return [("<Table>", None, table_batches(dataname, cols, chunk_rows))]
    if hasattr(dataname, "to_records") and hasattr(dataname, "columns"):
        table = dataframe_table(dataname)
        cols = check_columns("<DataFrame>", table.column_names, channel_type, None)
        check_types("<DataFrame>", table.schema, channel_type, cols)
        cols += [t for t in TAGS if t in table.column_names]
        return [("<DataFrame>", None, table_batches(table, cols, chunk_rows))]
    out: list[BatchStream] = []
    for path in expand_paths(dataname):
        if is_csv(path):
            header = csv_header(path)
            cols = check_columns(path, header, channel_type, 1)
            types = {c: COLUMNS[channel_type][c] for c in cols}
            types.update({t: TAGS[t] for t in TAGS if t in header})
            out.append((path, 2, csv_batches(path, types, skip=skip, meter=meter)))
        else:
            schema = parquet_schema(path)
            cols = check_columns(path, schema.names, channel_type, None)
            check_types(path, schema, channel_type, cols)
            cols += [t for t in TAGS if t in schema.names]
            out.append((path, None, parquet_batches(path, cols, chunk_rows, meter)))
    return out


def read_native(
    dataname: DataName,
    channel_type: str,
    symbol: str,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    on_error: OnError = "raise",
    skip: SkipReport | None = None,
) -> Iterator[Chunk]:
    """Stream native-schema ``dataname`` as event chunks for ``symbol``."""
    if channel_type not in COLUMNS:
        raise ValueError(f"unknown channel type {channel_type!r}")
    return events_from_streams(
        native_streams(dataname, channel_type, chunk_rows, skip if on_error == "skip" else None),
        channel_type,
        symbol,
        on_error,
        skip,
    )
