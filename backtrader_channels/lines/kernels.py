"""One-event steps for the commonest indicators on a bridge, for the incremental path.

Advancing an indicator through backtrader's ``_next`` costs several microseconds per event
(clock checks, forwarding every line, child indicators, bindings). For an indicator whose input
is a bridge's own line, a *step* does the same work directly: it appends one value to the
indicator's line, computed with the same expression, in the same order, as the indicator's
``next``. The values are therefore identical to backtrader's (``tests/lines/test_kernels.py``
checks them against backtrader's next mode and the precomputed path).

Covered here: ``SMA`` (``Average`` inside) and ``EMA`` (``ExponentialSmoothing`` inside), and
their aliases; RSI and CrossOver are in :mod:`.signal_kernels`. Anything else, or anything not
fed directly by the bridge, keeps backtrader's ``_next``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

import backtrader as bt
from backtrader.indicators.basicops import Average, ExponentialSmoothing
from backtrader.linebuffer import LineBuffer, _LineDelay

from ..btypes import BtIndicator, BtLine

if TYPE_CHECKING:
    from ..channels.base import MarketEvent
    from .blocks import LineNode
    from .bridge import ChannelBridge

_IND = bt.LineIterator.IndType
_NAN = float("nan")


def same_kind(cls: object, base: type[BtIndicator]) -> bool:
    """Whether indicator class ``cls`` computes what ``base`` does: ``base`` itself, one of
    backtrader's aliases of it (``SMA``, ``SimpleMovingAverage``, ``MovingAverageSimple`` are
    three classes), or a subclass changing only its parameters."""
    if not isinstance(cls, type):
        return False
    kind: type[BtIndicator] = cls
    return (
        kind.__init__ is base.__init__
        and kind.next is base.next
        and kind.nextstart is base.nextstart
        and kind.lines._getlines() == base.lines._getlines()
    )


def _children(it: BtIndicator, cls: type[BtIndicator]) -> tuple[BtIndicator, BtLine] | None:
    """``(child, delay)`` of an indicator whose line is ``self.lines[0] = cls(...)``:
    backtrader binds the child's line to the indicator's through a ``_LineDelay`` of 0."""
    children = it._lineiterators[_IND]
    if len(children) != 2:
        return None
    child = children[0]
    delay = children[1]
    if type(child) is not cls or type(delay) is not _LineDelay:
        return None
    bound = getattr(delay, "a", None) is child.lines[0]
    return (child, delay) if delay.ago == 0 and bound else None


def _fed_by(it: BtIndicator, line: BtLine) -> bool:
    data = it.data
    return data is line or (hasattr(data, "lines") and data.lines[0] is line)


def unbounded(*lines: BtLine) -> bool:
    """Whether every line grows by appending (the steps' precondition)."""
    return all(getattr(ln, "mode", None) == LineBuffer.UnBounded for ln in lines)


def bridge_step(bridge: ChannelBridge) -> Callable[[], None]:
    """Append the bridge's current value to its line (``forward(value)``, without the loop)."""
    line, read = bridge.value_line, bridge.read
    if not unbounded(line):
        return lambda: line.forward(read())
    append = line.array.append

    def step() -> None:
        append(read())
        line._idx += 1
        line.lencount += 1

    return step


def step_for(it: LineNode, source: BtLine) -> Callable[[], None] | None:
    """A step advancing ``it`` by the value ``source`` (a bridge's line) just received, or
    None when ``it`` is not an indicator this module covers."""
    found = _covered(it, source)
    if found is None:
        return None
    kind, child, lines = found
    period = int(child.p.period)
    if same_kind(kind, bt.indicators.SMA):
        return _sma_step(source, lines, period)
    return _ema_step(source, lines, period, child.alpha, child.alpha1)


def fused_sma(
    it: LineNode, bridge: ChannelBridge, every: int = 0, tidy: Callable[[], None] | None = None
) -> Callable[[MarketEvent | None], None] | None:
    """One callable doing a whole event for a group of one bridge and one ``SMA`` on it:
    append the bridge's value, then the SMA's (one call per event instead of four), and every
    ``every`` events call ``tidy`` (which drops old values); None when ``it`` is not such an
    SMA. It takes the event, as a group's advancer does."""
    source = bridge.value_line
    found = _covered(it, source)
    if found is None or not same_kind(found[0], bt.indicators.SMA):
        return None
    _, child, lines = found
    period, read, src, out = int(child.p.period), bridge.read, source.array, lines[-1]
    src_append, out_append, fsum = src.append, out.array.append, math.fsum
    window: deque[float] = deque(maxlen=period)  # the same floats, without slicing the array
    win_append = window.append
    left, tidy_up = (every, tidy) if tidy is not None else (-1, _nothing)  # -1: never 0

    def advance(_ev: MarketEvent | None = None) -> None:
        nonlocal left
        value = read()
        src_append(value)
        source._idx += 1
        source.lencount += 1
        win_append(value)
        out_append(fsum(window) / period if len(window) == period else _NAN)
        out._idx += 1
        out.lencount += 1
        left -= 1
        if not left:
            left = every
            tidy_up()

    return advance


def _nothing() -> None:
    pass


def _covered(
    it: LineNode, source: BtLine
) -> tuple[type[BtIndicator], BtIndicator, tuple[BtLine, BtLine, BtLine]] | None:
    """``(kind, child, (child line, delay line, indicator line))`` when a step covers ``it``
    fed by ``source``; else None."""
    kind = type(it)
    if same_kind(kind, bt.indicators.SMA):
        found = _children(it, Average)
    elif same_kind(kind, bt.indicators.EMA):
        found = _children(it, ExponentialSmoothing)
    else:
        return None
    if found is None:
        return None
    child, delay = found
    if not _fed_by(child, source) or not _fed_by(it, source):
        return None
    lines = (child.lines[0], delay.lines[0], it.lines[0])
    if it.lines.size() != 1 or not unbounded(source, *lines):  # (len() is the values')
        return None
    return kind, child, lines


def appender(out: BtLine) -> Callable[[float], None]:
    """Append one value to the line ``out`` (what ``forward`` and a store do, minus the loop).
    Steps write the indicator's own line only: the lines nested inside it (a child's, a
    binding delay's) stay where they are, as on the precomputed path; nothing outside the
    indicator reads them."""
    append = out.array.append

    def push(value: float) -> None:
        append(value)
        out._idx += 1
        out.lencount += 1

    return push


def _sma_step(source: BtLine, lines: tuple[BtLine, ...], period: int) -> Callable[[], None]:
    src, out = source.array, lines[-1]
    append, fsum = out.array.append, math.fsum  # (the push inlined: one call less per event)
    window: deque[float] = deque(maxlen=period)  # fsum over floats: no array slice to box
    win_append = window.append

    def step() -> None:
        win_append(src[-1])
        # Average.next: math.fsum(data.get(size=period)) / period
        append(fsum(window) / period if len(window) == period else _NAN)
        out._idx += 1
        out.lencount += 1

    return step


def _ema_step(
    source: BtLine, lines: tuple[BtLine, ...], period: int, alpha: float, alpha1: float
) -> Callable[[], None]:
    src, out = source.array, lines[-1]
    dst, fsum = out.array, math.fsum
    append = dst.append

    def step() -> None:
        n = source.lencount  # values so far (the arrays may have dropped old ones)
        if n > period:  # ExponentialSmoothing.next
            append(dst[-1] * alpha1 + src[-1] * alpha)
        elif n == period:  # nextstart: the Average of the first period values
            append(fsum(src[-period:]) / period)
        else:
            append(_NAN)
        out._idx += 1
        out.lencount += 1

    return step
