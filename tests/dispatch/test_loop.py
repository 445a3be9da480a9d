"""TickLoop against a small broker of the test's own: the order of the dispatch steps, what
reaches the broker and the strategies, broker updates, pushed events, the stop predicate and
the sampling clock.

The strategies are real backtrader strategies (made by a real ``btch.Cerebro``, which is then
told to run no loop of its own); the broker is :class:`LogBroker`, a plain class implementing
``engine.protocols.LoopBroker`` that writes what the loop asks of it in a shared log.
"""

from __future__ import annotations

from collections import deque

import backtrader as bt
import pytest

import backtrader_channels as btch
from backtrader_channels.dispatch.loop import BOOK, QUOTE, TICK, SourceTarget, TickLoop
from backtrader_channels.dispatch.protocols import LoopBroker
from backtrader_channels.dispatch.queue import BacktestEventQueue, EventSource
from backtrader_channels.events import BrokerUpdate, Event, EventPriority, QuoteEvent, TickEvent

SYMBOL = "BTC/USDT"


class LogBroker:
    """The broker side of the loop (``LoopBroker``), writing each call in ``log``."""

    def __init__(self, log: list) -> None:
        self.log = log
        self.notifs: deque = deque()
        self.clock = None
        self.now_ns = 0
        self.lean_notifications = False
        self.trade_keeper = None
        self.comminfo = {None: bt.CommissionInfo()}
        self.fundvalue, self.fundshares = 100.0, 1.0
        self.cash = 1_000.0
        self._new: list = []
        #: notifications to send at the next match (what a fill would send)
        self.to_send: list = []

    @property
    def new_orders(self) -> list:
        return self._new

    def activate(self) -> None:
        self.log.append(("activate", len(self._new)))
        self._new.clear()

    def on_trade(self, pending, ev) -> None:
        self.log.append(("match trade", ev.timestamp, self.clock.latest is ev))
        self.notifs.extend(self.to_send)
        self.to_send.clear()

    def on_book(self, pending, ts) -> None:
        self.log.append(("match book", ts, self.clock.latest.timestamp))

    def on_update(self, ev) -> None:
        self.log.append(("update", ev.timestamp))
        self.notifs.extend(self.to_send)
        self.to_send.clear()

    def submit(self, order, check=True):
        return order

    def notify(self, order) -> None:
        self.notifs.append(order)

    def mark_to_market(self) -> None:
        self.log.append(("mark",))

    def getcash(self) -> float:
        return self.cash

    def getvalue(self) -> float:
        return self.cash

    # what a strategy's buy() asks of its broker (not the loop's part)
    def buy(self, owner, data, size, **kwargs):
        order = bt.BuyOrder(owner=owner, data=data, size=size, simulated=True)
        self._new.append(order)
        return order


class StrategiesOnly(btch.Cerebro):
    """A Cerebro that makes and starts the strategies but dispatches nothing: the test runs
    its own loop with them."""

    def _run_tick(self, strats):
        for strat in strats:
            strat.lines.forward()
        self.made = strats


class Logged(bt.Strategy):
    """Writes its callbacks in the test's log (``self.log``, set by the test)."""

    log: list

    def on_tick(self, tick):
        self.log.append(("on_tick", tick.timestamp, self.data.close[0]))

    def on_quote(self, quote):
        self.log.append(("on_quote", quote.timestamp, self.data.close[0]))

    def on_event(self, ev):
        self.log.append(("on_event", ev.timestamp))

    def notify_order(self, order):
        self.log.append(("notify_order", order.ref))


def strategies(*classes, channels=("tick",)):
    """Real strategies of ``classes``, started by a real Cerebro, with their data feed."""
    cerebro = StrategiesOnly(stdstats=False)
    for kind in channels:
        cerebro.add_channel(kind, SYMBOL, dataname=[])
    for cls in classes:
        cerebro.addstrategy(cls)
    cerebro.run(mode=btch.RunMode.TICK)
    return cerebro.made, cerebro.instrument(SYMBOL), cerebro


def ticks(*stamps, price=100.0):
    return [TickEvent(ts, price + i, 1.0, "buy", i, SYMBOL) for i, ts in enumerate(stamps)]


