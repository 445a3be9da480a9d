"""A bridge group's lines computed block by block, with a bounded history.

Precomputed bridges get their values in blocks (the recorded columns of the run's window, read
as the run goes). Each block is appended to the bridge's line, and every indicator of the group
computes its values over the block's range with backtrader's vectorised ``once`` methods (the
ones its ``_once`` calls over a whole series: ``preonce``, ``oncestart``, ``once``), children
first. These methods loop over a range and read their inputs (and their own previous value) a
bounded distance back, so computing a series in blocks gives the values computing it whole
gives, bit for bit.

Before each block, every line of the group drops the values older than the group's history
(``lookback``, at least the group's minimum period), keeping :data:`PAD` NaN values in front:
memory stays flat whatever the length of the run, and reading back past the first value, or
past what is kept, gives NaN (for :data:`PAD` values further back) rather than a value from
the other end of the array. The incremental path drops old values the same way (:func:`trim`).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Iterator
from typing import TypeAlias

import backtrader as bt
import numpy as np
from backtrader.indicators.basicops import Average
from backtrader.linebuffer import LineActions
from backtrader.lineiterator import LineIterator

from ..btypes import BtLine
from .exact_mean import average_once

_IND = LineIterator.IndType
#: NaN values in front of every line: reads up to this far back before the first kept value
#: give NaN instead of wrapping around to the end of the array
PAD = 4096
#: values per block: a group's lines hold at most PAD + history + one block
BLOCK_ROWS = 65_536
_NAN_PAD = array("d", [math.nan]) * PAD


Block = tuple["np.ndarray | None", np.ndarray]  #: (timestamps or None, values)
#: a bridge's values ahead: one array, or blocks of arrays or of ``(timestamps, values)``
BlockValues: TypeAlias = "np.ndarray | Iterable[np.ndarray | tuple[np.ndarray, np.ndarray]]"
#: a node of an indicator's tree (what ``_lineiterators`` holds and what it reads): an
#: indicator, a line operation (``a - b``, ``data(-1)``), a bridge or a data feed
LineNode: TypeAlias = bt.LineRoot


def value_blocks(values: BlockValues, rows: int) -> Iterator[Block]:
    """``values`` as ``(timestamps, values)`` blocks of at most ``rows`` float64 values, empty
    ones left out. ``values`` is one array, or an iterable of arrays or of ``(timestamps,
    values)`` pairs; timestamps are None when not given."""
    parts: Iterable[np.ndarray | tuple[np.ndarray, np.ndarray]] = (
        [values] if isinstance(values, np.ndarray) else values
    )
    for part in parts:
        ts, vals = part if isinstance(part, tuple) else (None, part)
        vals = np.asarray(vals, dtype=np.float64)
        if ts is not None and len(ts) != len(vals):
            raise ValueError(f"{len(ts)} timestamps for {len(vals)} values")
        for start in range(0, len(vals), rows):
            stop = start + rows
            yield (None if ts is None else ts[start:stop]), vals[start:stop]


def streamable(it: LineNode) -> bool:
    """Whether ``it`` (and everything inside it) computes with backtrader's standard ``_once``,
    range by range (an indicator with its own ``_once`` or TA-Lib's whole-array ``once`` does
    not)."""
    kind = type(it)
    if kind._once is LineActions._once:
        return kind.__module__ != "backtrader.talib"
    if kind._once is not LineIterator._once or kind.__module__ == "backtrader.talib":
        return False
    return all(streamable(child) for child in it._lineiterators[_IND])


def _fill(obj: LineNode, end: int) -> None:
    """Lengthen each line of ``obj`` to ``end`` positions (NaN), in one C-level extend."""
    for line in obj.lines:
        missing = end - len(line.array)
        if missing > 0:
            line.array.extend(array("d", [math.nan]) * missing)


def _seek(obj: LineNode, pos: int, count: int) -> None:
    """Put each line of ``obj`` at array position ``pos``, ``count`` values long."""
    for line in obj.lines:
        line.idx = pos
        line.lencount = count


def once_range(it: LineNode, start: int, end: int, base: int) -> None:
    """Compute ``it`` (an indicator or line operation) at array positions ``start <= i < end``,
    as its ``_once`` would over the whole series; ``base`` is the array position of the series'
    first value, and ``it``'s inputs hold their values up to ``end``."""
    _fill(it, end)
    count = start - base  # values before ``start``
    if type(it)._once is LineIterator._once:
        children = it._lineiterators[_IND]
        for child in children:
            once_range(child, start, end, base)
        for obj in (*it.datas, *children):
            _seek(obj, start - 1, count)
    _seek(it, start - 1, count)
    first = base + it._minperiod - 1  # the position of the first full value
    if start < first:
        it.preonce(start, min(end, first))
    lo = max(start, first)
    if lo < end and (type(it) is not Average or not average_once(it, lo, end)):
        if lo == first:
            it.oncestart(first, first + 1)
            lo += 1
        if lo < end:
            it.once(lo, end)
    for line in it.lines:
        line.oncebinding()


def trim(buffers: Iterable[BtLine], keep: int) -> int:
    """Drop the values of each line older than its last ``keep``, leaving :data:`PAD` NaN in
    front of the rest; each line's index moves with its values. Returns the positions dropped
    from the longest line (0 when none was long enough to be worth it)."""
    dropped = 0
    for buf in buffers:
        arr = buf.array
        cut = len(arr) - keep  # everything before the kept values, pad included
        if cut > PAD:
            arr[:cut] = _NAN_PAD
            buf._idx -= cut - PAD
            dropped = max(dropped, cut - PAD)
    return dropped


def start_lines(buffers: Iterable[BtLine]) -> None:
    """Empty each line but for the :data:`PAD` NaN in front, before its first value."""
    for buf in buffers:
        buf.reset()
        buf.array = array("d", _NAN_PAD)
        buf._idx = PAD - 1
