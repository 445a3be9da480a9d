"""Bybit v5 ``tickers.{symbol}`` frames of linear and inverse contracts, as recorded, into
derivative rows (mark price, index price, funding).

A frame is ``{"topic": "tickers.BTCUSDT", "type": "snapshot" | "delta", "data": {...},
"cs": ..., "ts": ms}``: a snapshot gives every field, a delta only the fields that changed
(:class:`TickerState` merges them). The fields kept: ``markPrice``, ``indexPrice``,
``fundingRate`` (the rate of the next funding) and ``nextFundingTime`` (ms); a row is written
when one of them changes, at the frame's ``ts``. Spot tickers carry none of them and give no row.

Recorded form: one frame a line, as plain JSON or after a receive time in ns
(``<receive_ns> <json>``, the Binance capture's line format); a line that is not a tickers frame
is passed over. The symbol is the topic's (``BTCUSDT``); contents name it unified
(``BTC/USDT:USDT``, linear; ``BTCUSD``: ``BTC/USD:BTC``, inverse).

:data:`TICKERS` is the file format (``bybit_tickers``) for the Bybit profile's ``formats``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from ...btypes import JsonDict
from ...errors import ChannelError, DataError
from ...events import ChannelType
from ...sources.batches import BROKEN, SkipReport, broken, open_text, open_text_raw
from ...sources.progress import ReadMeter, reading
from ...sources.registry import Content, FileFormat
from ...sources.schema import TAGS, schema_for
from ...symbols import plain_symbol

_MS = 1_000_000
_NAN = float("nan")
_ROWS_PER_BATCH = 20_000
#: Bybit's field -> the native column, in the order a row lists them
FIELDS = {
    "markPrice": "mark_price",
    "indexPrice": "index_price",
    "fundingRate": "funding_rate",
    "nextFundingTime": "next_funding_ts",
}
VENUE = "bybit"


def unified(symbol: str) -> tuple[str, str]:
    """``(ccxt symbol, market)`` of a Bybit contract (``BTCUSDT``: ``BTC/USDT:USDT``, linear;
    ``BTCUSD``: ``BTC/USD:BTC``, inverse; ``BTCPERP``: ``BTC/USDC:USDC``, linear)."""
    raw = symbol.upper()
    for quote in ("USDT", "USDC"):
        if raw.endswith(quote) and len(raw) > len(quote):
            return f"{raw[: -len(quote)]}/{quote}:{quote}", "linear"
    if raw.endswith("PERP") and len(raw) > 4:
        return f"{raw[:-4]}/USDC:USDC", "linear"
    if raw.endswith("USD") and len(raw) > 3:
        return f"{raw[:-3]}/USD:{raw[:-3]}", "inverse"
    return raw, "linear"


def parse_line(line: str) -> tuple[int | None, object]:
    """``(receive ns or None, the frame's JSON)`` of one recorded line; ValueError if it is
    neither ``<receive_ns> <json>`` nor JSON."""
    head, _, body = line.partition(" ")
    if head.isdigit() and body.lstrip().startswith("{"):
        return int(head), json.loads(body)
    return None, json.loads(line)


def ticker_symbol(frame: object) -> str | None:
    """The symbol of a ``tickers.*`` frame, else None."""
    topic = frame.get("topic") if isinstance(frame, dict) else None
    if isinstance(topic, str) and topic.startswith("tickers."):
        return topic[len("tickers.") :]
    return None


class TickerState:
    """One symbol's ticker, merged from a snapshot and its deltas; :meth:`apply` says what
    changed of the fields kept."""

    def __init__(self) -> None:
        self.values: dict[str, float | int | None] = dict.fromkeys(FIELDS.values())

    def apply(self, frame: JsonDict) -> dict[str, float | int | None] | None:
        """Merge one frame; the row's values (mark, index, funding rate, next funding ns) when
        one of them changed, else None."""
        data = frame["data"]
        if frame.get("type") == "snapshot":
            new: dict[str, float | int | None] = dict.fromkeys(FIELDS.values())
        else:
            new = dict(self.values)
        for field, column in FIELDS.items():
            text = data.get(field)
            if text is None or text == "":
                continue
            new[column] = int(text) * _MS if column == "next_funding_ts" else float(text)
        if new == self.values or all(v is None for v in new.values()):
            self.values = new
            return None
        self.values = new
        return new


def tickers_batches(
    path: str,
    channel_type: str,
    symbol: str,
    skip: SkipReport | None = None,
    meter: ReadMeter | None = None,
) -> Iterator[tuple[pa.RecordBatch, np.ndarray]]:
    """Native derivative batches of ``symbol`` (rows: line number - 1). A tickers frame that
    cannot be read raises a located ``DataError``, or with ``skip`` is counted there."""
    if channel_type != ChannelType.DERIVATIVE:
        raise ChannelError(f"{path} holds Bybit tickers (derivative), not {channel_type!r} data")
    want = plain_symbol(symbol)
    state = TickerState()
    cols: dict[str, list[object]] = {name: [] for name in ("timestamp", "recv_timestamp")}
    cols.update({c: [] for c in FIELDS.values()})
    rows: list[int] = []
    market = None
    lineno = 0
    fh, raw = open_text_raw(path)
    try:
        with raw, fh, reading(meter, path, raw.tell):
            for lineno, line in enumerate(fh, 1):
                row = _row(path, lineno, line.strip(), want, state, skip, symbol)
                if row is not None:
                    values, market = row
                    for key, value in values.items():
                        cols[key].append(value)
                    rows.append(lineno - 1)
                if len(rows) >= _ROWS_PER_BATCH:
                    yield _batch(cols, rows, symbol, market), np.array(rows, dtype=np.int64)
                    cols = {k: [] for k in cols}
                    rows = []
    except BROKEN as exc:
        raise broken(path, exc, lineno) from exc
    if rows:
        yield _batch(cols, rows, symbol, market), np.array(rows, dtype=np.int64)


def _row(
    path: str,
    lineno: int,
    line: str,
    want: str,
    state: TickerState,
    skip: SkipReport | None,
    symbol: str,
) -> tuple[dict[str, object], str] | None:
    """One line's row values and market, or None (another symbol, nothing changed)."""
    if not line:
        return None
    try:
        recv, frame = parse_line(line)
        sym = ticker_symbol(frame)
        if sym is None or (plain_symbol(sym) != want and unified(sym)[0] != symbol):
            return None
        assert isinstance(frame, dict)
        values = state.apply(frame)
        if values is None:
            return None
        ts = int(frame["ts"]) * _MS
    except (AssertionError, KeyError, TypeError, ValueError, AttributeError) as exc:
        if skip is not None:
            skip.add_line(path, "unexpected frame", lineno)
            return None
        raise DataError(path, f"unexpected frame: {exc!r}", line=lineno, value=line[:80]) from exc
    out: dict[str, object] = {"timestamp": ts, "recv_timestamp": ts if recv is None else recv}
    for column, value in values.items():
        out[column] = _NAN if value is None and column != "next_funding_ts" else value
    return out, unified(sym)[1]


def _batch(
    cols: dict[str, list[object]], rows: list[int], symbol: str, market: str | None
) -> pa.RecordBatch:
    schema = schema_for(ChannelType.DERIVATIVE)
    arrays = {f.name: pa.array(cols[f.name], f.type) for f in schema if f.name in cols}
    arrays["symbol"] = pa.array([symbol] * len(rows), pa.string())
    if market is not None:
        arrays["venue"] = pa.array([VENUE] * len(rows), TAGS["venue"])
        arrays["market"] = pa.array([market] * len(rows), TAGS["market"])
    return pa.RecordBatch.from_pydict(arrays)


def is_tickers_file(path: str) -> bool:
    """Whether the file's first line is a Bybit ``tickers.*`` frame (plain or after a receive
    time)."""
    try:
        with open_text(path) as fh:
            return ticker_symbol(parse_line(fh.readline().strip())[1]) is not None
    except (*BROKEN, ValueError):
        return False


def tickers_contents(path: str, symbol: str | None = None) -> list[Content]:
    """The derivative channels a tickers file holds (one per symbol with a mark price)."""
    found: set[str] = set()
    lineno = 0
    try:
        with open_text(path) as fh:
            for lineno, line in enumerate(fh, 1):  # noqa: B007 - named if the file breaks
                try:
                    _, frame = parse_line(line.strip())
                except ValueError:
                    continue  # left to the reader, which names the line
                sym = ticker_symbol(frame)
                if sym is not None and sym not in found:
                    data = frame.get("data") if isinstance(frame, dict) else None
                    if isinstance(data, dict) and "markPrice" in data:
                        found.add(sym)
    except BROKEN as exc:
        raise broken(path, exc, lineno) from exc
    return [Content(ChannelType.DERIVATIVE, *_named(s)) for s in sorted(found)]


def _named(sym: str) -> tuple[str, str, str]:
    symbol, market = unified(sym)
    return symbol, VENUE, market


def _streams(
    path: str, channel_type: str, symbol: str, skip: SkipReport | None, meter: ReadMeter | None
) -> tuple[int | None, Iterator[tuple[pa.RecordBatch, np.ndarray]]]:
    return 1, tickers_batches(path, channel_type, symbol, skip, meter)


#: the recorded tickers frames as a file format (for the Bybit profile's ``formats``)
TICKERS = FileFormat(
    name="bybit_tickers",
    venue=VENUE,
    describe="recorded Bybit v5 tickers frames (mark price, index price, funding)",
    sniff=lambda path, header: header is None and is_tickers_file(path),
    contents=tickers_contents,
    streams=_streams,
)
