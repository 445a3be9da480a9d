"""Raw Binance WebSocket captures (``<receive_ns> <json>`` lines) converted to native tables.

Handles combined-stream frames for ``@trade``, ``@depth`` and ``@bookTicker`` and the REST depth
snapshot line (``{"lastUpdateId", "bids", "asks"}``), applying Binance's join rule: diffs with
``u <= lastUpdateId`` are dropped and the first diff applied must have
``U <= lastUpdateId + 1 <= u``. The snapshot has no exchange time, so it is stamped with the event
time of the first diff applied after it. bookTicker frames carry no time at all: their
``timestamp`` is the receive time.
"""

from __future__ import annotations

import gzip
import json
import os
from typing import Any

import pyarrow as pa

from ..errors import DataError
from ..events import ChannelType
from .schema import schema_for

_MS = 1_000_000


def _rows(path: str) -> list[tuple[int, int, Any]]:
    """(line number, receive ns, parsed JSON) for every line of the capture."""
    opener = gzip.open if path.endswith(".gz") else open
    out = []
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                line = line.strip()
                if not line:
                    continue
                head, sep, body = line.partition(" ")
                try:
                    recv = int(head)
                    msg = json.loads(body)
                except ValueError as exc:
                    raise DataError(
                        path, f"not '<receive_ns> <json>': {exc}", line=lineno, value=line[:80]
                    ) from exc
                out.append((lineno, recv, msg))
    except (OSError, EOFError) as exc:
        raise DataError(path, f"file is damaged or truncated: {exc}") from exc
    return out


def read_binance_capture(
    path: str | os.PathLike[str], symbol: str = "BTC/USDT"
) -> dict[str, pa.Table]:
    """Convert a capture into native tables keyed by channel type (tick, orderbook, quote)."""
    path = os.fspath(path)
    trades: dict[str, list[Any]] = {
        c: [] for c in ("timestamp", "recv_timestamp", "price", "volume", "side", "trade_id")
    }
    quotes: dict[str, list[Any]] = {
        c: []
        for c in (
            "timestamp",
            "recv_timestamp",
            "bid_price",
            "bid_size",
            "ask_price",
            "ask_size",
            "update_id",
        )
    }
    book: dict[str, list[Any]] = {
        c: []
        for c in (
            "timestamp",
            "recv_timestamp",
            "side",
            "price",
            "size",
            "is_snapshot",
            "update_id",
            "first_update_id",
        )
    }
    snapshot: tuple[int, dict[str, Any]] | None = None
    synced = False
    pending: list[tuple[int, int, Any]] = []  # depth diffs waiting for a snapshot
    for lineno, recv, msg in _rows(path):
        stream = msg.get("stream")
        data = msg.get("data")
        try:
            if stream is None and "lastUpdateId" in msg:
                snapshot, synced = (recv, msg), False
                synced = _join(path, book, snapshot, pending, synced)
                pending.clear()
            elif stream.endswith("@trade"):
                trades["timestamp"].append(int(data["T"]) * _MS)
                trades["recv_timestamp"].append(recv)
                trades["price"].append(float(data["p"]))
                trades["volume"].append(float(data["q"]))
                trades["side"].append("sell" if data["m"] else "buy")
                trades["trade_id"].append(int(data["t"]))
            elif "@bookTicker" in stream:
                for col, key in (
                    ("bid_price", "b"),
                    ("bid_size", "B"),
                    ("ask_price", "a"),
                    ("ask_size", "A"),
                ):
                    quotes[col].append(float(data[key]))
                quotes["timestamp"].append(recv)
                quotes["recv_timestamp"].append(recv)
                quotes["update_id"].append(int(data["u"]))
            elif "@depth" in stream:
                pending.append((lineno, recv, data))
                if snapshot is not None:
                    synced = _join(path, book, snapshot, pending, synced)
                    pending.clear()
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, DataError):
                raise
            raise DataError(path, f"unexpected frame: {exc!r}", line=lineno) from exc
    sym = symbol
    out = {}
    for kind, cols in (
        (ChannelType.TICK, trades),
        (ChannelType.QUOTE, quotes),
        (ChannelType.ORDERBOOK, book),
    ):
        cols = dict(cols, symbol=[sym] * len(cols["timestamp"]))
        schema = schema_for(kind)
        out[kind] = pa.table(
            {f.name: pa.array(cols[f.name], f.type) for f in schema}, schema=schema
        )
    return out


def _join(
    path: str,
    book: dict[str, list[Any]],
    snapshot: tuple[int, dict[str, Any]],
    diffs: list[tuple[int, int, Any]],
    synced: bool,
) -> bool:
    """Apply depth diffs on top of ``snapshot`` by Binance's rule; return the new synced flag."""
    snap_id = snapshot[1]["lastUpdateId"]
    for lineno, recv, data in diffs:
        first, last, ts = int(data["U"]), int(data["u"]), int(data["E"]) * _MS
        if last <= snap_id:
            continue  # already contained in the snapshot
        if not synced:
            if not first <= snap_id + 1 <= last:
                raise DataError(
                    path,
                    f"depth diff U={first} u={last} does not join snapshot lastUpdateId={snap_id}",
                    line=lineno,
                )
            _book_rows(
                book,
                ts,
                snapshot[0],
                snapshot[1]["bids"],
                snapshot[1]["asks"],
                True,
                snap_id,
                snap_id,
            )
            synced = True
        _book_rows(book, ts, recv, data["b"], data["a"], False, last, first)
    return synced


def _book_rows(
    book: dict[str, list[Any]],
    ts: int,
    recv: int,
    bids: list[list[str]],
    asks: list[list[str]],
    snap: bool,
    uid: int,
    fuid: int,
) -> None:
    for side, levels in (("bid", bids), ("ask", asks)):
        for price, size in levels:
            book["timestamp"].append(ts)
            book["recv_timestamp"].append(recv)
            book["side"].append(side)
            book["price"].append(float(price))
            book["size"].append(float(size))
            book["is_snapshot"].append(snap)
            book["update_id"].append(uid)
            book["first_update_id"].append(fuid)
