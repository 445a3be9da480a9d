"""ChannelBridge over a ``--from/--to`` window against the whole file (issue 35, item 13):
events per second and peak memory, before and after, in one session.

The data: one 24-hour day of ``BTCH_BENCH_WINDOW_TICKS`` (default 5,000,000) seeded synthetic
trades in native Parquet, written once and cached in the temp dir. The strategy: a price
bridge with ``SMA(50)`` and ``StdDev(50)``, trading in ``next()`` (``SmaStd`` below). The cases:
a 1-hour window (12:00-13:00 of the day), a 3-hour window (12:00-15:00), the whole day, and the
whole day without bridges (``on_tick`` only: the memory every run needs). Each case runs in a
fresh subprocess, so its peak RSS (``VmHWM``) is its own; events/s is events over the wall time
of ``cerebro.run`` (the precompute included).

``BTCH_BENCH_TREES="before=/tmp/old,wired=/tmp/new"`` runs every case against those checkouts
too (``PYTHONPATH``), in the same session, so before and after are measured side by side; this
checkout is ``current``. ``BTCH_BENCH_ROUNDS`` (default 1) repeats each case. Run::

    BTCH_BENCH_TREES=before=/tmp/old python -m pytest benchmarks/test_bridge_window.py \\
        --benchmark-only -s
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import pytest

import backtrader_channels

N = int(os.environ.get("BTCH_BENCH_WINDOW_TICKS", "5000000"))
ROUNDS = int(os.environ.get("BTCH_BENCH_ROUNDS", "1"))
DAY_NS = 86_400_000_000_000
HOUR_NS = 3_600_000_000_000
CASES = {  # name: (strategy, window start, window end) in hours from the day's first trade
    "window_1h": ("SmaStd", 12, 13),
    "window_3h": ("SmaStd", 12, 15),
    "whole_day": ("SmaStd", None, None),
    "whole_day_no_bridge": ("Plain", None, None),
}


def _trees() -> dict[str, str]:
    here = os.path.dirname(os.path.dirname(os.path.abspath(backtrader_channels.__file__)))
    trees = {"current": here}
    for item in filter(None, os.environ.get("BTCH_BENCH_TREES", "").split(",")):
        name, _, path = item.partition("=")
        if not path or not os.path.isdir(os.path.join(path, "backtrader_channels")):
            raise ValueError(f"BTCH_BENCH_TREES: {item!r} is not name=/path/to/a/checkout")
        trees[name] = path
    return trees


TREES = _trees()
RESULTS: dict[tuple[str, str], list[dict]] = {}

CHILD = """
import json, sys, time
import backtrader as bt, backtrader_channels as btch

class SmaStd(bt.Strategy):
    def __init__(self):
        self.px = btch.ChannelBridge(channel=("tick", "BTC/USDT"), field="price")
        self.sma = bt.ind.SMA(self.px, period=50)
        self.std = bt.ind.StdDev(self.px, period=50)

    def next(self):
        px, mean, dev = self.px[0], self.sma[0], self.std[0]
        if not self.position and px < mean - 2.0 * dev:
            self.buy(size=0.01)
        elif self.position and px > mean:
            self.close()

class Plain(bt.Strategy):
    def on_tick(self, tick):
        pass

path, strategy, start, end = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
c = btch.Cerebro(stdstats=False, progress=False)
c.add_channel("tick", "BTC/USDT", dataname=path, start=start or None, end=end or None)
c.addstrategy(globals()[strategy])
t = time.perf_counter()
c.run(mode=btch.RunMode.TICK)
seconds = time.perf_counter() - t
peak = 0.0
for line in open("/proc/self/status"):  # this process's own high-water mark
    if line.startswith("VmHWM:"):
        peak = int(line.split()[1]) / 1024
events = c.last_run["events"]
print(json.dumps({"events": events, "seconds": seconds, "events_per_s": events / seconds,
                  "peak_rss_mb": peak, "module": btch.__file__}))
"""


def write_day(path: str, n: int, seed: int = 13) -> str:
    """``n`` synthetic trades (``iter_synthetic_trades``) squeezed into 24 hours."""
    import pyarrow as pa

    from backtrader_channels.loopback.synthetic import START_NS, iter_synthetic_trades
    from backtrader_channels.sources.writer import write_parquet

    scale = DAY_NS / n / 50e6  # the generator spaces trades 50 ms apart on average

    def tables():
        for t in iter_synthetic_trades(n, seed=seed):
            ts = START_NS + ((t.column("timestamp").to_numpy() - START_NS) * scale).astype("int64")
            for name, values in (("timestamp", ts), ("recv_timestamp", ts + 1_000_000)):
                t = t.set_column(t.schema.get_field_index(name), name, pa.array(values))
            yield t

    return write_parquet(path, tables(), "tick", 262_144)


@pytest.fixture(scope="session")
def day_file() -> str:
    """The day of trades, cached in the temp dir across sessions."""
    folder = os.path.join(tempfile.gettempdir(), "btch-bench")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"day_{N}_seed13.parquet")
    if not os.path.exists(path):
        partial = f"{path}.{os.getpid()}.tmp"
        write_day(partial, N)
        os.replace(partial, path)
    return path


@pytest.fixture(scope="module", autouse=True)
def summary():
    """The figures of every case and tree, printed at the end (run with ``-s``)."""
    yield
    print("\ncase                   tree        events/s (range)        peak RSS MB (range)")
    for (case, tree), runs in RESULTS.items():
        eps = [r["events_per_s"] for r in runs]
        rss = [r["peak_rss_mb"] for r in runs]
        print(
            f"{case:<22} {tree:<10} {min(eps):>10,.0f}-{max(eps):<10,.0f}"
            f"   {min(rss):>6,.0f}-{max(rss):<6,.0f}  ({runs[0]['events']:,} events)"
        )


@pytest.mark.benchmark(group="bridge-window")
@pytest.mark.parametrize("tree", list(TREES))
@pytest.mark.parametrize("case", list(CASES))
def test_bridge_window(benchmark, day_file, case, tree):
    strategy, h0, h1 = CASES[case]
    from backtrader_channels.loopback.synthetic import START_NS

    start = 0 if h0 is None else START_NS + h0 * HOUR_NS
    end = 0 if h1 is None else START_NS + h1 * HOUR_NS
    env = {**os.environ, "PYTHONPATH": TREES[tree]}
    runs = RESULTS.setdefault((case, tree), [])

    def child():
        out = subprocess.run(
            [sys.executable, "-c", CHILD, day_file, strategy, str(start), str(end)],
            capture_output=True,
            text=True,
            check=True,
            env=env,
            cwd=os.path.dirname(day_file),  # not a checkout: PYTHONPATH picks the tree
        )
        result = json.loads(out.stdout)
        runs.append(result)
        return result

    benchmark.pedantic(child, rounds=ROUNDS, iterations=1)
    assert all(r["module"].startswith(TREES[tree]) for r in runs)  # the tree asked for
    if h0 is None:
        assert runs[0]["events"] == N
    benchmark.extra_info.update(
        events=runs[0]["events"],
        events_per_s=[round(r["events_per_s"]) for r in runs],
        peak_rss_mb=[round(r["peak_rss_mb"]) for r in runs],
    )
