"""Bybit's public archive (public.bybit.com) as native batches.

| file | layout |
|---|---|
| derivatives trades ``BTCUSDT2024-12-01.csv.gz`` | ``timestamp,symbol,side,size,price,tickDirection,trdMatchID,...``; ``timestamp`` in seconds (float), ``side`` ``Buy``/``Sell``, ``trdMatchID`` a UUID |
| spot trades ``BTCUSDT_2024-12-01.csv.gz`` | ``id,timestamp,price,volume,side[,rpi]``; ``timestamp`` in ms, ``side`` ``buy``/``sell`` |
| order book ``2024-12-01_BTCUSDT_ob500.data.zip`` | one JSON message a line: ``{"topic", "type": "snapshot"/"delta", "ts", "data": {"s", "b", "a", "u", "seq"}, "cts"}`` |

Book messages: a ``snapshot`` replaces the book (also one in the middle of a file: Bybit sends
one after a restart of its service, with ``u`` starting again), a ``delta`` sets absolute sizes
(size 0 deletes). ``u`` is the book's update id, one more per message: a delta whose ``u`` is
not the last one plus one is a gap, which the book channel refuses until the next snapshot.
The event time is ``ts`` (when Bybit published the message; ``cts``, the matching engine's time,
may be older by a few ms and is not kept); there is no receive time, so it is ``ts`` too.
UUID trade ids are not kept (``trade_id`` is an integer id, null here).

A book file's symbol is its messages' ``data.s``, whatever the file is called (a renamed
``.zip`` is known by its first message); a derivatives trade file's is its ``symbol`` column,
a spot trade file's its name. Spot books are ``orderbook.200``, derivatives books
``orderbook.500`` (:mod:`.contents` says the market).
"""  # noqa: E501

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from collections.abc import Iterator
from typing import IO, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ...btypes import JsonDict
from ...errors import ChannelError, DataError
from ...events import ChannelType
from ...sources.batches import (
    BROKEN,
    SkipReport,
    broken,
    csv_batches,
    csv_header,
    open_text,
    open_text_raw,
)
from ...sources.progress import ReadMeter, reading
from ...sources.schema import schema_for
from ...sources.storage import size as raw_size
from ...sources.venues import UNKNOWN, derivative_market
from ...symbols import plain_symbol

_MS = 1_000_000
_LINES_PER_BATCH = 5_000
DERIVATIVES = ["timestamp", "symbol", "side", "size", "price"]
SPOT = ["id", "timestamp", "price", "volume", "side"]


def is_book_archive(path: str) -> bool:
    """Whether ``path`` is named as a Bybit order-book archive (``*_ob500.data.zip``, ``.data``)."""
    name = os.path.basename(path)
    return name.endswith((".data.zip", ".data")) and "_ob" in name


def is_book_file(path: str) -> bool:
    """Whether ``path`` is a Bybit order-book archive: by its name, or (renamed) a ``.zip``,
    ``.data``, ``.json`` or ``.jsonl`` file whose first line is a Bybit ``orderbook`` message."""
    if is_book_archive(path):
        return True
    if not path.endswith((".zip", ".data", ".json", ".jsonl", ".json.gz", ".jsonl.gz")):
        return False
    try:
        return _is_book_message(first_book_message(path))
    except (DataError, ChannelError):
        return False


def _is_book_message(msg: object) -> bool:
    return (
        isinstance(msg, dict)
        and str(msg.get("topic", "")).startswith("orderbook.")
        and isinstance(msg.get("data"), dict)
    )


def first_book_message(path: str) -> JsonDict:
    """The first message of a Bybit book file (a DataError naming the file if there is none)."""
    text, closer, _ = _open_book(path)
    lineno, line = 0, ""
    try:
        with closer:
            for lineno, line in enumerate(text, 1):  # noqa: B007 - the first non-empty line
                if line.strip():
                    break
    except (*BROKEN, zipfile.BadZipFile) as exc:
        raise broken(path, exc, lineno) from exc
    if not line.strip():
        raise DataError(path, "the file is empty: no Bybit book message")
    try:
        msg = json.loads(line)
    except ValueError as exc:
        raise DataError(
            path, f"not a Bybit book message: {exc}", line=lineno, value=line[:80]
        ) from exc
    if not _is_book_message(msg):
        raise DataError(path, "not a Bybit book message", line=lineno, value=line[:80])
    return dict(msg)


def book_contents(path: str) -> tuple[str, str]:
    """``(symbol, market)`` of a Bybit book file, from its first message: ``data.s`` is the
    symbol (whatever the file's name); the archive's spot books are ``orderbook.200``, its
    derivatives books ``orderbook.500`` (linear or inverse by the symbol)."""
    msg = first_book_message(path)
    symbol = str(msg["data"].get("s") or "")
    if not symbol:
        raise DataError(path, "the first book message names no symbol (data.s)", line=1)
    depth = str(msg.get("topic", "")).split(".")[1:2]
    market = "spot" if depth == ["200"] else derivative_market(symbol) or UNKNOWN
    return symbol.upper(), market


