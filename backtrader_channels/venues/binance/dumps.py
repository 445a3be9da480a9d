"""Binance public data dumps (daily/monthly ``trades`` and ``aggTrades`` CSV) as native batches.

Layouts (spot files have no header row; USD-M futures files have one):

| file | columns |
|---|---|
| spot trades | id, price, qty, quote_qty, time, is_buyer_maker, is_best_match |
| futures trades | id, price, qty, quote_qty, time, is_buyer_maker |
| spot aggTrades | agg_trade_id, price, quantity, first_trade_id, last_trade_id, transact_time, is_buyer_maker, is_best_match |
| futures aggTrades | agg_trade_id, price, quantity, first_trade_id, last_trade_id, transact_time, is_buyer_maker |

``time`` is milliseconds in older files and microseconds in newer spot files; the unit is read
from the first value's magnitude. ``is_buyer_maker`` true means the aggressor sold. The symbol is
the file's (``BTCUSDT-trades-2024-08-08.csv``); there is no symbol column. The futures dumps of
mark, index, premium and funding are :mod:`.futures_dumps`'.
"""  # noqa: E501

from __future__ import annotations

import os
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc

from ...errors import ChannelError, DataError
from ...events import ChannelType
from ...sources.batches import SkipReport, csv_batches, first_line
from ...sources.progress import ReadMeter
from ...symbols import same_symbol

# the futures dumps of mark, index, premium and funding: read by their own module (its import
# registers their format, ``binance_futures``); ``format="binance"`` reads them too
from .futures_dumps import futures_dump_batches, futures_dump_kind, futures_dump_line_offset

TRADES = ["id", "price", "qty", "quote_qty", "time", "is_buyer_maker", "is_best_match"]
AGG = [
    "agg_trade_id",
    "price",
    "quantity",
    "first_trade_id",
    "last_trade_id",
    "transact_time",
    "is_buyer_maker",
    "is_best_match",
]


def dump_kind(path: str) -> str | None:
    """``"trades"`` or ``"aggTrades"`` from a Binance dump's file name, else None."""
    name = os.path.basename(path)
    if "-aggTrades-" in name:
        return "aggTrades"
    if "-trades-" in name:
        return "trades"
    return None


def dump_symbol(path: str) -> str:
    """The symbol a dump's file name gives (``BTCUSDT-trades-2024-08-08.csv``: ``BTCUSDT``)."""
    return os.path.basename(path).split("-")[0].upper()


def dump_market(path: str) -> str:
    """``spot``, ``linear`` (USD-M) or ``inverse`` (COIN-M) for a dump: COIN-M symbols carry
    a contract suffix (``BTCUSD_PERP``, ``BTCUSD_240927``); futures files have one field less
    than spot files (no ``is_best_match``) and, since 2020, a header row."""
    if "_" in dump_symbol(path):
        return "inverse"
    kind = dump_kind(path) or "trades"
    names, _ = _layout(path, kind)
    return "spot" if "is_best_match" in names else "linear"


def _layout(path: str, kind: str) -> tuple[list[str], bool]:
    """Column names and whether the file has a header row."""
    line = first_line(path)
    fields = [f.strip() for f in line.split(",")]
    if fields and fields[0] and not fields[0][0].isdigit():  # a header row
        return fields, True
    full = AGG if kind == "aggTrades" else TRADES
    if len(fields) == len(full):
        return full, False
    if len(fields) == len(full) - 1:  # futures layout without is_best_match
        return full[:-1], False
    raise DataError(
        path,
        f"a Binance {kind} dump has {len(full) - 1} or {len(full)} fields, got {len(fields)}",
        line=1,
        value=line[:80],
    )


def time_unit_factor(first_time: int) -> int:
    """Nanoseconds per unit of a Binance time value: ms, us or ns, by magnitude."""
    if first_time >= 10**17:
        return 1
    if first_time >= 10**14:
        return 1_000
    return 1_000_000


def dump_batches(
    path: str,
    channel_type: str,
    skip: SkipReport | None = None,
    meter: ReadMeter | None = None,
    symbol: str | None = None,
) -> Iterator[tuple[pa.RecordBatch, int]]:
    """Native trade batches of one Binance dump; yields ``(batch, first_row)``. A dump of
    another symbol than ``symbol`` (by its file name) has no rows of it."""
    if futures_dump_kind(path) is not None:
        yield from futures_dump_batches(path, channel_type, skip, meter, symbol)
        return
    kind = dump_kind(path)
    if kind is None:
        raise ChannelError(f"{path}: not a Binance trades/aggTrades dump file name")
    if channel_type != ChannelType.TICK:
        raise ChannelError(f"{path} holds Binance {kind} (trades), not {channel_type!r} data")
    if symbol is not None and not same_symbol(symbol, dump_symbol(path)):
        return
    names, header = _layout(path, kind)
    id_col = "agg_trade_id" if kind == "aggTrades" else "id"
    qty_col = "quantity" if kind == "aggTrades" else "qty"
    time_col = "transact_time" if kind == "aggTrades" else "time"
    for col in (id_col, "price", qty_col, time_col, "is_buyer_maker"):
        if col not in names:
            raise DataError(
                path, f"missing column {col!r}; columns present: {names}", line=1, column=col
            )
    types = {
        id_col: pa.int64(),
        "price": pa.float64(),
        qty_col: pa.float64(),
        time_col: pa.int64(),
        "is_buyer_maker": pa.bool_(),
    }
    factor = None
    batches = csv_batches(
        path, types, column_names=None if header else names, skip=skip, meter=meter
    )
    for batch, row in batches:
        if not batch.num_rows:
            continue
        times = batch.column(time_col)
        if factor is None:
            first = times[0].as_py()
            factor = time_unit_factor(first if first is not None else 0)
        maker = batch.column("is_buyer_maker")
        side = pc.if_else(maker, "sell", "buy")
        ts = pc.multiply(times, factor)
        yield (
            pa.RecordBatch.from_pydict(
                {
                    "timestamp": ts,
                    "recv_timestamp": ts,
                    "price": batch.column("price"),
                    "volume": batch.column(qty_col),
                    "side": side,
                    "trade_id": batch.column(id_col),
                }
            ),
            row,
        )


def dump_line_offset(path: str) -> int:
    """Line number of data row 0 (1 without a header row, 2 with one)."""
    if futures_dump_kind(path) is not None:
        return futures_dump_line_offset(path)
    kind = dump_kind(path) or "trades"
    return 2 if _layout(path, kind)[1] else 1
