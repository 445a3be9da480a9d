"""Driving bridges and the indicators on them in tick mode.

A *group* is a clock bridge, the bridges sampled on its clock (``clock=``) and every indicator
computed from them. Groups leave the strategy's own indicator list (so bar indicators and
``next()`` on bars are not disturbed) and advance when their channel applies an event:

* **precomputed** (backtests, tick and quote bridges): the bridge's values are read ahead from the
  recorded columns, backtrader's vectorised ``_once`` computes every indicator of the group, and
  advancing is moving each line's index by one;
* **incremental** (book fields, ``clock=`` groups, live data, or ``precompute=False``): advancing
  appends the channel's current value and runs each indicator's ``_next``.

Both give the same values. After an event that advanced a strategy's group, the strategy's
``next()`` runs once all its groups have reached their minimum period (``prenext()`` before,
``nextstart()`` the first time), unless the strategy has bar channels: then ``next()`` follows
the bars.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable
from typing import Any

import numpy as np
from backtrader.indicators.basicops import Average
from backtrader.linebuffer import LineActions
from backtrader.lineiterator import LineIterator

from ..errors import ChannelError
from .bridge import ChannelBridge
from .exact_mean import average_once
from .kernels import bridge_step, fused_sma, step_for
from .signal_kernels import cross_step, rsi_step

_IND = LineIterator.IndType
#: NaN values in front of a precomputed line: reads up to this far back before the first value
#: give NaN, as on the incremental path, instead of wrapping to the end of the series
LOOKBACK_PAD = 4096


def _inputs(it: Any) -> list[Any]:
    return list(getattr(it, "datas", None) or getattr(it, "_datas", None) or [])


def _grow(obj: Any, size: int) -> None:
    """``obj.forward(size=size)`` in one C-level extend per line instead of ``size`` appends."""
    if size <= 0:
        return
    block = array("d", [math.nan]) * size
    for line in obj.lines:
        line.array.extend(block)
        line._idx += size
        line.lencount += size


def fast_once(it: Any) -> None:
    """``_once`` of a LineIterator or LineActions, growing lines in bulk (backtrader's own
    ``forward(size=n)`` appends one value at a time, a third of the time on a million values).
    ``Average`` (inside ``SMA``) gets the same values from :mod:`.exact_mean`, faster. Classes
    with their own ``_once`` keep it."""
    if type(it)._once is LineActions._once:
        _grow(it, it._clock.buflen())
        it.home()
    elif type(it)._once is LineIterator._once:
        _grow(it, it._clock.buflen())
        for child in it._lineiterators[_IND]:
            fast_once(child)
        for data in it.datas:
            data.home()
        for child in it._lineiterators[_IND]:
            child.home()
        it.home()
    else:
        it._once()
        return
    it.preonce(0, it._minperiod - 1)
    if type(it) is not Average or not average_once(it, it._minperiod - 1, it.buflen()):
        it.oncestart(it._minperiod - 1, it._minperiod)
        it.once(it._minperiod, it.buflen())
    for line in it.lines:
        line.oncebinding()


def _buffers(obj: Any, out: dict[int, Any], children: bool) -> None:
    """The LineBuffers of ``obj`` (and of its child indicators if ``children``), by id."""
    for line in obj.lines:
        out.setdefault(id(line), line)
    if children:
        for child in getattr(obj, "_lineiterators", {}).get(_IND, []):
            _buffers(child, out, True)


class BridgeGroup:
    """A clock bridge, bridges sampled on it and the indicators computed from them."""

    def __init__(self, clock: ChannelBridge):
        self.clock = clock
        self.channel = clock.channel
        self.bridges: list[ChannelBridge] = [clock]
        self.iterators: list[Any] = []
        self.minperiod = 1
        self.precomputed = False
        self._visible: tuple[Any, ...] = ()
        self._steps: list[Callable[[], None]] | None = None  # the incremental path's steps

    def buffers(self, children: bool = False) -> list[Any]:
        """The line buffers of the group's bridges and indicators, each once; with
        ``children``, also those of indicators nested inside them."""
        found: dict[int, Any] = {}
        for obj in [*self.bridges, *self.iterators]:
            _buffers(obj, found, children)
        return list(found.values())

    @property
    def can_precompute(self) -> bool:
        """Whether the values can be read ahead from recorded columns."""
        return (
            len(self.bridges) == 1
            and self.clock.p.precompute
            and self.clock.column_spec() is not None
        )

    def precompute(self, values: np.ndarray) -> None:
        """Fill the bridge with ``values`` and compute every indicator ahead."""
        line = self.clock.value_line
        line.reset()
        line.array = array("d", np.asarray(values, dtype=np.float64).tobytes())
        for it in self.iterators:
            fast_once(it)
        for buf in self.buffers(children=True):
            buf.home()
        # advancing moves the lines users can reach (bridges, the group's indicators); lines
        # nested inside an indicator are its own business and stay at home
        self._visible = tuple(self.buffers())
        # reading back past the first value ([-1] on the first event) must not wrap around to
        # the end of the series (a future value): NaN in front of every line users can reach
        pad = array("d", [math.nan]) * LOOKBACK_PAD
        for buf in self._visible:
            buf.array[:0] = pad
            buf._idx += LOOKBACK_PAD
        self.precomputed = True

    def advance_precomputed(self, _ev: Any = None) -> None:
        """One more value: move every line's index."""
        for buf in self._visible:
            buf._idx += 1
            buf.lencount += 1

    def advance_incremental(self, _ev: Any = None) -> None:
        """One more value: append each bridge's current value, then run the indicators."""
        steps = self._steps
        if steps is None:
            steps = self._steps = self.incremental_steps()
        for step in steps:
            step()

    def incremental_steps(self) -> list[Callable[[], None]]:
        """The steps of one event: append each bridge's current value, then each indicator's
        step: a direct one (:mod:`.kernels`, :mod:`.signal_kernels`) when the kernels cover it
        and its inputs are lines already advanced for the event, else backtrader's ``_next``."""
        steps: list[Callable[[], None]] = [bridge_step(b) for b in self.bridges]
        advanced = {id(b.value_line) for b in self.bridges}
        for it in self.iterators:
            step = None
            for bridge in self.bridges:
                line = bridge.value_line
                step = step_for(it, line) or rsi_step(it, line)
                if step is not None:
                    break
            if step is None:
                step = cross_step(it, advanced)
            steps.append(step if step is not None else it._next)
            advanced.update(id(line) for line in it.lines)
        return steps

    def ready(self) -> bool:
        """Whether the group has reached its minimum period."""
        return len(self.clock.value_line) >= self.minperiod


