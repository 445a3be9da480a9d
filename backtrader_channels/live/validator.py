"""LiveDataValidator: what a live stream must not do, checked per channel, counted, reported.

| anomaly | when | action |
|---|---|---|
| ``out_of_order`` | a timestamp before the channel's previous one | **reject** (the strategy never sees time go back) |
| ``implausible_time`` | a timestamp further ahead of its receive time than the channel's usual offset by ``max_jump_ns`` (1 h) | **reject** (one far-future stamp must not block what follows) |
| ``clock_rebased`` | ``rebase_after`` (100) rejected times in a row: the channel's clock did move, or the last accepted time was the odd one | accept, and go on from it |
| ``non_positive_price`` | a trade price, bid or ask <= 0 | **reject** |
| ``negative_size`` | a trade volume, bid/ask size or book level size < 0 | **reject** |
| ``time_jump`` | more than ``max_gap_ns`` (1 h) after the channel's previous event | warn (deliver) |
| ``crossed_book`` | best bid >= best ask in a quote or book snapshot | warn (deliver) |
| ``stale`` | a stream silent longer than its stall timeout (reported by the feed) | warn |

Connection-level anomalies (disconnects, reconnects, trade gaps, duplicates, book resyncs,
snapshot failures) are added by the feed with :meth:`record`. Every anomaly is also logged on the
package logger (``backtrader_channels.log``): once when first seen on a stream, then at most
every 30 s with the count since, never per event.
"""  # noqa: E501

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import Any, TypeAlias

from ..events import OrderBookEvent, QuoteEvent, TickEvent
from ..log import ThrottledLog

REJECT = ("out_of_order", "non_positive_price", "negative_size")
#: anomalies that are good news (logged at INFO); every other one is a WARNING
_INFO = ("backfilled", "reconnect", "connected")

#: what a live feed delivers, and the validator checks
MarketEvent: TypeAlias = TickEvent | QuoteEvent | OrderBookEvent
#: a channel's anomalies: each one's count, and under ``"details"`` up to 100
#: ``(anomaly, detail)`` pairs (a gap's id range, the two times of a jump, a reason...)
AnomalyEntry: TypeAlias = dict[str, "int | list[tuple[str, object]]"]
#: :meth:`LiveDataValidator.report`: per channel (``"type:symbol"``), its anomalies
AnomalyReport: TypeAlias = dict[str, AnomalyEntry]


