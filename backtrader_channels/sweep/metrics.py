"""What a sweep ranks by: figures of one run (or of one parameter set's days added up)."""

from __future__ import annotations

import math
from collections.abc import Callable

from ..btypes import JsonDict
from ..errors import check_choice

MINUTES_PER_YEAR = 365 * 24 * 60
MIN_RETURNS = 30

#: the metrics a sweep can rank by, every one higher-is-better
METRICS: tuple[str, ...] = ("pnl", "return", "sharpe", "final_value", "orders", "fills", "trades")
#: the name of the analyzer a sweep adds to every run for its one-minute returns
RETURNS_ANALYZER = "_sweep_minute_returns"


def annualized_sharpe(
    returns: list[float], periods_per_year: float, min_returns: int = MIN_RETURNS
) -> tuple[float | None, str]:
    """The Sharpe ratio of per-period ``returns`` (risk-free rate 0), annualised by
    ``sqrt(periods_per_year)``: ``mean / stdev * sqrt(periods_per_year)`` with the sample
    standard deviation. None, with the reason, when there are fewer than ``min_returns``
    returns or they do not vary.

    Sweeps and the run report use one-minute returns (``TimeReturn(timeframe=Minutes)``) and
    ``MINUTES_PER_YEAR``: backtrader's own ``SharpeRatio`` is None on a run shorter than its
    timeframe (a year by default) and is not annualised for minutes."""
    n = len(returns)
    if n < min_returns:
        return None, f"{n} one-period returns, needs {min_returns}"
    mean = sum(returns) / n
    var = sum((r - mean) ** 2 for r in returns) / (n - 1)
    if var <= 0.0:
        return None, "returns do not vary"
    return mean / var**0.5 * periods_per_year**0.5, ""


def check_metric(metric: str) -> str:
    """``metric`` if a sweep can rank by it; else a ValueError naming the choices."""
    return check_choice("metric", metric, METRICS)


def run_metrics(stats: JsonDict, returns: list[float], trades: int) -> JsonDict:
    """Every metric of one run (or of days added up) from its stats and minute returns."""
    start = stats["final_value"] - stats["pnl"]
    sharpe, _why = annualized_sharpe(returns, MINUTES_PER_YEAR)
    return {
        "pnl": stats["pnl"],
        "return": stats["pnl"] / start if start else 0.0,
        "sharpe": sharpe,
        "final_value": stats["final_value"],
        "orders": stats["orders"],
        "fills": stats["fills"],
        "trades": trades,
    }


def sort_key(metric: str) -> Callable[[float | None], tuple[int, float]]:
    """A key that sorts runs best first by ``metric``; runs without a value (a Sharpe ratio of
    too few returns, a failed run) go last."""

    def key(value: float | None) -> tuple[int, float]:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return 1, 0.0
        return 0, -float(value)

    return key
