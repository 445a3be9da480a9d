"""Reading a large history from a bucket streams it: memory stays flat however long the file
(the 20M-tick run is a soak test, ``-m soak``; a 2M-tick one runs in the normal suite)."""

from __future__ import annotations

import pytest

from backtrader_channels.loopback.synthetic import write_synthetic_trades
from backtrader_channels.sources import storage
from backtrader_channels.sources.formats import open_source


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def _read_flat(uri: str, n: int, growth_mb: float) -> None:
    """Read every trade of ``uri`` chunk by chunk; the resident memory after the first tenth
    of the file may grow by ``growth_mb`` at most."""
    rows, samples = 0, []
    for ts, events in open_source(uri, "tick", "BTC/USDT"):
        rows += len(ts)
        samples.append((rows, _rss_mb()))
        del events
    assert rows == n
    warm = [mb for r, mb in samples if r >= n // 10]
    grew = max(warm) - warm[0]
    assert grew < growth_mb, f"RSS grew {grew:.0f} MB reading {n:,} ticks from {uri}: {samples}"


@pytest.mark.parametrize(
    "n",
    [pytest.param(2_000_000, id="2M"), pytest.param(20_000_000, id="20M", marks=pytest.mark.soak)],
)
def test_reading_a_large_history_from_a_bucket_keeps_memory_flat(bucket, n):
    uri = f"{bucket}/big/trades.parquet"
    write_synthetic_trades(uri, n)
    assert storage.size(uri) > n * 10  # the file is much larger than a chunk
    _read_flat(uri, n, growth_mb=48.0)