class LiveDataValidator:
    """Checks events per ``(channel_type, symbol)``; thread-safe; ``report()`` any time."""

    def __init__(
        self,
        max_gap_ns: int = 3_600_000_000_000,
        log_interval: float = 30.0,
        max_jump_ns: int = 3_600_000_000_000,
        rebase_after: int = 100,
    ):
        self.max_gap_ns = max_gap_ns
        #: how far an event's exchange time may run ahead of the channel's usual offset from
        #: the receive clock before it is implausible (a far-future stamp)
        self.max_jump_ns = max_jump_ns
        #: consecutive rejected times after which the channel's clock is taken to have moved
        self.rebase_after = rebase_after
        self._offset: dict[tuple[str, str], int] = {}  # exchange - receive time, last accepted
        self._streak: dict[tuple[str, str], int] = {}  # rejected times in a row
        self._log = ThrottledLog(log_interval)
        self._last: dict[tuple[str, str], int] = {}
        self._counts: dict[tuple[str, str], Counter[str]] = {}
        self._details: dict[tuple[str, str], list[tuple[str, object]]] = {}
        self._lock = threading.Lock()
        self.accepted = 0
        #: the venue the feed names (set by it), for the log lines
        self.venue = ""

    def record(self, key: tuple[str, str], anomaly: str, detail: object = None) -> None:
        """Count an anomaly of ``key`` (and keep up to 100 details, e.g. gap id ranges)."""
        with self._lock:
            self._counts.setdefault(key, Counter())[anomaly] += 1
            if detail is not None:
                details = self._details.setdefault(key, [])
                if len(details) < 100:
                    details.append((anomaly, detail))
        level = logging.INFO if anomaly in _INFO else logging.WARNING
        self._log(level, (key[0], f"{key[1]}@{self.venue}") if self.venue else key, anomaly, detail)

    def seen(self, key: tuple[str, str]) -> bool:
        """Whether an event of ``key`` has been accepted."""
        return key in self._last

    def last_time(self, key: tuple[str, str]) -> int | None:
        """The exchange time of ``key``'s last accepted event (None before the first)."""
        return self._last.get(key)

    def rewind(self, key: tuple[str, str], ts: int | None) -> None:
        """Take ``key``'s clock back to ``ts`` (a :meth:`last_time`): the events accepted since
        never reached the queue and come again (the feed backfills them)."""
        if ts is None:
            self._last.pop(key, None)
        else:
            self._last[key] = ts

    def validate(self, event: MarketEvent) -> bool:
        """True to deliver the event; False (counted) to reject it."""
        key = (event.channel_type, event.channel_name)
        ts = event[0]
        last = self._last.get(key)
        recv = event.recv_timestamp
        if last is not None:
            if ts < last:
                if not self._doubt(key, "out_of_order", (last, ts)):
                    return False
            elif (
                recv is not None and ts - recv - self._offset.get(key, ts - recv) > self.max_jump_ns
            ):
                if not self._doubt(key, "implausible_time", (recv, ts)):
                    return False
            elif key in self._streak:
                del self._streak[key]
        bad = self._check_values(event)
        if bad is not None:
            self.record(key, bad)
            return False
        if last is not None and ts - last > self.max_gap_ns:
            self.record(key, "time_jump", (last, ts))
        if self._crossed(event):
            self.record(key, "crossed_book")
        self._last[key] = ts
        if recv is not None:
            self._offset[key] = ts - recv
        self.accepted += 1
        return True

    def _doubt(self, key: tuple[str, str], anomaly: str, detail: object) -> bool:
        """Reject an event whose time goes back, or jumps ahead of the receive clock by more
        than ``max_jump_ns``; but after ``rebase_after`` such events in a row the channel's
        clock really moved (or the last accepted event was the odd one): accept it, say so
        (``clock_rebased``), and go on from it. True to accept."""
        streak = self._streak.get(key, 0) + 1
        if streak < self.rebase_after:
            self._streak[key] = streak
            self.record(key, anomaly, detail)
            return False
        del self._streak[key]
        self.record(key, "clock_rebased", detail)
        return True

    # ``ev``: a MarketEvent, told apart by its ``channel_type`` (a plain ``str``, which mypy
    # cannot narrow the union on; an isinstance per event would cost on the hot path)
    @staticmethod
    def _check_values(ev: Any) -> str | None:
        ctype = ev.channel_type
        if ctype == "tick":
            if not ev.price > 0:
                return "non_positive_price"
            if ev.volume < 0:
                return "negative_size"
        elif ctype == "quote":
            if not (ev.bid_price > 0 and ev.ask_price > 0):
                return "non_positive_price"
            if ev.bid_size < 0 or ev.ask_size < 0:
                return "negative_size"
        elif ctype == "orderbook":
            for levels in (ev.bids, ev.asks):
                for price, size in levels:
                    if not price > 0:
                        return "non_positive_price"
                    if size < 0:
                        return "negative_size"
        return None

    @staticmethod
    def _crossed(ev: Any) -> bool:
        if ev.channel_type == "quote":
            return bool(ev.bid_price >= ev.ask_price)
        if ev.channel_type == "orderbook" and ev.is_snapshot and ev.bids and ev.asks:
            return bool(max(p for p, _ in ev.bids) >= min(p for p, _ in ev.asks))
        return False

    def report(self) -> AnomalyReport:
        """``{"type:symbol": {anomaly: count, ..., "details": [...]}}``."""
        with self._lock:
            out: AnomalyReport = {}
            for key, counts in self._counts.items():
                entry: AnomalyEntry = dict(counts)
                if key in self._details:
                    entry["details"] = list(self._details[key])
                out[f"{key[0]}:{key[1]}"] = entry
            return out
