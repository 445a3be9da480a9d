"""Driving bridges and the indicators on them in tick mode.

A *group* is a clock bridge, the bridges sampled on its clock (``clock=``) and every indicator
computed from them. Groups leave the strategy's own indicator list (so bar indicators and
``next()`` on bars are not disturbed) and advance when their channel applies an event:

* **precomputed** (backtests, tick and quote bridges): the bridge's values come in blocks from
  the recorded columns of the run's window, backtrader's vectorised ``once`` computes every
  indicator of the group one block at a time (:mod:`.blocks`), and advancing is moving each
  line's index by one;
* **incremental** (book fields, ``clock=`` groups, live data, or ``precompute=False``): advancing
  appends the channel's current value and runs each indicator's ``_next``.

Both give the same values, and both keep a bounded history (``lookback``), so memory stays flat.
After an event that advanced a strategy's group, the strategy's ``next()`` runs once all its
groups have reached their minimum period (``prenext()`` before, ``nextstart()`` the first
time), unless the strategy has bar channels: then ``next()`` follows the bars.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from backtrader.lineiterator import LineIterator

from ..btypes import BtLine, BtStrategy
from ..errors import ChannelError
from . import blocks
from .blocks import PAD, Block, once_range, start_lines, streamable, trim, value_blocks
from .bridge import ChannelBridge
from .kernels import bridge_step, fused_sma, step_for, unbounded
from .signal_kernels import cross_step, rsi_step

if TYPE_CHECKING:
    from ..channels.base import MarketEvent
    from .blocks import BlockValues, LineNode

_IND = LineIterator.IndType


def _inputs(it: LineNode) -> list[LineNode]:
    return list(getattr(it, "datas", None) or getattr(it, "_datas", None) or [])


def _buffers(obj: LineNode, out: dict[int, BtLine], children: bool) -> None:
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
        self.iterators: list[LineNode] = []
        self.minperiod = 1
        self.precomputed = False
        self._visible: tuple[BtLine, ...] = ()
        self._all: tuple[BtLine, ...] = ()  # every line of the group, nested ones too
        self._steps: list[Callable[[], None]] | None = None  # the incremental path's steps
        self._blocks: Iterator[Block] = iter(())
        self._base = PAD  # the array position of the series' first value
        self._left = 0  # values computed ahead and not reached yet (precomputed path)
        self._until_trim = blocks.BLOCK_ROWS  # events until old values go (incremental path)

    def buffers(self, children: bool = False) -> list[BtLine]:
        """The line buffers of the group's bridges and indicators, each once; with
        ``children``, also those of indicators nested inside them."""
        found: dict[int, BtLine] = {}
        for obj in [*self.bridges, *self.iterators]:
            _buffers(obj, found, children)
        return list(found.values())

    @property
    def keep(self) -> int:
        """How many past values each line keeps: the largest ``lookback`` of the group's
        bridges, and at least its minimum period (what its indicators read back)."""
        return max(max(int(b.p.lookback) for b in self.bridges), self.minperiod + 1)

    @property
    def can_precompute(self) -> bool:
        """Whether the values can be read ahead from recorded columns."""
        return (
            len(self.bridges) == 1
            and self.clock.p.precompute
            and self.clock.column_spec() is not None
            and all(streamable(it) for it in self.iterators)
            and unbounded(*self.buffers(children=True))
        )

    def precompute(self, values: BlockValues) -> None:
        """Take the bridge's values ahead: one array, or an iterable of arrays or of
        ``(timestamps, values)`` pairs (blocks, read as the run reaches them). With timestamps,
        each block's first one must be its first event's."""
        self._all = tuple(self.buffers(children=True))
        start_lines(self._all)
        self._visible = tuple(self.buffers())  # what advancing moves: the lines users reach
        self._blocks = value_blocks(values, blocks.BLOCK_ROWS)
        self._base = PAD
        self.precomputed = True
        self._left = 0  # the first block is computed at the first event

    def next_block(self, ev: MarketEvent | None = None) -> int:
        """Drop the values no longer kept, compute the next block of every line; returns its
        length. ``ev`` is the event about to take the block's first value. Raises ChannelError
        when the values run out before the channel's events, or belong to other events."""
        clock = self.clock.value_line
        pos, count = clock._idx, clock.lencount
        stamps, block = next(self._blocks, (None, None))
        if block is None:
            raise self._disagree(f"the recorded column has {count} values and the channel more")
        if stamps is not None and ev is not None and ev[0] != stamps[0]:
            raise self._disagree(f"value {count + 1} is at {stamps[0]}, the event at {ev[0]}")
        dropped = trim(self._all, self.keep)
        self._base -= dropped
        values = clock.array
        start = len(values)
        values.frombytes(block.tobytes())
        end = len(values)
        for it in self.iterators:
            once_range(it, start, end, self._base)
        for buf in self._visible:
            buf._idx = pos - dropped
            buf.lencount = count
        return end - start

    def _disagree(self, what: str) -> ChannelError:
        return ChannelError(
            f"ChannelBridge {self.clock.field!r} on {self.channel.key}: {what} (the two reads "
            "of the recorded source disagree; precompute=False avoids the second)"
        )

    def advance_precomputed(self, ev: MarketEvent | None = None) -> None:
        """One more value: move every line's index (and compute the next block when due)."""
        if not self._left:
            self._left = self.next_block(ev)
        self._left -= 1
        for buf in self._visible:
            buf._idx += 1
            buf.lencount += 1

    def trim(self) -> None:
        """Drop the values no longer kept from every line (the incremental path)."""
        if not self._all:
            self._all = tuple(self.buffers(children=True))
        trim(self._all, self.keep)

    def advance_incremental(self, _ev: MarketEvent | None = None) -> None:
        """One more value: append each bridge's current value, then run the indicators."""
        steps = self._steps
        if steps is None:
            steps = self._steps = self.incremental_steps()
        for step in steps:
            step()
        self._until_trim -= 1
        if not self._until_trim:
            self._until_trim = blocks.BLOCK_ROWS
            self.trim()

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


