"""Raw Binance WebSocket captures (``<receive_ns> <json>`` lines) as native batches.

Handles combined-stream frames (``{"stream", "data"}``) for ``@trade``, ``@aggTrade``, ``@depth``
and ``@bookTicker``, and the REST depth snapshot line (``{"lastUpdateId", "bids", "asks"}``),
applying Binance's join rule: diffs are buffered until a snapshot; diffs with
``u <= lastUpdateId`` are dropped and the first diff applied must have
``U <= lastUpdateId + 1 <= u``. The snapshot has no exchange time, so it is stamped with the
event time of the first diff applied after it. bookTicker frames carry no time: their
``timestamp`` is the receive time. Stream names select the symbol (``btcusdt@trade``); the
snapshot line names none and is taken as the channel symbol's.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeAlias

import numpy as np
import pyarrow as pa

from ...btypes import JsonDict
from ...errors import DataError
from ...events import ChannelType
from ...sources.batches import BROKEN, SkipReport, broken, open_text, open_text_raw
from ...sources.progress import ReadMeter, reading
from ...sources.registry import UNKNOWN, Content
from ...sources.schema import schema_for
from ...symbols import plain_symbol

_MS = 1_000_000
_LINES_PER_BATCH = 20_000
#: a book side's ``[price, size]`` levels, as the venue's JSON has them (strings)
_Levels: TypeAlias = Iterable[Sequence["str | float"]]


class _CaptureParser:
    """Turns capture lines into native rows of one channel type and symbol."""

    def __init__(self, path: str, channel_type: str, symbol: str, skip: SkipReport | None = None):
        self.path, self.channel_type, self.skip = path, channel_type, skip
        self.want = plain_symbol(symbol)
        #: per stream-name symbol (``btcusdt``, ``btcusd_perp``): whether it is the channel's
        self._mine: dict[str, bool] = {}
        self.cols: dict[str, list[object]] = {f.name: [] for f in schema_for(channel_type)}
        self.rows: list[int] = []  # 0-based line index of each row (line - 1)
        self.snapshot: tuple[int, int, JsonDict] | None = None
        self.pending: list[tuple[int, int, JsonDict]] = []  # depth diffs waiting to join
        self.synced = False

    def feed(self, lineno: int, line: str) -> None:
        head, _, body = line.partition(" ")
        try:
            recv = int(head)
            msg = json.loads(body)
        except ValueError as exc:
            self._bad(lineno, line, "not '<receive_ns> <json>'", str(exc), exc, True)
            return
        stream = msg.get("stream") if isinstance(msg, dict) else None
        try:
            self._route(lineno, recv, msg, stream)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, DataError):
                raise
            # a trade or quote frame adds its row only once it is read whole; a depth diff
            # or a snapshot cannot be left out without losing the book: they stop the read
            skippable = stream is not None and "@depth" not in str(stream)
            self._bad(lineno, line, "unexpected frame", repr(exc), exc, skippable)

    def _bad(
        self, lineno: int, line: str, reason: str, detail: str, exc: Exception, skippable: bool
    ) -> None:
        """A line that cannot be read: counted under ``reason`` with ``skip`` (if it can be
        left out), or a located ``DataError`` saying ``reason: detail``."""
        if self.skip is not None and skippable:
            self.skip.add_line(self.path, reason, lineno)
            return
        raise DataError(self.path, f"{reason}: {detail}", line=lineno, value=line[:80]) from exc

    # ``msg``: the line's JSON, any value (a frame with a ``stream`` is a dict)
    def _route(self, lineno: int, recv: int, msg: Any, stream: str | None) -> None:
        if stream is None:
            if isinstance(msg, dict) and "lastUpdateId" in msg:
                if self.channel_type == ChannelType.ORDERBOOK:
                    self.snapshot, self.synced = (lineno, recv, msg), False
                    self._join()
            return
        sym, _, kind = stream.partition("@")
        mine = self._mine.get(sym)
        if mine is None:
            mine = self._mine[sym] = plain_symbol(sym) == self.want
        if not mine:
            return
        data = msg["data"]
        if self.channel_type == ChannelType.TICK and kind in ("trade", "aggTrade"):
            self._trade(lineno, recv, data, "t" if kind == "trade" else "a")
        elif self.channel_type == ChannelType.QUOTE and kind.startswith("bookTicker"):
            self._quote(lineno, recv, data)
        elif self.channel_type == ChannelType.ORDERBOOK and kind.startswith("depth"):
            self.pending.append((lineno, recv, data))
            if self.snapshot is not None:
                self._join()

    def _add(self, lineno: int, **values: object) -> None:
        for key, col in self.cols.items():
            col.append(values.get(key))
        self.rows.append(lineno - 1)

    def _trade(self, lineno: int, recv: int, d: JsonDict, id_key: str) -> None:
        self._add(
            lineno,
            timestamp=int(d["T"]) * _MS,
            recv_timestamp=recv,
            price=float(d["p"]),
            volume=float(d["q"]),
            side="sell" if d["m"] else "buy",
            trade_id=int(d[id_key]),
        )

    def _quote(self, lineno: int, recv: int, d: JsonDict) -> None:
        self._add(
            lineno,
            timestamp=recv,
            recv_timestamp=recv,
            bid_price=float(d["b"]),
            bid_size=float(d["B"]),
            ask_price=float(d["a"]),
            ask_size=float(d["A"]),
            update_id=int(d["u"]),
        )

    def _join(self) -> None:
        assert self.snapshot is not None
        snap_line, snap_recv, snap = self.snapshot
        snap_id = int(snap["lastUpdateId"])
        for lineno, recv, d in self.pending:
            first, last, ts = int(d["U"]), int(d["u"]), int(d["E"]) * _MS
            if last <= snap_id:
                continue  # already contained in the snapshot
            if not self.synced:
                if not first <= snap_id + 1 <= last:
                    raise DataError(
                        self.path,
                        f"depth diff U={first} u={last} does not join "
                        f"the snapshot of line {snap_line} (lastUpdateId={snap_id})",
                        line=lineno,
                    )
                self._levels(
                    snap_line, ts, snap_recv, snap["bids"], snap["asks"], True, snap_id, snap_id
                )
                self.synced = True
            self._levels(lineno, ts, recv, d["b"], d["a"], False, last, first)
        self.pending.clear()

    def _levels(
        self,
        lineno: int,
        ts: int,
        recv: int,
        bids: _Levels,
        asks: _Levels,
        snap: bool,
        uid: int,
        fuid: int,
    ) -> None:
        for side, levels in (("bid", bids), ("ask", asks)):
            for price, size in levels:
                self._add(
                    lineno,
                    timestamp=ts,
                    recv_timestamp=recv,
                    side=side,
                    price=float(price),
                    size=float(size),
                    is_snapshot=snap,
                    update_id=uid,
                    first_update_id=fuid,
                )

    def flush(self, symbol: str) -> tuple[pa.RecordBatch, np.ndarray] | None:
        if not self.rows:
            return None
        schema = schema_for(self.channel_type)
        self.cols["symbol"] = [symbol] * len(self.rows)
        batch = pa.RecordBatch.from_pydict(
            {f.name: pa.array(self.cols[f.name], f.type) for f in schema}, schema=schema
        )
        rows = np.array(self.rows, dtype=np.int64)
        self.cols = {f.name: [] for f in schema}
        self.rows = []
        return batch, rows


def capture_batches(
    path: str,
    channel_type: str,
    symbol: str,
    skip: SkipReport | None = None,
    meter: ReadMeter | None = None,
) -> Iterator[tuple[pa.RecordBatch, np.ndarray]]:
    """Native batches of ``channel_type`` rows for ``symbol`` (rows: line number - 1). A line
    that cannot be read raises a located ``DataError``, or with ``skip`` is counted there; a
    file cut short is a ``DataError`` naming the last line read."""
    parser = _CaptureParser(path, channel_type, symbol, skip)
    lineno = 0
    fh, raw = open_text_raw(path)
    try:
        with raw, fh, reading(meter, path, raw.tell):
            for lineno, line in enumerate(fh, 1):
                line = line.strip()
                if line:
                    parser.feed(lineno, line)
                if lineno % _LINES_PER_BATCH == 0:
                    out = parser.flush(symbol)
                    if out is not None:
                        yield out
    except BROKEN as exc:
        raise broken(path, exc, lineno) from exc
    out = parser.flush(symbol)
    if out is not None:
        yield out


def is_capture(path: str) -> bool:
    """Whether the file's first line looks like ``<receive_ns> {json}``."""
    try:
        with open_text(path) as fh:
            head, _, body = fh.readline().partition(" ")
    except (OSError, EOFError, UnicodeDecodeError):
        return False
    return head.isdigit() and body.lstrip().startswith("{")