def quotes(*stamps):
    return [QuoteEvent(ts, 99.0 + i, 1.0, 101.0 + i, 1.0, SYMBOL) for i, ts in enumerate(stamps)]


def broker_update(ts):
    """A venue's news at ``ts`` (what it says is the broker's business: the test's ignores it)."""
    return BrokerUpdate(ts, *(None for _ in BrokerUpdate._fields[1:]))


def make_loop(strats, broker, queue, *, sample_ns=10**18, stop=lambda: False):
    assert isinstance(broker, LogBroker)
    loop_broker: LoopBroker = broker  # the class implements the protocol
    return TickLoop(queue, queue.runs(), strats, loop_broker, sample_ns, False, stop)


def add(queue, events, target):
    stamps = [ev.timestamp for ev in events]
    return queue.add_source([(stamps, events)], target.channel.priority, "src", target)


@pytest.fixture
def log():
    return []


def test_each_event_goes_channel_broker_notifications_callbacks_activation(log):
    [strat], data, cerebro = strategies(Logged)
    strat.log = log
    broker = LogBroker(log)
    strat.broker = broker  # its buy() comes to the test's broker
    channel = cerebro.channels[("tick", SYMBOL)]
    pending = [object()]  # an active order: the broker is asked to match
    target = SourceTarget(TICK, channel, data, pending, strat.on_tick)
    queue = BacktestEventQueue()
    add(queue, ticks(1, 2), target)
    order = bt.BuyOrder(owner=strat, data=data, size=1.0, simulated=True)
    broker.to_send.append(order)  # the first match fills it: one notification

    def buy_once(tick):
        strat.on_tick(tick)
        if tick.timestamp == 1:
            strat.buy(size=1.0)

    target.callback = buy_once
    make_loop([strat], broker, queue).run()

    assert log == [
        ("match trade", 1, True),  # the channel applied the tick before the match
        ("notify_order", order.ref),
        ("on_tick", 1, 100.0),  # the data feed's price is the tick's
        ("activate", 1),  # the order placed in on_tick, after the callbacks
        ("match trade", 2, True),
        ("on_tick", 2, 101.0),
        ("mark",),  # the state at the end
    ]
    assert channel.latest.timestamp == 2
    assert channel.count == 2
    assert list(channel.history) == ticks(1, 2)


def test_book_events_are_matched_against_the_book_and_mark_the_price_before_a_trade(log):
    [strat], data, cerebro = strategies(Logged, channels=("quote",))
    strat.log = log
    broker = LogBroker(log)
    channel = cerebro.channels[("quote", SYMBOL)]
    target = SourceTarget(QUOTE, channel, data, [object()], strat.on_quote)
    assert target.kind == BOOK
    queue = BacktestEventQueue()
    add(queue, quotes(5, 6), target)
    make_loop([strat], broker, queue).run()

    assert log == [
        ("match book", 5, 5),
        ("on_quote", 5, 100.0),  # no trade yet: the data feed's price is the mid
        ("match book", 6, 6),
        ("on_quote", 6, 101.0),
        ("mark",),
    ]
    assert channel.count == 2


def test_the_mid_prices_the_data_until_the_first_trade_then_the_trades_do(log):
    [strat], data, cerebro = strategies(Logged, channels=("tick", "quote"))
    strat.log = log
    broker = LogBroker(log)
    book = SourceTarget(BOOK, cerebro.channels[("quote", SYMBOL)], data, [], strat.on_quote)
    trades = SourceTarget(TICK, cerebro.channels[("tick", SYMBOL)], data, [], strat.on_tick)
    queue = BacktestEventQueue()
    add(queue, quotes(1, 2, 4), book)
    add(queue, ticks(3, price=50.0), trades)
    make_loop([strat], broker, queue).run()

    assert [e for e in log if e[0] != "mark"] == [
        ("on_quote", 1, 100.0),  # the mid
        ("on_quote", 2, 101.0),  # the mid, as it moved
        ("on_tick", 3, 50.0),
        ("on_quote", 4, 50.0),  # the last trade's price
    ]