def trade_contents(path: str, symbol: str | None = None) -> tuple[str, str]:
    """``(symbol, market)`` of a Bybit trade file: derivatives files name the symbol in every
    row (the first row's is read), spot files in their name (``BTCUSDT_2024-12-01.csv.gz``);
    a renamed spot file needs ``symbol``."""
    layout = trade_layout(csv_header(path))
    if layout == "derivatives":
        found = _first_row_symbol(path)
        return found, derivative_market(found) or UNKNOWN
    named = _name_symbol(path)
    if named is None and symbol is None:
        raise ChannelError(
            f"{path}: a Bybit spot trade file names its symbol only in its file name "
            "(BTCUSDT_2024-12-01.csv.gz), and this one does not: name its symbol "
            "(--symbol, or add_channel(symbol=...))"
        )
    return (named or plain_symbol(symbol or "")), "spot"


def _first_row_symbol(path: str) -> str:
    try:
        with open_text(path) as fh:
            fh.readline()
            row = fh.readline()
    except BROKEN as exc:
        raise broken(path, exc) from exc
    fields = row.split(",")
    if len(fields) < 2 or not fields[1].strip():
        raise DataError(path, "no trade row (or no symbol in it)", line=2, value=row[:80])
    return fields[1].strip().upper()


def _name_symbol(path: str) -> str | None:
    """The symbol in a Bybit trade file's name, or None."""
    m = re.match(r"([A-Za-z0-9]+?)_?\d{4}-\d{2}-\d{2}", os.path.basename(path))
    return m.group(1).upper() if m else None


def archive_contents(path: str) -> tuple[str, str]:
    """The ``(channel type, symbol)`` of a Bybit archive file (see :func:`book_contents`,
    :func:`trade_contents`)."""
    if is_book_file(path):
        return ChannelType.ORDERBOOK, book_contents(path)[0]
    return ChannelType.TICK, trade_contents(path)[0]


def trade_layout(header: list[str]) -> str | None:
    """``"derivatives"`` or ``"spot"`` for a Bybit trade file's header, else None."""
    if header[: len(DERIVATIVES)] == DERIVATIVES:
        return "derivatives"
    if header[: len(SPOT)] == SPOT:
        return "spot"
    return None


def bybit_batches(
    path: str,
    channel_type: str,
    symbol: str,
    skip: SkipReport | None = None,
    meter: ReadMeter | None = None,
) -> Iterator[tuple[pa.RecordBatch, int | np.ndarray]]:
    """Native batches of one Bybit archive file; yields ``(batch, first row or row numbers)``.
    A spot trade file named for another symbol (``ETHUSDT_2024-12-01.csv.gz``) has no rows of
    ``symbol``."""
    if is_book_file(path):
        if channel_type != ChannelType.ORDERBOOK:
            raise ChannelError(f"{path} holds Bybit order-book data, not {channel_type!r}")
        yield from _book_batches(path, symbol, meter)
        return
    layout = trade_layout(csv_header(path))
    if layout is None:
        raise ChannelError(f"{path}: not a Bybit trade file (header {csv_header(path)[:6]})")
    if channel_type != ChannelType.TICK:
        raise ChannelError(f"{path} holds Bybit trades, not {channel_type!r} data")
    if layout == "derivatives":
        yield from _derivative_trades(path, skip, meter)
    elif _name_symbol(path) in (None, plain_symbol(symbol)):
        yield from _spot_trades(path, skip, meter)


def _derivative_trades(
    path: str, skip: SkipReport | None, meter: ReadMeter | None
) -> Iterator[tuple[pa.RecordBatch, int]]:
    types = {
        "timestamp": pa.float64(),
        "symbol": pa.string(),
        "side": pa.string(),
        "size": pa.float64(),
        "price": pa.float64(),
    }
    for batch, row in csv_batches(path, types, skip=skip, meter=meter):
        if not batch.num_rows:
            continue
        secs = batch.column("timestamp").to_numpy(zero_copy_only=False)
        # seconds with 4-6 decimals: exact to the microsecond in a float64
        ts = pa.array(np.round(secs * 1e6).astype(np.int64) * 1000)
        yield (
            pa.RecordBatch.from_pydict(
                {
                    "timestamp": ts,
                    "recv_timestamp": ts,
                    "symbol": batch.column("symbol"),
                    "price": batch.column("price"),
                    "volume": batch.column("size"),
                    "side": pc.utf8_lower(batch.column("side")),
                }
            ),
            row,
        )


def _spot_trades(
    path: str, skip: SkipReport | None, meter: ReadMeter | None
) -> Iterator[tuple[pa.RecordBatch, int]]:
    types = {
        "id": pa.int64(),
        "timestamp": pa.int64(),
        "price": pa.float64(),
        "volume": pa.float64(),
        "side": pa.string(),
    }
    for batch, row in csv_batches(path, types, skip=skip, meter=meter):
        if not batch.num_rows:
            continue
        ts = pc.multiply(batch.column("timestamp"), _MS)
        yield (
            pa.RecordBatch.from_pydict(
                {
                    "timestamp": ts,
                    "recv_timestamp": ts,
                    "price": batch.column("price"),
                    "volume": batch.column("volume"),
                    "side": pc.utf8_lower(batch.column("side")),
                    "trade_id": batch.column("id"),
                }
            ),
            row,
        )


