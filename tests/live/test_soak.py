"""Soak: an accelerated hour of replay through the live path with periodic faults.

Deselected by default (``-m soak`` runs it; ``BTCH_SOAK_SECONDS`` sets the wall time, default 60).
The recording loops, each lap continuing trade ids and exchange times where the previous one
ended, and restarting the venue's book with a sequence break (the client resyncs once per lap).
Checks: the run keeps going across laps with no time running backwards, the book is never
crossed and equals the venue's at each lap's end it saw, resyncs are one per lap plus the
injected gaps, memory stays flat, no growth in threads or open sockets.
"""

import os
import threading
import time
from typing import ClassVar

import pytest

from backtrader_channels.loopback import ReplayExchange

from .conftest import LAST_TRADE_ID, Collector, gap_ranges, run_live

SOAK_SECONDS = float(os.environ.get("BTCH_SOAK_SECONDS", "60"))


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


class Quiet(Collector):
    """No stop at the last trade (the replay loops); remembers every break in the trade ids
    rather than every id; checks the book on every update and keeps it at each lap's end."""

    end_ids: ClassVar[dict[int, int]] = {}  # a lap's last book update id -> the lap

    def start(self):
        super().start()
        self.delivered, self.breaks, self.backwards = 0, [], 0
        self.crossed = 0
        self.at_lap_end = {}

    def on_orderbook(self, e):
        self.books += 1
        self.crossed += self.book.is_crossed
        lap = self.end_ids.get(e.last_update_id)
        if lap is not None:
            bids, asks = self.book.levels(20)
            self.at_lap_end[lap] = ([tuple(x) for x in bids], [tuple(x) for x in asks])

    def on_tick(self, t):
        last = self.trade_ids[-1] if self.trade_ids else None
        if last is not None and t.trade_id != last + 1:
            if t.trade_id <= last:
                self.backwards += 1
            else:
                self.breaks.append((last + 1, t.trade_id - 1))
        self.delivered += 1
        self.trade_ids.append(t.trade_id)
        del self.trade_ids[:-10]


@pytest.mark.soak
def test_soak_with_periodic_faults():
    # the 346 s recording at ~10x speed, looping: SOAK_SECONDS of wall time ~ 10x in market time
    srv = ReplayExchange(rate=1200, start_when=3, loop_forever=True, lap_pause=0.3)
    srv.start()
    Quiet.end_ids = {srv.lap_end_id(lap): lap for lap in range(1000)}
    stop = threading.Event()
    samples = []

    gaps = []  # the laps in which a depth diff was held back

    def faults():
        i = 0
        while not stop.wait(5):
            kind = i % 4
            if kind == 0:
                srv.drop_connections(abrupt=bool(i % 8))
            elif kind == 1:
                srv.faults.stall_seconds = 2.0
            elif kind == 2:
                srv.faults.skip_depth = 1
                gaps.append(srv.lap)
            else:
                srv.faults.malformed = 1
            samples.append((_rss_mb(), threading.active_count(), _fds()))
            i += 1

    threads_before, fds_before = threading.active_count(), _fds()
    injector = threading.Thread(target=faults, daemon=True)
    injector.start()
    try:
        cerebro, feed, strat = run_live(srv, Quiet, duration=SOAK_SECONDS)
    finally:
        stop.set()
        injector.join(10)
        srv.stop()
    time.sleep(0.5)
    assert cerebro.last_run["events"] > 1000
    # no loss across laps and faults: ids never go back, and every id skipped in the stream
    # lies in a reported trade_gap range
    assert strat.backwards == 0
    reported = sorted(gap_ranges(feed))
    for first, last in strat.breaks:
        covered = sum(
            min(hi, last) - max(lo, first) + 1 for lo, hi in reported if lo <= last and hi >= first
        )
        assert covered == last - first + 1, (first, last, reported)
    into_lap = srv.sent - srv.lap * len(srv.frames)
    if srv.lap >= 2 or (srv.lap == 1 and into_lap > 5000):  # well past a lap boundary
        assert strat.trade_ids[-1] > LAST_TRADE_ID  # ids went on, times did not go back
    for channel, counts in feed.anomaly_report().items():
        assert not counts.get("out_of_order"), (channel, counts)
        assert not counts.get("crossed_book"), (channel, counts)
    assert strat.crossed == 0
    # a resync per new lap, plus one per injected gap at most (a gap may fall while the book
    # is down for another fault); a lap boundary met by a reconnect resyncs without a break
    resyncs = feed.anomaly_report().get("orderbook:BTC/USDT", {}).get("book_resync", 0)
    assert resyncs <= srv.lap + len(gaps), (resyncs, srv.lap, gaps)
    if srv.lap >= 1:
        assert resyncs >= 1
    # the book at the end of every lap the client saw end is the venue's
    assert strat.at_lap_end, "no lap's end seen"
    for lap, got in strat.at_lap_end.items():
        _, snap = srv.lap_ends[lap]
        want = (
            [(float(p), float(q)) for p, q in snap["bids"][:20]],
            [(float(p), float(q)) for p, q in snap["asks"][:20]],
        )
        assert got == want, lap
    assert len(samples) >= 4
    half = len(samples) // 2
    first, last = samples[half][0], samples[-1][0]
    assert last < first * 1.25 + 30, f"RSS grew from {first:.0f} to {last:.0f} MB"
    assert max(s[1] for s in samples) <= threads_before + 8
    assert threading.active_count() <= threads_before + 1
    assert _fds() <= fds_before + 4
