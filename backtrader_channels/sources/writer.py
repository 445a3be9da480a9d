"""Writing events in the native Parquet layout, partitioned by channel type, venue, market,
symbol and UTC date (:mod:`.layout`):

``ROOT/channel=<type>/venue=<venue>/market=<market>/symbol=<SYMBOL>/date=<YYYY-MM-DD>/part-<NNNNNN>.parquet``

Every row also names its venue and market (the ``venue`` and ``market`` columns). Every
:meth:`PartitionedWriter.flush` writes complete Parquet files (a new part per partition), so
whatever was flushed is readable even if the process dies later: converting flushes every
chunk, live recording every second. ``cerebro.add_channel(..., dataname=ROOT)`` reads it back.

``ROOT`` (and :func:`write_parquet`'s path) may be a URI (``s3://bucket/prefix``, ``gs://...``,
``file:///...``, see :mod:`.storage`): each part is then one object, which appears whole when
it is written.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from ..events import ChannelType
from . import storage
from .layout import partition_folder, safe_symbol
from .schema import REQUIRED, TAGS, ChannelEvent, schema_for
from .venues import UNKNOWN, market_name, venue_name

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = [
    "PartitionedWriter",
    "columns_table",
    "concat_tables",
    "events_table",
    "safe_symbol",
    "write_parquet",
]

_NS_PER_DAY = 86_400_000_000_000


def concat_tables(tables: Iterable[pa.Table]) -> pa.Table:
    """One table of many of the same schema."""
    return pa.concat_tables(tables)


def columns_table(columns: Mapping[str, npt.ArrayLike], channel_type: str) -> pa.Table:
    """Native-schema table from whole columns (arrays or lists, by column name)."""
    schema = schema_for(channel_type)
    return pa.table({f.name: pa.array(columns[f.name], f.type) for f in schema}, schema=schema)


def write_parquet(
    path: str, tables: Iterable[pa.Table], channel_type: str, row_group_size: int = 262_144
) -> str:
    """Write native-schema ``tables`` one after another into one Parquet file (flat memory).

    Parameters
    ----------
    path : str
        The file: a local path or a URI (:mod:`.storage`).
    tables : iterable of pyarrow.Table
        Tables in the native schema of ``channel_type``.
    channel_type : str
        ``"tick"``, ``"quote"``, ``"orderbook"`` or ``"derivative"``.
    row_group_size : int, default 262,144
        Rows per Parquet row group.

    Returns
    -------
    str
        ``path``.
    """
    with (
        storage.open_output(path) as sink,
        pq.ParquetWriter(sink, schema_for(channel_type)) as writer,
    ):
        for table in tables:
            writer.write_table(table, row_group_size=row_group_size)
    return path


def events_table(
    events: list[ChannelEvent],
    channel_type: str,
    venue: str | None = None,
    market: str | None = None,
) -> pa.Table:
    """Events of one channel type as a native-schema table (book events: one row per level;
    a derivative value not given, NaN, as null), with ``venue`` and ``market`` columns when
    they are given."""
    schema = schema_for(channel_type)
    cols: dict[str, list[object]] = {f.name: [] for f in schema}
    if channel_type == ChannelType.TICK:
        for e in events:
            for key, val in (
                ("timestamp", e.timestamp),
                ("price", e.price),
                ("volume", e.volume),
                ("side", e.direction),
                ("recv_timestamp", e.recv_timestamp),
                ("symbol", e.symbol),
                ("trade_id", e.trade_id),
            ):
                cols[key].append(val)
    elif channel_type == ChannelType.QUOTE:
        for e in events:
            for key in (
                "timestamp",
                "bid_price",
                "bid_size",
                "ask_price",
                "ask_size",
                "recv_timestamp",
                "symbol",
                "update_id",
            ):
                cols[key].append(getattr(e, key))
    elif channel_type == ChannelType.DERIVATIVE:
        _derivative_columns(events, cols)
    else:
        _book_columns(events, cols)
    # an optional value no event has (a quote without update ids) is left out, not written as
    # an all-null column: it reads back as absent, as it was
    required = REQUIRED[channel_type]
    fields = [f for f in schema if f.name in required or any(v is not None for v in cols[f.name])]
    arrays = [pa.array(cols[f.name], f.type) for f in fields]
    n = len(arrays[0]) if arrays else 0
    for name, value in (("venue", venue), ("market", market)):
        if value is not None:
            fields.append(pa.field(name, TAGS[name]))
            arrays.append(pa.array([value] * n, TAGS[name]))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _book_columns(events: list[ChannelEvent], cols: dict[str, list[object]]) -> None:
    """Book events into ``cols``: one row per level."""
    for e in events:
        for side, levels in (("bid", e.bids), ("ask", e.asks)):
            for price, size in levels:
                cols["timestamp"].append(e.timestamp)
                cols["side"].append(side)
                cols["price"].append(price)
                cols["size"].append(size)
                cols["is_snapshot"].append(e.is_snapshot)
                cols["recv_timestamp"].append(e.recv_timestamp)
                cols["symbol"].append(e.symbol)
                cols["update_id"].append(e.last_update_id)
                cols["first_update_id"].append(e.first_update_id)


def _derivative_columns(events: list[ChannelEvent], cols: dict[str, list[object]]) -> None:
    """Derivative events' values into ``cols``; one not given (NaN) as missing (null)."""
    for e in events:
        for key, val in zip(e._fields, e):
            if key in cols:  # not its venue: the venue column is the writer's
                cols[key].append(None if val != val else val)


