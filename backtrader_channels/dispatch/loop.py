"""The tick-mode dispatch loop: queue -> channel -> broker -> notifications -> strategy callbacks.

The loop is written for speed: everything it touches per event is a local variable, recorded
events are never wrapped, and nothing is logged or allocated per event beyond the event itself.
Trades and book updates go through one copy of the steps; a trade whose channel has no ``push``
of its own (``Channel.plain_push``) is applied inline, without the call. For each event, in
this order:

1. the channel applies it (a refused book delta stops here, counted by the channel) and the
   symbol's data feed follows: a trade's price and time, else the book's mid until the
   symbol's first trade; bars and bridges on the channel advance;
2. the broker matches the orders pending on that symbol against the new state;
3. order and trade notifications are delivered (``notify_order``, then ``notify_trade``);
4. the strategies' ``on_tick`` / ``on_quote`` / ``on_orderbook`` and ``on_event`` run;
5. orders placed during steps 3-4 become active for the following events;
6. every ``sample_ns`` of event time, analyzers and ``notify_cashvalue`` see the portfolio,
   and the run's trace (``tracer``: what ``cerebro.plot()`` draws) records it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from ..btypes import BtStrategy
from ..channels.base import Channel
from ..events import BT_EPOCH_DAYS, NS_PER_DAY, BrokerUpdate, EngineCall, ns_to_num
from ..gctune import streaming_gc
from .book_run import BookRunner, book_columns_run
from .notify import Notifier
from .protocols import LoopBroker
from .queue import EventQueue, Run, Timed
from .targets import BOOK, NO_TRADES, QUOTE, TICK, EventHook, SourceTarget

_DAYS_PER_NS = 1.0 / NS_PER_DAY
#: an empty band of trade prices (no trade is inside it): every trade goes to the broker
_NO_BAND = (float("inf"), float("-inf"), float("inf"), float("-inf"), 0)

E = TypeVar("E")
#: the run's broker: a ``TickBroker`` (``CCXTBroker``), or a test's own :class:`LoopBroker`
BrokerT = TypeVar("BrokerT", bound=LoopBroker)

__all__ = ["BOOK", "QUOTE", "TICK", "SourceTarget", "TickLoop", "fanout"]


def fanout(callbacks: list[Callable[[E], object]]) -> Callable[[E], object] | None:
    """One callable for a list of callbacks (the callback itself when there is one)."""
    if not callbacks:
        return None
    if len(callbacks) == 1:
        return callbacks[0]
    cbs = tuple(callbacks)

    def call_all(ev: E) -> None:
        for cb in cbs:
            cb(ev)

    return call_all


class TickLoop(Generic[BrokerT]):
    """Runs one tick-mode backtest or live run over a queue for a list of strategies.

    Parameters
    ----------
    queue : EventQueue
        The queue whose ``attention`` list asks the loop to leave a run (a push, a stop).
    runs : iterable of (source, start, end)
        What to dispatch: ``queue.runs()``, or a live run's runs.
    strats : list of strategies
        The running strategies (the first one gets the orders that name no owner).
    broker : LoopBroker
        The broker (``TickBroker``): it matches, fills and queues notifications.
    sample_ns : int
        The sampling period in event time (ns): analyzers, ``notify_cashvalue``, the trace.
    keep_orders : bool
        Keep order notifications in ``strategy._orders`` and every trade in ``_trades``.
    should_stop : callable
        A stop request (``cerebro.runstop()``): asked after pushed events and broker updates,
        at live heartbeats, and when the queue asks for attention; True ends the run there.
    """

    def __init__(
        self,
        queue: EventQueue,
        runs: Iterable[Run],
        strats: list[BtStrategy],
        broker: BrokerT,
        sample_ns: int,
        keep_orders: bool,
        should_stop: Callable[[], bool],
    ):
        self.queue, self.strats, self.broker = queue, strats, broker
        self.runs = runs  # (source, start, end) runs: queue.runs() or a live queue's
        self.sample_ns = max(int(sample_ns), 1)
        self.keep_orders = keep_orders
        self.should_stop = should_stop
        #: called with the event time on the sampling clock: the run's trace (set by
        #: ``cerebro.trace.RunTrace.attach``), or None
        self.tracer: Callable[[int], None] | None = None
        self.event_callbacks = fanout(
            [s.on_event for s in strats if callable(getattr(s, "on_event", None))]
        )
        self.deliver = Notifier(broker, strats, keep_orders).deliver
        self.bar_driven = {
            s for s in strats if any(getattr(d, "is_bar_channel", False) for d in s.datas)
        }
        self.needs_sample = self._sampling_needed()
        #: the time of the first and the last event dispatched (None before the first)
        self.first_ts: int | None = None
        self.last_ts: int | None = None
        #: (time, cash, value) of the latest sample, None before the first
        self._last_sample: tuple[int, float, float] | None = None
        self._started_analyzers = False
        #: what the fast L2 path keeps per columnar book target (``book_run.BookRunner``)
        self.book_runners: dict[SourceTarget, BookRunner] = {}

    # ---- helpers called from the hot loop when something happened ----------------------------
    def _sampling_needed(self) -> bool:
        """Sampling costs a few microseconds: skip it when nothing would observe it."""
        for strat in self.strats:
            if len(strat.analyzers):
                return True
            cls = type(strat)
            if (
                cls.notify_cashvalue is not BtStrategy.notify_cashvalue
                or cls.notify_fund is not BtStrategy.notify_fund
            ):
                return True
        return any(not ci.stocklike for ci in self.broker.comminfo.values())

    def sample(self, ts: int) -> int:
        """Mark to market and advance analyzers; return the next sampling time."""
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
        last = self._last_sample
        if last is None or last[0] != ts:
            return False
        self.broker.mark_to_market()
        return last[1:] == (self.broker.getcash(), self.broker.getvalue())

    def _trades_of(self, t: SourceTarget) -> Channel:
        """The channel whose trades price ``t``'s data feed: the tick channel of the same
        feed, else :data:`NO_TRADES`; kept in ``t.trades``."""
        for src in self.queue.sources:
            other = src.target
            if other is not None and other.kind == TICK and other.data is t.data:
                t.trades = other.channel
                return other.channel
        t.trades = NO_TRADES
        return NO_TRADES

    def dispatch_update(self, ev: BrokerUpdate) -> None:
        """A live broker's news from its venue: the broker applies it (on this thread), and the
        strategies hear what it changed (``notify_order``, ``notify_trade``)."""
        broker = self.broker
        news = ev.news
        if type(news) is EngineCall:  # a control from outside the engine (the dashboard)
            news.fn()
        else:
            broker.on_update(ev)
        if broker.notifs:
            self.deliver()
        if broker.new_orders:
            broker.activate()

    def dispatch_pushed(self, ev: Timed) -> None:
        """A pushed event (timer, user event: anything with a ``timestamp``): strategies see it
        in ``on_event``."""
        broker = self.broker
        broker.clock = None
        broker.now_ns = ev.timestamp
        if broker.notifs:
            self.deliver()
        if self.event_callbacks is not None:
            self.event_callbacks(ev)
        if broker.new_orders:
            broker.activate()

    # ---- the loop ----------------------------------------------------------------------------
    def run(self) -> None:
        """Dispatch every event of the queue; returns when it is exhausted or stopped."""
        with streaming_gc():
            self._run()

    def _run(self) -> None:  # noqa: C901 - one hot loop, kept in one place on purpose
        broker, queue, should_stop = self.broker, self.queue, self.should_stop
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
                    if should_stop():
                        break
                    continue
                ev = events[start]
                if type(ev) is BrokerUpdate:  # not market time: no sampling
                    self.dispatch_update(ev)
                    if should_stop():
                        break
                    continue
                ts = ev.timestamp
                self.dispatch_pushed(ev)
                if ts >= next_sample:
                    next_sample = sample(ts)
                if should_stop():
                    break
                continue
            if t.columnar and type(events) is not list:  # the fast L2 path (book_run.py)
                i, ts, next_sample, leave = book_columns_run(
                    self, src, start, end, next_sample, sample
                )
                src.pos = i
                if self.first_ts is None:
                    self.first_ts = src.ts[start]
                if leave and should_stop():
                    break
                continue
            ch, pending, cb, advance = t.channel, t.pending, t.callback, t.advance
            tick, inline = t.kind == TICK, t.inline_push
            # a book prices the data feed with its mid until the symbol's first trade
            mark = not tick and (t.trades or self._trades_of(t)).latest is None
            # inline: Channel.push's work is done here, ``apply`` is the history's append;
            # else ``apply`` is the channel's push
            apply: EventHook = ch.history.append if inline else ch.push
            # a slice, not islice: islice walks from the chunk's start, which made interleaved
            # sources (runs of a few events deep in a chunk) quadratic
            run = events if start == 0 and end == len(events) else events[start:end]
            broker.clock = ch  # the broker reads "now" from the channel's latest event
            close, ci, dta, di = t.lines or t.bind_lines()
            # trades that reach no pending order (the broker's promise, kept until something
            # else happens: a notification, a callback, an activation): by a buyer strictly
            # inside (blo, bhi), by a seller inside (slo, shi), before ``until``
            blo, bhi, slo, shi, until = _NO_BAND
            i = start
            for ev in run:
                ts = ev[0]
                i += 1
                # 1. the channel applies it, the data feed's price follows
                if inline:  # a trade, as Channel.push applies it (the count: after the run)
                    ch.latest = ev
                    apply(ev)
                    close[ci] = ev[1]
                    dta[di] = ts * k + c
                elif apply(ev) is False:  # a refused book delta: counted by the channel
                    if attention:
                        break
                    continue
                elif tick:
                    close[ci] = ev[1]
                    dta[di] = ts * k + c
                elif mark:
                    mid = ch.mid_price
                    if mid is not None:
                        close[ci] = mid
                if advance is not None:  # bars, bridges and their indicators
                    advance(ev)
                    blo, bhi, slo, shi, until = _NO_BAND
                # 2. the broker matches the symbol's active orders
                if pending:
                    if not tick:
                        on_book(pending, ts)
                    elif ts >= until or not (
                        (blo < ev[1] < bhi)
                        if ev[3] == "buy"
                        else (slo < ev[1] < shi)
                        if ev[3] == "sell"
                        else (blo < ev[1] < bhi and slo < ev[1] < shi)
                    ):
                        blo, bhi, slo, shi, until = on_trade(pending, ev) or _NO_BAND
                # 3. notifications, 4. callbacks, 5. orders placed in them become active
                if notifs:
                    deliver()
                    blo, bhi, slo, shi, until = _NO_BAND
                if cb is not None:
                    cb(ev)
                    blo, bhi, slo, shi, until = _NO_BAND
                if new:
                    activate()
                    blo, bhi, slo, shi, until = _NO_BAND
                # 6. sampling
                if ts >= next_sample:
                    next_sample = sample(ts)
                    blo, bhi, slo, shi, until = _NO_BAND
                if attention:
                    break
            if inline:
                ch.count += i - start
            src.pos = i
            if self.first_ts is None:
                self.first_ts = src.ts[start] if start < len(src.ts) else ts
            if attention and should_stop():
                break
        self.last_ts = ts
        if notifs:
            deliver(True)  # the data has ended: what is still on its way arrives now
        if self.first_ts is not None and not self._sampled_as_now(ts):
            self.sample(ts)  # the state at the end, unless the last sample already saw it
