"""Peak memory while streaming a long file (default 20,000,000 ticks, native Parquet and Tardis
CSV): must stay flat.

The run happens in a fresh subprocess so its peak RSS (``ru_maxrss``) is the run's own.
``BTCH_BENCH_MEMORY_TICKS`` changes the size. Run: ``python -m pytest benchmarks/test_memory.py
--benchmark-only``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from backtrader_channels.loopback.synthetic import write_synthetic_trades

from .vendor_files import tardis_trades_csv

N = int(os.environ.get("BTCH_BENCH_MEMORY_TICKS", "20000000"))

CHILD = """
import json, resource, sys, time
import backtrader as bt, backtrader_channels as btch
class Count(bt.Strategy):
    def start(self): self.n = 0
    def on_tick(self, t): self.n += 1
c = btch.Cerebro(stdstats=False)
c.add_channel(btch.TickChannel, symbol="BTC/USDT", dataname=sys.argv[1])
c.addstrategy(Count)
t = time.perf_counter()
s = c.run(mode=btch.RunMode.TICK)[0]
el = time.perf_counter() - t
def peak_mb():
    # VmHWM is this process image's own high-water mark; ru_maxrss would include the parent's
    # RSS inherited at fork (the parent generated the file)
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"ticks": s.n, "seconds": el, "peak_rss_mb": peak_mb()}))
"""


@pytest.mark.benchmark(group="memory")
@pytest.mark.parametrize("fmt", ["native_parquet", "tardis_csv"])
def test_streaming_memory(benchmark, tmp_path_factory, fmt):
    folder = tmp_path_factory.mktemp("mem")
    if fmt == "native_parquet":
        path = write_synthetic_trades(str(folder / "long.parquet"), N, seed=11)
    else:
        path = tardis_trades_csv(str(folder / "binance_trades_long.csv"), N, seed=11)

    def child():
        out = subprocess.run(
            [sys.executable, "-c", CHILD, path], capture_output=True, text=True, check=True
        )
        return json.loads(out.stdout)

    result = benchmark.pedantic(child, rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    assert result["ticks"] == N
    assert result["peak_rss_mb"] < 500
