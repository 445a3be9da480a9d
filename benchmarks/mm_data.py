"""Data for the market-making benchmark (issue 38), built once and cached.

* The real Binance USDⓈ-M ETHUSDT capture (``BTCH_MM_CAPTURE``, default
  ``/work/shared/data/binance_usdm_ethusdt_20240808_ws_capture.jsonl.gz``, also looked for as
  ``../shared/data/...`` next to the repository) converted by this package's own reader
  (``binance_ws``: the futures ``pu`` chain, the REST snapshot line, the diff that straddles it
  and arrives before it) into the partitioned native layout: orderbook and trade partitions.
  Without the capture (a fresh clone) the bundled 100 s ETH/USDT perpetual sample stands in
  (``source`` says which).
* The same events as hftbacktest's event array (``hftbacktest.types.event_dtype``), built from
  that Parquet, so both engines see identical events: exchange time ``T`` as both exchange and
  local time (zero feed latency), book rows before trades of the same timestamp (this package's
  merge order), each snapshot preceded by a depth-clear event (a snapshot replaces the book).
  hftbacktest's own ``binancefutures.convert`` is not used: it applies every diff (also the ones
  the snapshot already holds, no ``lastUpdateId`` rule) and clears only down to the snapshot's
  last level.
* The "x set": the capture copied ``BTCH_MM_COPIES`` (default 20) times end to end, timestamps,
  trade ids and update ids shifted so it is one continuous stream (each copy starts with its
  snapshot, which resets both engines' books). Native parts are written one per copy and day;
  hftbacktest gets one ``.npz`` per copy (it reads a list of files one after the other).

Everything is cached under ``BTCH_MM_CACHE`` (default ``/tmp/btch_mm``), keyed by the source
file's name and size.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

SYMBOL = "ETH/USDT:USDT"
CAPTURE_NAME = "binance_usdm_ethusdt_20240808_ws_capture.jsonl.gz"
_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_BUNDLED = os.path.join(_REPO, "backtrader_channels", "data", "binance_ethusdt_perp_20240808")
_NS_PER_DAY = 86_400 * 1_000_000_000
BOOK_COLUMNS = ["timestamp", "side", "price", "size", "is_snapshot", "update_id", "first_update_id"]
TRADE_COLUMNS = ["timestamp", "price", "volume", "side", "trade_id"]


def cache_dir() -> str:
    return os.environ.get("BTCH_MM_CACHE") or os.path.join("/tmp", "btch_mm")


def copies() -> int:
    return int(os.environ.get("BTCH_MM_COPIES", "20"))


def capture_path() -> str | None:
    """The capture to use, or None (then the bundled sample stands in)."""
    given = os.environ.get("BTCH_MM_CAPTURE")
    if given:  # as given, else relative to the repository
        candidates = [given, os.path.join(_REPO, given)]
    else:
        candidates = [
            os.path.join("/work/shared/data", CAPTURE_NAME),
            os.path.join(_REPO, "..", "shared", "data", CAPTURE_NAME),
        ]
    return next((os.path.abspath(p) for p in candidates if p and os.path.exists(p)), None)


@dataclass
class MMSet:
    """One data set, as both engines read it."""

    name: str
    #: what the package's ``add_channel(dataname=...)`` reads (a partitioned dir or a file)
    orderbook: str
    trades: str
    #: hftbacktest's ``.npz`` files, in order
    hbt_files: list[str]
    #: where the events came from (the capture's path, or the bundled sample's)
    source: str
    book_messages: int = 0
    level_updates: int = 0
    trades_count: int = 0
    first_ts: int = 0
    last_ts: int = 0
    info: dict = field(default_factory=dict)

    @property
    def events(self) -> int:
        """Book messages plus trades: the denominator of events/s."""
        return self.book_messages + self.trades_count

    @property
    def minutes(self) -> float:
        return (self.last_ts - self.first_ts) / 60e9

    def tables(self) -> tuple[pa.Table, pa.Table]:
        """The orderbook and trade tables in the native schema (what ``dataname`` holds)."""
        return read_native(self.orderbook, "orderbook"), read_native(self.trades, "tick")


def _files(dataname: str, channel: str) -> list[str]:
    if os.path.isfile(dataname):
        return [dataname]
    return sorted(
        glob.glob(os.path.join(dataname, f"channel={channel}", "**", "*.parquet"), recursive=True)
    )


def read_native(dataname: str, channel: str, columns: list[str] | None = None) -> pa.Table:
    """One channel's rows of a native file or partitioned directory, in file order."""
    tables = [pq.read_table(f, columns=columns) for f in _files(dataname, channel)]
    return pa.concat_tables(tables, promote_options="default")


