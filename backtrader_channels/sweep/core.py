"""Parameter sweeps of one strategy over a Cerebro's channels: a grid, or given parameter sets,
on the whole data or day by day, ranked by a metric.

Every run is a task of :mod:`backtrader_channels.cerebro.sweeps`, so it runs locally, in worker
processes or on Ray as the Cerebro's ``optengine`` says, and gives what that parameter set gives
run alone.

Day by day (``split="day"``, partitioned data): each (parameter set, day) is its own run. It
starts flat, with the starting cash and a fresh strategy (indicators warm up again), and its
open position at the day's end is valued at the day's last trade (the broker's value: a
flatten without a closing fee). A parameter set's figures are its days added up. Positions are
never carried from one day to the next: the days run in parallel, so none can wait for the
day before; run the whole data (``split=None``) to carry them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Literal, TypeAlias, TypeGuard

import backtrader as bt

from ..btypes import BtStrategy, BtStrategyClass, JsonDict, Kwargs
from ..cerebro.sweeps import SweepTask, run_tasks
from ..errors import ChannelError, check_choice
from ..parallel import SweepError, TaskEngine, TaskFailure
from ..sources.formats import day_window, partition_days
from .metrics import RETURNS_ANALYZER, check_metric, run_metrics, sort_key

if TYPE_CHECKING:
    from ..cerebro import Cerebro

Split = Literal["day"]
OnFailure = Literal["raise", "report"]
TRADES_ANALYZER = "_sweep_trades"
#: one parameter set: the strategy's parameter names and their values
ParamSet: TypeAlias = Mapping[str, object]
#: what one run gives back: its strategy, or (``optreturn``, the default) backtrader's
#: ``OptReturn`` with its params, analyzers and ``run_stats``
RunResult: TypeAlias = "BtStrategy | bt.OptReturn"


class Part:
    """One run of a parameter set: the whole data, or one day."""

    __slots__ = ("day", "result", "returns", "stats", "trades")

    def __init__(self, day: str | None, result: RunResult) -> None:
        self.day, self.result = day, result
        self.stats: JsonDict = result.run_stats
        analyzers = result.analyzers
        minute = getattr(analyzers, RETURNS_ANALYZER, None)
        self.returns = list(minute.get_analysis().values()) if minute is not None else []
        ta = getattr(analyzers, TRADES_ANALYZER, None)
        self.trades = ta.get_analysis().get("total", {}).get("closed", 0) if ta is not None else 0


class SweepRun:
    """One parameter set's outcome: its runs (one, or one per day), their figures added up,
    and the metrics; ``error`` says why it has none (its run failed on every attempt)."""

    def __init__(self, params: ParamSet, parts: list[Part], error: str | None) -> None:
        self.params, self.parts, self.error = params, parts, error
        self.stats = combine([p.stats for p in parts]) if parts and error is None else {}
        self.metrics: JsonDict = (
            run_metrics(
                self.stats,
                [r for p in parts for r in p.returns],
                sum(p.trades for p in parts),
            )
            if self.stats
            else {}
        )

    @property
    def results(self) -> list[RunResult]:
        """Each run's strategy (or ``OptReturn`` with params and analyzers), by day."""
        return [p.result for p in self.parts]

    def to_dict(self) -> JsonDict:
        out = {"params": self.params, **self.metrics, "error": self.error}
        days = [p.day for p in self.parts if p.day is not None]
        if days:
            out["days"] = days
        return out


def combine(stats: list[JsonDict]) -> JsonDict:
    """Stats of consecutive runs added up (counts, PnL, seconds; the span first to last)."""
    if len(stats) == 1:
        return dict(stats[0])
    start = stats[0]["final_value"] - stats[0]["pnl"]
    out: JsonDict = {
        k: sum(s[k] for s in stats) for k in ("events", "orders", "fills", "pnl", "seconds")
    }
    out["stale_book_fills"] = sum(s.get("stale_book_fills", 0) for s in stats)
    out["final_value"] = start + out["pnl"]
    out["first_ts"] = next((s["first_ts"] for s in stats if s["first_ts"] is not None), None)
    out["last_ts"] = next((s["last_ts"] for s in reversed(stats) if s["last_ts"]), None)
    skipped: dict[str, dict[str, int]] = {}
    for s in stats:
        for src, reasons in s.get("skipped", {}).items():
            into = skipped.setdefault(src, {})
            for reason, n in reasons.items():
                into[reason] = into.get(reason, 0) + n
    out["skipped"] = skipped
    return out


class SweepResult:
    """Every parameter set's :class:`SweepRun`, in the order they were given, and how to rank
    them."""

    def __init__(self, runs: list[SweepRun], metric: str, days: list[str] | None) -> None:
        self.runs, self.metric, self.days = runs, metric, days

    @property
    def failures(self) -> list[SweepRun]:
        return [r for r in self.runs if r.error is not None]

    def ranked(self) -> list[SweepRun]:
        """Best first by the metric; ties keep the given order; failed runs last."""
        key = sort_key(self.metric)
        return sorted(self.runs, key=lambda r: key(r.metrics.get(self.metric)))

    @property
    def best(self) -> SweepRun:
        return self.ranked()[0]

    def table(self) -> str:
        """The ranked runs as a text table (what ``backtrader-channels sweep`` prints)."""
        names = list(self.runs[0].params) if self.runs else []
        cols = ["rank", *names, "pnl", "return", "sharpe", "orders", "trades"]
        rows = []
        for i, run in enumerate(self.ranked(), 1):
            m = run.metrics
            cells = [str(i), *(_cell(run.params[n]) for n in names)]
            if run.error is not None:
                cells += ["failed", "", "", "", ""]
            else:
                cells += [
                    f"{m['pnl']:.2f}",
                    f"{m['return'] * 100:.3f}%",
                    "-" if m["sharpe"] is None else f"{m['sharpe']:.2f}",
                    str(m["orders"]),
                    str(m["trades"]),
                ]
            rows.append(cells)
        width = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
        lines = ["  ".join(c.rjust(w) for c, w in zip(cols, width))]
        lines += ["  ".join(c.rjust(w) for c, w in zip(r, width)) for r in rows]
        lines.append(f"ranked by {self.metric}")
        lines += [f"failed: {r.params}: {r.error}" for r in self.failures]
        return "\n".join(lines)

    def to_dict(self) -> JsonDict:
        return {
            "metric": self.metric,
            "days": self.days,
            "runs": [r.to_dict() for r in self.ranked()],
        }


