"""``optstrategy`` in tick mode: alone, in local processes and on a Ray cluster, the same."""

from __future__ import annotations

import backtrader as bt
import pytest

import backtrader_channels as btch
from backtrader_channels.parallel import SweepError

from .strategies import Every, Flaky

GRID = [90, 100, 150, 200, 250, 300, 400, 500]  # 8 parameter sets
TIMING = ("seconds", "events_per_second")


def _cerebro(sample, **kwargs):
    c = btch.Cerebro(**kwargs)
    c.add_channel("tick", "BTC/USDT", dataname=sample.trades)
    c.addanalyzer(bt.analyzers.TradeAnalyzer, _name="ta")
    c.addanalyzer(bt.analyzers.Transactions, _name="tx")
    return c


def _outcome(strat):
    stats = {k: v for k, v in strat.run_stats.items() if k not in TIMING and k != "params"}
    return (
        strat.params.every,
        stats,
        repr(strat.analyzers.ta.get_analysis()),
        repr(strat.analyzers.tx.get_analysis()),
    )


def _alone(sample, every):
    c = _cerebro(sample)
    c.addstrategy(Every, every=every)
    strat = c.run(mode=btch.RunMode.TICK)[0]
    strat.run_stats = c.last_run
    return _outcome(strat)


@pytest.fixture(scope="module")
def alone(sample):
    return [_alone(sample, every) for every in GRID]


def _swept(sample, **kwargs):
    c = _cerebro(sample, **kwargs)
    c.optstrategy(Every, every=GRID)
    results = c.run(mode=btch.RunMode.TICK)
    assert [s["params"]["Every"]["every"] for s in c.run_stats] == GRID
    return [_outcome(r[0]) for r in results]


def test_local_processes_equal_each_set_run_alone(sample, alone):
    assert _swept(sample, maxcpus=2) == alone
    assert _swept(sample, maxcpus=1) == alone


def test_ray_cluster_equals_each_set_run_alone(sample, alone, ray_cluster):
    assert _swept(sample, optengine="ray") == alone


def test_a_set_that_fails_once_is_retried(sample, tmp_path, ray_cluster):
    for engine, cpus in (("local", 2), ("ray", None)):
        c = _cerebro(sample, maxcpus=cpus, optengine=engine)
        c.optstrategy(Flaky, every=[100, 200], marker=str(tmp_path / engine))
        results = c.run(mode=btch.RunMode.TICK)
        assert [r[0].run_stats["orders"] for r in results] == [97, 48]
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(engine)) == [
            f"{engine}.100",
            f"{engine}.200",
        ]


@pytest.mark.parametrize("engine", ["local", "ray"])
def test_a_set_that_always_fails_is_reported_with_its_parameters(sample, engine, request):
    if engine == "ray":
        request.getfixturevalue("ray_cluster")
    c = _cerebro(sample, maxcpus=2, optengine=engine, optretries=1)
    c.optstrategy(Flaky, every=[100, 200, 300], always=200)
    with pytest.raises(SweepError) as info:
        c.run(mode=btch.RunMode.TICK)
    err = info.value
    assert [(f.index, f.label["Flaky"]["every"], f.attempts) for f in err.failures] == [(1, 200, 2)]
    assert "RuntimeError: always fails with every=200" in err.failures[0].error
    assert "{'Flaky': {'every': 200, 'always': 200}}" in str(err)
    assert [r is None for r in err.results] == [False, True, False]
    assert err.results[0][0].run_stats["orders"] == 97


def test_unknown_optengine_is_refused():
    with pytest.raises(ValueError, match="optengine='spark': must be one of 'local', 'ray'"):
        btch.Cerebro(optengine="spark")