# ---- hftbacktest's event array ----------------------------------------------------------------
def message_starts(book: pa.Table) -> np.ndarray:
    """Index of the first row of each book message: rows with the same (timestamp,
    is_snapshot, update_id) are one message, as the package groups them."""
    ts = book.column("timestamp").to_numpy()
    snap = book.column("is_snapshot").to_numpy(zero_copy_only=False)
    uid = book.column("update_id").to_numpy(zero_copy_only=False)
    new = np.ones(len(ts), dtype=bool)
    new[1:] = (ts[1:] != ts[:-1]) | (snap[1:] != snap[:-1]) | (uid[1:] != uid[:-1])
    return np.flatnonzero(new)


def hbt_events(book: pa.Table, trades: pa.Table) -> np.ndarray:
    """``book`` and ``trades`` (native schema) as one hftbacktest event array."""
    import hftbacktest as hbt
    from hftbacktest.types import event_dtype

    base = hbt.EXCH_EVENT | hbt.LOCAL_EVENT
    nb, nt = book.num_rows, trades.num_rows
    b_ts = book.column("timestamp").to_numpy()
    snap = book.column("is_snapshot").to_numpy(zero_copy_only=False)
    starts = message_starts(book)
    clears = starts[snap[starts]]  # the first row of each snapshot: a clear goes before it
    nc = len(clears)
    arr = np.zeros(nb + nc + nt, dtype=event_dtype)
    bid = np.asarray(book.column("side").to_numpy(zero_copy_only=False)) == "bid"
    sell = np.asarray(trades.column("side").to_numpy(zero_copy_only=False)) == "sell"
    # book rows, with room for the clears: row i moves down by the clears at or before it
    pos = np.arange(nb) + np.searchsorted(clears, np.arange(nb), side="right")
    arr["ev"][pos] = base | hbt.DEPTH_EVENT | np.where(bid, hbt.BUY_EVENT, hbt.SELL_EVENT)
    arr["exch_ts"][pos] = b_ts
    arr["px"][pos] = book.column("price").to_numpy()
    arr["qty"][pos] = book.column("size").to_numpy()
    cpos = clears + np.arange(nc)  # just before the snapshot's first row
    arr["ev"][cpos] = base | hbt.DEPTH_CLEAR_EVENT  # no side: both sides are cleared
    arr["exch_ts"][cpos] = b_ts[clears]
    t = slice(nb + nc, None)
    arr["ev"][t] = base | hbt.TRADE_EVENT | np.where(sell, hbt.SELL_EVENT, hbt.BUY_EVENT)
    arr["exch_ts"][t] = trades.column("timestamp").to_numpy()
    arr["px"][t] = trades.column("price").to_numpy()
    arr["qty"][t] = trades.column("volume").to_numpy()
    arr["local_ts"] = arr["exch_ts"]
    kind = np.r_[np.zeros(nb + nc, dtype=np.int8), np.ones(nt, dtype=np.int8)]
    order = np.lexsort((np.arange(len(arr)), kind, arr["exch_ts"]))
    return arr[order]


def _save_npz(path: str, arr: np.ndarray) -> str:
    tmp = path + ".tmp.npz"
    np.savez(tmp, data=arr)
    os.replace(tmp, path)
    return path


# ---- the sets ---------------------------------------------------------------------------------
def _key(path: str) -> str:
    return f"{os.path.basename(path).split('.')[0]}_{os.path.getsize(path)}"


def _describe(s: MMSet, book: pa.Table, trades: pa.Table) -> MMSet:
    s.book_messages = len(message_starts(book))
    s.level_updates = book.num_rows
    s.trades_count = trades.num_rows
    ts = np.r_[book.column("timestamp").to_numpy(), trades.column("timestamp").to_numpy()]
    s.first_ts, s.last_ts = int(ts.min()), int(ts.max())
    return s


