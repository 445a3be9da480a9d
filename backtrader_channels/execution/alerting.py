"""The real broker's alerts: what a :class:`~.broker.CCXTBroker` given ``alerts=`` reports.

Read, not hooked: a probe polled on the alerts' own thread (:class:`~..alerts.hub.Alerts`)
reads what the broker already keeps (the kill switch, each venue's protection, the journal's
lines, the perpetual positions, the feeds' health), so the engine's thread does nothing more
per event and never waits for an HTTP request. Each read is of one attribute or a copy of one
list or dict (atomic under the GIL). Alerts:

* ``kill_switch``: the kill switch tripped (its reason);
* ``stream_down``: the private stream (``private stream down``, after a ``PrivateStream`` with
  ``up=False``) or a market-data stream (a feed's ``health()``) down for ``stream_down_s``;
* ``correction``: a journal line whose event starts with ``correction`` (a balance corrected, a
  position cut, an order found never placed);
* ``unknown_order``: an order whose submit had an unknown outcome and that was not found after
  the queries;
* ``liquidation``: a perpetual within ``liquidation_pct`` of its liquidation price;
* ``run_stopped``: when the broker stops (provisional: ``Alerts.run_ended(cerebro.last_run)``
  replaces it with the run's own reason and P&L, as ``live`` does).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from ..alerts.hub import Alerts, Notice
from ..alerts.rules import NearLiquidation, StreamsDown
from ..live.feed import LiveFeed

if TYPE_CHECKING:
    from .broker import CCXTBroker
    from .journal import JournalLine

#: seconds a provisional run-stopped alert waits for the run's report (``run_ended``)
STOP_GRACE_S = 2.0
#: the probe watching each broker's run (kept here: no state hung on the broker)
_PROBES: weakref.WeakKeyDictionary[CCXTBroker, BrokerProbe] = weakref.WeakKeyDictionary()


class BrokerProbe:
    """The conditions of one CCXTBroker's run (see module doc).

    Parameters
    ----------
    broker : CCXTBroker
        The broker (its kill switch, appliers, journal and positions are read).
    feeds : sequence of LiveFeed
        The run's market-data feeds (their ``health()``).
    alerts : Alerts
        The settings (``stream_down_s``, ``liquidation_pct``).
    """

    def __init__(self, broker: CCXTBroker, feeds: Sequence[LiveFeed], alerts: Alerts) -> None:
        self.broker = broker
        sources: list[Callable[[], Mapping[str, str]]] = [self._private]
        for feed in feeds:
            health = getattr(feed, "health", None)  # (a LiveFeed need not report its health)
            if health is not None:
                sources.append(health)
        self.streams = StreamsDown(sources, alerts.stream_down_s)
        self.liquidation = NearLiquidation(broker, alerts.liquidation_pct)
        self._read = 0  # journal lines already looked at
        self._killed = False

    def _private(self) -> dict[str, str]:
        """The venues whose private stream is down (not while it first connects)."""
        out = {}
        for venue, applier in list(self.broker.appliers.items()):
            why = dict(applier.protection).get("private", "")
            if why.startswith("private stream down"):
                out[f"private{'@' + venue if venue else ''}"] = why
        return out

    def __call__(self, now: float) -> list[Notice]:
        b = self.broker
        out: list[Notice] = []
        kill = b.kill
        if kill is not None and kill.tripped and not self._killed:
            self._killed = True
            text = f"{kill.tripped}: every open order cancelled, the run is stopping"
            out.append(("kill_switch", text, "kill_switch"))
        journal = b.journal
        if journal is not None:
            lines = journal.lines[self._read :]
            self._read += len(lines)
            out += [n for n in map(journal_notice, lines) if n is not None]
        out += self.streams(now)
        out += self.liquidation(now)
        return out


def journal_notice(line: JournalLine) -> Notice | None:
    """The alert of one journal line, or None: corrections and orders not found after their
    queries."""
    event = line["event"]
    venue = f" on {line['venue']}" if line.get("venue") else ""
    if event.startswith("correction"):
        what = event.partition(":")[2].strip() or event
        details = line.get("details") or {}
        shown = ", ".join(f"{k} {v}" for k, v in details.items() if k != "why")
        text = f"reconciliation{venue}: {what} ({line['symbol']})" + (f": {shown}" if shown else "")
        return "correction", text, f"correction:{what}:{line['symbol']}:{line['client_id']}"
    reason = line.get("reason") or ""
    if event == "rejected" and reason.startswith("not found at the venue after"):
        text = (
            f"order {line['client_id']}{venue} ({line['side']} {line['amount']:g} "
            f"{line['symbol']}) had an unknown outcome and was {reason}: treated as never placed"
        )
        return "unknown_order", text, f"unknown_order:{line['client_id']}"
    return None


def start_alerts(broker: CCXTBroker, feeds: Sequence[LiveFeed]) -> None:
    """At a run's start: watch ``broker`` (and ``feeds``) when it was given ``alerts=``."""
    alerts = broker.p.alerts
    if alerts is None:
        return
    if not isinstance(alerts, Alerts):
        raise TypeError("CCXTBroker(alerts=...): an alerts.Alerts is needed")
    probe = _PROBES[broker] = BrokerProbe(broker, feeds, alerts)
    alerts.watch(probe)


def stop_alerts(broker: CCXTBroker) -> None:
    """At the broker's stop: stop watching, and a provisional run-stopped alert (the kill
    switch's reason, or "stopped"; the P&L since the start) that ``Alerts.run_ended`` or
    ``Alerts.close`` completes."""
    alerts = broker.p.alerts
    probe = _PROBES.pop(broker, None)
    if not isinstance(alerts, Alerts) or probe is None:
        return
    alerts.unwatch(probe)
    for notice in probe(float("inf")):  # what the last poll did not see (no stream timing)
        if notice[0] != "stream_down":
            alerts.alert(*notice)
    kill = broker.kill
    reason = kill.tripped if kill is not None and kill.tripped else "stopped"
    start = broker.starting_value
    pnl = f"pnl {broker.getvalue() - start:+.2f}, " if start is not None else ""
    alerts.run_stopped(reason, f"{pnl}orders {broker.orders_submitted}, fills {broker.fills}",
                       grace_s=STOP_GRACE_S)  # fmt: skip