def read_binance_capture(
    path: str | os.PathLike[str], symbol: str = "BTC/USDT"
) -> dict[str, pa.Table]:
    """The whole capture as native tables keyed by channel type (tick, quote, orderbook)."""
    path = os.fspath(path)
    out = {}
    for kind in (ChannelType.TICK, ChannelType.QUOTE, ChannelType.ORDERBOOK):
        batches = [b for b, _ in capture_batches(path, kind, symbol)]
        out[kind] = pa.Table.from_batches(batches, schema=schema_for(kind))
    return out


#: the venue whose captures these are
VENUE = "binance"
_STREAM_KINDS = {
    "trade": ChannelType.TICK,
    "aggTrade": ChannelType.TICK,
    "bookTicker": ChannelType.QUOTE,
    "depth": ChannelType.ORDERBOOK,
}


def _frame_market(kind: str, data: object) -> str | None:
    """Spot or futures, from a Binance frame's fields (futures frames carry ``pu`` in depth,
    ``E`` in bookTicker, no ``M`` in trades); None if the frame does not say."""
    if not isinstance(data, dict):
        return None
    if kind == "depth":
        return "futures" if "pu" in data else "spot"
    if kind == "bookTicker":
        return "futures" if "E" in data else "spot"
    return "spot" if "M" in data else "futures"


def capture_contents(path: str, symbol: str | None = None) -> list[Content]:
    """The channels a capture holds, by its streams; spot or futures from its frames."""
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
    return [Content(c, s, VENUE, _futures(s, markets.get(s))) for c, s in found]


def _futures(symbol: str, verdict: str | None) -> str:
    if verdict is None:
        return UNKNOWN
    if verdict == "spot":
        return "spot"
    return "inverse" if "_" in symbol else "linear"
