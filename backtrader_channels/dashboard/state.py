"""What the dashboard shows: a JSON snapshot of a running run, read on the dashboard's thread.

Read, not hooked (as the alerts are): every :meth:`RunState.sample` reads what the run already
keeps (the broker's cash, positions and orders, the run trace's fills, each feed's streams and
validator counts, each channel's latest events) and builds one plain dict. The engine's thread
does nothing more per event. Each read is of one attribute or a copy of one container, made in
one C call (atomic under the GIL); a container that changed size under a copy is read again.

The snapshot (``RunState.sample``)::

    {"run": {mode, state, paused, kill_switch, protection, uptime_s, ended, ...},
     "account": {cash, equity, pnl}, "equity": [[ms, value], ...],
     "positions": [...], "orders": [...], "fills": [...], "health": [...], "actions": [...]}
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from ..events import channel_key

if TYPE_CHECKING:
    from ..broker.tickbroker import TickBroker

JsonDict = dict[str, Any]
#: how a run trades: the paper broker's simulated fills, or real orders at a venue
Mode = Literal["PAPER", "REAL"]
#: a stream whose last message is older than this (seconds) is shown as quiet (amber)
QUIET_S = 5.0
#: latency samples kept per stream (the p50/p99 shown are over these)
LATENCY_WINDOW = 2000
#: the fills shown, newest first
FILLS_SHOWN = 50

T = TypeVar("T")


class WatchedRun(Protocol):
    """What the dashboard reads of a run and asks of it (the Cerebro gives one:
    ``cerebro/watch.py``)."""

    @property
    def broker(self) -> TickBroker: ...

    @property
    def feeds(self) -> Sequence[Any]: ...

    @property
    def channels(self) -> Mapping[tuple[str, ...], Any]: ...

    def equity(self) -> float:
        """The portfolio's value now (the broker's, without side effects)."""
        ...

    def trace(self) -> Any:
        """The run's trace (its fills), or None before the loop starts."""
        ...

    def call(self, fn: Callable[[], None]) -> bool:
        """Run ``fn`` on the engine's thread between two events; False when no run is
        dispatching (not started yet, or ended)."""
        ...

    def runstop(self) -> None:
        """Ask the run to stop (as a strategy's ``self.env.runstop()``)."""
        ...


def copied(read: Callable[[], T], tries: int = 5) -> T | None:
    """``read()``, again if a container changed size under it (another thread appended)."""
    for _ in range(tries):
        try:
            return read()
        except RuntimeError:  # "changed size during iteration"
            continue
    return None


def _num(x: object) -> float | None:
    """A float for JSON (None for NaN, inf or anything else)."""
    if isinstance(x, int | float) and math.isfinite(x):
        return float(x)
    return None


