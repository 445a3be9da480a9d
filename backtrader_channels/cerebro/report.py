"""What a tick-mode run reports in ``cerebro.last_run``: counts, speed, fills, bad input, and,
when channels name venues, positions per venue and the net exposure per asset.

:class:`RunReport` holds it: typed fields for what every run has, optional ones for what only
runs with venues, live feeds or a real broker have, and ``extras`` for the rest. It is also a
mapping, as ``last_run`` always was: ``last_run["pnl"]``, ``.get``, ``in``, ``.update``,
``dict(last_run)`` and ``==`` with a dict work unchanged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeAlias, TypedDict

from ..broker.tickbroker import TickBroker
from ..btypes import BtData, JsonDict
from ..channels import ChannelMap
from ..dispatch.loop import TickLoop
from ..dispatch.queue import EventQueue
from ..events import key_label
from ..live.feed import LiveFeed
from ..live.queue import LiveEventQueue
from ..sources import SkipReport

#: a position as the report gives it: ``{"size": ..., "price": ...}``
PositionInfo = dict[str, float]
#: a value of a run report: a count, a time, a dict of counts or positions, a live broker's
#: section, a user's own key: whatever the report holds under its key
ReportValue: TypeAlias = Any


class VenueEntry(TypedDict, total=False):
    """One venue in ``by_venue``: its events, positions by symbol and refusals by channel."""

    events: int
    positions: dict[str, float]
    refused: dict[str, dict[str, int]]


class VenueReport(TypedDict):
    """What :func:`venue_report` adds to a report whose channels name venues."""

    positions: dict[str, PositionInfo]
    exposure: dict[str, float]
    by_venue: dict[str, VenueEntry]


@dataclass(eq=False, repr=False)
class RunReport(MutableMapping[str, ReportValue]):
    """The report of one tick-mode run (``cerebro.last_run``), a dataclass and a mapping.

    Every field is also a key: ``report.pnl`` is ``report["pnl"]``. An optional field is a
    key only when the run has it (``"exposure" in report`` is False in a run without
    venues); any other key set (``report["ended"] = ...``, ``update``) goes to ``extras``.
    Equal to a dict with the same keys and values; pickles (sweep results come back from
    worker processes with it).
    """

    #: events dispatched (all channels)
    events: int
    #: events dispatched per channel key
    events_by_channel: dict[tuple[str, ...], int]
    #: how long the dispatch took (wall clock), and events per second of it
    seconds: float
    events_per_second: float
    #: the time (ns) of the first and the last event dispatched; None without events
    first_ts: int | None
    last_ts: int | None
    #: orders submitted, and fills (a partly filled order counts each fill)
    orders: int
    fills: int
    #: fills made at a trade price because the symbol's book or quote was stale
    stale_book_fills: int
    #: what taker orders paid beyond the best level (``market_depth="walk"``), quote ccy
    slippage: float
    #: the commission of every fill, open positions' included, quote ccy
    fees: float
    #: the portfolio's value at the end, and its change over the run
    final_value: float
    pnl: float
    #: rows dropped under ``on_error="skip"``: ``{file: {reason: count}}``
    skipped: dict[str, dict[str, int]]
    #: book updates refused, per channel key: ``{reason: count}`` (gaps, stale, unsynced)
    refused: dict[tuple[str, ...], dict[str, int]]
    #: positions still open at the end, by data feed name
    open_positions: dict[str, PositionInfo]
    # ---- runs whose channels name venues (``venue_report``) --------------------------------
    #: size and price per ``"SYMBOL@venue"`` data feed
    positions: dict[str, PositionInfo] | None = None
    #: net size per base asset over all venues
    exposure: dict[str, float] | None = None
    #: events and positions (and refusals) per venue
    by_venue: dict[str, VenueEntry] | None = None
    # ---- live runs --------------------------------------------------------------------------
    #: what the feeds rejected or saw go wrong, per channel
    anomalies: JsonDict | None = None
    #: events the live queue dropped (full)
    queue_dropped: int | None = None
    #: streams that never delivered an event, and why
    silent_streams: dict[str, str] | None = None
    #: venue frames received and events delivered, per stream
    stream_frames: dict[str, dict[str, int]] | None = None
    # ---- a real broker (``CCXTBroker``) -----------------------------------------------------
    #: the execution section: orders, fills, holdings, protection, kill switch
    execution: JsonDict | None = None
    #: every other key (a live start's ``ended``, ``held_back``, ...; your own)
    extras: dict[str, ReportValue] = field(default_factory=dict)

    # ---- the mapping ------------------------------------------------------------------------
    def __getitem__(self, key: str) -> ReportValue:
        if key in _REQUIRED:
            return getattr(self, key)
        if key in _OPTIONAL:
            value = getattr(self, key)
            if value is None:
                raise KeyError(key)
            return value
        return self.extras[key]

    def __setitem__(self, key: str, value: ReportValue) -> None:
        if key in _REQUIRED or key in _OPTIONAL:
            setattr(self, key, value)
        else:
            self.extras[key] = value

    def __delitem__(self, key: str) -> None:
        if key in _REQUIRED:
            raise TypeError(f"{key!r} is in every run report: it cannot be deleted")
        if key in _OPTIONAL:
            if getattr(self, key) is None:
                raise KeyError(key)
            setattr(self, key, None)
        else:
            del self.extras[key]

    def __iter__(self) -> Iterator[str]:
        yield from _REQUIRED
        for key in _OPTIONAL:
            if getattr(self, key) is not None:
                yield key
        yield from self.extras

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return f"RunReport({dict(self)!r})"

    def copy(self) -> RunReport:
        """A shallow copy (as ``dict.copy``): its own ``extras``, the same values."""
        return dataclasses.replace(self, extras=dict(self.extras))


_FIELDS = [f for f in dataclasses.fields(RunReport) if f.name != "extras"]
#: the keys every report has, in order
_REQUIRED = tuple(f.name for f in _FIELDS if f.default is dataclasses.MISSING)
#: the keys only some runs have, in order (a key while not None)
_OPTIONAL = tuple(f.name for f in _FIELDS if f.default is None)


class ReportedRun(Protocol):
    """What the report reads of the run's Cerebro."""

    @property
    def channels(self) -> ChannelMap: ...

    @property
    def _instruments(self) -> Mapping[str, BtData]: ...

    @property
    def _live_feeds(self) -> list[LiveFeed]: ...


