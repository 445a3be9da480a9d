"""QuoteEngine: each venue's best bid and ask of one instrument, on one timeline.

Times are the events' own (exchange time, and receive time where the source has one), so a
backtest and a live replay of the same ticks see the same ages and the same stale flags. "Now"
is the latest exchange time of any venue: a venue that has sent nothing for ``stale_after_ns``
of that timeline is stale, and stays out of the signals until it sends again.
"""

from __future__ import annotations

from collections import deque
from typing import TypedDict


class VenueHealth(TypedDict):
    """How lively one venue's feed is (:meth:`QuoteEngine.health`)."""

    updates: int
    last_age_s: float
    per_second: int
    mean_per_second: float
    longest_gap_s: float
    went_stale: int
    stale: bool
    last_exchange_ts: int
    last_receive_ts: int


class VenueQuote:
    """The latest best bid/ask of one venue, and how lively its feed is."""

    __slots__ = (
        "_bucket",
        "_bucket_count",
        "ask",
        "ask_size",
        "bid",
        "bid_size",
        "count",
        "first_ts",
        "rate",
        "recv_ts",
        "ts",
        "venue",
    )

    def __init__(self, venue: str):
        self.venue = venue
        self.bid = self.ask = self.bid_size = self.ask_size = 0.0
        self.ts = self.recv_ts = self.first_ts = 0
        self.count = 0
        #: updates in the last whole second of exchange time (messages per second)
        self.rate = 0
        self._bucket = 0
        self._bucket_count = 0

    def __repr__(self) -> str:
        return f"<VenueQuote {self.venue} {self.bid}/{self.ask} ts={self.ts}>"


class QuoteEngine:
    """Best bid/ask per venue of one instrument; :meth:`update` on every quote or book change.

    Parameters
    ----------
    stale_after_ns : int, default 2_000_000_000
        A venue whose last update is older than this (on the shared timeline) is stale.
    history : int, default 0
        Keep the last this many updates as ``(ts, venue, bid, ask, recv_ts)`` in
        :attr:`timeline` (0: keep none).
    """

    def __init__(self, stale_after_ns: int = 2_000_000_000, history: int = 0):
        if stale_after_ns <= 0:
            raise ValueError("stale_after_ns must be positive")
        self.stale_after_ns = int(stale_after_ns)
        self.quotes: dict[str, VenueQuote] = {}
        self.now = 0
        self.timeline: deque[tuple[int, str, float, float, int]] = deque(maxlen=history)
        self._keep = history > 0
        #: per venue: times it went stale, and its longest silence (ns)
        self.stale_events: dict[str, int] = {}
        self.longest_gap: dict[str, int] = {}

    def update(
        self,
        venue: str,
        bid: float,
        bid_size: float,
        ask: float,
        ask_size: float,
        ts: int,
        recv_ts: int | None = None,
    ) -> VenueQuote:
        """One venue's new best levels at exchange time ``ts`` (ns)."""
        q = self.quotes.get(venue)
        if q is None:
            q = self.quotes[venue] = VenueQuote(venue)
            q.first_ts = ts
            self.stale_events[venue] = 0
            self.longest_gap[venue] = 0
        elif q.count:
            gap = ts - q.ts
            if gap > self.longest_gap[venue]:
                self.longest_gap[venue] = gap
            if max(self.now, ts) - q.ts > self.stale_after_ns:
                self.stale_events[venue] += 1
        q.bid, q.bid_size, q.ask, q.ask_size = bid, bid_size, ask, ask_size
        q.ts = ts
        q.recv_ts = ts if recv_ts is None else recv_ts
        q.count += 1
        second = ts // 1_000_000_000
        if second != q._bucket:
            q.rate = q._bucket_count if second == q._bucket + 1 else 0
            q._bucket, q._bucket_count = second, 0
        q._bucket_count += 1
        if ts > self.now:
            self.now = ts
        if self._keep:
            self.timeline.append((ts, venue, bid, ask, q.recv_ts))
        return q

    def stale(self, venue: str) -> bool:
        """Whether ``venue`` has been silent for more than ``stale_after_ns`` (or never sent)."""
        q = self.quotes.get(venue)
        return q is None or self.now - q.ts > self.stale_after_ns

    def fresh(self) -> list[VenueQuote]:
        """The venues with a two-sided quote that is not stale."""
        now, limit = self.now, self.stale_after_ns
        return [q for q in self.quotes.values() if now - q.ts <= limit and q.bid and q.ask]

    def health(self) -> dict[str, VenueHealth]:
        """Per venue: updates, the last update's age (s, on the shared timeline), updates in the
        last whole second, the mean rate, the longest silence (s), times it went stale, and
        whether it is stale now."""
        out: dict[str, VenueHealth] = {}
        for venue, q in self.quotes.items():
            span = (q.ts - q.first_ts) / 1e9
            out[venue] = {
                "updates": q.count,
                "last_age_s": (self.now - q.ts) / 1e9,
                "per_second": q.rate,
                "mean_per_second": q.count / span if span > 0 else float(q.count),
                "longest_gap_s": self.longest_gap[venue] / 1e9,
                "went_stale": self.stale_events[venue],
                "stale": self.stale(venue),
                "last_exchange_ts": q.ts,
                "last_receive_ts": q.recv_ts,
            }
        return out
