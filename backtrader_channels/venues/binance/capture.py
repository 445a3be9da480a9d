"""Raw Binance WebSocket captures (``<receive_ns> <json>`` lines) as native batches.

Handles combined-stream frames (``{"stream", "data"}``) for ``@trade``, ``@aggTrade``, ``@depth``,
``@bookTicker`` and (futures) ``@markPrice`` / ``!markPrice@arr``, and the REST depth snapshot
line (``{"lastUpdateId", "bids", "asks"}``).

**Spot** (depth diffs without ``pu``): Binance's spot join rule: diffs are buffered until a
snapshot; diffs with ``u <= lastUpdateId`` are dropped and the first diff applied must have
``U <= lastUpdateId + 1 <= u``. The snapshot has no exchange time, so it is stamped with the
event time of the first diff applied after it. bookTicker frames carry no time: their
``timestamp`` is the receive time.

**Futures** (USDⓈ-M and COIN-M: diffs with ``pu``): Binance's futures rule (``pu`` chain, the
diff that straddles the snapshot read before it), see :mod:`.futures`. Times are the frames'
transaction time ``T`` (depth, bookTicker, trades; the snapshot's own ``T``, or its first
diff's if that is earlier), rows carry the ``venue=binance`` and ``market=linear`` / ``inverse``
columns, and ``markPriceUpdate`` frames are derivative rows: ``E`` event time, ``p`` mark, ``i``
index, ``r`` funding rate (empty for delivery contracts: missing), ``T`` next funding time.

Stream names select the symbol (``btcusdt@trade``; a futures stream also answers to its unified
symbol, ``ETH/USD:ETH`` for ``ethusd_perp``); the snapshot line names none and is taken as the
channel symbol's.
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
from ...sources.schema import TAGS, schema_for
from ...symbols import plain_symbol
from .futures import Diff, FuturesBook, frame_market, unified_symbol

_MS = 1_000_000
_NAN = float("nan")
_LINES_PER_BATCH = 20_000
#: a book side's ``[price, size]`` levels, as the venue's JSON has them (strings)
_Levels: TypeAlias = Iterable[Sequence["str | float"]]


class _CaptureParser:
    """Turns capture lines into native rows of one channel type and symbol."""

    def __init__(self, path: str, channel_type: str, symbol: str, skip: SkipReport | None = None):
        self.path, self.channel_type, self.skip = path, channel_type, skip
        self.symbol, self.want = symbol, plain_symbol(symbol)
        #: per stream-name symbol (``btcusdt``, ``btcusd_perp``): whether it is the channel's
        self._mine: dict[str, bool] = {}
        self.cols: dict[str, list[object]] = self._empty()
        self.rows: list[int] = []  # 0-based line index of each row (line - 1)
        self.snapshot: tuple[int, int, JsonDict] | None = None
        self.pending: list[tuple[int, int, JsonDict]] = []  # depth diffs waiting to join
        self.synced = False
        #: futures books (diffs with ``pu``): Binance's futures rule, once a diff says so
        self.futures: FuturesBook | None = None
        #: the futures market of the channel's rows (``linear``, ``inverse``), once known
        self.market: str | None = None
        self.last_book_ts = 0

    def _empty(self) -> dict[str, list[object]]:
        return {name: [] for name in [*schema_for(self.channel_type).names, *TAGS]}

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
                    self._snapshot(lineno, recv, msg)
            return
        sym, _, kind = stream.partition("@")
        if sym == "!markPrice":  # every symbol's mark price in one frame
            self._marks(lineno, recv, msg["data"])
            return
        if not self._is_mine(sym):
            return
        data = msg["data"]
        if self.channel_type == ChannelType.TICK and kind in ("trade", "aggTrade"):
            self._trade(lineno, recv, data, "t" if kind == "trade" else "a")
        elif self.channel_type == ChannelType.QUOTE and kind.startswith("bookTicker"):
            self._quote(lineno, recv, data)
        elif self.channel_type == ChannelType.ORDERBOOK and kind.startswith("depth"):
            self._depth(lineno, recv, sym, data)
        elif self.channel_type == ChannelType.DERIVATIVE and kind.startswith("markPrice"):
            self._mark(lineno, recv, data)

    def _depth(self, lineno: int, recv: int, sym: str, data: JsonDict) -> None:
        if self.futures is None and "pu" in data:
            self._start_futures(sym)
        if self.futures is not None:
            self.futures.on_diff(Diff(lineno, recv, data))
            return
        self.pending.append((lineno, recv, data))
        if self.snapshot is not None:
            self._join()

    def _is_mine(self, sym: str) -> bool:
        """Whether a stream's symbol (``btcusdt``, ``ethusd_perp``) is the channel's."""
        mine = self._mine.get(sym)
        if mine is None:
            mine = self._mine[sym] = (
                plain_symbol(sym) == self.want or unified_symbol(sym)[0] == self.symbol
            )
        return mine

    def _snapshot(self, lineno: int, recv: int, msg: JsonDict) -> None:
        named = msg.get("symbol")  # COIN-M snapshots name their symbol, USDⓈ-M ones do not
        if named is not None and not self._is_mine(str(named)):
            return
        if self.futures is None and ("T" in msg or "E" in msg):  # a futures REST snapshot
            self._start_futures(str(named or self.symbol))
        if self.futures is not None:
            self.futures.on_snapshot(lineno, recv, msg)
            return
        self.snapshot, self.synced = (lineno, recv, msg), False
        self._join()

    def _start_futures(self, sym: str) -> None:
        self.market = unified_symbol(sym)[1]
        self.futures = FuturesBook(self.path, self._futures_diff, self._futures_snapshot)
        pending, self.pending = self.pending, []
        for lineno, recv, d in pending:
            self.futures.on_diff(Diff(lineno, recv, d))

    def _futures_diff(self, diff: Diff, first_id: int) -> None:
        d = diff.data
        ts = int(d["T"] if "T" in d else d["E"]) * _MS
        self.last_book_ts = max(ts, self.last_book_ts)
        self._levels(diff.lineno, ts, diff.recv, d["b"], d["a"], False, int(d["u"]), first_id)

    def _futures_snapshot(self, lineno: int, recv: int, snap: JsonDict, first: Diff) -> None:
        # its own time, unless the first diff applied after it is earlier (then that diff's)
        first_ts = int(first.data["T"] if "T" in first.data else first.data["E"]) * _MS
        own = snap.get("T", snap.get("E"))
        ts = min(int(own) * _MS, first_ts) if own is not None else first_ts
        ts = max(ts, self.last_book_ts)
        self.last_book_ts = ts
        snap_id = int(snap["lastUpdateId"])
        self._levels(lineno, ts, recv, snap["bids"], snap["asks"], True, snap_id, snap_id)

    def _marks(self, lineno: int, recv: int, items: list[JsonDict]) -> None:
        if self.channel_type == ChannelType.DERIVATIVE:
            for item in items:
                if self._is_mine(str(item["s"])):
                    self._mark(lineno, recv, item)

    def _mark(self, lineno: int, recv: int, d: JsonDict) -> None:
        rate, next_ms = d.get("r"), int(d.get("T") or 0)
        self._add(
            lineno,
            timestamp=int(d["E"]) * _MS,
            recv_timestamp=recv,
            mark_price=float(d["p"]),
            index_price=float(d["i"]) if d.get("i") not in (None, "") else _NAN,
            funding_rate=float(rate) if rate not in (None, "") else _NAN,
            next_funding_ts=next_ms * _MS if next_ms > 0 else None,
        )
        self.market = self.market or unified_symbol(str(d["s"]))[1]

    def _add(self, lineno: int, **values: object) -> None:
        for key, col in self.cols.items():
            col.append(values.get(key))
        self.rows.append(lineno - 1)

    def _trade(self, lineno: int, recv: int, d: JsonDict, id_key: str) -> None:
        if self.market is None and "M" not in d:
            self.market = unified_symbol(str(d["s"]))[1]
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
        futures = "T" in d  # futures bookTicker frames carry the transaction time
        if futures and self.market is None:
            self.market = unified_symbol(str(d["s"]))[1]
        self._add(
            lineno,
            timestamp=int(d["T"]) * _MS if futures else recv,
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
        n = len(self.rows)
        self.cols["symbol"] = [symbol] * n
        if self.market is not None:  # futures rows: the venue and market are known
            schema = schema.append(pa.field("venue", TAGS["venue"]))
            schema = schema.append(pa.field("market", TAGS["market"]))
            self.cols["venue"], self.cols["market"] = [VENUE] * n, [self.market] * n
        batch = pa.RecordBatch.from_pydict(
            {f.name: pa.array(self.cols[f.name], f.type) for f in schema}, schema=schema
        )
        rows = np.array(self.rows, dtype=np.int64)
        self.cols = self._empty()
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
    """The whole capture as native tables keyed by channel type (tick, quote, orderbook,
    derivative; without the venue and market columns futures rows carry)."""
    path = os.fspath(path)
    out = {}
    kinds = (ChannelType.TICK, ChannelType.QUOTE, ChannelType.ORDERBOOK, ChannelType.DERIVATIVE)
    for kind in kinds:
        schema = schema_for(kind)
        batches = [b.select(schema.names) for b, _ in capture_batches(path, kind, symbol)]
        out[kind] = pa.Table.from_batches(batches, schema=schema)
    return out


#: the venue whose captures these are
VENUE = "binance"
_STREAM_KINDS = {
    "trade": ChannelType.TICK,
    "aggTrade": ChannelType.TICK,
    "bookTicker": ChannelType.QUOTE,
    "depth": ChannelType.ORDERBOOK,
    "markPrice": ChannelType.DERIVATIVE,
}


def _stream_items(msg: object) -> list[tuple[str, str, object]]:
    """``(stream symbol, stream kind, frame data)`` of one line's frame (several for
    ``!markPrice@arr``); none for a line that is not a stream frame."""
    stream = msg.get("stream") if isinstance(msg, dict) else None
    if not isinstance(stream, str):
        return []
    sym, _, rest = stream.partition("@")
    data = msg.get("data") if isinstance(msg, dict) else None
    if sym == "!markPrice" and isinstance(data, list):
        return [(str(d.get("s", "")), "markPrice", d) for d in data if isinstance(d, dict)]
    return [(sym, rest.split("@")[0], data)]


def capture_contents(path: str, symbol: str | None = None) -> list[Content]:
    """The channels a capture holds, by its streams; spot or futures from its frames (a
    futures contract by its unified symbol: ``ETH/USDT:USDT``, ``ETH/USD:ETH``)."""
    found: set[tuple[str, str]] = set()
    markets: dict[str, str] = {}
    lineno = 0
    try:
        with open_text(path) as fh:
            for lineno, line in enumerate(fh, 1):  # noqa: B007 - named if the file breaks
                try:
                    items = _stream_items(json.loads(line.partition(" ")[2]))
                except ValueError:
                    continue  # left to the reader, which names the line (or skips and counts it)
                for sym, kind, data in items:
                    ctype = _STREAM_KINDS.get(kind)
                    if ctype is None:
                        continue
                    found.add((ctype, sym.upper()))
                    if sym.upper() not in markets:
                        verdict = frame_market(kind, data)
                        if verdict is not None:
                            markets[sym.upper()] = verdict
    except BROKEN as exc:
        raise broken(path, exc, lineno) from exc
    return [_content(c, s, markets.get(s)) for c, s in found]


def _content(channel_type: str, symbol: str, verdict: str | None) -> Content:
    if verdict is None:
        return Content(channel_type, symbol, VENUE, UNKNOWN)
    if verdict == "spot":
        return Content(channel_type, symbol, VENUE, "spot")
    unified, market = unified_symbol(symbol)
    return Content(channel_type, unified, VENUE, market)