def _cell(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def expand_grid(grid: Mapping[str, object]) -> list[dict[str, object]]:
    """Every combination of ``grid``'s values, in ``optstrategy``'s order (the last name
    varies fastest); a single value is a one-value list."""
    keys = list(grid)
    values = [v if _iterable(v) else [v] for v in grid.values()]
    return [dict(zip(keys, combo)) for combo in itertools.product(*values)]


def _iterable(value: object) -> TypeGuard[Iterable[object]]:
    return isinstance(value, Iterable) and not isinstance(value, (str, bytes))


def sweep(
    cerebro: Cerebro,
    strategy: BtStrategyClass,
    grid: Mapping[str, object],
    **kwargs: Kwargs,
) -> SweepResult:
    """Run ``strategy`` for every combination of ``grid`` on ``cerebro``'s channels.

    ``cerebro.optstrategy(strategy, **grid)`` runs the same runs; this adds the ranking, the
    per-day split and a table. Keyword arguments are :func:`run_param_sets`'s."""
    return run_param_sets(cerebro, strategy, expand_grid(grid), **kwargs)


def run_param_sets(
    cerebro: Cerebro,
    strategy: BtStrategyClass,
    param_sets: Sequence[ParamSet],
    split: Split | None = None,
    metric: str = "pnl",
    on_failure: OnFailure = "raise",
    engine: TaskEngine | None = None,
) -> SweepResult:
    """Run ``strategy`` once per parameter set (per day with ``split="day"``).

    Parameters
    ----------
    cerebro : Cerebro
        Its channels, broker, analyzers and engine parameters (``optengine``, ``maxcpus``,
        ``optaddress``, ``optretries``) serve every run; it must have no strategy of its own.
    strategy : bt.Strategy subclass
        The strategy to run.
    param_sets : list of dict
        One dict of parameters per run.
    split : {"day"} or None
        ``"day"``: each (parameter set, day of the partitioned data) is its own run.
    metric : {"pnl", "return", "sharpe", "final_value", "orders", "fills", "trades"}
        What ``ranked()`` and ``best`` sort by, highest first.
    on_failure : {"raise", "report"}
        A run that failed on every attempt raises a ``SweepError`` (with the others'
        results), or is kept as a run with ``error`` set, ranked last.
    engine : TaskEngine, optional
        An engine to reuse (kept open); default: the Cerebro's, closed after.
    """
    check_metric(metric)
    check_choice("on_failure", on_failure, ("raise", "report"))
    if split is not None:
        check_choice("split", split, ("day",))
    if cerebro.strats:
        raise ChannelError("sweep runs the strategy it is given: the Cerebro must have none")
    _add_analyzers(cerebro)
    days = sweep_days(cerebro) if split == "day" else None
    windows: list[tuple[str | None, tuple[int, int] | None]] = (
        [(d, day_window(d)) for d in days] if days is not None else [(None, None)]
    )
    tasks = [
        SweepTask(((strategy, (), params),), window)
        for params in param_sets
        for _, window in windows
    ]
    results, failures = run_tasks(cerebro, tasks, engine)
    if failures and on_failure == "raise":
        raise SweepError(failures, results)
    failed = {f.index: f for f in failures}
    runs = []
    for i, params in enumerate(param_sets):
        idx = range(i * len(windows), (i + 1) * len(windows))
        errors = [failed[j] for j in idx if j in failed]
        parts = [Part(windows[j - idx[0]][0], results[j][0]) for j in idx if j not in failed]
        runs.append(SweepRun(params, parts, _why(errors)))
    return SweepResult(runs, metric, days)


def _why(errors: list[TaskFailure]) -> str | None:
    if not errors:
        return None
    first = errors[0]
    where = f" on {first.label['window']}" if "window" in first.label else ""
    return f"{first.error}{where}" + (f" (+{len(errors) - 1} more)" if len(errors) > 1 else "")


def _add_analyzers(cerebro: Cerebro) -> None:
    have = {kw.get("_name") for _cls, _args, kw in cerebro.analyzers}
    if RETURNS_ANALYZER not in have:
        cerebro.addanalyzer(
            bt.analyzers.TimeReturn, timeframe=bt.TimeFrame.Minutes, _name=RETURNS_ANALYZER
        )
    if TRADES_ANALYZER not in have:
        cerebro.addanalyzer(bt.analyzers.TradeAnalyzer, _name=TRADES_ANALYZER)


def sweep_days(cerebro: Cerebro) -> list[str]:
    """The days of a Cerebro's partitioned channels (every day any channel has), sorted."""
    days: set[str] = set()
    for spec in cerebro._specs:
        d = spec.dataname
        ch = spec.channel
        found = (
            partition_days(d, ch.channel_type, ch.symbol, ch.venue or None, spec.market)
            if isinstance(d, str)
            else None
        )
        if found is None:
            raise ChannelError(
                f"split='day' needs partitioned data (backtrader-channels convert ... --out "
                f"DIR); channel {spec.channel.key} reads {d!r}"
            )
        days.update(found)
    return sorted(days)
