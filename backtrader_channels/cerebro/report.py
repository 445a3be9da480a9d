"""What a tick-mode run reports in ``cerebro.last_run``: counts, speed, fills, bad input, and,
when channels name venues, positions per venue and the net exposure per asset."""

from __future__ import annotations

from typing import Any

from ..events import key_label


def run_report(
    cerebro: Any, queue: Any, loop: Any, broker: Any, skip: Any, elapsed: float
) -> dict[str, Any]:
    """The ``last_run`` dict of one run (see ``docs/concepts.md``)."""
    events = sum(src.count for src in queue.sources)
    report: dict[str, Any] = {
        "events": events,
        "events_by_channel": {
            src.target.channel.key: src.count for src in queue.sources if src.target is not None
        },
        "seconds": elapsed,
        "events_per_second": events / elapsed if elapsed > 0 else 0.0,
        "first_ts": loop.first_ts,
        "last_ts": loop.last_ts,
        "orders": broker.orders_submitted,
        "fills": broker.fills,
        #: fills made at a trade price because the symbol's book or quote was stale
        "stale_book_fills": broker.stale_book_fills,
        #: what taker orders paid beyond the best level (market_depth="walk"), quote ccy
        "slippage": broker.slippage,
        #: the commission of every fill, open positions' included, quote ccy
        "fees": broker.fees_paid,
        "final_value": broker.getvalue(),
        "pnl": broker.getvalue() - _start(broker),
        "skipped": skip.as_dict(),
        "refused": {
            k: dict(getattr(ch, "refused", {}))
            for k, ch in cerebro.channels.items()
            if getattr(ch, "refused", None)
        },
    }
    #: positions still open at the end, by data feed name (the run's own, also live)
    report["open_positions"] = {
        name: {"size": pos.size, "price": pos.price}
        for name, data in cerebro._instruments.items()
        if (pos := broker.getposition(data)).size
    }
    if cerebro.channels.venues():
        report.update(venue_report(cerebro, broker))
    feeds = cerebro._live_feeds
    if feeds:
        report["anomalies"] = {k: v for f in feeds for k, v in f.anomaly_report().items()}
        report["queue_dropped"] = queue.dropped
        #: streams that never delivered an event, and why (e.g. the markets never loaded)
        report["silent_streams"] = {k: v for f in feeds for k, v in f.silent_streams().items()}
        #: venue frames received and events delivered, per stream (where the feed counts them)
        report["stream_frames"] = {
            k: v for f in feeds for k, v in getattr(f, "stream_frames", dict)().items()
        }
    report.update(broker.run_report())
    return report


def venue_report(cerebro: Any, broker: Any) -> dict[str, Any]:
    """``positions`` (size and price per ``"SYMBOL@venue"`` data feed), ``exposure`` (net
    size per base asset over all venues) and ``by_venue`` (events and positions per venue)."""
    positions: dict[str, dict[str, float]] = {}
    exposure: dict[str, float] = {}
    by_venue: dict[str, dict[str, Any]] = {}
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
        if getattr(ch, "refused", None):
            entry.setdefault("refused", {})[key_label(key)] = dict(ch.refused)
    return {"positions": positions, "exposure": exposure, "by_venue": by_venue}


def _start(broker: Any) -> float:
    """What the run's pnl is measured from: a live broker's starting value (cash and the
    positions it adopted from the venue), else the starting cash."""
    start = getattr(broker, "starting_value", None)
    return float(start if start is not None else broker.startingcash)
