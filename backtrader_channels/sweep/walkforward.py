"""Walk-forward: fit on N days, test on the next, step, repeat; one call.

Every (parameter set, day) runs once, as a day of a per-day sweep (``split="day"``: each day
starts flat with a fresh strategy). Each window then picks the parameter set with the best
metric over its fit days and reports that set's figures over its test days. Because a day's run
does not depend on any other day, reusing it across windows gives exactly what running each
window's fit and test days again would give.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..btypes import BtStrategyClass, JsonDict, Kwargs
from .core import ParamSet, SweepRun, combine, expand_grid, run_param_sets
from .metrics import check_metric, run_metrics, sort_key

if TYPE_CHECKING:
    from ..cerebro import Cerebro


class Window:
    """One walk-forward step: the fit days, the parameters chosen on them, the test days and
    what those parameters did on them (``test``: the metrics; ``fit_score``: the metric)."""

    __slots__ = ("fit_days", "fit_score", "params", "test", "test_days")

    def __init__(
        self,
        fit_days: list[str],
        test_days: list[str],
        params: ParamSet,
        fit_score: float | None,
        test: JsonDict,
    ) -> None:
        self.fit_days, self.test_days, self.params = fit_days, test_days, params
        self.fit_score, self.test = fit_score, test

    def to_dict(self) -> JsonDict:
        return {
            "fit_days": self.fit_days,
            "test_days": self.test_days,
            "params": self.params,
            "fit_score": self.fit_score,
            "test": self.test,
        }


class WalkForward:
    """Every window, and the out-of-sample figures: the test days of all windows added up."""

    def __init__(self, windows: list[Window], metric: str, runs: list[SweepRun]) -> None:
        self.windows, self.metric, self.runs = windows, metric, runs
        self.out_of_sample = {
            "pnl": sum(w.test["pnl"] for w in windows),
            "orders": sum(w.test["orders"] for w in windows),
            "trades": sum(w.test["trades"] for w in windows),
        }

    def to_dict(self) -> JsonDict:
        return {
            "metric": self.metric,
            "windows": [w.to_dict() for w in self.windows],
            "out_of_sample": self.out_of_sample,
        }


def _over(run: SweepRun, days: list[str]) -> JsonDict:
    """``run``'s metrics over some of its days."""
    parts = [p for p in run.parts if p.day in days]
    stats = combine([p.stats for p in parts])
    return run_metrics(stats, [r for p in parts for r in p.returns], sum(p.trades for p in parts))


def walk_forward(
    cerebro: Cerebro,
    strategy: BtStrategyClass,
    grid: Mapping[str, object],
    fit_days: int,
    test_days: int = 1,
    metric: str = "pnl",
    **kwargs: Kwargs,
) -> WalkForward:
    """Walk ``strategy`` forward over the days of ``cerebro``'s partitioned data.

    Parameters
    ----------
    cerebro : Cerebro
        As for :func:`~backtrader_channels.sweep.core.run_param_sets`.
    strategy : bt.Strategy subclass
        The strategy to fit.
    grid : mapping
        Parameter name -> values; every combination is a candidate.
    fit_days : int
        Days each window fits on.
    test_days : int, default 1
        Days each window tests on; the next window starts that many days later.
    metric : str, default "pnl"
        What the fit maximises (one of ``sweep.metrics.METRICS``).
    **kwargs
        Passed to ``run_param_sets`` (``on_failure``, ``engine``).
    """
    check_metric(metric)
    if fit_days < 1 or test_days < 1:
        raise ValueError(f"fit_days={fit_days}, test_days={test_days}: both must be >= 1")
    result = run_param_sets(
        cerebro, strategy, expand_grid(grid), split="day", metric=metric, **kwargs
    )
    days = result.days or []
    if len(days) < fit_days + 1:
        raise ValueError(
            f"walk-forward with fit_days={fit_days} needs at least {fit_days + 1} days; the "
            f"data has {len(days)}"
        )
    usable = [r for r in result.runs if r.error is None]
    key = sort_key(metric)
    windows = []
    for i in range(fit_days, len(days), test_days):
        fit, test = days[i - fit_days : i], days[i : i + test_days]
        scored = [(_over(r, fit)[metric], r) for r in usable]
        score, best = min(scored, key=lambda sr: key(sr[0]))  # best first; ties: grid order
        windows.append(Window(fit, test, best.params, score, _over(best, test)))
    return WalkForward(windows, metric, result.runs)