def test_without_trades_the_mid_values_the_position_all_run_long(sample):
    """A run on quotes only: the position is worth its size at the latest mid (it was worth
    it at the first quote's mid all run long)."""

    class BuyOnce(bt.Strategy):
        def start(self):
            self.mid = None

        def on_quote(self, quote):
            if self.mid is None:
                self.buy(size=0.1)
            self.mid = (quote.bid_price + quote.ask_price) * 0.5

    cerebro = btch.Cerebro(stdstats=False)
    cerebro.broker.setcash(100_000.0)
    cerebro.add_channel("quote", SYMBOL, dataname=sample.quotes)
    cerebro.addstrategy(BuyOnce)
    [strat] = cerebro.run(mode=btch.RunMode.TICK)
    position = cerebro.broker.getposition(strat.data)
    assert position.size == pytest.approx(0.1)
    assert strat.data.close[0] == strat.mid
    assert cerebro.last_run["pnl"] == pytest.approx(0.1 * (strat.mid - position.price))
    assert abs(cerebro.last_run["pnl"]) > 1.0  # the mid moved over the sample's minutes


def test_a_channel_overriding_push_is_called_and_its_refusals_reach_nobody(log):
    class EvenOnly(btch.TickChannel):
        def push(self, event):
            log.append(("push", event.timestamp))
            if event.timestamp % 2:
                return False
            return super().push(event)

    [strat], data, _ = strategies(Logged)
    strat.log = log
    channel = EvenOnly(SYMBOL)
    target = SourceTarget(TICK, channel, data, [object()], strat.on_tick)
    assert not target.inline_push
    queue = BacktestEventQueue()
    add(queue, ticks(1, 2, 3), target)
    make_loop([strat], LogBroker(log), queue).run()

    assert log == [
        ("push", 1),
        ("push", 2),
        ("match trade", 2, True),
        ("on_tick", 2, 101.0),
        ("push", 3),
        ("mark",),
    ]
    assert channel.count == 1


def test_a_pushed_event_reaches_on_event_with_the_broker_clock_on_its_time(log):
    class Pushing(Logged):
        def on_tick(self, tick):
            super().on_tick(tick)
            if tick.timestamp == 1:
                queue.push(Event(1, EventPriority.TIMER, "timer", "t"))

    [strat], data, cerebro = strategies(Pushing)
    strat.log = log
    broker = LogBroker(log)
    channel = cerebro.channels[("tick", SYMBOL)]
    target = SourceTarget(TICK, channel, data, [], strat.on_tick)
    queue = BacktestEventQueue()
    add(queue, ticks(1, 2), target)
    loop = make_loop([strat], broker, queue)
    seen = []
    loop.event_callbacks = lambda ev: seen.append((ev.channel_type, broker.clock, broker.now_ns))
    loop.run()

    assert seen == [("timer", None, 1)]  # after the tick it was pushed in, before the next
    assert [e[:2] for e in log if e[0] == "on_tick"] == [("on_tick", 1), ("on_tick", 2)]
    assert queue.sources[0].count == 2


def test_a_broker_update_goes_to_the_broker_and_its_notifications_to_the_strategy(log):
    [strat], data, _ = strategies(Logged)
    strat.log = log
    broker = LogBroker(log)
    order = bt.BuyOrder(owner=strat, data=data, size=1.0, simulated=True)
    broker.to_send.append(order)
    updates = EventSource((), 10, 0, "venue", None)
    updates.ts, updates.events = [7], [broker_update(7)]
    queue = BacktestEventQueue()
    loop = TickLoop(queue, [(updates, 0, 1)], [strat], broker, 1, False, lambda: False)
    loop.run()

    assert log == [("update", 7), ("notify_order", order.ref)]  # no sampling: not market time
    assert loop.first_ts is None


