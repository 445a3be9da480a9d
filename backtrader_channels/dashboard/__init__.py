"""A live run's dashboard in the browser: ``live ... --dashboard [HOST:]PORT`` or
``cerebro.run(..., dashboard=PORT)``.

The run serves one page (``page.html``: no CDN, works offline) on 127.0.0.1, behind a random
token printed at the start in the page's URL. Pushed over a WebSocket every half second: per
venue and symbol the position (entry, unrealized PnL, and for perpetuals leverage and the
distance to liquidation), the open orders with their states, the last fills, cash and equity
with its chart, each stream's health (connected, last message age, latency p50/p99,
reconnects, gaps, anomalies, a real broker's private streams), the protection and the kill
switch. Controls: pause new orders, resume, cancel all, stop the run (confirmed on the page,
journaled with who and when). Paper runs are marked PAPER. See ``docs/live.md``.
"""

from __future__ import annotations

import sys
from typing import IO

from .controls import ACTIONS, Action, ControlError, Controls
from .server import DashboardServer, parse_bind
from .state import Mode, RunState, WatchedRun

__all__ = [
    "ACTIONS",
    "Action",
    "ControlError",
    "Controls",
    "Dashboard",
    "DashboardServer",
    "Mode",
    "RunState",
    "WatchedRun",
    "parse_bind",
]


class Dashboard:
    """A run's dashboard, given to ``cerebro.run(..., dashboard=...)``.

    Parameters
    ----------
    bind : str or int, default 0
        ``"[HOST:]PORT"`` or a port (0: a free port, printed at the start).
    allow_remote : bool, default False
        Serve on a host that is not a loopback address (refused otherwise).
    interval : float, default 0.5
        Seconds between two updates of the page.
    token : str, optional
        The access token (default: a random one).
    out : file, optional
        Where the page's URL is printed at the start (default ``sys.stderr``; None: silent).
    """

    def __init__(
        self,
        bind: str | int = 0,
        *,
        allow_remote: bool = False,
        interval: float = 0.5,
        token: str | None = None,
        out: IO[str] | None = sys.stderr,
    ) -> None:
        self.host, self.port = parse_bind(bind, allow_remote)
        if not interval > 0:
            raise ValueError(f"dashboard interval={interval!r}: must be > 0 seconds")
        self.interval = float(interval)
        self.token = token
        self.out = out
        self.server: DashboardServer | None = None
        self.state: RunState | None = None
        self._url: str | None = None

    @property
    def url(self) -> str | None:
        """The page's address with its token, once serving."""
        return self._url

    def open(self, run: WatchedRun) -> str:
        """Serve ``run``'s page; its URL (printed to ``out``)."""
        mode: Mode = "REAL" if hasattr(run.broker, "appliers") else "PAPER"
        self.state = RunState(run, mode)
        self.server = DashboardServer(self.state, self.host, self.port, self.interval, self.token)
        url = self._url = self.server.start()
        self.state.state = "running"
        if self.out is not None:
            print(f"dashboard: {url}", file=self.out, flush=True)
        return url

    def close(self, ended: str) -> dict[str, object]:
        """The run ended (``ended``: how): a last update to the open pages, then stop serving;
        what the run report keeps of the dashboard."""
        state, server = self.state, self.server
        if state is None or server is None:
            return {}
        state.state, state.ended = "stopped", ended
        try:
            final = state.sample()
        except Exception:  # noqa: BLE001 - the run's end must not fail on its last picture
            final = None
        server.stop(final)
        return {
            "actions": list(state.actions),
            "refused_requests": server.refused,
            "paused_refusals": state.run.broker.paused_refusals,
        }


def dashboard_of(spec: Dashboard | str | int | None) -> Dashboard | None:
    """``cerebro.run``'s ``dashboard=``: a Dashboard, ``"[HOST:]PORT"`` or a port."""
    if spec is None or isinstance(spec, Dashboard):
        return spec
    if isinstance(spec, bool) or not isinstance(spec, str | int):
        raise TypeError(f"dashboard={spec!r}: a Dashboard, '[HOST:]PORT' or a port number")
    return Dashboard(spec)
