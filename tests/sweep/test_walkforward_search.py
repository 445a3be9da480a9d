"""Walk-forward windows and the Optuna search, on synthetic days and the bundled sample."""

from __future__ import annotations

import json

import pytest

import backtrader_channels as btch
from backtrader_channels.loopback.synthetic import write_synthetic_days
from backtrader_channels.sweep import search, sweep, walk_forward

from .strategies import Every, Flaky, Phased

GRID = {"every": [40, 50, 100, 125, 200]}


@pytest.fixture(scope="module")
def days_dir(tmp_path_factory):
    return write_synthetic_days(str(tmp_path_factory.mktemp("wf")), 4, 2000, seed=7)


def _cerebro(root, **kwargs):
    c = btch.Cerebro(**kwargs)
    c.add_channel("tick", "BTC/USDT", dataname=root)
    return c


def test_walk_forward_picks_each_windows_best_on_its_fit_days(days_dir):
    per_day = sweep(_cerebro(days_dir, maxcpus=2), Phased, GRID, split="day")
    pnl = {(r.params["every"], p.day): p.stats["pnl"] for r in per_day.runs for p in r.parts}
    days = per_day.days
    wf = walk_forward(_cerebro(days_dir, maxcpus=2), Phased, GRID, fit_days=2)
    assert [(w.fit_days, w.test_days) for w in wf.windows] == [
        (days[0:2], [days[2]]),
        (days[1:3], [days[3]]),
    ]
    for w in wf.windows:  # by hand: the best fit total, the first of the grid on a tie
        fit = {e: sum(pnl[(e, d)] for d in w.fit_days) for e in GRID["every"]}
        best = max(GRID["every"], key=lambda e: (fit[e], -GRID["every"].index(e)))
        assert w.params == {"every": best}
        assert w.fit_score == pytest.approx(fit[best])
        assert w.test["pnl"] == pytest.approx(sum(pnl[(best, d)] for d in w.test_days))
    assert wf.out_of_sample["pnl"] == pytest.approx(sum(w.test["pnl"] for w in wf.windows))
    json.dumps(wf.to_dict())  # the report is plain JSON


def test_walk_forward_needs_more_days_than_it_fits_on(days_dir):
    with pytest.raises(ValueError, match="needs at least 5 days; the data has 4"):
        walk_forward(_cerebro(days_dir), Phased, GRID, fit_days=4)
    with pytest.raises(ValueError, match="both must be >= 1"):
        walk_forward(_cerebro(days_dir), Phased, GRID, fit_days=0)


def test_search_is_reproducible_and_stays_in_its_space(sample):
    def run():
        c = btch.Cerebro(maxcpus=2)
        c.add_channel("tick", "BTC/USDT", dataname=sample.trades)
        return search(c, Every, {"every": (50, 500), "size": [0.01, 0.02]}, 6, quiet=True)

    (r1, study), (r2, _) = run(), run()
    assert [r.params for r in r1.runs] == [r.params for r in r2.runs]
    assert len(r1.runs) == len(study.trials) == 6
    assert all(50 <= r.params["every"] <= 500 and r.params["size"] in (0.01, 0.02) for r in r1.runs)
    assert study.best_value == pytest.approx(r1.best.metrics["pnl"])
    assert [t.value for t in study.trials] == [r.metrics["pnl"] for r in r1.runs]


def test_search_tells_a_failed_run_as_a_failed_trial(sample):
    c = btch.Cerebro(maxcpus=1, optretries=0)
    c.add_channel("tick", "BTC/USDT", dataname=sample.trades)
    result, study = search(c, Flaky, {"every": [100, 200], "always": [100]}, 4, quiet=True)
    states = [t.state.name for t in study.trials]
    failed = [r.params["every"] == 100 for r in result.runs]
    assert states == ["FAIL" if f else "COMPLETE" for f in failed]
    assert all("always fails" in r.error for r in result.runs if r.params["every"] == 100)
    assert any(failed)
    assert not all(failed)
    assert result.ranked()[-1].error is not None


def test_a_reported_failure_ranks_last_and_shows_in_the_table(sample):
    c = btch.Cerebro(maxcpus=2, optretries=0)
    c.add_channel("tick", "BTC/USDT", dataname=sample.trades)
    result = sweep(c, Flaky, {"every": [100, 200, 300], "always": 100}, on_failure="report")
    assert [r.params["every"] for r in result.ranked()][-1] == 100
    table = result.table()
    assert "failed" in table
    assert "RuntimeError: always fails with every=100" in table
    assert [r["error"] is None for r in result.to_dict()["runs"]] == [True, True, False]
