"""Row checks shared by every reader: symbol selection, required values, value rules, sides and
time order. ``on_error="raise"`` stops at the first bad row with its location; ``"skip"`` drops
bad rows and counts them per file and reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias, overload

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import ChannelError, DataError, check_choice
from ..symbols import same_symbol, symbol_aliases
from .batches import SkipReport
from .schema import NULLABLE, ON_ERROR, REQUIRED, SIDES, VALUE_RULES, OnError, RowBase
from .venues import UNKNOWN, venue_key

#: one book row as the event builder groups them: ``(timestamp, is_snapshot, update_id,
#: recv_timestamp, first_update_id, is_bid, price, size)``
BookRow = tuple[int, int, int | None, int, int | None, bool, float, float]


def _as_int64_ns(arr: pa.Array) -> pa.Array:
    if pa.types.is_timestamp(arr.type):
        return arr.cast(pa.timestamp("ns")).cast(pa.int64())
    return arr


def in_values(arr: pa.Array, values: tuple[str, ...] | list[str]) -> np.ndarray:
    """Which entries of a string array are in ``values`` (a numpy bool mask; nulls are False).

    Dictionary-encoded arrays (how Parquet readers return ``side`` and ``symbol``) are answered
    from their few distinct values, without decoding a string per row."""
    if pa.types.is_dictionary(arr.type):
        wanted = set(values)
        hit = np.array([v in wanted for v in arr.dictionary.to_pylist()], dtype=bool)
        if not hit.any():
            return np.zeros(len(arr), dtype=bool)
        indices = arr.indices
        if indices.null_count:
            idx = indices.fill_null(0).to_numpy()
            return hit[idx] & arr.is_valid().to_numpy(zero_copy_only=False)
        idx = indices.to_numpy()
        if hit.all():
            return np.ones(len(arr), dtype=bool)
        if np.count_nonzero(hit) == 1:  # one value (a side, a symbol): a compare, no gather
            return idx == int(np.flatnonzero(hit)[0])
        return hit[idx]
    if arr.type != pa.string():
        arr = arr.cast(pa.string())
    mask = pc.is_in(arr, value_set=pa.array(list(values), pa.string())).fill_null(False)
    return mask.to_numpy(zero_copy_only=False)


def all_in(arr: pa.Array, values: tuple[str, ...] | list[str]) -> bool:
    """Whether every entry of a string array is in ``values`` (a null is not): for a
    dictionary-encoded array whose distinct values are all wanted (a file of one symbol,
    venue, market: the usual case), answered from the dictionary alone."""
    if arr.null_count:
        return False
    if pa.types.is_dictionary(arr.type):
        wanted = set(values)
        if all(v in wanted for v in arr.dictionary.to_pylist()):
            return True
    return bool(in_values(arr, values).all())


def _and(keep: np.ndarray | None, more: np.ndarray) -> np.ndarray:
    """``keep & more``, where ``keep`` None means every row."""
    return more if keep is None else keep & more


class RowSpan:
    """The row numbers ``base .. base + n - 1`` of an unfiltered batch, read as the array
    would be (``rows[i]``, ``rows[mask]``) without making it: the array is made only when rows
    are dropped (row numbers are read for errors only)."""

    __slots__ = ("base", "n")

    def __init__(self, base: int, n: int) -> None:
        self.base, self.n = base, n

    def __len__(self) -> int:
        return self.n

    @overload
    def __getitem__(self, i: int | np.integer) -> int: ...

    @overload
    def __getitem__(self, i: np.ndarray | slice) -> np.ndarray: ...

    def __getitem__(self, i: int | np.integer | np.ndarray | slice) -> int | np.ndarray:
        if isinstance(i, (int, np.integer)):
            k = int(i)
            if not -self.n <= k < self.n:
                raise IndexError(k)
            return self.base + (k % self.n)
        return np.arange(self.base, self.base + self.n)[i]


#: the original row numbers of a checked batch's rows (an array once rows were dropped)
Rows: TypeAlias = "np.ndarray | RowSpan"


class StreamChecker:
    """Checks the batches of one stream (one file, or the files of one glob in order)."""

    def __init__(
        self,
        label: str,
        channel_type: str,
        symbol: str,
        on_error: OnError = "raise",
        skip: SkipReport | None = None,
        line_offset: int | None = 2,
        venue: str | None = None,
        market: str | None = None,
    ):
        check_choice("on_error", on_error, ON_ERROR)
        self.label, self.channel_type, self.symbol = label, channel_type, symbol
        #: the spellings of the symbol rows use (any that :func:`same_symbol` accepts is added
        #: when met: ``BTC/USDT`` rows for ``BTCUSDT``), and spellings met of other symbols
        self.symbols = list(symbol_aliases(symbol))
        self._others: set[str] = set()
        #: the venue and market asked for (rows naming others are not this channel's), and
        #: the ones the rows named so far (rows of two, with none asked for, are an error)
        self.wanted = {"venue": venue_key(venue) if venue else None, "market": market}
        self.seen: dict[str, str] = {}
        #: book rows of an update not yet complete at the end of a batch
        self.book_carry: list[BookRow] = []
        self.skipping = on_error == "skip"
        self.skip = skip if skip is not None else SkipReport()
        #: CSV: line of data row 0 (2 with a header, 1 without); None for Parquet/tables (rows)
        self.line_offset = line_offset
        self.last_ts: int | None = None

    def error(
        self, reason: str, row: int, column: str | None = None, value: object = None
    ) -> DataError:
        """A DataError at data row ``row`` of the current file."""
        if self.line_offset is not None:
            return DataError(
                self.label, reason, line=row + self.line_offset, column=column, value=value
            )
        return DataError(self.label, reason, row=row, column=column, value=value)

    def _bad(
        self,
        mask: np.ndarray,
        rows: Rows,
        reason: str,
        column: str,
        values: np.ndarray | Sequence[object] | None = None,
    ) -> np.ndarray:
        """Raise at the first bad row, or count them all; return the rows to keep."""
        if not mask.any():
            return np.ones(len(mask), dtype=bool)
        if not self.skipping:
            i = int(np.flatnonzero(mask)[0])
            value: object = None if values is None else values[i]
            if hasattr(value, "item"):
                value = value.item()
            raise self.error(reason, int(rows[i]), column, value)
        self.skip.add(self.label, reason, int(mask.sum()))
        return ~mask

    def check(self, batch: pa.RecordBatch, base: RowBase) -> tuple[pa.RecordBatch, Rows]:
        """This stream's valid rows of ``batch`` and their original row numbers (``base`` is the
        first row's number, or an array of every row's number when rows were reshaped)."""
        rows: Rows = base if isinstance(base, np.ndarray) else RowSpan(base, batch.num_rows)
        names = batch.schema.names
        if "symbol" in names:
            col = batch.column("symbol")
            if not all_in(col, self.symbols):
                keep = self._of_symbol(col)
                if not keep.all():
                    batch, rows = batch.filter(pa.array(keep)), rows[keep]
        if "venue" in names or "market" in names:
            batch, rows = self._of_venue(batch, rows)
        if not batch.num_rows:
            return batch, rows
        valid = self._valid_rows(batch, rows)
        if valid is not None and not valid.all():
            batch, rows = batch.filter(pa.array(valid)), rows[valid]
            if not batch.num_rows:
                return batch, rows
        return self._in_time_order(batch, rows)

    def _of_symbol(self, col: pa.Array) -> np.ndarray:
        """Which rows are of the symbol, in any spelling (new spellings are checked once)."""
        keep = in_values(col, self.symbols)
        if keep.all():
            return keep
        met = pc.unique(col.filter(pa.array(~keep))).to_pylist()
        new = [str(v) for v in met if v is not None and str(v) not in self._others]
        if not new:
            return keep
        for value in new:
            if same_symbol(value, self.symbol):
                self.symbols.append(value)
            else:
                self._others.add(value)
        return in_values(col, self.symbols)

    def _of_venue(self, batch: pa.RecordBatch, rows: Rows) -> tuple[pa.RecordBatch, Rows]:
        """The rows of the venue and market asked for (or ``unknown``); with none asked for,
        a ChannelError when the rows name two."""
        for name in ("venue", "market"):
            if name not in batch.schema.names or not batch.num_rows:
                continue
            col = batch.column(name)
            want = self.wanted[name]
            if want is not None:
                if all_in(col, (want, UNKNOWN)):
                    continue
                keep = in_values(col, (want, UNKNOWN))
                if not keep.all():
                    batch, rows = batch.filter(pa.array(keep)), rows[keep]
                continue
            if isinstance(col.type, pa.DictionaryType) and len(col.dictionary) == 1:
                values = [] if col.null_count == len(col) else [col.dictionary[0].as_py()]
            elif isinstance(col.type, pa.DictionaryType):  # Parquet's: a few distinct strings
                used = pc.unique(col.indices).to_pylist()
                values = [col.dictionary[i].as_py() for i in used if i is not None]
            else:
                values = [v for v in pc.unique(col).to_pylist() if v is not None]
            first = self.seen.setdefault(name, values[0]) if values else None
            others = [v for v in values if v != first]
            if others:
                raise ChannelError(
                    f"{self.label}: its {self.symbol} rows are of the {name}s "
                    f"{sorted({first, *others})}: pass {name}= (--{name}) to choose"
                )
        return batch, rows

    def _valid_rows(self, batch: pa.RecordBatch, rows: Rows) -> np.ndarray | None:
        """Which rows have every required value, values in range and a known side (None:
        all of them; no mask is made while nothing is bad)."""
        keep: np.ndarray | None = None
        nullable = NULLABLE.get(self.channel_type, ())
        for name in REQUIRED[self.channel_type]:
            col = batch.column(name)
            if col.null_count and name not in nullable:
                nulls = col.is_null().to_numpy(zero_copy_only=False)
                if keep is not None:
                    nulls &= keep
                keep = _and(keep, self._bad(nulls, rows, "missing value", name))
        for name, rule in VALUE_RULES[self.channel_type]:
            if name not in batch.schema.names:
                continue  # an optional column left out (derivative rows)
            values = batch.column(name).to_numpy(zero_copy_only=False)
            with np.errstate(invalid="ignore"):
                if rule == "positive_nan":  # a missing value is not bad: it may be missing
                    bad = values <= 0
                else:
                    low = values.min()  # (NaN if any is: then the comparison is False)
                    if low > 0 or (low == 0 and rule == "nonneg"):
                        continue  # every value is good: no mask made
                    # NaN compares False: "not (x > 0)" is bad for a missing value too
                    bad = ~(values >= 0) if rule == "nonneg" else ~(values > 0)
            if keep is not None:
                bad &= keep
            if not bad.any():
                continue
            what = "must be >= 0" if rule == "nonneg" else "must be > 0"
            keep = _and(keep, self._bad(bad, rows, f"{name} {what}", name, values))
        sides = SIDES.get(self.channel_type)
        if sides is not None and not all_in(batch.column("side"), sides):
            side = batch.column("side")
            bad = ~in_values(side, sides)
            if keep is not None:
                bad &= keep
            keep = _and(
                keep,
                self._bad(
                    bad,
                    rows,
                    f"unknown side, expected one of {sides}",
                    "side",
                    side.to_pylist() if bad.any() else None,
                ),
            )
        return keep

    def _in_time_order(self, batch: pa.RecordBatch, rows: Rows) -> tuple[pa.RecordBatch, Rows]:
        """The rows whose timestamp does not go back, with timestamps as int64 ns."""
        ts_arr = _as_int64_ns(batch.column("timestamp"))
        ts = ts_arr.to_numpy(zero_copy_only=False)
        prev = self.last_ts if self.last_ts is not None else ts[0]
        if ts[0] < prev or not (ts[1:] >= ts[:-1]).all():  # (in order: one compare, no scan)
            running = np.maximum.accumulate(np.concatenate(([prev], ts)))[:-1]
            back = ts < running
        else:
            back = None
        if back is not None and back.any():
            keep2 = self._bad(back, rows, "timestamp goes backwards", "timestamp", ts)
            batch, rows, ts = batch.filter(pa.array(keep2)), rows[keep2], ts[keep2]
        if len(ts):
            self.last_ts = int(ts[-1])
        if ts_arr.type != pa.int64():
            batch = batch.set_column(
                batch.schema.get_field_index("timestamp"), "timestamp", pa.array(ts, pa.int64())
            )
        return batch, rows