def build_groups(strat: BtStrategy, bridges: list[ChannelBridge]) -> list[BridgeGroup]:
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


def _incremental_advancer(g: BridgeGroup) -> Callable[[MarketEvent], None]:
    """One callable advancing one group on the incremental path: fused, or its steps
    unrolled for the common small groups; every ``BLOCK_ROWS`` events it drops the values
    the group no longer keeps."""
    every, tidy = blocks.BLOCK_ROWS, g.trim
    if len(g.bridges) == 1 and len(g.iterators) == 1:
        fused = fused_sma(g.iterators[0], g.bridges[0], every, tidy)
        if fused is not None:  # the commonest group: one SMA on one bridge
            return fused
    own = g._steps = g.incremental_steps()
    left = every
    if len(own) == 2:  # the common case, a bridge and one indicator
        push, indicator = own

        def advance_pair(_ev: MarketEvent) -> None:
            nonlocal left
            push()
            indicator()
            left -= 1
            if not left:
                left = every
                tidy()

        return advance_pair
    if len(own) == 3:  # a bridge and two indicators (CrossOver on an average)
        push, first, second = own
        fused = (
            fused_sma(g.iterators[0], g.bridges[0], every, tidy) if len(g.bridges) == 1 else None
        )
        if fused is not None:  # the bridge and its SMA in one call (and the trimming)
            sma_then = fused

            def advance_fused(_ev: MarketEvent) -> None:
                sma_then(_ev)
                second()

            return advance_fused

        def advance_three(_ev: MarketEvent) -> None:
            nonlocal left
            push()
            first()
            second()
            left -= 1
            if not left:
                left = every
                tidy()

        return advance_three
    return g.advance_incremental


def _precomputed_advancer(g: BridgeGroup) -> Callable[[MarketEvent], None]:
    """One callable advancing one precomputed group: move each line's index by one, and
    compute the next block when the event reaches its end."""
    bufs = g._visible
    if len(bufs) != 2:
        return g.advance_precomputed
    a, b = bufs  # the common case, a bridge and one indicator line
    left, next_block = g._left, g.next_block

    def advance_two(ev: MarketEvent) -> None:
        nonlocal left
        if not left:
            left = next_block(ev)
        left -= 1
        a._idx += 1
        a.lencount += 1
        b._idx += 1
        b.lencount += 1

    return advance_two


def advancer(groups: list[BridgeGroup]) -> Callable[[MarketEvent], None] | None:
    """One callable (taking the event) advancing every group of one channel, or None."""
    if not groups:
        return None
    if len(groups) == 1:
        g = groups[0]
        return _precomputed_advancer(g) if g.precomputed else _incremental_advancer(g)
    steps = [g.advance_precomputed if g.precomputed else g.advance_incremental for g in groups]

    def advance_all(ev: MarketEvent) -> None:
        for step in steps:
            step(ev)

    return advance_all


def next_caller(strat: BtStrategy, groups: list[BridgeGroup]) -> Callable[[MarketEvent], None]:
    """The callback that runs ``prenext``/``nextstart``/``next`` after a bridged event."""
    ready = False
    nxt = strat.next

    def call(_ev: MarketEvent) -> None:
        nonlocal ready
        if ready:
            nxt()
        elif all(g.ready() for g in groups):
            ready = True
            strat.nextstart()
        else:
            strat.prenext()

    return call
