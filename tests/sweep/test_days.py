"""Sweeps split by day: each (parameter set, day) a run of its own, added up per set."""

from __future__ import annotations

import pytest

import backtrader_channels as btch
from backtrader_channels.errors import ChannelError
from backtrader_channels.loopback.synthetic import write_synthetic_days
from backtrader_channels.sources.formats import day_window, partition_days, partition_files
from backtrader_channels.sweep import sweep, sweep_days

from .strategies import Phased

PER_DAY = 2000
# every one divides 2000 into an even number of actions: Phased is flat at each day's end
GRID = [20, 40, 50, 100, 125, 200, 250, 500]
DAYS = ["2023-11-14", "2023-11-15", "2023-11-16"]


@pytest.fixture(scope="module")
def days_dir(tmp_path_factory):
    return write_synthetic_days(str(tmp_path_factory.mktemp("days")), len(DAYS), PER_DAY)


def _cerebro(root, **kwargs):
    c = btch.Cerebro(**kwargs)
    c.add_channel("tick", "BTC/USDT", dataname=root)
    return c


def test_the_synthetic_days_are_partitioned_by_day(days_dir):
    assert partition_days(days_dir, "tick", "BTC/USDT") == DAYS
    assert sweep_days(_cerebro(days_dir)) == DAYS
    one = partition_files(days_dir, "tick", "BTC/USDT", day_window(DAYS[1]))
    assert len(one) == 1
    assert f"date={DAYS[1]}" in one[0]
    assert len(partition_files(days_dir, "tick", "BTC/USDT")) == 3


def test_a_day_split_adds_up_to_the_whole_run_when_flat_daily(days_dir):
    whole = sweep(_cerebro(days_dir, maxcpus=2), Phased, {"every": GRID})
    split = sweep(_cerebro(days_dir, maxcpus=2), Phased, {"every": GRID}, split="day")
    assert split.days == DAYS
    for w, s in zip(whole.runs, split.runs):
        assert w.params == s.params
        assert [p.day for p in s.parts] == DAYS
        assert [p.stats["events"] for p in s.parts] == [PER_DAY] * 3
        assert s.stats["events"] == w.stats["events"] == 3 * PER_DAY
        assert s.metrics["orders"] == w.metrics["orders"] == 3 * PER_DAY // w.params["every"]
        assert s.metrics["fills"] == w.metrics["fills"] == s.metrics["orders"]
        assert s.metrics["trades"] == w.metrics["trades"] == s.metrics["orders"] // 2
        assert s.metrics["pnl"] == pytest.approx(w.metrics["pnl"], rel=1e-9, abs=1e-9)
        assert s.stats["final_value"] == pytest.approx(w.stats["final_value"], rel=1e-12)


def test_a_day_is_its_own_run(days_dir):
    """Each day's part is exactly the run of that day alone (start/end on the whole data)."""
    split = sweep(_cerebro(days_dir, maxcpus=1), Phased, {"every": [125]}, split="day")
    for part in split.runs[0].parts:
        start, end = day_window(part.day)
        c = btch.Cerebro()
        c.add_channel("tick", "BTC/USDT", dataname=days_dir, start=start, end=end)
        c.addstrategy(Phased, every=125)
        c.run(mode=btch.RunMode.TICK)
        assert part.stats["pnl"] == c.last_run["pnl"]
        assert part.stats["orders"] == c.last_run["orders"]


def test_a_day_split_needs_partitioned_data(sample):
    c = btch.Cerebro()
    c.add_channel("tick", "BTC/USDT", dataname=sample.trades)
    with pytest.raises(ChannelError, match=r"split='day' needs partitioned data.*'tick'"):
        sweep(c, Phased, {"every": [100]}, split="day")


def test_bad_arguments_name_the_choices(days_dir):
    with pytest.raises(ValueError, match="metric='pnl%': must be one of 'pnl'"):
        sweep(_cerebro(days_dir), Phased, {"every": [100]}, metric="pnl%")
    with pytest.raises(ValueError, match="split='week'"):
        sweep(_cerebro(days_dir), Phased, {"every": [100]}, split="week")
    c = _cerebro(days_dir)
    c.addstrategy(Phased)
    with pytest.raises(ChannelError, match="must have none"):
        sweep(c, Phased, {"every": [100]})


def test_a_failing_day_names_its_day(days_dir):
    from .strategies import Flaky

    c = _cerebro(days_dir, maxcpus=1, optretries=0)
    result = sweep(c, Flaky, {"every": [100, 200], "always": 200}, split="day", on_failure="report")
    ok, bad = result.runs
    assert ok.error is None
    assert len(ok.parts) == 3
    assert bad.error.startswith("RuntimeError: always fails with every=200")
    assert "on ('2023-11-14T00:00:00+00:00', '2023-11-15T00:00:00+00:00') (+2 more)" in bad.error
    assert bad.parts == []
    assert bad.metrics == {}
