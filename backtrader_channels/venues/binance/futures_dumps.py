"""Binance's futures public data dumps of mark, index, premium and funding (data.binance.vision,
``futures/um`` and ``futures/cm``) as native derivative batches.

| file | columns | one derivative row per line |
|---|---|---|
| ``ETHUSDT-fundingRate-2024-08.csv`` | ``calc_time,funding_interval_hours,last_funding_rate`` | a settlement: ``timestamp = funding_ts = calc_time``, ``funding_rate``, ``next_funding_ts = calc_time + interval`` |
| ``ETHUSDT-markPriceKlines-1m-2024-08-08.csv`` | ``open_time,open,high,low,close,volume,close_time,...`` | at ``close_time``: ``mark_price = close`` |
| ``...-indexPriceKlines-...`` | the same | at ``close_time``: ``index_price = close`` |
| ``...-premiumIndexKlines-...`` | the same | at ``close_time``: ``funding_rate`` = the rate Binance's formula gives for that premium (below) |

A premium index kline's close is the premium ``(impact price - index) / index``, neither a mark
nor an index price: it is read as the **funding rate estimate** Binance's rule gives for it,
``premium + clamp(0.01% - premium, -0.05%, 0.05%)`` (the default interest rate of 0.01% per
funding interval), mark and index left out. Binance averages the premium over the interval, so
this is the estimate of a premium that held, not the rate Binance will settle: the settled
rates are the ``fundingRate`` files.

Files are plain, gzipped or zipped (one CSV inside, as Binance publishes them), with or without
a header row; times are in ms (read by magnitude, as the trade dumps). The symbol is the file
name's (``ETHUSDT``: ``ETH/USDT:USDT``; ``ETHUSD_PERP``: ``ETH/USD:ETH``); the market is the
path's (``.../futures/um/...``: linear, ``.../futures/cm/...``: inverse), else the symbol's.

Registered as the format ``binance_futures`` (detected by the file name).
"""  # noqa: E501

from __future__ import annotations

import itertools
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow as pa
import pyarrow.compute as pc

from ...errors import ChannelError, DataError
from ...events import ChannelType
from ...sources.batches import BROKEN, SkipReport, broken, csv_batches, first_line
from ...sources.progress import ReadMeter
from ...sources.registry import Content, FileFormat
from ...symbols import same_symbol
from .futures import unified_symbol

FUNDING = ["calc_time", "funding_interval_hours", "last_funding_rate"]
KLINE = [
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "ignore",
]
KINDS = ("fundingRate", "markPriceKlines", "indexPriceKlines", "premiumIndexKlines")
_NAME = re.compile(r"^(?P<symbol>[A-Za-z0-9_]+)-(?P<kind>" + "|".join(KINDS) + r")-")
_MS = 1_000_000
_H = 3_600_000_000_000
#: Binance's default interest rate per funding interval and its clamp, in the funding formula
_INTEREST, _CLAMP = 0.0001, 0.0005
VENUE = "binance"


def futures_dump_kind(path: str) -> str | None:
    """``fundingRate``, ``markPriceKlines``, ``indexPriceKlines`` or ``premiumIndexKlines``
    from a Binance dump's file name, else None."""
    m = _NAME.match(os.path.basename(path))
    return m.group("kind") if m else None


def futures_dump_symbol(path: str) -> tuple[str, str]:
    """``(unified symbol, market)`` of a futures dump: the symbol from its file name, the
    market from its path (``futures/um``: linear, ``futures/cm``: inverse), else from the
    symbol."""
    m = _NAME.match(os.path.basename(path))
    raw = m.group("symbol") if m else os.path.basename(path).split("-")[0]
    symbol, market = unified_symbol(raw)
    parts = os.path.normpath(os.path.abspath(path)).split(os.sep)
    for above, part in itertools.pairwise(parts):
        if above == "futures" and part in ("um", "cm"):  # Binance's own folders
            market = "linear" if part == "um" else "inverse"
    return symbol, market


@contextmanager
def _text_path(path: str) -> Iterator[str]:
    """A path to the CSV text of ``path``: itself, or a zip's one member extracted."""
    if not path.endswith(".zip"):
        yield path
        return
    tmp = tempfile.mkdtemp(prefix="btch-dump-")
    try:
        try:
            with zipfile.ZipFile(path) as zf:
                names = [n for n in zf.namelist() if not n.endswith("/")]
                if len(names) != 1:
                    raise DataError(path, f"a Binance dump zip holds one CSV, this one {names}")
                out = os.path.join(tmp, os.path.basename(names[0]) or "dump.csv")
                with zf.open(names[0]) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        except (zipfile.BadZipFile, *BROKEN) as exc:
            raise broken(path, exc) from exc
        yield out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _layout(path: str, text: str, kind: str) -> tuple[list[str], bool]:
    """Column names and whether the file has a header row."""
    line = first_line(text)
    fields = [f.strip() for f in line.split(",")]
    if fields and fields[0] and not fields[0][0].isdigit():
        return fields, True
    full = FUNDING if kind == "fundingRate" else KLINE
    if len(fields) != len(full):
        raise DataError(
            path,
            f"a Binance {kind} dump has {len(full)} fields, got {len(fields)}",
            line=1,
            value=line[:80],
        )
    return full, False