def test_the_stop_predicate_ends_the_run_after_the_event_being_handled(log):
    stop = []

    class Stopping(Logged):
        def on_tick(self, tick):
            super().on_tick(tick)
            if tick.timestamp == 2:
                stop.append(True)
                queue.attention.append(None)  # as cerebro.runstop() does

    [strat], data, cerebro = strategies(Stopping)
    strat.log = log
    channel = cerebro.channels[("tick", SYMBOL)]
    target = SourceTarget(TICK, channel, data, [], strat.on_tick)
    queue = BacktestEventQueue()
    src = add(queue, ticks(1, 2, 3, 4), target)
    loop = make_loop([strat], LogBroker(log), queue, stop=lambda: bool(stop))
    loop.run()
    loop.runs.close()  # (as Cerebro does: the queue counts the run it was stopped in)

    assert [e[1] for e in log if e[0] == "on_tick"] == [1, 2]
    assert channel.count == 2
    assert src.pos == 2  # the first event not handled
    assert src.count == 2


def test_a_live_heartbeat_is_a_chance_to_stop(log):
    [strat], _, _ = strategies(Logged)
    asked = []
    beat = EventSource((), 0, 0, "heartbeat", None)

    def stop() -> bool:
        asked.append(True)
        return len(asked) == 2

    runs = [(beat, 0, 0), (beat, 0, 0), (beat, 0, 0)]
    loop = TickLoop(BacktestEventQueue(), runs, [strat], LogBroker(log), 1, False, stop)
    loop.run()
    assert len(asked) == 2  # the second heartbeat stopped it
    assert log == []  # no event: nothing dispatched, nothing sampled


class Watching(Logged):
    """Observes the portfolio: the loop samples it."""

    def notify_cashvalue(self, cash, value):
        self.log.append(("cashvalue", cash, value))


def test_the_portfolio_is_sampled_every_sample_ns_of_event_time(log):
    [strat], data, cerebro = strategies(Watching)
    strat.log = log
    channel = cerebro.channels[("tick", SYMBOL)]
    target = SourceTarget(TICK, channel, data, [], None)
    queue = BacktestEventQueue()
    us = 1_000  # ns
    add(queue, ticks(0, 3 * us, 10 * us, 11 * us, 25 * us), target)
    loop = make_loop([strat], LogBroker(log), queue, sample_ns=10 * us)
    times: list[int] = []
    loop.tracer = times.append  # (the run's trace is called with each sample's time)
    assert loop.needs_sample
    assert loop._last_sample is None  # nothing sampled yet
    loop.run()

    assert times == [0, 10 * us, 25 * us]  # the first event, then the first of each period
    assert log.count(("cashvalue", 1_000.0, 1_000.0)) == 3  # the end was sampled: not again
    assert loop._last_sample == (25 * us, 1_000.0, 1_000.0)
    assert (loop.first_ts, loop.last_ts) == (0, 25 * us)


def test_nothing_observing_the_portfolio_is_sampled_once_at_the_end(log):
    [strat], data, cerebro = strategies(Logged)
    strat.log = log
    channel = cerebro.channels[("tick", SYMBOL)]
    queue = BacktestEventQueue()
    add(queue, ticks(0, 10, 20, 30), SourceTarget(TICK, channel, data, [], None))
    loop = make_loop([strat], LogBroker(log), queue, sample_ns=10)
    assert not loop.needs_sample
    loop.run()
    assert log == [("mark",)]


def test_the_stop_predicate_is_the_cerebros_runstop(sample):
    class StopAtTen(bt.Strategy):
        def start(self):
            self.n = 0

        def on_tick(self, tick):
            self.n += 1
            if self.n == 10:
                self.env.runstop()

    cerebro = btch.Cerebro(stdstats=False)
    cerebro.add_channel("tick", SYMBOL, dataname=sample.trades)
    cerebro.add_channel("quote", SYMBOL, dataname=sample.quotes)
    cerebro.addstrategy(StopAtTen)
    [strat] = cerebro.run(mode=btch.RunMode.TICK)
    assert strat.n == 10
    by_channel = cerebro.last_run["events_by_channel"]
    # the report counts what was dispatched, the run it stopped in too (it said 1 trade)
    assert by_channel[("tick", SYMBOL)] == 10
    assert cerebro.last_run["events"] == sum(by_channel.values())
    assert cerebro.channels[("quote", SYMBOL)].count == by_channel[("quote", SYMBOL)]