class RunState:
    """The dashboard's view of one run (see module doc).

    Parameters
    ----------
    run : WatchedRun
        The run (its broker, feeds, channels, trace).
    mode : {"PAPER", "REAL"}
        Shown on the page: a paper run is marked PAPER.
    history : int, default 3600
        Equity points kept for the chart (one per :meth:`sample`).
    """

    def __init__(self, run: WatchedRun, mode: Mode, history: int = 3600) -> None:
        self.run = run
        self.mode: Mode = mode
        self.started = time.time()
        self.state = "starting"  # "running" once the loop dispatches, "stopped" at the end
        self.ended = ""
        self.start_value: float | None = None
        self.equity: deque[tuple[int, float]] = deque(maxlen=history)
        self.actions: list[JsonDict] = []  # the controls used: who, what, when, the outcome
        self._latency: dict[str, deque[float]] = {}
        self._counted: dict[str, int] = {}  # stream -> channel events already looked at

    # ---- the snapshot ------------------------------------------------------------------------
    def sample(self) -> JsonDict:
        """Read the run now (see module doc); appends one equity point."""
        broker = self.run.broker
        now = time.time()
        equity = _num(copied(self.run.equity))
        if equity is not None:
            if self.start_value is None:
                self.start_value = equity
            self.equity.append((int(now * 1000), equity))
        cash = _num(broker.cash)
        pnl = None if equity is None or self.start_value is None else equity - self.start_value
        kill = getattr(broker, "kill", None)
        return {
            "run": {
                "mode": self.mode,
                "state": self.state,
                "ended": self.ended,
                "paused": broker.paused,
                "paused_refusals": broker.paused_refusals,
                "kill_switch": getattr(kill, "tripped", None) or None,
                "protection": self._protection(broker),
                "uptime_s": round(now - self.started, 1),
                "now_ms": int(now * 1000),
            },
            "account": {"cash": cash, "equity": equity, "pnl": _num(pnl)},
            "equity": [list(p) for p in self.equity],
            "positions": copied(lambda: self._positions(broker)) or [],
            "orders": copied(lambda: self._orders(broker)) or [],
            "fills": self._fills(),
            "health": [*self._private(broker), *self._streams(now)],
            "actions": list(self.actions[-20:]),
        }

    @staticmethod
    def _protection(broker: TickBroker) -> dict[str, str]:
        """A real broker's protection reasons (``CCXTBroker.protection_reasons``); none on paper."""
        reasons = getattr(broker, "protection_reasons", None)
        return dict(copied(reasons) or {}) if reasons is not None else {}

    @staticmethod
    def _positions(broker: TickBroker) -> list[JsonDict]:
        out = []
        for data, pos in list(broker.positions.items()):
            if not pos.size:
                continue
            price = _num(data.close[0])
            row: JsonDict = {
                "symbol": str(getattr(data, "_name", "") or data),
                "size": pos.size,
                "entry": _num(pos.price),
                "price": price,
                "unrealized": None if price is None else _num(pos.size * (price - pos.price)),
                "leverage": None,
                "liquidation": None,
                "liquidation_pct": None,
            }
            perp = broker.perp_position(data) if broker.perp is not None else None
            if perp is not None:
                mark = _num(perp.mark_price)
                liq = _num(perp.liquidation_price)
                row.update(
                    entry=_num(perp.entry_price),
                    price=mark if mark is not None else price,
                    unrealized=_num(perp.unrealized_pnl),
                    leverage=_num(perp.leverage),
                    liquidation=liq,
                    liquidation_pct=(
                        None if liq is None or not mark else round(abs(mark - liq) / mark * 100, 2)
                    ),
                )
            out.append(row)
        return out

    @staticmethod
    def _orders(broker: TickBroker) -> list[JsonDict]:
        live = getattr(broker, "live", None)
        if live is not None:  # real orders: the venue's view, with each order's state
            return [
                {
                    "id": o.origin_id or o.client_id,
                    "symbol": o.symbol + (f"@{o.venue}" if getattr(o, "venue", "") else ""),
                    "side": o.side,
                    "type": o.kind,
                    "size": o.amount,
                    "price": o.price,
                    "filled": o.filled,
                    "state": o.state.value,
                }
                for o in list(live.values())
                if not o.state.terminal
            ]
        return [
            {
                "id": str(o.ref),
                "symbol": str(getattr(o.data, "_name", "") or o.data),
                "side": "buy" if o.isbuy() else "sell",
                "type": o.getordername().lower(),
                "size": abs(o.size),
                "price": _num(o.created.price),
                "filled": abs(o.executed.size),
                "state": o.getstatusname().lower(),
            }
            for o in broker.get_orders_open()
        ]

    def _fills(self) -> list[JsonDict]:
        trace = self.run.trace()
        if trace is None:
            return []
        cols = trace.fill_columns()
        names = list(trace.names)
        n = min(len(c) for c in cols.values())
        out = []
        for i in range(n - 1, max(n - FILLS_SHOWN, 0) - 1, -1):
            k = int(cols["instrument"][i])
            size = float(cols["size"][i])
            out.append(
                {
                    "ms": int(cols["ts"][i]) // 1_000_000,
                    "symbol": names[k] if 0 <= k < len(names) else "?",
                    "side": "buy" if size > 0 else "sell",
                    "size": abs(size),
                    "price": float(cols["price"][i]),
                    "position": float(cols["position"][i]),
                }
            )
        return out

    @staticmethod
    def _private(broker: TickBroker) -> list[JsonDict]:
        """A real broker's private streams (a venue's ``private`` protection while down)."""
        out = []
        for venue, applier in list((getattr(broker, "appliers", None) or {}).items()):
            why = dict(applier.protection).get("private", "")
            out.append(
                {
                    "stream": "private" + (f"@{venue}" if venue else ""),
                    "ok": not why,
                    "why": why,
                    "age_s": None,
                    "p50_ms": None,
                    "p99_ms": None,
                    "events": None,
                    "reconnects": None,
                    "gaps": None,
                    "anomalies": None,
                }
            )
        return out

    def _streams(self, now: float) -> list[JsonDict]:
        out = []
        channels = self.run.channels
        for feed in self.run.feeds:
            keys = getattr(feed, "streams", None)
            if keys is None:
                continue
            sick = dict(copied(feed.health) or {})
            report = copied(feed.anomaly_report) or {}
            venue = getattr(feed, "venue", "")
            for kind, symbol in keys:
                label = feed.label((kind, symbol))
                ch = channels.get(channel_key(kind, symbol, venue))
                age, p50, p99, events = self._latencies(label, ch, now)
                counts = report.get(f"{kind}:{symbol}" + (f"@{venue}" if venue else ""), {})
                why = sick.get(label, "")
                if not why and age is not None and age > QUIET_S:
                    why = f"quiet: no message for {age:.0f} s"
                    ok: bool | None = None  # amber: quiet, not down
                else:
                    ok = not why
                out.append(
                    {
                        "stream": label,
                        "ok": ok,
                        "why": why,
                        "age_s": age,
                        "p50_ms": p50,
                        "p99_ms": p99,
                        "events": events,
                        "reconnects": _count(counts, "reconnect"),
                        "gaps": _count(counts, "trade_gap", "book_gap", "book_resync"),
                        "anomalies": sum(
                            v for k, v in counts.items() if isinstance(v, int) and k not in _GOOD
                        ),
                    }
                )
        return out

    def _latencies(
        self, label: str, ch: Any, now: float
    ) -> tuple[float | None, float | None, float | None, int | None]:
        """The stream's last message age (s), its exchange-to-receipt latency p50/p99 (ms,
        over the events seen since the last samples) and its event count."""
        if ch is None:
            return None, None, None, None
        count = int(getattr(ch, "count", 0))
        history = getattr(ch, "history", None)
        latest = getattr(ch, "latest", None)
        window = self._latency.setdefault(label, deque(maxlen=LATENCY_WINDOW))
        new = count - self._counted.get(label, 0)
        self._counted[label] = count
        recent = list(history)[-new:] if history and new > 0 else []
        for ev in recent:
            recv = getattr(ev, "recv_timestamp", None)
            if recv:
                window.append((recv - ev[0]) / 1e6)
        recv = getattr(latest, "recv_timestamp", None) if latest is not None else None
        age = round(now - recv / 1e9, 1) if recv else None
        if not window:
            return age, None, None, count
        ordered = sorted(window)
        p50 = ordered[len(ordered) // 2]
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return age, round(p50, 1), round(p99, 1), count


#: validator counts that are not trouble (a reconnect is shown on its own)
_GOOD = ("connected", "backfilled", "reconnect", "details")


def _count(counts: Mapping[str, object], *names: str) -> int:
    return sum(v for k, v in counts.items() if k in names and isinstance(v, int))