def futures_dump_line_offset(path: str) -> int:
    """Line number of data row 0 (1 without a header row, 2 with one)."""
    kind = futures_dump_kind(path) or "markPriceKlines"
    with _text_path(path) as text:
        return 2 if _layout(path, text, kind)[1] else 1


def futures_dump_batches(
    path: str,
    channel_type: str,
    skip: SkipReport | None = None,
    meter: ReadMeter | None = None,
    symbol: str | None = None,
) -> Iterator[tuple[pa.RecordBatch, int]]:
    """Native derivative batches of one futures dump; yields ``(batch, first_row)``. A dump
    of another symbol than ``symbol`` (by its file name) has no rows of it."""
    kind = futures_dump_kind(path)
    if kind is None:
        raise ChannelError(f"{path}: not a Binance {'/'.join(KINDS)} dump file name")
    if channel_type != ChannelType.DERIVATIVE:
        raise ChannelError(f"{path} holds Binance {kind} (derivative), not {channel_type!r} data")
    unified, _ = futures_dump_symbol(path)
    raw = os.path.basename(path).split("-")[0]
    if symbol is not None and not (same_symbol(symbol, raw) or symbol == unified):
        return
    with _text_path(path) as text:
        names, header = _layout(path, text, kind)
        wanted = FUNDING if kind == "fundingRate" else ["close", "close_time"]
        for col in wanted:
            if col not in names:
                raise DataError(
                    path, f"missing column {col!r}; columns present: {names}", line=1, column=col
                )
        if kind == "fundingRate":
            types = {"calc_time": pa.int64(), "funding_interval_hours": pa.float64()}
            types["last_funding_rate"] = pa.float64()
        else:
            types = {"close_time": pa.int64(), "close": pa.float64()}
        batches = csv_batches(
            text, types, column_names=None if header else names, skip=skip, meter=meter
        )
        try:
            for batch, row in batches:
                if batch.num_rows:
                    yield _rows(kind, batch), row
        except DataError as exc:
            if text == path:
                raise
            raise DataError(
                path, exc.reason, line=exc.line, column=exc.column, value=exc.value
            ) from exc


def _rows(kind: str, batch: pa.RecordBatch) -> pa.RecordBatch:
    if kind == "fundingRate":
        ts = _ns(batch.column("calc_time"))
        hours = batch.column("funding_interval_hours")
        interval = pc.cast(pc.multiply(hours, float(_H)), pa.int64())
        return pa.RecordBatch.from_pydict(
            {
                "timestamp": ts,
                "funding_rate": batch.column("last_funding_rate"),
                "next_funding_ts": pc.add(ts, interval),
                "funding_ts": ts,
                "mark_price": pa.nulls(batch.num_rows, pa.float64()),
            }
        )
    close = batch.column("close")
    cols = {"timestamp": _ns(batch.column("close_time"))}
    if kind == "markPriceKlines":
        cols["mark_price"] = close
    else:
        cols["mark_price"] = pa.nulls(batch.num_rows, pa.float64())
        if kind == "indexPriceKlines":
            cols["index_price"] = close
        else:  # the premium: the funding rate Binance's formula gives for it (module doc)
            gap = pc.subtract(_INTEREST, close)
            clamped = pc.max_element_wise(pc.min_element_wise(gap, _CLAMP), -_CLAMP)
            cols["funding_rate"] = pc.add(close, clamped)
    return pa.RecordBatch.from_pydict(cols)


def _ns(times: pa.Array) -> pa.Array:
    """Binance times (ms; us in newer files) as ns."""
    if not len(times):
        return times
    first = times[0].as_py() or 0
    factor = 1 if first >= 10**17 else 1_000 if first >= 10**14 else _MS
    return pc.multiply(times, factor)


def _contents(path: str, symbol: str | None = None) -> list[Content]:
    if futures_dump_kind(path) is None:
        raise ChannelError(f"{path}: not a Binance futures dump file name")
    unified, market = futures_dump_symbol(path)
    return [Content(ChannelType.DERIVATIVE, unified, VENUE, market)]


def _streams(
    path: str, channel_type: str, symbol: str, skip: SkipReport | None, meter: ReadMeter | None
) -> tuple[int | None, Iterator[tuple[pa.RecordBatch, int]]]:
    return futures_dump_line_offset(path), futures_dump_batches(
        path, channel_type, skip, meter, symbol
    )


FUTURES_DUMPS = FileFormat(
    name="binance_futures",
    venue=VENUE,
    describe="Binance's futures dumps: fundingRate, mark, index and premium index klines",
    sniff=lambda path, header: futures_dump_kind(path) is not None,
    contents=_contents,
    streams=_streams,
)
