"""Starting a live run: feeds and venue sessions first, the strategies once the broker is ready.

A live run's feeds (and a real broker's venue sessions) start as soon as the strategies exist,
before their ``start()``. With a real broker the strategies start only once every venue is
ready: its start reconciliation done and its private stream subscribed, as NautilusTrader
starts strategies after reconciliation, and its book and quote streams have delivered their
first snapshot (``CCXTBroker.not_ready``). Market data arriving meanwhile keeps the channels
current (:mod:`..engine.hold`) without reaching the strategies, their bridges or bars; the
report says how much was held back and which trade was the first dispatched. Not ready within
the broker's ``ready_timeout``: the run stops with :class:`~..engine.hold.NotReady`, saying
what was missing. Paper runs start at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from ..dispatch.hold import Held, NotReady, hold_until_ready
from ..dispatch.loop import TICK, SourceTarget
from ..dispatch.targets import EventHook, Targets
from ..events import key_label
from ..live.queue import LiveEventQueue
from ..live.run import live_runs

if TYPE_CHECKING:
    from ..channels.base import MarketEvent
    from .core import Cerebro


class StartReport(TypedDict):
    """What a live run's start adds to ``last_run`` (:meth:`LiveStart.report`)."""

    ended: str
    held_back: int
    held_back_by_channel: dict[str, int]
    held_back_seconds: float
    first_trade_id: int | None


class LiveStart:
    """The live machinery of one run, started before the strategies (see module doc).

    Parameters
    ----------
    cerebro : Cerebro
        The run's Cerebro (its stop request, live limits, queue size and thread mode).
    targets : dict
        The dispatch targets by channel key, their strategy hooks not attached yet.
    """

    def __init__(self, cerebro: Cerebro, targets: Targets) -> None:
        self.cerebro = cerebro
        self.broker = broker = cerebro._broker
        feeds = list(cerebro._live_feeds)
        sessions = broker.live_sessions(cerebro.runstop, feeds)
        self.targets = targets
        self.queue = LiveEventQueue(cerebro.p.live_queue_size)
        duration, max_events = cerebro._live_limits
        #: how the run ended (``live_runs`` says: interrupted, stopped, duration, ...)
        self.outcome: dict[str, str] = {}
        self.runs = live_runs(
            lambda: bool(cerebro._event_stop),
            self.queue,
            targets,
            [*feeds, *sessions],
            duration,
            max_events,
            threads=bool(cerebro.p.live_threads),
            outcome=self.outcome,
        )
        #: whether the strategies wait for the broker (a real broker's venue sessions)
        self.gated = bool(sessions)
        self.held = Held()
        self.first_trade_id: int | None = None
        self.first_trade_ts: int | None = None

    def hold(self) -> None:
        """Keep the channels current until the broker is ready (at once for paper fills);
        on :class:`NotReady` the feeds and sessions are stopped before it is raised."""
        if not self.gated:
            return
        cerebro, broker = self.cerebro, self.broker
        cerebro._queue = self.queue  # runstop() (the kill switch) reaches the hold too
        try:
            self.held = hold_until_ready(
                self.runs,
                broker,
                broker.not_ready,
                broker.ready_timeout,
                lambda: bool(cerebro._event_stop),
            )
        except NotReady:
            self.close()
            raise
        except RuntimeError as exc:  # a feed or venue session failed before it was ready
            self.close()
            raise NotReady(f"{exc} (still missing: {broker.not_ready()})") from exc

    def watch_first_trade(self) -> None:
        """Remember the first trade dispatched to the strategies (its id and time)."""
        for target in self.targets.values():
            if target.kind == TICK:
                target.advance = self._first_trade(target, target.advance)

    def _first_trade(self, target: SourceTarget, inner: EventHook | None) -> EventHook:
        def first(ev: MarketEvent) -> None:
            if self.first_trade_ts is None or ev[0] < self.first_trade_ts:
                # (a trade: only the tick channels' targets get this hook)
                self.first_trade_id, self.first_trade_ts = ev.trade_id, ev[0]  # type: ignore[union-attr]
            target.advance = inner  # once per channel: the next run calls the hook itself
            if inner is not None:
                inner(ev)

        return first

    def close(self) -> None:
        """Stop the feeds and venue sessions (the runs generator's clean-up)."""
        self.cerebro._queue = None
        self.runs.close()

    def report(self) -> StartReport:
        """What ``last_run`` says of the start: events held back before the strategies
        started (per channel), for how long, and the first trade they were dispatched."""
        ended = self.outcome.get("ended") or ("stopped" if self.cerebro._event_stop else "")
        kill = getattr(self.broker, "kill", None)
        if kill is not None and kill.tripped:
            ended = kill.tripped
        return {
            "ended": ended or "feeds ended",
            "held_back": self.held.events,
            "held_back_by_channel": {key_label(k): n for k, n in self.held.by_channel.items()},
            "held_back_seconds": self.held.seconds,
            "first_trade_id": self.first_trade_id,
        }
