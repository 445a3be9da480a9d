"""One-event steps for RSI and CrossOver on the incremental path (see :mod:`.kernels`).

Through backtrader's ``_next`` an ``RSI`` advances a tree of ten line objects per event (up and
down days, two moving averages, the delays and the arithmetic between them) and a ``CrossOver``
eleven; that costs 25-50x a hand-written equivalent. A step here keeps the same state in a few
floats and appends one value to the indicator's own line, computed with the same expressions,
in the same order, as backtrader's ``next`` methods (``UpDay``/``DownDay``, ``Average`` and
``ExponentialSmoothing``, ``DivZeroByZero``, ``NonZeroDifference``, ``CrossUp``/``CrossDown``):
the values are identical, which ``tests/lines/test_signal_kernels.py`` checks against
backtrader's next mode and the precomputed path. The lines nested inside the indicator are not
advanced: nothing outside the indicator can reach them.

Covered: ``RSI`` (and ``RSI_Safe``, ``RSI_SMA``, ``RSI_EMA``) fed directly by a bridge, and
``CrossOver`` of two lines the group has already advanced for the event (a bridge, or an
indicator created before it). Anything else keeps backtrader's ``_next``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

import backtrader as bt
from backtrader.linebuffer import LineBuffer

from ..btypes import BtLine
from .kernels import appender, same_kind, unbounded

if TYPE_CHECKING:
    from .blocks import LineNode

_NAN = float("nan")


def _line(obj: LineNode) -> BtLine:
    """The line buffer behind ``obj`` (a line, or a line series' first line; None for an
    object without lines, which no step covers)."""
    return obj if isinstance(obj, LineBuffer) else getattr(obj, "lines", [None])[0]


def _smoothing(movav: object, period: int) -> float | None:
    """The ``alpha`` of the moving average ``movav`` builds, 0.0 for a simple average, None
    for one this module does not know."""
    if same_kind(movav, bt.indicators.SmoothedMovingAverage):
        return 1.0 / period  # SmoothedMovingAverage: ExponentialSmoothing(alpha=1.0 / period)
    if same_kind(movav, bt.indicators.ExponentialMovingAverage):
        return 2.0 / (1.0 + period)
    if same_kind(movav, bt.indicators.SimpleMovingAverage):
        return 0.0
    return None


def rsi_step(it: LineNode, source: BtLine) -> Callable[[], None] | None:
    """A step for an ``RSI`` fed by ``source`` (a bridge's line), or None."""
    if not same_kind(type(it), bt.indicators.RSI) or _line(it.data) is not source:
        return None
    p = it.p
    period, lookback = int(p.period), int(p.lookback)
    alpha = _smoothing(p.movav, period)
    out = it.lines[0]
    if alpha is None or it.lines.size() != 1 or lookback < 1 or not unbounded(source, out):
        return None
    safe = bool(p.safediv)
    highrs, lowrs = (it._rscalc(p.safehigh), it._rscalc(p.safelow)) if safe else (0.0, 0.0)
    alpha1 = 1.0 - alpha
    src, push, fsum = source.array, appender(out), math.fsum
    append = out.array.append
    ups: deque[float] = deque(maxlen=period)
    downs: deque[float] = deque(maxlen=period)
    k, mu, md = 0, 0.0, 0.0  # up/down values seen, their two averages

    def step() -> None:
        nonlocal k, mu, md
        n = len(src)
        if n <= lookback:
            push(_NAN)
            return
        x, before = src[-1], src[n - 1 - lookback]
        up = max(x - before, 0.0)  # UpDay: Max(data - data(-lookback), 0.0)
        down = max(before - x, 0.0)  # DownDay: Max(data(-lookback) - data, 0.0)
        k += 1
        if alpha and k > period:  # ExponentialSmoothing.next
            mu = mu * alpha1 + up * alpha
            md = md * alpha1 + down * alpha
        else:
            ups.append(up)
            downs.append(down)
            if k < period:
                push(_NAN)
                return
            mu = fsum(ups) / period  # Average.next (also the smoothing's seed)
            md = fsum(downs) / period
        if not safe:
            rs = mu / md  # (a zero division raises, as backtrader's does)
        elif md == 0.0:  # DivZeroByZero
            rs = lowrs if mu == 0.0 else highrs
        else:
            rs = mu / md
        append(100.0 - 100.0 / (1.0 + rs))
        out._idx += 1
        out.lencount += 1

    return step


def cross_step(it: LineNode, advanced: set[int]) -> Callable[[], None] | None:
    """A step for a ``CrossOver`` whose two inputs are among ``advanced`` (ids of the line
    buffers already advanced for the event), or None."""
    if not same_kind(type(it), bt.indicators.CrossOver) or len(it.datas) != 2:
        return None
    a, b, out = _line(it.datas[0]), _line(it.datas[1]), it.lines[0]
    if id(a) not in advanced or id(b) not in advanced or not unbounded(a, b, out):
        return None
    first = int(it._minperiod) - 1  # the NonZeroDifference's first value (its nextstart)
    arr_a, arr_b, push = a.array, b.array, appender(out)
    append = out.array.append
    n, last = 0, _NAN  # events seen, the last non-zero difference

    def step() -> None:
        nonlocal n, last
        n += 1
        if n <= first:
            if n == first:  # NonZeroDifference.nextstart
                last = arr_a[-1] - arr_b[-1]
            push(_NAN)
            return
        x, y = arr_a[-1], arr_b[-1]
        prev = last
        d = x - y
        if d:  # NonZeroDifference.next: the difference, or the last non-zero one
            last = d
        # CrossUp - CrossDown: And(nzd(-1) < 0.0, data0 > data1) - And(nzd(-1) > 0.0, ...),
        # each 1.0 or 0.0, so 1.0, -1.0 or 0.0 (1.0 - 0.0, 0.0 - 1.0, 0.0 - 0.0)
        if prev < 0.0 and x > y:
            append(1.0)
        elif prev > 0.0 and x < y:
            append(-1.0)
        else:
            append(0.0)
        out._idx += 1
        out.lencount += 1

    return step
