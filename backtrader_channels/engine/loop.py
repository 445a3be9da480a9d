"""The tick-mode dispatch loop: queue -> channel -> broker -> notifications -> strategy callbacks.

The loop is written for speed: everything it touches per event is a local variable, recorded
events are never wrapped, and nothing is logged or allocated per event beyond the event itself.
For each event, in this order:

1. the channel applies it (a refused book delta stops here, counted by the channel);
2. the broker matches the orders pending on that symbol against the new state;
3. order and trade notifications are delivered (``notify_order``, then ``notify_trade``);
4. the strategies' ``on_tick`` / ``on_quote`` / ``on_orderbook`` and ``on_event`` run;
5. orders placed during steps 3-4 become active for the following events;
6. every ``sample_ns`` of event time, analyzers and ``notify_cashvalue`` see the portfolio,
   and the run's trace (``tracer``: what ``cerebro.plot()`` draws) records it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..channels.base import Channel
from ..events import BT_EPOCH_DAYS, NS_PER_DAY, BrokerUpdate, ns_to_num
from ..gctune import streaming_gc
from .notify import Notifier
from .queue import EventQueue, Run

TICK, QUOTE, BOOK = 0, 1, 2
_DAYS_PER_NS = 1.0 / NS_PER_DAY


class SourceTarget:
    """What the loop needs to know about one recorded source."""

    __slots__ = (
        "advance",
        "callback",
        "channel",
        "data",
        "inline_push",
        "kind",
        "lines",
        "pending",
    )

    def __init__(
        self,
        kind: int,
        channel: Channel,
        data: Any,
        pending: list[Any],
        callback: Callable[[Any], Any] | None,
    ):
        self.kind, self.channel, self.data = kind, channel, data
        self.pending, self.callback = pending, callback
        self.inline_push = type(channel).push is Channel.push
        #: per-event hook: bars built from this channel, bridges (and their indicators) on it
        self.advance: Callable[[Any], None] | None = None
        #: (close array, close idx, datetime array, datetime idx) of ``data``, bound at first use
        self.lines: tuple[Any, int, Any, int] | None = None

    def bind_lines(self) -> tuple[Any, int, Any, int]:
        """The buffers the loop writes per event (the data feed's one rewritten slot)."""
        lines = self.data.lines
        self.lines = (lines.close.array, lines.close.idx, lines.datetime.array, lines.datetime.idx)
        return self.lines


def fanout(callbacks: list[Callable[[Any], Any]]) -> Callable[[Any], Any] | None:
    """One callable for a list of callbacks (the callback itself when there is one)."""
    if not callbacks:
        return None
    if len(callbacks) == 1:
        return callbacks[0]
    cbs = tuple(callbacks)

    def call_all(ev: Any) -> None:
        for cb in cbs:
            cb(ev)

    return call_all


class TickLoop:
    """Runs one tick-mode backtest over a queue for a list of strategies."""

    def __init__(
        self,
        cerebro: Any,
        queue: EventQueue,
        runs: Iterable[Run],
        strats: list[Any],
        broker: Any,
        sample_ns: int,
        keep_orders: bool,
    ):
        self.cerebro, self.queue, self.strats, self.broker = cerebro, queue, strats, broker
        self.runs = runs  # (source, start, end) runs: queue.runs() or a live queue's
        self.sample_ns = max(int(sample_ns), 1)
        self.keep_orders = keep_orders
        #: called with the event time on the sampling clock: the run's trace (set by
        #: ``cerebro.trace.RunTrace.attach``), or None
        self.tracer: Callable[[int], None] | None = None
        self.quicknotify = bool(cerebro.p.quicknotify)
        self.event_callbacks = fanout(
            [s.on_event for s in strats if callable(getattr(s, "on_event", None))]
        )
        self.deliver = Notifier(broker, strats, keep_orders).deliver
        self.bar_driven = {
            s for s in strats if any(getattr(d, "is_bar_channel", False) for d in s.datas)
        }
        self.needs_sample = self._sampling_needed()
        self.samples = 0
        self.first_ts: int | None = None
        self.last_ts: int | None = None
        self._started_analyzers = False

    # ---- helpers called from the hot loop when something happened ----------------------------
    def _sampling_needed(self) -> bool:
        """Sampling costs a few microseconds: skip it when nothing would observe it."""
        import backtrader as bt

        for strat in self.strats:
            if len(strat.analyzers):
                return True
            cls = type(strat)
            if (
                cls.notify_cashvalue is not bt.Strategy.notify_cashvalue
                or cls.notify_fund is not bt.Strategy.notify_fund
            ):
                return True
        return any(not ci.stocklike for ci in self.broker.comminfo.values())

    def sample(self, ts: int) -> int:
        """Mark to market and advance analyzers; return the next sampling time."""
        self.samples += 1
        broker = self.broker
        broker.mark_to_market()
        cash, value = broker.getcash(), broker.getvalue()
        fundvalue, fundshares = broker.fundvalue, broker.fundshares
        self._last_sample = (ts, cash, value)
        dtnum = ns_to_num(ts)
        first = not self._started_analyzers
        self._started_analyzers = True
        for strat in self.strats:
            if strat in self.bar_driven:  # its analyzers advance with its bars
                continue
            strat.lines.datetime[0] = dtnum
            strat.notify_cashvalue(cash, value)
            strat.notify_fund(cash, value, fundvalue, fundshares)
            for analyzer in strat.analyzers:
                analyzer._notify_cashvalue(cash, value)
                analyzer._notify_fund(cash, value, fundvalue, fundshares)
                if first:
                    analyzer._nextstart()
                else:
                    analyzer._next()
            if not self.keep_orders:
                for tradelists in strat._trades.values():
                    for lst in tradelists.values():
                        if len(lst) > 1:
                            del lst[:-1]
        if self.tracer is not None:
            self.tracer(ts)
        return (ts // self.sample_ns + 1) * self.sample_ns

    def trace_only(self, ts: int) -> int:
        """Sampling in a run where only the trace samples (no analyzer, no ``notify_cashvalue``,
        no futures): the trace records, nothing else is touched; the next sampling time."""
        assert self.tracer is not None
        self.tracer(ts)
        return (ts // self.sample_ns + 1) * self.sample_ns

    def _sampled_as_now(self, ts: int) -> bool:
        """Whether the latest sample was taken at ``ts`` with today's cash and value: sampling
        again would give analyzers one more step of the same state (one bar too many)."""
        last = getattr(self, "_last_sample", None)
        if last is None or last[0] != ts:
            return False
        self.broker.mark_to_market()
        return last[1:] == (self.broker.getcash(), self.broker.getvalue())

    def dispatch_update(self, ev: BrokerUpdate) -> None:
        """A live broker's news from its venue: the broker applies it (on this thread), and the
        strategies hear what it changed (``notify_order``, ``notify_trade``)."""
        broker = self.broker
        broker.on_update(ev)
        if broker.notifs:
            self.deliver()
        if broker.new_orders:
            broker.activate()

    def dispatch_pushed(self, ev: Any) -> None:
        """A pushed event (timer, user event): strategies see it in ``on_event``."""
        self.broker.clock = None
        self.broker.now_ns = ev.timestamp
        if self.broker.notifs:
            self.deliver()
        if self.event_callbacks is not None:
            self.event_callbacks(ev)
        if self.broker.new_orders:
            self.broker.activate()

    # ---- the loop ----------------------------------------------------------------------------
    def run(self) -> None:
        """Dispatch every event of the queue; returns when it is exhausted or stopped."""
        with streaming_gc():
            self._run()

    def _run(self) -> None:  # noqa: C901 - one hot loop, kept in one place on purpose
        cerebro, broker, queue = self.cerebro, self.broker, self.queue
        attention = queue.attention
        notifs = broker.notifs
        new = broker.new_orders
        deliver, activate = self.deliver, broker.activate
        sample = self.sample if self.needs_sample or self.tracer is None else self.trace_only
        on_trade, on_book = broker.on_trade, broker.on_book
        k, c = _DAYS_PER_NS, BT_EPOCH_DAYS
        next_sample = -(1 << 62) if self.needs_sample or self.tracer is not None else 1 << 62
        ts = 0
        if new:
            activate()  # orders placed in start()
        for src, start, end in self.runs:
            t = src.target
            events = src.events
            if t is None:
                if start == end:  # a live heartbeat: no event, just a chance to stop
                    if cerebro._event_stop:
                        break
                    continue
                ev = events[start]
                if type(ev) is BrokerUpdate:  # not market time: no sampling
                    self.dispatch_update(ev)
                    if cerebro._event_stop:
                        break
                    continue
                ts = ev.timestamp
                self.dispatch_pushed(ev)
                if ts >= next_sample:
                    next_sample = sample(ts)
                if cerebro._event_stop:
                    break
                continue
            kind, ch, pending, cb, advance = t.kind, t.channel, t.pending, t.callback, t.advance
            # a slice, not islice: islice walks from the chunk's start, which made interleaved
            # sources (runs of a few events deep in a chunk) quadratic
            run = events if start == 0 and end == len(events) else events[start:end]
            broker.clock = ch  # the broker reads "now" from the channel's latest event
            close, ci, dta, di = t.lines or t.bind_lines()
            i = start
            if kind == TICK and t.inline_push:
                hist = ch.history.append
                for ev in run:
                    ts = ev[0]
                    ch.latest = ev
                    hist(ev)
                    close[ci] = ev[1]
                    dta[di] = ts * k + c
                    if advance is not None:
                        advance(ev)
                    if pending:
                        on_trade(pending, ev)
                    if notifs:
                        deliver()
                    if cb is not None:
                        cb(ev)
                    if new:
                        activate()
                    if ts >= next_sample:
                        next_sample = sample(ts)
                    i += 1
                    if attention:
                        break
                ch.count += i - start
            else:
                push = ch.push
                for ev in run:
                    ts = ev[0]
                    i += 1
                    if push(ev) is False:  # a refused book delta: counted by the channel
                        if attention:
                            break
                        continue
                    if advance is not None:
                        advance(ev)
                    if kind == TICK:
                        close[ci] = ev[1]
                        dta[di] = ts * k + c
                        if pending:
                            on_trade(pending, ev)
                    else:
                        if close[ci] != close[ci]:  # no trade yet: mark at the mid
                            mid = ch.mid_price
                            if mid is not None:
                                close[ci] = mid
                        if pending:
                            on_book(pending, ts)
                    if notifs:
                        deliver()
                    if cb is not None:
                        cb(ev)
                    if new:
                        activate()
                    if ts >= next_sample:
                        next_sample = sample(ts)
                    if attention:
                        break
            src.pos = i
            if self.first_ts is None:
                self.first_ts = src.ts[start] if start < len(src.ts) else ts
            if attention and cerebro._event_stop:
                break
        self.last_ts = ts
        if notifs:
            deliver(True)  # the data has ended: what is still on its way arrives now
        if self.first_ts is not None and not self._sampled_as_now(ts):
            self.sample(ts)  # the state at the end, unless the last sample already saw it