def build_run_report(
    cerebro: ReportedRun,
    queue: EventQueue,
    loop: TickLoop,
    broker: TickBroker,
    skip: SkipReport,
    elapsed: float,
) -> RunReport:
    """The ``last_run`` of one run (see ``docs/concepts.md``)."""
    events = sum(src.count for src in queue.sources)
    value = broker.getvalue()
    report = RunReport(
        events=events,
        events_by_channel={
            src.target.channel.key: src.count for src in queue.sources if src.target is not None
        },
        seconds=elapsed,
        events_per_second=events / elapsed if elapsed > 0 else 0.0,
        first_ts=loop.first_ts,
        last_ts=loop.last_ts,
        orders=broker.orders_submitted,
        fills=broker.fills,
        stale_book_fills=broker.stale_book_fills,
        slippage=broker.slippage,
        fees=broker.fees_paid,
        final_value=value,
        pnl=value - _start(broker),
        skipped=skip.as_dict(),
        refused={k: dict(ch.refused) for k, ch in cerebro.channels.items() if ch.refused},
        open_positions={
            name: {"size": pos.size, "price": pos.price}
            for name, data in cerebro._instruments.items()
            if (pos := broker.getposition(data)).size
        },
    )
    if cerebro.channels.venues():
        report.update(venue_report(cerebro, broker))
    feeds = cerebro._live_feeds
    if feeds:
        report.anomalies = {k: v for f in feeds for k, v in f.anomaly_report().items()}
        report.queue_dropped = queue.dropped if isinstance(queue, LiveEventQueue) else 0
        report.silent_streams = {k: v for f in feeds for k, v in f.silent_streams().items()}
        report.stream_frames = {
            k: v for f in feeds for k, v in getattr(f, "stream_frames", dict)().items()
        }
    report.update(broker.report_section())
    return report


def venue_report(cerebro: ReportedRun, broker: TickBroker) -> VenueReport:
    """``positions`` (size and price per ``"SYMBOL@venue"`` data feed), ``exposure`` (net
    size per base asset over all venues) and ``by_venue`` (events and positions per venue)."""
    positions: dict[str, PositionInfo] = {}
    exposure: dict[str, float] = {}
    by_venue: dict[str, VenueEntry] = {}
    for name, data in cerebro._instruments.items():
        pos = broker.getposition(data)
        symbol, _, venue = name.partition("@")
        positions[name] = {"size": pos.size, "price": pos.price}
        base = symbol.split("/")[0] if "/" in symbol else symbol
        exposure[base] = exposure.get(base, 0.0) + pos.size
        entry = by_venue.setdefault(venue or "", {"events": 0, "positions": {}})
        entry["positions"][symbol] = pos.size
    for key, ch in cerebro.channels.items():
        entry = by_venue.setdefault(ch.venue, {"events": 0, "positions": {}})
        entry["events"] += ch.count
        if ch.refused:
            entry.setdefault("refused", {})[key_label(key)] = dict(ch.refused)
    return {"positions": positions, "exposure": exposure, "by_venue": by_venue}


def _start(broker: TickBroker) -> float:
    """What the run's pnl is measured from: a live broker's starting value (cash and the
    positions it adopted from the venue), else the starting cash."""
    start = getattr(broker, "starting_value", None)  # (CCXTBroker's; TickBroker has none)
    return float(start if start is not None else broker.startingcash)
