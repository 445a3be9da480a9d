"""A 16-run parameter grid on the 1M synthetic ticks: one process, local worker processes and a
Ray cluster on 127.0.0.1 (started here, 2 CPUs), plus the fixed cost of a Ray task.

Every engine must give the same 16 results (orders per run are compared), so the times compare
the same work. Speed-ups are ratios to the sequential run of the same session. Run:
``python -m pytest benchmarks/test_sweeps.py --benchmark-only`` (about 5 minutes on 2 cores).
"""

from __future__ import annotations

import os
import time

import pytest

import backtrader_channels as btch

from .strategies import SmaFlipPeriod

PERIODS = [10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36, 38, 40]  # 16 runs
SMALL_TICKS = 2_000
_SEEN: dict[str, float] = {}
_ORDERS: dict[str, list[int]] = {}


@pytest.fixture(scope="module")
def ray_address():
    """A head node on 127.0.0.1 with 2 CPUs (this machine's), stopped after the module."""
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    t0 = time.perf_counter()
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 2, "node_ip_address": "127.0.0.1", "include_dashboard": False},
    )
    ray.init(address=cluster.address, log_to_driver=False)
    _SEEN["ray_start_s"] = time.perf_counter() - t0
    try:
        yield cluster.address
    finally:
        ray.shutdown()
        cluster.shutdown()


@pytest.fixture(scope="module")
def small_path(tmp_path_factory):
    from backtrader_channels.loopback.synthetic import write_synthetic_trades

    path = tmp_path_factory.mktemp("small") / "small.parquet"
    return write_synthetic_trades(str(path), SMALL_TICKS, seed=7)


def grid(path, **kwargs):
    cerebro = btch.Cerebro(stdstats=False, **kwargs)
    cerebro.broker.setcash(1e12)
    cerebro.add_channel(btch.TickChannel, symbol="BTC/USDT", dataname=path)
    cerebro.optstrategy(SmaFlipPeriod, period=PERIODS)
    results = cerebro.run(mode=btch.RunMode.TICK)
    return [r[0].run_stats["orders"] for r in results]


def _record(benchmark, name, orders, base="sequential"):
    seconds = benchmark.stats.stats.median
    _SEEN[name] = seconds
    _ORDERS[name] = orders
    info = {"runs": len(PERIODS), "seconds": round(seconds, 2), "orders": sum(orders)}
    if base in _SEEN and name != base:
        info["speedup_vs_sequential"] = round(_SEEN[base] / seconds, 2)
        assert orders == _ORDERS[base]  # the same 16 runs
    benchmark.extra_info.update(info)


@pytest.mark.benchmark(group="sweep-16x1M")
def test_sweep_a_sequential(benchmark, ticks_path):
    orders = benchmark.pedantic(grid, args=(ticks_path,), kwargs={"maxcpus": 1}, rounds=1)
    _record(benchmark, "sequential", orders)


@pytest.mark.benchmark(group="sweep-16x1M")
def test_sweep_b_local_processes(benchmark, ticks_path):
    orders = benchmark.pedantic(grid, args=(ticks_path,), kwargs={"maxcpus": 2}, rounds=1)
    _record(benchmark, "local", orders)


@pytest.mark.benchmark(group="sweep-16x1M")
def test_sweep_c_ray(benchmark, ticks_path, ray_address):
    orders = benchmark.pedantic(grid, args=(ticks_path,), kwargs={"optengine": "ray"}, rounds=1)
    _record(benchmark, "ray", orders)
    benchmark.extra_info["ray_cluster_start_s"] = round(_SEEN["ray_start_s"], 2)


@pytest.mark.benchmark(group="sweep-task-cost")
@pytest.mark.parametrize("engine", ["sequential", "local", "ray"])
def test_sweep_fixed_cost_per_task(benchmark, small_path, engine, request):
    """16 runs of 2,000 ticks: the time is almost all per-task cost (process or Ray task,
    unpickling the Cerebro, opening the file, starting the run)."""
    kwargs = {"sequential": {"maxcpus": 1}, "local": {"maxcpus": 2}, "ray": {}}[engine]
    if engine == "ray":
        request.getfixturevalue("ray_address")
        kwargs = {"optengine": "ray"}
    benchmark.pedantic(grid, args=(small_path,), kwargs=kwargs, rounds=3)
    per_task = benchmark.stats.stats.median / len(PERIODS)
    benchmark.extra_info.update(ms_per_task=round(per_task * 1000, 1), ticks=SMALL_TICKS)
