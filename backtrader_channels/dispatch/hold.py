"""Before the strategies start: events keep the channels current, reach no strategy.

A live run with a real broker starts its strategies only once every venue is ready (its start
reconciliation done, its private stream subscribed). Market data arriving meanwhile is applied
to its channel (a book holds the venue's state when the strategy first looks) and to the
symbol's data feed's last price, and counted as held back; the broker's news is applied by the
broker. Nothing is dispatched to a strategy, a bridge or a bar.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from ..errors import BacktraderChannelsError
from ..events import BT_EPOCH_DAYS, NS_PER_DAY, BrokerUpdate, EngineCall
from .protocols import LoopBroker
from .queue import Run
from .targets import TICK, SourceTarget

_DAYS_PER_NS = 1.0 / NS_PER_DAY


class NotReady(BacktraderChannelsError, RuntimeError):
    """A live run's broker was not ready to trade within its ``ready_timeout``: the strategies
    were not started. The message says what was missing."""


class Held:
    """What :func:`hold_until_ready` held back: events per channel key, and how long."""

    def __init__(self) -> None:
        self.events = 0
        self.by_channel: dict[tuple[str, ...], int] = {}
        self.seconds = 0.0


def hold_until_ready(
    runs: Iterator[Run],
    broker: LoopBroker,
    ready: Callable[[], str | None],
    timeout: float,
    stopped: Callable[[], bool],
) -> Held:
    """Apply ``runs`` to channels and the broker until ``ready()`` returns None (ready).

    ``ready()`` says what is still missing; ``stopped()`` is a stop request (the kill switch,
    ``runstop``). Raises :class:`NotReady` with what was missing after ``timeout`` seconds, or
    when the run was stopped first. The runs iterator is left open: the dispatch loop goes on
    from the next event."""
    held = Held()
    t0 = time.monotonic()
    deadline = t0 + timeout
    missing = ready()
    while missing is not None:
        if stopped():
            raise NotReady(f"the run was stopped before the broker was ready ({missing})")
        if time.monotonic() >= deadline:
            raise NotReady(f"not ready to trade after {timeout:g} s: {missing}")
        run = next(runs, None)
        if run is None:
            raise NotReady(f"the live data ended before the broker was ready ({missing})")
        _apply(run, broker, held)
        missing = ready()
    held.seconds = time.monotonic() - t0
    return held


def _apply(run: Run, broker: LoopBroker, held: Held) -> None:
    src, start, end = run
    t: SourceTarget | None = src.target
    events = src.events
    if t is None:
        for ev in events[start:end]:
            if type(ev) is BrokerUpdate:
                if type(ev.news) is EngineCall:  # a control (the dashboard's)
                    ev.news.fn()
                else:
                    broker.on_update(ev)
        src.pos = end
        return
    ch = t.channel
    close, ci, dta, di = t.lines or t.bind_lines()
    n = 0
    for ev in events[start:end]:
        if ch.push(ev) is False:
            continue
        n += 1
        if t.kind == TICK:
            close[ci] = ev[1]
            dta[di] = ev[0] * _DAYS_PER_NS + BT_EPOCH_DAYS
        elif close[ci] != close[ci]:  # no trade yet: the mid stands for the price
            mid = ch.mid_price
            if mid is not None:
                close[ci] = mid
    src.pos = end
    held.events += n
    held.by_channel[ch.key] = held.by_channel.get(ch.key, 0) + n
