"""What a dashboard reads of a Cerebro's run, and asks of it (``dashboard.WatchedRun``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ChannelError
from ..events import BrokerUpdate, EngineCall
from ..live.queue import LiveEventQueue
from .trace import RunTrace, portfolio_value

if TYPE_CHECKING:
    from ..broker.tickbroker import TickBroker
    from ..dashboard import Dashboard
    from .core import Cerebro
    from .sweeps import RunResults


class CerebroWatch:
    """A Cerebro's live run as its dashboard sees it.

    Parameters
    ----------
    cerebro : Cerebro
        The run's Cerebro (its broker, live feeds, channels, trace and queue are read).
    """

    def __init__(self, cerebro: Cerebro) -> None:
        self.cerebro = cerebro
        self._stale = getattr(cerebro, "trace", None)  # an earlier run's trace

    @property
    def broker(self) -> TickBroker:
        return self.cerebro._broker

    @property
    def feeds(self) -> Sequence[Any]:
        return list(self.cerebro._live_feeds)

    @property
    def channels(self) -> Mapping[tuple[str, ...], Any]:
        return self.cerebro.channels

    def equity(self) -> float:
        return portfolio_value(self.cerebro._broker)

    def trace(self) -> RunTrace | None:
        trace = getattr(self.cerebro, "trace", None)
        return None if trace is self._stale else trace

    def call(self, fn: Callable[[], None]) -> bool:
        queue = getattr(self.cerebro, "_queue", None)
        if not isinstance(queue, LiveEventQueue):
            return False
        return queue.push(BrokerUpdate(time.time_ns(), EngineCall(fn)))

    def runstop(self) -> None:
        self.cerebro.runstop()


def watched(
    cerebro: Cerebro, spec: Dashboard | str | int | None, run: Callable[[], RunResults]
) -> RunResults:
    """``run()`` (backtrader's run of ``cerebro``'s strategies), with its dashboard when
    ``spec`` asks for one: served from the start, stopped at the end; ``last_run`` keeps its
    controls (``"dashboard"``). A dashboard watches live runs only."""
    if spec is None:
        return run()
    from ..dashboard import dashboard_of

    dashboard = dashboard_of(spec)
    assert dashboard is not None
    if not cerebro._live_feeds:
        raise ChannelError("dashboard=: the dashboard watches live runs (add_live_feed)")
    dashboard.open(CerebroWatch(cerebro))
    ended = "error"
    try:
        results = run()
        ended = str(getattr(cerebro, "last_run", {}).get("ended", "ended"))
    finally:
        kept = dashboard.close(ended)
    cerebro.last_run["dashboard"] = kept
    for stats in cerebro.run_stats[-1:]:
        stats["dashboard"] = kept
    return results