def capture_set(cache: str | None = None) -> MMSet:
    """The capture (or the bundled sample) as native Parquet and as hftbacktest events."""
    cache = cache or cache_dir()
    src = capture_path()
    if src is None:  # a fresh clone: the bundled sample, native already
        ob = os.path.join(_BUNDLED, "orderbook.parquet")
        tr = os.path.join(_BUNDLED, "trades.parquet")
        root = os.path.join(cache, "bundled_sample")
        source = f"bundled sample {_BUNDLED} (the capture was not found)"
    else:
        root = os.path.join(cache, _key(src))
        ob = tr = os.path.join(root, "native")
        source = src
        if not os.path.exists(os.path.join(root, "native.done")):
            _convert(src, ob)
            open(os.path.join(root, "native.done"), "w").close()
    book = read_native(ob, "orderbook", BOOK_COLUMNS)
    trades = read_native(tr, "tick", TRADE_COLUMNS)
    npz = os.path.join(root, "hbt_events.npz")
    if not os.path.exists(npz):
        os.makedirs(root, exist_ok=True)
        _save_npz(npz, hbt_events(book, trades))
    return _describe(MMSet("capture", ob, tr, [npz], source), book, trades)


def _convert(src: str, dst: str) -> None:
    from backtrader_channels.sources.convert import convert

    shutil.rmtree(dst, ignore_errors=True)
    convert(src, dst, progress=False)
    # the benchmark reads the book and the trades only
    shutil.rmtree(os.path.join(dst, "channel=quote"), ignore_errors=True)


def _shift(table: pa.Table, shifts: dict[str, int]) -> pa.Table:
    for name, by in shifts.items():
        i = table.schema.get_field_index(name)
        col = table.column(i).to_numpy() + by
        table = table.set_column(i, name, pa.array(col, type=pa.int64()))
    return table


def _write_days(table: pa.Table, folder: str, part: int) -> None:
    """``table`` (time-ordered) into ``folder/date=<day>/part-<part>.parquet``, split by day."""
    import datetime as dt

    day = table.column("timestamp").to_numpy() // _NS_PER_DAY
    cuts = np.r_[0, np.flatnonzero(np.diff(day)) + 1, len(day)]
    for a, b in itertools.pairwise(cuts):
        name = (dt.date(1970, 1, 1) + dt.timedelta(days=int(day[a]))).isoformat()
        out = os.path.join(folder, f"date={name}")
        os.makedirs(out, exist_ok=True)
        pq.write_table(
            table.slice(a, b - a), os.path.join(out, f"part-{part:06d}.parquet"), compression="zstd"
        )


def x_set(cache: str | None = None, n: int | None = None) -> MMSet:
    """The capture set copied ``n`` (``BTCH_MM_COPIES``) times end to end, one stream."""
    n = n or copies()
    one = capture_set(cache)
    root = os.path.join(os.path.dirname(one.hbt_files[0]), f"x{n}")
    native = os.path.join(root, "native")
    book = read_native(one.orderbook, "orderbook")
    trades = read_native(one.trades, "tick")
    # a copy starts 1 s after the previous one's last event; ids continue past the last id
    period = one.last_ts - one.first_ts + 1_000_000_000
    uid = book.column("update_id").to_numpy()
    fid = book.column("first_update_id").to_numpy()
    uid_step = int(uid.max() - min(uid.min(), fid.min()) + 1)
    tid = trades.column("trade_id").to_numpy()
    tid_step = int(tid.max() - tid.min() + 1)
    folders = {
        "orderbook": os.path.join(
            native, "channel=orderbook", "venue=binance", "market=linear", "symbol=ETH-USDT-USDT"
        ),
        "tick": os.path.join(
            native, "channel=tick", "venue=binance", "market=linear", "symbol=ETH-USDT-USDT"
        ),
    }
    files = [os.path.join(root, f"hbt_events_{k:03d}.npz") for k in range(n)]
    if not os.path.exists(os.path.join(root, "done")):
        shutil.rmtree(root, ignore_errors=True)
        os.makedirs(root)
        for k in range(n):
            dt_ = k * period
            b = _shift(
                book,
                {
                    "timestamp": dt_,
                    "recv_timestamp": dt_,
                    "update_id": k * uid_step,
                    "first_update_id": k * uid_step,
                },
            )
            t = _shift(trades, {"timestamp": dt_, "recv_timestamp": dt_, "trade_id": k * tid_step})
            _write_days(b, folders["orderbook"], k)
            _write_days(t, folders["tick"], k)
            _save_npz(files[k], hbt_events(b.select(BOOK_COLUMNS), t.select(TRADE_COLUMNS)))
        open(os.path.join(root, "done"), "w").close()
    s = MMSet(f"x{n}", native, native, files, f"{one.source} x {n}")
    s.book_messages, s.level_updates = one.book_messages * n, one.level_updates * n
    s.trades_count = one.trades_count * n
    s.first_ts, s.last_ts = one.first_ts, one.last_ts + (n - 1) * period
    return s
