"""``optstrategy`` in tick mode: alone, in local processes and on a Ray cluster, the same."""

from __future__ import annotations

import backtrader as bt
import pytest

import backtrader_channels as btch
from backtrader_channels.parallel import SweepError

from .strategies import Every, Flaky, WholeEvery

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


def test_a_generator_of_events_is_refused_with_what_to_give(sample):
    from backtrader_channels.sources import read_native

    events = (ev for _, evs in read_native(sample.trades, "tick", "BTC/USDT") for ev in evs)
    c = btch.Cerebro(maxcpus=1)
    c.add_channel("tick", "BTC/USDT", dataname=events)
    c.optstrategy(Every, every=[100, 200])
    with pytest.raises(btch.ChannelError, match="a generator of events can be read only once"):
        c.run(mode=btch.RunMode.TICK)


def test_a_list_of_events_sweeps_like_the_file(sample):
    from backtrader_channels.sources import read_native

    events = [ev for _, evs in read_native(sample.trades, "tick", "BTC/USDT") for ev in evs]
    c = btch.Cerebro(maxcpus=2)
    c.add_channel("tick", "BTC/USDT", dataname=events)
    c.optstrategy(Every, every=[100, 200])
    results = c.run(mode=btch.RunMode.TICK)
    assert [r[0].run_stats["orders"] for r in results] == [97, 48]


def test_a_progress_bar_counts_the_runs(sample, capsys):
    c = btch.Cerebro(maxcpus=1, progress=True)
    c.add_channel("tick", "BTC/USDT", dataname=sample.trades)
    c.optstrategy(Every, every=[100, 200, 300])
    c.run(mode=btch.RunMode.TICK)
    err = capsys.readouterr().err
    assert "sweep" in err
    assert "3/3" in err
    assert "events" not in err  # the runs themselves show no bar of their own


def test_whole_strategies_come_back_with_optreturn_false(sample):
    """As backtrader's pool does (it needs strategy classes with unique names: backtrader
    registers helper classes by name)."""
    c = btch.Cerebro(maxcpus=2, optreturn=False)
    c.add_channel("tick", "BTC/USDT", dataname=sample.trades)
    c.optstrategy(WholeEvery, every=[100, 200])
    results = c.run(mode=btch.RunMode.TICK)
    assert [type(r[0]) for r in results] == [WholeEvery, WholeEvery]  # the caller's own class
    assert [r[0].n for r in results] == [9757, 9757]
    assert [r[0].run_stats["orders"] for r in results] == [97, 48]


def test_ray_refuses_optreturn_false_and_says_why(sample, ray_cluster):
    c = btch.Cerebro(optengine="ray", optreturn=False)
    c.add_channel("tick", "BTC/USDT", dataname=sample.trades)
    c.optstrategy(Every, every=[100, 200])
    with pytest.raises(btch.ChannelError, match=r"optreturn=False.*use optreturn=True"):
        c.run(mode=btch.RunMode.TICK)
