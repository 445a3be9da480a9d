"""Tardis.dev downloadable CSV files (``.csv`` / ``.csv.gz``) as native batches.

Data types, by header (after ``exchange,symbol,timestamp,local_timestamp``):

* ``trades``: ``id,side,price,amount``
* ``quotes``: ``ask_amount,ask_price,bid_price,bid_amount``
* ``incremental_book_L2``: ``is_snapshot,side,price,amount`` (one row per level; rows of one
  message share ``local_timestamp``; a run of ``is_snapshot`` rows replaces the book)
* ``book_snapshot_25`` / ``book_snapshot_5``: ``asks[i].price,asks[i].amount,bids[i].price,
  bids[i].amount`` for each level ``i`` (one row, one snapshot)
* ``derivative_ticker``: ``funding_timestamp,funding_rate,predicted_funding_rate,open_interest,
  last_price,index_price,mark_price`` (derivative rows: ``mark_price``, ``index_price``,
  ``funding_rate`` the rate of the next funding, at ``funding_timestamp``: ``next_funding_ts``;
  an empty cell is a value not given; ``predicted_funding_rate``, ``open_interest`` and
  ``last_price`` are not kept)

Times are microseconds since the epoch (``timestamp``: exchange, ``local_timestamp``: received);
they become nanoseconds. Files may hold many symbols; the channel's symbol selects its rows.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import ChannelError
from ..events import ChannelType
from .batches import SkipReport, csv_batches, csv_header
from .progress import ReadMeter
from .schema import Batches

PREFIX = ["exchange", "symbol", "timestamp", "local_timestamp"]
_US = 1000

_KINDS = {
    "trades": ChannelType.TICK,
    "quotes": ChannelType.QUOTE,
    "incremental_book_L2": ChannelType.ORDERBOOK,
    "derivative_ticker": ChannelType.DERIVATIVE,
}
DERIVATIVE_TICKER = [
    "funding_timestamp",
    "funding_rate",
    "predicted_funding_rate",
    "open_interest",
    "last_price",
    "index_price",
    "mark_price",
]


def tardis_kind(header: list[str]) -> str | None:
    """The Tardis data type named by a header, or None if it is not a Tardis header."""
    if header[:4] != PREFIX:
        return None
    rest = header[4:]
    if rest == ["id", "side", "price", "amount"]:
        return "trades"
    if sorted(rest) == ["ask_amount", "ask_price", "bid_amount", "bid_price"]:
        return "quotes"
    if rest == ["is_snapshot", "side", "price", "amount"]:
        return "incremental_book_L2"
    if rest == DERIVATIVE_TICKER:
        return "derivative_ticker"
    if rest and rest[0] == "asks[0].price" and len(rest) % 4 == 0:
        return f"book_snapshot_{len(rest) // 4}"
    return None


def channel_type_of(kind: str) -> str:
    """The channel type a Tardis data type feeds."""
    return ChannelType.ORDERBOOK if kind.startswith("book_snapshot_") else _KINDS[kind]


def tardis_batches(
    path: str, channel_type: str, skip: SkipReport | None = None, meter: ReadMeter | None = None
) -> Batches:
    """Native-schema batches of one Tardis file (raises ChannelError on a type mismatch)."""
    header = csv_header(path)
    kind = tardis_kind(header)
    if kind is None:
        raise ChannelError(f"{path}: not a Tardis CSV header: {','.join(header[:8])}")
    if channel_type_of(kind) != channel_type:
        raise ChannelError(
            f"{path} holds Tardis {kind!r} data, which feeds a "
            f"{channel_type_of(kind)!r} channel, not {channel_type!r}"
        )
    base_types = {"symbol": pa.string(), "timestamp": pa.int64(), "local_timestamp": pa.int64()}
    if kind == "trades":
        types = dict(
            base_types, id=pa.string(), side=pa.string(), price=pa.float64(), amount=pa.float64()
        )
        for batch, row in csv_batches(path, types, skip=skip, meter=meter):
            yield _trades(batch), row
    elif kind == "quotes":
        types = dict(
            base_types,
            bid_price=pa.float64(),
            bid_amount=pa.float64(),
            ask_price=pa.float64(),
            ask_amount=pa.float64(),
        )
        for batch, row in csv_batches(path, types, skip=skip, meter=meter):
            yield _quotes(batch), row
    elif kind == "incremental_book_L2":
        types = dict(
            base_types,
            is_snapshot=pa.bool_(),
            side=pa.string(),
            price=pa.float64(),
            amount=pa.float64(),
        )
        for batch, row in csv_batches(path, types, skip=skip, meter=meter):
            yield _l2(batch), row
    elif kind == "derivative_ticker":
        types = dict(
            base_types,
            funding_timestamp=pa.int64(),
            funding_rate=pa.float64(),
            index_price=pa.float64(),
            mark_price=pa.float64(),
        )
        for batch, row in csv_batches(path, types, skip=skip, meter=meter):
            yield _derivative(batch), row
    else:
        levels = [c for c in header[4:]]
        types = dict(base_types, **{c: pa.float64() for c in levels})
        for batch, row in csv_batches(path, types, skip=skip, meter=meter):
            yield _snapshots(batch, row, levels)


def _times(batch: pa.RecordBatch) -> dict[str, pa.Array]:
    return {
        "timestamp": pc.multiply(batch.column("timestamp"), _US),
        "recv_timestamp": pc.multiply(batch.column("local_timestamp"), _US),
        "symbol": batch.column("symbol"),
    }


def _trades(batch: pa.RecordBatch) -> pa.RecordBatch:
    ids = batch.column("id")
    try:
        trade_id = pc.cast(ids, pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        trade_id = pa.nulls(len(ids), pa.int64())  # non-numeric ids: not kept
    cols = dict(
        _times(batch),
        price=batch.column("price"),
        volume=batch.column("amount"),
        side=batch.column("side"),
    )
    if trade_id.null_count == 0:
        cols["trade_id"] = trade_id
    return pa.RecordBatch.from_pydict(cols)


def _quotes(batch: pa.RecordBatch) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict(
        dict(
            _times(batch),
            bid_price=batch.column("bid_price"),
            bid_size=batch.column("bid_amount"),
            ask_price=batch.column("ask_price"),
            ask_size=batch.column("ask_amount"),
        )
    )


def _l2(batch: pa.RecordBatch) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict(
        dict(
            _times(batch),
            is_snapshot=batch.column("is_snapshot"),
            side=batch.column("side"),
            price=batch.column("price"),
            size=batch.column("amount"),
        )
    )


def _derivative(batch: pa.RecordBatch) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict(
        dict(
            _times(batch),
            mark_price=batch.column("mark_price"),
            index_price=batch.column("index_price"),
            funding_rate=batch.column("funding_rate"),
            next_funding_ts=pc.multiply(batch.column("funding_timestamp"), _US),
        )
    )


def _snapshots(
    batch: pa.RecordBatch, base: int, levels: list[str]
) -> tuple[pa.RecordBatch, np.ndarray]:
    """Wide snapshot rows to long level rows (one group, hence one event, per input row)."""
    n = batch.num_rows
    depth = len(levels) // 4
    prices, sizes, side_names = [], [], []
    for side_name, name in (("ask", "asks"), ("bid", "bids")):
        for i in range(depth):
            prices.append(batch.column(f"{name}[{i}].price").to_numpy(zero_copy_only=False))
            sizes.append(batch.column(f"{name}[{i}].amount").to_numpy(zero_copy_only=False))
            side_names.append(side_name)
    px = np.stack(prices, axis=1).ravel()  # row-major: all levels of row 0, then row 1...
    sz = np.stack(sizes, axis=1).ravel()
    side = np.tile(np.array(side_names, dtype=object), n)
    rows = np.repeat(np.arange(base, base + n), 2 * depth)
    keep = ~np.isnan(px)  # an empty level (thin book) has no price
    times = _times(batch)
    rep = np.repeat(np.arange(n), 2 * depth)[keep]
    out = pa.RecordBatch.from_pydict(
        {
            "timestamp": pc.take(times["timestamp"], rep),
            "recv_timestamp": pc.take(times["recv_timestamp"], rep),
            "symbol": pc.take(times["symbol"], rep),
            "is_snapshot": pa.array(np.ones(int(keep.sum()), dtype=bool)),
            "side": pa.array(side[keep].tolist(), pa.string()),
            "price": pa.array(px[keep]),
            "size": pa.array(np.nan_to_num(sz[keep], nan=-1.0)),
        }
    )
    return out, rows[keep]
