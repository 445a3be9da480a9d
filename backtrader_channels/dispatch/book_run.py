"""The fast L2 path of the dispatch loop: a run of book messages kept as columns.

For a source whose channel is a ``ColumnarBookChannel`` and whose chunks are columns
(``sources.book_columns``), :func:`book_columns_run` hands the channel's compiled book a
stretch of messages at a time and does the loop's per-event steps (``loop.py``'s 1-6) only for
the messages where something happens:

* the broker can fill: after a message that changed the best bid or ask (a resting order
  fills when the opposite best reaches its limit), one that set or deleted a level at a resting
  order's price (its queue), and after *every* message while an order of the symbol is not yet
  resting with a known queue (a market order, a limit not yet checked, a stop) or the book is
  stale; the book stops before the time an order becomes active or an in-flight cancel or amend
  arrives;
* the strategies hear it (``hear``: a best-price change, or the first message of each N ms);
* the data feed's price follows the mid (until the symbol's first trade: at each best change);
* the sampling clock ticks (analyzers, ``notify_cashvalue``, the trace).

Between those messages, nothing in Python runs: no event object, no call. The outcome is the
event path's: the same fills at the same times (``tests/dispatch/test_book_run.py`` runs both).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, cast

import numpy as np

from ..btypes import BtOrder
from ..events import OrderBookEvent

if TYPE_CHECKING:
    from ..channels.columnar import ColumnarBookChannel, MessageColumns
    from .loop import TickLoop
    from .queue import EventSource
    from .targets import SourceTarget

_NEVER = (1 << 63) - 1
_NO_WATCH = np.empty(0, np.float64)
_Limit = 2  # bt.Order.Limit


def _orders_watch(pending: list[BtOrder], now: int, queue: bool) -> tuple[list[float], bool, int]:
    """What ``pending`` needs of the book: the prices of resting limits (their levels), whether
    some order must see the very next message (eager), and the time the next one becomes
    active (``_NEVER``: none waits)."""
    prices: list[float] = []
    eager = False
    until = _NEVER
    for order in pending:
        if order.active_ns > now:
            if order.active_ns < until:
                until = order.active_ns
            continue
        if (
            order.exectype != _Limit
            or not order.rested
            or order.valid is not None
            or order.tif != "gtc"
            or (queue and order.queue_ahead is None)
        ):
            eager = True
            break
        prices.append(order.created.price)
    return prices, eager, until


class BookRunner:
    """What :func:`book_columns_run` needs of one target, looked up once per run of the loop
    (a run of a few book messages between trades is common: its setup must cost little)."""

    def __init__(self, loop: TickLoop, t: SourceTarget) -> None:
        ch = cast("ColumnarBookChannel", t.channel)
        broker = loop.broker
        self.t, self.ch, self.book, self.loop = t, ch, ch.book, loop
        cb = t.callback
        hear = ch.hear
        self.hear_best = cb is not None and hear == "best"
        self.every_ms = hear * 1_000_000 if cb is not None and isinstance(hear, int) else 0
        self.each = t.advance is not None or (cb is not None and hear == "all")
        self.mods = getattr(broker, "modifications", None)
        self.has_queue = getattr(broker, "queue_model", None) is not None
        prices = getattr(broker, "prices", None)  # (a TickBroker's: may its books go stale)
        self.top = broker.book_top if prices is not None and prices.can_be_stale else None
        self.sample_clock = loop.needs_sample or loop.tracer is not None
        self.next_hear = 0
        self._watch: dict[tuple[float, ...], np.ndarray] = {}

    def watch(self, pending: list[BtOrder], now: int) -> tuple[np.ndarray, bool, int]:
        """:func:`_orders_watch`, with the watched prices' array kept per set of prices."""
        prices, eager, until = _orders_watch(pending, now, self.has_queue)
        if eager or not prices:
            return _NO_WATCH, eager, until
        key = tuple(prices)
        arr = self._watch.get(key)
        if arr is None:
            if len(self._watch) > 64:
                self._watch.clear()
            arr = self._watch[key] = np.array(prices, np.float64)
        return arr, eager, until