def _open_book(path: str) -> tuple[IO[str], _Closing, IO[bytes]]:
    """The archive's JSON-lines text (the one member of a ``.zip``), what to close, and the raw
    file (its position: how far the read is)."""
    if not path.endswith(".zip"):
        text, raw = open_text_raw(path)
        return text, _Closing(text, raw), raw
    raw = open(path, "rb")
    try:
        archive = zipfile.ZipFile(raw)
        names = [n for n in archive.namelist() if not n.endswith("/")]
        if len(names) != 1:
            raise DataError(path, f"a Bybit book archive holds one file, this one {names}")
        text = io.TextIOWrapper(archive.open(names[0]), encoding="utf-8")
    except zipfile.BadZipFile as exc:
        raw.close()
        raise DataError(
            path,
            f"file is damaged or truncated: not a complete zip archive ({exc}); a zip "
            f"file ends with its table of contents, which this one ({raw_size(path):,} "
            "bytes) lacks",
        ) from exc
    except BROKEN as exc:
        raw.close()
        raise broken(path, exc) from exc
    return text, _Closing(text, archive, raw), raw


class _Closable(Protocol):
    def close(self) -> None: ...


class _Closing:
    """Closes several files, in order, as one context."""

    def __init__(self, *files: _Closable):
        self.files = files

    def __enter__(self) -> _Closing:
        return self

    def __exit__(self, *exc: object) -> None:
        for f in self.files:
            f.close()


class _BookParser:
    """Book messages of one symbol as native rows (``rows``: line number - 1 of each)."""

    def __init__(self, path: str, symbol: str):
        self.path, self.symbol = path, symbol
        self.want = plain_symbol(symbol).upper()
        self.schema = schema_for(ChannelType.ORDERBOOK)
        self.prev_u: int | None = None  # u of the last message read
        self.prev_kept = 0  # u of the last message that had levels
        self._clear()

    def _clear(self) -> None:
        self.cols: dict[str, list[object]] = {f.name: [] for f in self.schema}
        self.rows: list[int] = []

    def feed(self, lineno: int, line: str) -> None:
        try:
            msg = json.loads(line)
            kind = msg["type"]
            data = msg["data"]
            if str(data["s"]).upper() != self.want:
                return
            ts = int(msg["ts"]) * _MS
            uid = int(data["u"])
            levels = (("bid", data["b"]), ("ask", data["a"]))
            if kind not in ("snapshot", "delta"):
                raise ValueError(f"type {kind!r} is neither 'snapshot' nor 'delta'")
            parsed = [(side, float(p), float(s)) for side, lv in levels for p, s in lv]
        except (ValueError, KeyError, TypeError) as exc:
            raise DataError(
                self.path, f"not a Bybit book message: {exc!r}", line=lineno, value=line[:80]
            ) from exc
        snap = kind == "snapshot"
        # a delta without levels still advances u: the next one's ids then cover it
        first = uid
        if not snap and self.prev_u is not None and uid == self.prev_u + 1:
            first = self.prev_kept + 1
        self.prev_u = uid
        if not parsed:
            return
        self.prev_kept = uid
        cols, n = self.cols, len(parsed)
        cols["timestamp"].extend([ts] * n)
        cols["recv_timestamp"].extend([ts] * n)
        cols["side"].extend(p[0] for p in parsed)
        cols["price"].extend(p[1] for p in parsed)
        cols["size"].extend(p[2] for p in parsed)
        cols["is_snapshot"].extend([snap] * n)
        cols["update_id"].extend([uid] * n)
        cols["first_update_id"].extend([first] * n)
        cols["symbol"].extend([self.symbol] * n)
        self.rows.extend([lineno - 1] * n)

    def flush(self) -> tuple[pa.RecordBatch, np.ndarray] | None:
        if not self.rows:
            return None
        batch = pa.RecordBatch.from_pydict(
            {f.name: pa.array(self.cols[f.name], f.type) for f in self.schema}, schema=self.schema
        )
        rows = np.array(self.rows, dtype=np.int64)
        self._clear()
        return batch, rows


def _book_batches(
    path: str, symbol: str, meter: ReadMeter | None
) -> Iterator[tuple[pa.RecordBatch, np.ndarray]]:
    parser = _BookParser(path, symbol)
    text, closer, raw = _open_book(path)
    lineno = 0
    try:
        with closer, reading(meter, path, raw.tell):
            for lineno, line in enumerate(text, 1):
                line = line.strip()
                if line:
                    parser.feed(lineno, line)
                if lineno % _LINES_PER_BATCH == 0:
                    out = parser.flush()
                    if out is not None:
                        yield out
    except (*BROKEN, zipfile.BadZipFile) as exc:
        raise broken(path, exc, lineno) from exc
    out = parser.flush()
    if out is not None:
        yield out