class PartitionedWriter:
    """Buffers events per (channel type, venue, market, symbol, day) and writes them as Parquet
    parts in the layout of :mod:`.layout`.

    Parameters
    ----------
    root : str
        The directory (created as needed), or a URI (``s3://bucket/prefix``, ``gs://...``,
        ``file:///...``; see :mod:`.storage`): each part is then one object, written whole.
    compression : str, default "zstd"
        Parquet compression.
    venue : str, optional
        The venue of what is written (the ccxt exchange id, ``"binance"``); ``unknown`` if not
        given. :meth:`write` can name another.
    market : {"spot", "linear", "inverse"} or callable, optional
        The market of what is written, or a function of the symbol giving it (a live feed's
        ``exchange.markets``, asked once per symbol); ``unknown`` if not given.
    """

    def __init__(
        self,
        root: str,
        compression: str = "zstd",
        venue: str | None = None,
        market: str | Callable[[str], str] | None = None,
    ):
        self.root, self.compression = root, compression
        self.venue = venue_name(venue) if venue else UNKNOWN
        self._market = market
        self._markets: dict[str, str] = {}  # per symbol, once known
        self._buffers: dict[tuple[str, str, str, str, str], list[ChannelEvent]] = defaultdict(list)
        self._parts: dict[tuple[str, str, str, str, str], int] = defaultdict(int)
        self.rows_written = 0
        self.files: list[str] = []

    def _market_of(self, symbol: str) -> str:
        have = self._markets.get(symbol)
        if have is not None:
            return have
        market = self._market(symbol) if callable(self._market) else self._market
        market = market_name(market) if market and market != UNKNOWN else UNKNOWN
        if market != UNKNOWN:
            self._markets[symbol] = market
        return market

    def write(
        self,
        channel_type: str,
        symbol: str,
        events: Iterable[ChannelEvent],
        venue: str | None = None,
        market: str | None = None,
    ) -> None:
        """Buffer events (time-ordered) of one channel type and symbol, of the writer's venue
        and market unless ``venue``/``market`` name others."""
        ven = venue_name(venue) if venue else self.venue
        if market:
            mkt = UNKNOWN if market == UNKNOWN else market_name(market)
        else:
            mkt = self._market_of(symbol)
        last_day, buf = None, None
        for e in events:
            day = e.timestamp // _NS_PER_DAY
            if day != last_day:
                name = (dt.datetime(1970, 1, 1) + dt.timedelta(days=day)).strftime("%Y-%m-%d")
                buf, last_day = self._buffers[(channel_type, ven, mkt, symbol, name)], day
            buf.append(e)  # type: ignore[union-attr]

    def flush(self) -> None:
        """Write every buffered partition as a new, complete Parquet part."""
        for key, events in self._buffers.items():
            if not events:
                continue
            channel_type, venue, market, symbol, day = key
            folder = partition_folder(self.root, channel_type, venue, market, symbol, day)
            storage.makedirs(folder)
            path = storage.join(folder, f"part-{self._next_part(key, folder):06d}.parquet")
            table = events_table(events, channel_type, venue, market)
            with storage.open_output(path) as sink:
                pq.write_table(table, sink, compression=self.compression)
            self.rows_written += table.num_rows
            self.files.append(path)
        self._buffers.clear()

    def _next_part(self, key: tuple[str, str, str, str, str], folder: str) -> int:
        if key not in self._parts:  # continue after parts already on disk
            names = storage.listdir(folder, missing_ok=True)
            self._parts[key] = len([f for f in names if f.endswith(".parquet")])
        n = self._parts[key]
        self._parts[key] = n + 1
        return n

    def close(self) -> None:
        """Flush what is left."""
        self.flush()
