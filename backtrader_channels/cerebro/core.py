"""The tick-mode Cerebro: ``bt.Cerebro`` plus channels and ``run(mode=RunMode.TICK)``.

Only ``_runonce``/``_runnext`` (the bar loops) are replaced, and only in tick mode, so the whole
backtrader lifecycle (strategies, analyzers, sizers, broker start/stop, optimisation) is
inherited. Without ``mode=RunMode.TICK`` this class behaves exactly like ``bt.Cerebro``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, MutableMapping
from enum import Enum
from functools import partial
from typing import TYPE_CHECKING, TypeVar

import backtrader as bt

from ..broker.tickbroker import TickBroker
from ..btypes import BtStrategy, JsonDict, Kwargs
from ..channels import CHANNEL_CLASSES, ChannelMap
from ..channels.base import Channel, ChannelKey
from ..dispatch.hold import NotReady
from ..dispatch.loop import BOOK, QUOTE, TICK, SourceTarget, TickLoop, fanout
from ..dispatch.queue import BacktestEventQueue, EventQueue, Run, Timed
from ..dispatch.targets import EventHook, Targets
from ..errors import ChannelError, check_choice
from ..events import ChannelType, channel_key, instrument_name
from ..lines.bars import BarChannel, BarStep, bar_timeframe, parse_every
from ..lines.bridge import BridgeRegistry
from ..lines.groups import BridgeGroup, advancer, build_groups, next_caller
from ..lines.instrument import InstrumentData
from ..live.feed import LiveFeed
from ..parallel import ENGINES
from ..sources import DEFAULT_CHUNK_ROWS, SkipReport
from ..sources.schema import FORMATS, ON_ERROR, Format, OnError
from ..sources.venues import MARKETS, Market
from ..symbols import same_symbol
from .live_start import LiveStart
from .perpetuals import perpetual_steps
from .plotting import Figures, plot_cerebro
from .recorded import ChannelSpec, column_values, open_recorded, recorded_runs, source_name, to_ns
from .report import ReportValue, build_run_report
from .strategies import give_channels, has_bars, overrides_next, params_of, warn_frozen_indicators
from .sweeps import RunResults, StratEntry, StratResult, optimise
from .trace import RunTrace
from .watch import watched

if TYPE_CHECKING:
    from ..channels.base import MarketEvent
    from ..dashboard import Dashboard
    from .recorded import DataName, When

LiveFeedT = TypeVar("LiveFeedT", bound=LiveFeed)

_KIND = {ChannelType.TICK: TICK, ChannelType.QUOTE: QUOTE, ChannelType.ORDERBOOK: BOOK}
_CALLBACK = {
    ChannelType.TICK: "on_tick",
    ChannelType.QUOTE: "on_quote",
    ChannelType.ORDERBOOK: "on_orderbook",
}


class RunMode(str, Enum):
    """How ``Cerebro.run`` drives strategies."""

    BAR = "bar"  #: stock backtrader: ``next()`` per bar
    TICK = "tick"  #: event by event: ``on_tick``/``on_quote``/``on_orderbook``/``on_event``


class Cerebro(bt.Cerebro):
    """``bt.Cerebro`` with channels and a tick mode.

    Without ``run(mode=RunMode.TICK)`` it is ``bt.Cerebro``: bars, ``adddata``, ``runonce``,
    analyzers and optimisation behave as in stock backtrader.

    Parameters
    ----------
    sample_ns : int, default 1_000_000_000
        How often, in event time (ns), analyzers advance and strategies get
        ``notify_cashvalue``/``notify_fund`` in tick mode.
    keep_orders : bool, default False
        Keep every order notification in ``strategy._orders`` and every closed trade in
        ``strategy._trades`` (memory grows with the number of orders).
    live_queue_size : int, default 1_000_000
        The bound of the :class:`~backtrader_channels.live.queue.LiveEventQueue` of live runs.
    live_threads : bool, default False
        Run each live feed in a thread of its own rather than on the engine's thread
        (:mod:`backtrader_channels.live.driver`).
    progress : bool or None, default None
        A progress bar for backtests (over events; over runs for ``optstrategy``) on stderr;
        None shows it when stderr is a terminal.
    optengine : {"local", "ray"}, default "local"
        Where tick-mode ``optstrategy`` runs its parameter sets: ``maxcpus`` local worker
        processes (one: in this process), or Ray (``docs/sweeps.md``).
    optaddress : str or None, default None
        The Ray cluster's address; None: the one ``ray.init`` connected to, else a local one.
    optretries : int, default 1
        How many more times a failed parameter set is run before it is reported.
    **kwargs
        Every ``bt.Cerebro`` parameter (``stdstats``, ``quicknotify``, ``maxcpus``, ...).
    """

    params = (
        ("sample_ns", 1_000_000_000),
        ("keep_orders", False),
        ("live_queue_size", 1_000_000),
        ("live_threads", False),
        ("progress", None),  # tqdm bar on stderr: None = when stderr is a terminal
        ("optengine", "local"),
        ("optaddress", None),
        ("optretries", 1),
    )

    def __init__(self, **kwargs: Kwargs) -> None:
        super().__init__(**kwargs)
        check_choice("optengine", self.p.optengine, ENGINES, ChannelError)
        self._broker = TickBroker()
        self._sweep_task = False  # True in the private copy a sweep task runs
        #: channels by key ``(channel_type, symbol)``
        self.channels = ChannelMap()
        self._specs: list[ChannelSpec] = []
        self._instruments: dict[str, InstrumentData] = {}
        self._bars: list[BarChannel] = []
        self._live_feeds: list[LiveFeed] = []
        self._live_limits: tuple[float | None, int | None] = (None, None)
        self._tickmode = False
        self._ticked = False
        #: the stats of the latest tick-mode run (events, orders, fills, skipped rows, ...)
        self.last_run: MutableMapping[str, ReportValue] = {}
        #: every run's stats with the parameters it ran with, in run order: one entry per
        #: parameter set of ``optstrategy``, one for a plain run
        self.run_stats: list[JsonDict] = []
        #: bridges created by the strategies of the current run (``ChannelBridge`` adds itself)
        self.bridges = BridgeRegistry()
        self._groups: dict[int, list[BridgeGroup]] = {}  # bridge groups by id(strategy)
        self.trace: RunTrace | None = None  # the latest tick run's record, for plot()
        self._live_start: LiveStart | None = None  # a live run's feeds, started before start()

    # ---- setup -------------------------------------------------------------------------------
    def add_channel(
        self,
        channel_cls: type[Channel] | str,
        symbol: str,
        dataname: DataName = None,
        format: Format | None = None,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
        on_error: OnError = "raise",
        start: When | None = None,
        end: When | None = None,
        venue: str | None = None,
        market: Market | None = None,
        **kwargs: Kwargs,
    ) -> Channel:
        """Add a channel of ``channel_cls`` for ``symbol`` fed from ``dataname``.

        Parameters
        ----------
        channel_cls : type of Channel or {"tick", "quote", "orderbook"}
            The channel class (``btch.TickChannel``, ...) or its type name.
        symbol : str
            The symbol, e.g. ``"BTC/USDT"`` (``"BTCUSDT"`` rows match it too).
        dataname : path, list of paths, DataFrame, arrow Table or iterable of events
            A file, a list of files, a directory (the partitioned ``convert`` layout too) or a
            glob; a DataFrame or Table in the native schema; or any iterable of events.
        format : {"native", "tardis", "binance", "binance_ws", "bybit"} or None
            The reader; None detects it from each file's name and header.
        chunk_rows : int
            Rows read per chunk (memory stays flat whatever the file size).
        on_error : {"raise", "skip"}
            A bad row stops the run with a ``DataError`` naming file, line, column and value;
            ``"skip"`` drops it and counts it in ``cerebro.last_run["skipped"]``.
        start, end : int (ns), datetime or ISO string, optional
            Keep events with ``start <= timestamp < end`` (naive times are UTC).
        venue : str, optional
            The venue (``"bybit"``): the channel is then ``(type, symbol, venue)`` and its
            orders and position belong to the data feed ``"SYMBOL@venue"``, so the same symbol
            on two venues is two channels (``docs/venues.md``). In a partitioned directory
            holding the symbol on several venues, it also chooses the venue read.
        market : {"spot", "linear", "inverse"}, optional
            The market read, in a partitioned directory (or native file) holding the symbol in
            several markets of a venue (``docs/data.md``); not needed when there is one.
        **kwargs
            Passed to the channel (e.g. ``history_size``, ``require_snapshot``).

        Returns
        -------
        Channel
            The new channel, also in ``cerebro.channels[(type, symbol)]``.
        """
        if self._live_feeds:
            raise ChannelError(
                "add_channel after add_live_feed: a run is either recorded (add_channel) or "
                "live (add_live_feed); record the live data (record_to=) to backtest it"
            )
        if isinstance(channel_cls, str):
            if channel_cls not in CHANNEL_CLASSES:
                raise ChannelError(
                    f"unknown channel type {channel_cls!r}; known: {sorted(CHANNEL_CLASSES)}"
                )
            channel_cls = CHANNEL_CLASSES[channel_cls]
        if not (isinstance(channel_cls, type) and issubclass(channel_cls, Channel)):
            raise ChannelError(f"{channel_cls!r} is not a Channel class")
        channel = channel_cls(symbol, **kwargs)
        channel.set_venue(venue)
        if dict.__contains__(self.channels, channel.key):
            raise ChannelError(f"channel {channel.key} was added twice")
        if dataname is None:
            raise ChannelError(
                f"channel {channel.key} needs a dataname (file, DataFrame or iterable of events)"
            )
        if format is not None:
            check_choice("format", format, FORMATS, ChannelError)
        check_choice("on_error", on_error, ON_ERROR, ChannelError)
        if market is not None:
            check_choice("market", market, MARKETS, ChannelError)
        self.channels[channel.key] = channel
        spec = ChannelSpec(channel, dataname, format, chunk_rows, on_error, market)
        spec.window = (to_ns(start), to_ns(end))
        self._specs.append(spec)
        self._instrument_for(channel.instrument_name)
        return channel

    def add_bars(
        self,
        symbol: str,
        every: str | int | None = None,
        ticks: int | None = None,
        volume: float | None = None,
        value: float | None = None,
        name: str | None = None,
        venue: str | None = None,
    ) -> BarChannel:
        """Bars of ``symbol`` built from its tick channel, as a data feed in ``self.datas``.

        Give exactly one of ``every``, ``ticks``, ``volume`` or ``value``. See
        ``docs/bridge.md`` for what ``next()`` sees.

        Parameters
        ----------
        symbol : str
            A symbol with a tick channel.
        every : str or int, optional
            Time bars: ``"1s"``, ``"5min"``, ``"1h"``, or ns.
        ticks : int, optional
            A bar every this many trades.
        volume : float, optional
            A bar every this much base volume.
        value : float, optional
            A bar every this much notional (price x volume).
        name : str, optional
            The feed's name; default ``"SYMBOL@1s"`` (``"SYMBOL@venue@1s"`` on a venue).
        venue : str, optional
            The venue of the tick channel the bars come from, when channels name venues.

        Returns
        -------
        BarChannel
            The bar feed (a ``bt.feed.DataBase``), also in ``cerebro.datas``.
        """
        every_ns = parse_every(every) if every is not None else None
        label = (
            f"{every}"
            if every is not None
            else f"{ticks}ticks"
            if ticks
            else f"{volume}vol"
            if volume
            else f"{value}value"
        )
        timeframe, compression = bar_timeframe(every_ns)
        label = f"{instrument_name(symbol, venue)}@{label}"
        bars = BarChannel(
            timeframe=timeframe,
            compression=compression,
            every_ns=every_ns,
            ticks=ticks,
            volume=volume,
            value=value,
            symbol=symbol,
            venue=venue or "",
            name=name or label,
        )
        self.adddata(bars, name=name or label)
        self._bars.append(bars)
        return bars

    def _instrument_for(self, symbol: str) -> InstrumentData:
        """The symbol's data feed, created (and added to ``self.datas``) on first use."""
        data = self._instruments.get(symbol)
        if data is None:
            data = self._instruments[symbol] = InstrumentData(name=symbol)
            self.adddata(data, name=symbol)
        return data

    def instrument(self, symbol: str, venue: str | None = None) -> InstrumentData:
        """The data feed standing for ``symbol`` on ``venue`` (what ``self.buy(data=...)``
        takes), by any spelling of the symbol; ``"BTC/USDT@bybit"`` names the venue too."""
        name = instrument_name(symbol, venue)
        if name not in self._instruments:
            sym, _, ven = name.partition("@")
            for have, data in self._instruments.items():
                s, _, v = have.partition("@")
                if v == ven and same_symbol(s, sym):
                    return data
        return self._instruments[name]

    # ---- running -----------------------------------------------------------------------------
    def run(
        self,
        mode: RunMode | str = RunMode.BAR,
        duration: float | None = None,
        max_events: int | None = None,
        dashboard: Dashboard | str | int | None = None,
        **kwargs: Kwargs,
    ) -> RunResults:
        """Run like ``bt.Cerebro.run``; ``mode=RunMode.TICK`` dispatches channel events.

        Live runs last until ``runstop()``, Ctrl-C, ``duration`` seconds or ``max_events``;
        ``dashboard`` (a port, ``"HOST:PORT"`` or a ``Dashboard``) serves a live run's page.
        """
        mode = RunMode(mode)
        self._live_limits = (duration, max_events)
        self.run_stats = []
        if mode is RunMode.BAR:
            if self._specs or self._live_feeds:
                raise ChannelError("channels need run(mode=RunMode.TICK)")
            return super().run(**kwargs)
        if not self._specs and not self._live_feeds:
            raise ChannelError("tick mode needs at least one channel (cerebro.add_channel)")
        if not isinstance(self._broker, TickBroker):
            raise ChannelError("tick mode needs a TickBroker (cerebro.setbroker(TickBroker()))")
        if self._live_feeds and self._dooptimize:
            kwargs["maxcpus"] = 1  # one live connection: parameter sets run one after another
        self._tickmode = True
        self._ticked = True  # what plot() draws: the bar channels of a tick-mode run
        self._broker.tick_mode = True
        try:
            if self._dooptimize and not self._live_feeds and not self._sweep_task:
                for key, value in kwargs.items():  # as bt.Cerebro.run applies them
                    if key in self.p._getkeys():
                        setattr(self.params, key, value)
                results = self.runstrats = optimise(self)
            else:
                results = watched(self, dashboard, partial(super().run, **kwargs))
        finally:
            self._tickmode = False
            self._broker.tick_mode = False
        if self._dooptimize:  # worker processes kept their stats: they came back with results
            self.run_stats = [
                rs[0].run_stats for rs in results if rs and getattr(rs[0], "run_stats", None)
            ]
            self.last_run = dict(self.run_stats[-1]) if self.run_stats else {}
            self.last_run.pop("params", None)
        return results

    def plot(
        self, plotter: object = None, numfigs: int = 1, iplot: bool = True, **kwargs: Kwargs
    ) -> Figures:
        """``bt.Cerebro.plot``, with the matplotlib backend you chose kept (``MPLBACKEND``, else
        ``Agg`` without a display). After a tick run: backtrader's plot of the bar channels
        (``add_bars``), else the figure of what the run did (:func:`.plotting.plot_cerebro`)."""
        return plot_cerebro(self, super().plot, plotter, numfigs, iplot, **kwargs)

    def push_event(self, event: Timed) -> None:
        """Insert an event (e.g. ``Event(ts, EventPriority.TIMER, "timer", name)``) into the
        running tick-mode queue; strategies receive it in ``on_event``."""
        queue = getattr(self, "_queue", None)
        if queue is None:
            raise RuntimeError("push_event works only during a tick-mode run")
        queue.push(event)

    def runstop(self) -> None:
        """Stop the run as soon as the current event has been handled."""
        super().runstop()
        queue = getattr(self, "_queue", None)
        if queue is not None:
            queue.attention.append(None)

    def runstrategies(
        self, iterstrat: Iterable[StratEntry], predata: bool = False
    ) -> list[StratResult]:
        if not self._tickmode:
            return super().runstrategies(iterstrat, predata)
        for channel in self.channels.values():
            channel.reset()
        self.bridges.clear()
        self._groups.clear()
        for entries in self.strats:
            for stratcls, _args, _kwargs in entries:
                give_channels(stratcls)
        self._live_start = None
        try:
            results = super().runstrategies(self._with_channels(iterstrat), predata)
        except NotReady as exc:  # the strategies never started: the broker's files close
            self._broker.stop()
            self.last_run = {"not_ready": str(exc), **self._broker.report_section()}
            raise
        finally:
            self._live_start = None
        if self.last_run and self._live_feeds:  # what the broker's stop changed (end of run
            self.last_run.update(self._broker.report_section())  # cancels, the venue's late news)
        if self._dooptimize and self.run_stats:  # each result carries its run's stats, also
            # back from a worker process (as its analyzers do): ``results[i][0].run_stats``
            for result in results:
                result.run_stats = self.run_stats[-1]
        return results

    def _with_channels(self, iterstrat: Iterable[StratEntry]) -> Iterator[StratEntry]:
        """Pass strategies through; once all exist (before ``start``), give them the channels.
        A live run's feeds start here: with a real broker the strategies' ``start()`` waits
        until it is ready (:mod:`.live_start`)."""
        yield from iterstrat
        for strat in self.runningstrats:
            strat.channels = strat._channels = self.channels
            self._groups[id(strat)] = build_groups(strat, self.bridges.of(strat))
        if self._live_feeds:
            self._live_start = LiveStart(self, self._bare_targets())
            self._live_start.hold()

    def _runonce(self, runstrats: list[BtStrategy]) -> None:
        if self._tickmode:
            return self._run_tick(runstrats)
        return super()._runonce(runstrats)

    def _runnext(self, runstrats: list[BtStrategy]) -> None:
        if self._tickmode:
            return self._run_tick(runstrats)
        return super()._runnext(runstrats)

    def _wire_bridges(
        self, strats: list[BtStrategy]
    ) -> tuple[dict[ChannelKey, EventHook | None], dict[ChannelKey, list[EventHook]]]:
        """Precompute what can be, then one advancer per channel and the next() callers."""
        specs = {spec.channel.key: spec for spec in self._specs}
        by_channel: dict[ChannelKey, list[BridgeGroup]] = {}
        next_callers: dict[ChannelKey, list[EventHook]] = {}
        for strat in strats:
            groups = self._groups.get(id(strat), [])
            for group in groups:
                for obj in (*group.bridges, *group.iterators):
                    obj._stage2()  # value semantics in next(), as Strategy._start gives the rest
                spec = specs.get(group.channel.key)
                if spec is not None and spec.recorded and group.can_precompute:
                    group.precompute(column_values(spec, group.clock))
                by_channel.setdefault(group.channel.key, []).append(group)
            if groups and not has_bars(strat) and overrides_next(strat):
                caller = next_caller(strat, groups)
                for key in dict.fromkeys(g.channel.key for g in groups):
                    next_callers.setdefault(key, []).append(caller)
        return {k: advancer(v) for k, v in by_channel.items()}, next_callers

    def _wire_bars(self, strats: list[BtStrategy]) -> dict[ChannelKey, list[BarStep]]:
        """Per channel key, the bar-channel steps its events drive."""
        steps: dict[ChannelKey, list[BarStep]] = {}
        for bars in self._bars:
            tick = self.channels.get(channel_key(ChannelType.TICK, bars.symbol, bars.venue))
            if tick is None:
                raise ChannelError(
                    f"bars of {instrument_name(bars.symbol, bars.venue)!r} need its tick "
                    "channel (add_channel(TickChannel, symbol=...))"
                )
            symbol = tick.symbol  # the channel's spelling of the bars' symbol
            bars.strategies = [s for s in strats if any(d is bars for d in s.datas)]
            self._broker.trade_as(bars, self._instruments[tick.instrument_name])
            bars._reset_partial()
            for key, ch in self.channels.items():
                if ch.symbol != symbol or ch.venue != tick.venue:
                    continue
                if key[0] == ChannelType.TICK:
                    steps.setdefault(key, []).append(
                        lambda ev, b=bars: b.on_trade(ev[0], ev[1], ev[2])
                    )
                elif bars.mode == "every_ns":
                    steps.setdefault(key, []).append(lambda ev, b=bars: b.on_time(ev[0]))
        return steps

    def add_live_feed(self, feed: LiveFeedT) -> LiveFeedT:
        """Add a live feed (e.g. ``btch.feeds.CCXTLiveFeed``): its channels are created, and
        ``run(mode=RunMode.TICK)`` then runs on live events (paper broker by default).

        Parameters
        ----------
        feed : LiveFeed
            Anything implementing :class:`backtrader_channels.live.feed.LiveFeed`.
        """
        if not isinstance(feed, LiveFeed):
            raise ChannelError(
                f"{feed!r} is not a live feed: it needs channel_keys, error, start(queue), stop() "
                "and anomaly_report() (backtrader_channels.live.feed.LiveFeed)"
            )
        if self._specs:
            raise ChannelError("a run is either recorded (add_channel) or live (add_live_feed)")
        for key in feed.channel_keys:
            if dict.__contains__(self.channels, key):
                raise ChannelError(
                    f"channel {key} is fed twice (two venues with one symbol: give each feed "
                    "its venue=)"
                )
            channel = self.channels[key] = CHANNEL_CLASSES[key[0]](key[1])
            channel.set_venue(key[2] if len(key) > 2 else None)
            self._instrument_for(channel.instrument_name)
        self._live_feeds.append(feed)
        return feed

    def _bare_targets(self) -> Targets:
        """One dispatch target per channel (channel, data, pending orders), no strategy hooks
        yet: what a live run's channels are kept current with before the strategies start."""
        broker = self._broker
        targets: Targets = {}
        for key, ch in self.channels.items():
            data = self._instruments[ch.instrument_name]
            if ch.channel_type in (ChannelType.QUOTE, ChannelType.ORDERBOOK):
                broker.set_price_source(data, ch)
            elif ch.channel_type == ChannelType.TICK:
                broker.set_trade_source(data, ch)
            kind = _KIND.get(ch.channel_type, QUOTE)
            targets[key] = SourceTarget(kind, ch, data, broker.pending_list(data), None)
        return targets

    def _hook_targets(self, targets: Targets, strats: list[BtStrategy]) -> None:
        """Attach the strategies to the targets: callbacks, bridges, bars, ``next()``."""
        advancers, next_callers = self._wire_bridges(strats)
        bar_steps = perpetual_steps(self._broker, targets, strats, self._wire_bars(strats))
        for key, target in targets.items():
            cbs: list[EventHook] = []
            for strat in strats:
                for name in (_CALLBACK.get(target.channel.channel_type), "on_event"):
                    fn = getattr(strat, name, None) if name else None
                    if callable(fn):
                        cbs.append(fn)
            cbs.extend(next_callers.get(key, []))
            target.callback = fanout(cbs)
            target.advance = _compose(bar_steps.get(key, []), advancers.get(key))

    def _run_tick(self, strats: list[BtStrategy]) -> None:
        broker, skip = self._broker, SkipReport()
        for strat in strats:
            strat.lines.forward()
            warn_frozen_indicators(strat)
        live = self._live_start
        targets = live.targets if live is not None else self._bare_targets()
        self._hook_targets(targets, strats)
        queue: EventQueue
        runs: Iterator[Run]
        if live is not None:  # feeds and venue sessions started before the strategies
            live.watch_first_trade()
            queue, runs = live.queue, live.runs
        else:
            broker.live_sessions(self.runstop, [])  # a live broker refuses a recorded run
            queue = BacktestEventQueue()
            for spec in self._specs:
                ch = spec.channel
                queue.add_source(
                    open_recorded(spec, skip), ch.priority, source_name(spec), targets[ch.key]
                )
            runs = recorded_runs(queue, self._specs, self.p.progress)
        self._queue: EventQueue | None = queue  # what push_event, runstop reach
        loop = TickLoop(
            queue,
            runs,
            strats,
            broker,
            self.p.sample_ns,
            self.p.keep_orders,
            should_stop=lambda: bool(self._event_stop),
        )
        self.trace = trace = RunTrace.attach(loop, self._instruments, self.channels)
        t0 = time.perf_counter()
        try:
            loop.run()
        except KeyboardInterrupt:  # a second Ctrl-C during a live run: it ends here
            if live is None:
                raise
            live.outcome["ended"] = "interrupted"
        finally:
            trace.close()  # the broker's fill hook off
            self._queue = None
            if hasattr(runs, "close"):
                runs.close()  # stops live feeds when the loop ended early
        elapsed = time.perf_counter() - t0
        self.last_run = build_run_report(self, queue, loop, broker, skip, elapsed)
        if live is not None:
            self.last_run.update(live.report())
        self.run_stats.append({"params": params_of(strats), **self.last_run})


def _compose(steps: list[BarStep], advance: EventHook | None) -> EventHook | None:
    """One per-event hook from bar steps and a bridge advancer (all taking the event)."""
    run = [*steps, advance] if advance is not None else list(steps)
    if len(run) <= 1:
        return run[0] if run else None

    def hook(ev: MarketEvent) -> None:
        for step in run:
            step(ev)

    return hook
