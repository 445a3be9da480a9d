"""Writing Bybit's public-archive formats (:mod:`.bybit`) from events: how the bundled Bybit
sample was made from the Binance recording, and what tests use to make files with known
contents.

The Bybit sample re-frames real Binance data in Bybit's formats; it is not Bybit's market. Its
events can be delayed (``lag_ms``), so that the two venues' prices differ while the market moves,
as a slower venue's do.
"""

from __future__ import annotations

import gzip
import json
import os
import uuid
import zipfile
from collections.abc import Iterable
from typing import Any

from ...btypes import JsonDict
from ...events import OrderBookEvent, TickEvent

_MS = 1_000_000


def _num(x: float) -> str:
    return repr(float(x))


def write_trades(
    path: str, ticks: Iterable[TickEvent], symbol: str = "BTCUSDT", lag_ms: int = 0
) -> int:
    """A derivatives trade file (``BTCUSDT2024-08-08.csv.gz`` layout); returns rows written."""
    n = 0
    with gzip.open(path, "wt", encoding="utf-8", newline="") as fh:
        fh.write(
            "timestamp,symbol,side,size,price,tickDirection,trdMatchID,grossValue,"
            "homeNotional,foreignNotional\n"
        )
        for t in ticks:
            ms = t.timestamp // _MS + lag_ms
            side = "Buy" if t.direction == "buy" else "Sell"
            match = uuid.UUID(int=(t.trade_id or n) & ((1 << 128) - 1))
            notional = t.price * t.volume
            fh.write(
                f"{ms // 1000}.{ms % 1000:03d}0,{symbol},{side},{_num(t.volume)},{_num(t.price)},"
                f"ZeroPlusTick,{match},{notional * 1e8:.0f},{_num(t.volume)},{_num(notional)}\n"
            )
            n += 1
    return n


def book_messages(
    events: Iterable[OrderBookEvent],
    symbol: str = "BTCUSDT",
    lag_ms: int = 0,
    snapshot_every: int | None = None,
    depth: int = 500,
) -> Iterable[JsonDict]:
    """Bybit ``orderbook.{depth}`` messages for a book's events: a snapshot first, then deltas
    with ``u`` one more each; after every ``snapshot_every`` deltas a snapshot of the whole
    book as it then is (its ``u`` restarting at 1, as after a restart of Bybit's service)."""
    bids_book: dict[float, float] = {}
    asks_book: dict[float, float] = {}
    u = seq = 0
    deltas = 0
    topic = f"orderbook.{depth}.{symbol}"
    for ev in events:
        if ev.is_snapshot:
            bids_book.clear()
            asks_book.clear()
        for side, levels in ((bids_book, ev.bids), (asks_book, ev.asks)):
            for p, sz in levels:
                if sz:
                    side[p] = sz
                else:
                    side.pop(p, None)
        ts = ev.timestamp // _MS + lag_ms
        if ev.is_snapshot:
            u = 0
        else:
            deltas += 1
            u += 1
            seq += 7
            yield _message(topic, "delta", ts, symbol, list(ev.bids), list(ev.asks), u, seq)
        if ev.is_snapshot or (snapshot_every is not None and deltas >= snapshot_every):
            deltas, u = 0, 1  # a snapshot of the book as it is now
            seq += 7
            bids = sorted(bids_book.items(), reverse=True)
            yield _message(topic, "snapshot", ts, symbol, bids, sorted(asks_book.items()), u, seq)


def _message(
    topic: str,
    kind: str,
    ts: int,
    symbol: str,
    bids: Iterable[tuple[float, float]],
    asks: Iterable[tuple[float, float]],
    u: int,
    seq: int,
) -> JsonDict:
    return {
        "topic": topic,
        "type": kind,
        "ts": ts,
        "data": {
            "s": symbol,
            "b": [[_num(p), _num(s)] for p, s in bids],
            "a": [[_num(p), _num(s)] for p, s in asks],
            "u": u,
            "seq": seq,
        },
        "cts": ts - 2,
    }


def write_book(path: str, messages: Iterable[JsonDict]) -> int:
    """An order-book archive (``*_ob500.data.zip``: one ``.data`` member of JSON lines);
    returns the messages written."""
    member = os.path.basename(path)[: -len(".zip")] if path.endswith(".zip") else None
    lines = (json.dumps(m, separators=(",", ":")) + "\n" for m in messages)
    n = 0
    if member is None:
        with open(path, "w", encoding="utf-8") as fh:
            for line in lines:
                fh.write(line)
                n += 1
        return n
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open(member, "w") as out:
            for line in lines:
                out.write(line.encode())
                n += 1
    return n


def write_sample(directory: str, lag_ms: int = 150, snapshot_every: int = 1000) -> dict[str, str]:
    """The bundled Binance sample in Bybit's archive formats under ``directory`` (how
    ``datasets.bybit_btcusdt_sample()`` was made); returns the two paths."""
    from ...datasets import binance_btcusdt_sample
    from ...sources.formats import open_source

    sample = binance_btcusdt_sample()

    # (the events of ``kind``: ticks or books, which the type cannot say)
    def events(path: str, kind: str) -> Iterable[Any]:
        for _, chunk in open_source(path, kind, sample.symbol):
            yield from chunk

    os.makedirs(directory, exist_ok=True)
    trades = os.path.join(directory, "BTCUSDT2024-08-08.csv.gz")
    book = os.path.join(directory, "2024-08-08_BTCUSDT_ob500.data.zip")
    write_trades(trades, events(sample.trades, "tick"), lag_ms=lag_ms)
    messages = book_messages(
        events(sample.orderbook, "orderbook"), lag_ms=lag_ms, snapshot_every=snapshot_every
    )
    write_book(book, messages)
    return {"trades": trades, "orderbook": book}