def build_groups(strat: Any, bridges: list[ChannelBridge]) -> list[BridgeGroup]:
    """Group ``bridges`` (those ``strat`` created) and the indicators on them; take those
    indicators out of the strategy's own list. Raises ChannelError for an indicator mixing
    clocks."""
    if not bridges:
        return []
    groups: dict[int, BridgeGroup] = {}
    owner: dict[int, BridgeGroup] = {}  # id of a bridge/indicator or of one of its lines
    for bridge in bridges:
        clock = bridge.clock_bridge
        group = groups.get(id(clock))
        if group is None:
            group = groups[id(clock)] = BridgeGroup(clock)
        if bridge is not clock:
            group.bridges.append(bridge)
        for obj in (bridge, *bridge.lines):
            owner[id(obj)] = group
    for it in list(strat._lineiterators[_IND]):
        roots = set()
        for d in _inputs(it):
            g = owner.get(id(d))
            if g is None:
                g = next((owner[id(x)] for x in getattr(d, "lines", []) if id(x) in owner), None)
            roots.add(id(g) if g is not None else None)
        if roots == {None} or not roots:
            continue  # an indicator on bars or other datas
        if None in roots or len(roots) > 1:
            raise ChannelError(
                f"{type(it).__name__} mixes bridges of different channels (or a bridge and a "
                "data feed); sample one on the other's clock: ChannelBridge(..., clock=other)"
            )
        group = next(g for g in groups.values() if id(g) in roots)
        group.iterators.append(it)
        group.minperiod = max(group.minperiod, int(getattr(it, "_minperiod", 1)))
        for obj in (it, *it.lines):
            owner[id(obj)] = group
        strat._lineiterators[_IND].remove(it)
    return list(groups.values())


def _incremental_advancer(g: BridgeGroup) -> Callable[[Any], None]:
    """One callable advancing one group on the incremental path: fused, or its steps
    unrolled for the common small groups."""
    if len(g.bridges) == 1 and len(g.iterators) == 1:
        fused = fused_sma(g.iterators[0], g.bridges[0])
        if fused is not None:  # the commonest group: one SMA on one bridge
            return fused
    own = g._steps = g.incremental_steps()
    if len(own) == 2:  # the common case, a bridge and one indicator
        push, indicator = own

        def advance_pair(_ev: Any) -> None:
            push()
            indicator()

        return advance_pair
    if len(own) == 3:  # a bridge and two indicators (CrossOver on an average)
        push, first, second = own
        fused = fused_sma(g.iterators[0], g.bridges[0]) if len(g.bridges) == 1 else None
        if fused is not None:  # the bridge and its SMA in one call, then the other
            sma_then = fused

            def advance_fused(_ev: Any) -> None:
                sma_then(_ev)
                second()

            return advance_fused

        def advance_three(_ev: Any) -> None:
            push()
            first()
            second()

        return advance_three
    return g.advance_incremental


def advancer(groups: list[BridgeGroup]) -> Callable[[Any], None] | None:
    """One callable (taking the event) advancing every group of one channel, or None."""
    if not groups:
        return None
    if len(groups) == 1:
        g = groups[0]
        if not g.precomputed:
            return _incremental_advancer(g)
        bufs = g._visible
        if len(bufs) == 2:  # the common case, a bridge and one indicator line
            a, b = bufs

            def advance_two(_ev: Any) -> None:
                a._idx += 1
                a.lencount += 1
                b._idx += 1
                b.lencount += 1

            return advance_two
        return g.advance_precomputed
    steps = [g.advance_precomputed if g.precomputed else g.advance_incremental for g in groups]

    def advance_all(ev: Any) -> None:
        for step in steps:
            step(ev)

    return advance_all


def next_caller(strat: Any, groups: list[BridgeGroup]) -> Callable[[Any], None]:
    """The callback that runs ``prenext``/``nextstart``/``next`` after a bridged event."""
    ready = False
    nxt = strat.next

    def call(_ev: Any) -> None:
        nonlocal ready
        if ready:
            nxt()
        elif all(g.ready() for g in groups):
            ready = True
            strat.nextstart()
        else:
            strat.prenext()

    return call