def book_columns_run(  # noqa: C901 - the loop's hot path, kept in one place on purpose
    loop: TickLoop,
    src: EventSource,
    start: int,
    end: int,
    next_sample: int,
    sample: Callable[[int], int],
) -> tuple[int, int, int, bool]:
    """Dispatch messages ``start:end`` of ``src`` (columns); ``sample`` takes the loop's
    sample at a time and returns the next sampling time. Returns the position reached, the
    last event time, the next sampling time and whether the loop must leave (attention)."""
    t = src.target
    assert t is not None
    r = loop.book_runners.get(t)
    if r is None:
        r = loop.book_runners[t] = BookRunner(loop, t)
    cols = cast("MessageColumns", src.events)
    ch, book = r.ch, r.book
    broker = loop.broker
    attention, notifs, new = loop.queue.attention, broker.notifs, broker.new_orders
    pending, cb, advance = t.pending, t.callback, t.advance
    hear_best, every_ms, each, mods, top = r.hear_best, r.every_ms, r.each, r.mods, r.top
    mark = (t.trades or loop._trades_of(t)).latest is None
    close, ci, _, _ = t.lines or t.bind_lines()
    data = t.data
    mts = cols.ts
    sample_clock = r.sample_clock
    next_hear = r.next_hear if every_ms else _NEVER
    broker.clock = ch
    best = (book.best_bid(), book.best_ask())
    i, ts, leave = start, 0, False
    while i < end:
        until = next_sample if sample_clock else _NEVER
        if every_ms and next_hear < until:
            until = next_hear
        m1, watch, stop_best = end, _NO_WATCH, hear_best or mark
        if pending:
            watch, eager, active_at = r.watch(pending, int(mts[i]))
            if eager or (top is not None and top(data).stale):
                m1 = i + 1
            stop_best = True
            if active_at < until:
                until = active_at
        if mods is not None and mods.inflight:
            due = min(q.due_ns for q in mods.inflight)
            if due < until:
                until = due
        if each:
            m1 = i + 1
        applied = book.applied
        single = m1 == i + 1
        j = ch.apply_columns(cols, i, m1, watch, stop_best, until)
        if j == i:  # the next message is at or after ``until``: apply it alone, then the steps
            j = ch.apply_columns(cols, i, i + 1, watch, stop_best, _NEVER)
            single = True
        i = j
        ts = int(mts[j - 1])
        stop = book.last_stop
        if stop == 4 or (single and book.applied == applied):
            if attention:  # a refused message (a gap, stale, unsynced): as in loop.py, no step
                leave = True
                break
            continue
        if stop == 0 and not single:
            continue  # ran through to m1: nothing changed that anything looks at
        now_best = (book.best_bid(), book.best_ask())
        moved = now_best != best
        best = now_best
        # 1. the data feed follows the book (its mid, until the symbol's first trade)
        if mark and moved:
            mid = ch.mid_price
            if mid is not None:
                close[ci] = mid
        if advance is not None:
            advance(cast("OrderBookEvent", ch.latest))
        # 2. the broker, 3. notifications
        if pending:
            broker.on_book(pending, ts)
        if notifs:
            loop.deliver()
        # 4. callbacks: what the strategies hear
        if cb is not None and (each or (hear_best and moved) or (every_ms and ts >= next_hear)):
            ev = cast("OrderBookEvent", ch.latest)
            ch.history.append(ev)
            cb(ev)
            if every_ms:
                next_hear = (ts // every_ms + 1) * every_ms
        # 5. orders placed become active
        if new:
            broker.activate()
        # 6. sampling
        if ts >= next_sample:
            next_sample = sample(ts)
        if attention:
            leave = True
            break
    if every_ms:
        r.next_hear = next_hear
    return i, ts, next_sample, leave
