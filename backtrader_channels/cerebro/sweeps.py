"""Tick-mode ``optstrategy``: one task per parameter set (and, for split sweeps, per window).

Each task unpickles its own copy of the Cerebro (which holds the sources' names, never their
data), keeps one parameter combination and runs it with ``maxcpus=1``: what ran is exactly
what running that combination alone runs, on whichever engine
(:mod:`~backtrader_channels.parallel`) carried it. The results come back in the order
backtrader gives them: one list of strategies (or ``OptReturn``) per combination.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias

from ..btypes import BtStrategy, BtStrategyClass
from ..errors import ChannelError
from ..parallel import SweepError, TaskEngine, TaskFailure, make_engine, run_all

if TYPE_CHECKING:
    from backtrader.cerebro import OptReturn

    from .core import Cerebro

Window = tuple[int | None, int | None]
#: one strategy of a run as ``addstrategy``/``optstrategy`` stored it: its class, and the
#: positional and keyword arguments it is built with (the user's values, passed on)
StratEntry: TypeAlias = tuple[BtStrategyClass, tuple[object, ...], Mapping[str, object]]
#: what a run gives back per strategy: the strategy, or with ``optreturn`` its ``OptReturn``
#: (params, analyzers, ``run_stats``)
StratResult: TypeAlias = "BtStrategy | OptReturn"
#: what a failed task is named by: the parameters by strategy class name, and a split sweep's
#: ``"window"`` (ISO times)
SweepLabel: TypeAlias = dict[str, dict[str, object] | tuple[str | None, ...]]
#: what ``Cerebro.run`` returns, as ``bt.Cerebro.run``: the run's strategies (``StratResult``),
#: or with ``optstrategy`` a list of them per parameter set; which of the two, the run decides
RunResults: TypeAlias = list[Any]


class SweepTask(NamedTuple):
    """One run of a sweep: a strategy combination over an optional time window."""

    #: one ``(strategy class, args, kwargs)`` per strategy, as ``optstrategy`` stored them
    combo: tuple[StratEntry, ...]
    #: ``(start_ns, end_ns)`` intersected with each channel's own window; None: the whole data
    window: Window | None = None


def combo_label(combo: tuple[StratEntry, ...]) -> SweepLabel:
    """The parameters a combination sets, by strategy class name (what a failure names)."""
    return {cls.__name__: dict(kwargs) for cls, _args, kwargs in combo}


def combinations(cerebro: Cerebro) -> list[tuple[StratEntry, ...]]:
    """Every strategy combination of ``cerebro``'s ``addstrategy``/``optstrategy`` calls, in
    backtrader's order."""
    return list(itertools.product(*cerebro.strats))


def run_task(cerebro: Cerebro, task: SweepTask) -> list[StratResult]:
    """Run one task on a private copy of a Cerebro; its strategies (or ``OptReturn``)."""
    cerebro._sweep_task = True
    cerebro._dooptimize = True  # results as optstrategy's: OptReturn with run_stats
    cerebro.strats = [[entry] for entry in task.combo]
    cerebro.p.maxcpus = 1
    cerebro.p.progress = False
    if task.window is not None:
        start, end = task.window
        for spec in cerebro._specs:
            s0, e0 = spec.window
            spec.window = (
                start if s0 is None else s0 if start is None else max(s0, start),
                end if e0 is None else e0 if end is None else min(e0, end),
            )
    results = cerebro.run(mode="tick")
    return list(results[0])


def engine_of(cerebro: Cerebro) -> TaskEngine:
    """The engine ``cerebro``'s parameters choose (``optengine``, ``maxcpus``, ``optaddress``)."""
    p = cerebro.p
    return make_engine(p.optengine, jobs=p.maxcpus, address=p.optaddress)


def run_tasks(
    cerebro: Cerebro, tasks: list[SweepTask], engine: TaskEngine | None = None
) -> tuple[list[Any], list[TaskFailure]]:
    """Run ``tasks`` on ``engine`` (default: :func:`engine_of`, closed after), retrying
    failures ``optretries`` times; results in task order (None for a task that failed every
    time: the callers index only the tasks that did not fail) and the failures."""
    p = cerebro.p
    for spec in cerebro._specs:
        if not spec.recorded and not isinstance(spec.dataname, (list, tuple)):
            raise ChannelError(
                f"channel {spec.channel.key}: a sweep runs each parameter set on its own copy "
                f"of the data, and a {type(spec.dataname).__name__} of events can be read only "
                "once; give the data as a file, a list, a DataFrame or a Table"
            )
    if p.optengine == "ray" and not p.optreturn:
        raise ChannelError(
            "optreturn=False sends whole strategies back, and backtrader makes helper classes "
            "for them while they run, which the driver does not have; use optreturn=True (the "
            "default): params, analyzers and run_stats come back"
        )
    own = engine is None
    if engine is None:
        engine = engine_of(cerebro)
    try:
        return run_all(
            engine,
            run_task,
            cerebro,
            tasks,
            labels=[_label(t) for t in tasks],
            retries=p.optretries,
            progress=p.progress,
        )
    finally:
        if own:
            engine.close()


def _label(task: SweepTask) -> SweepLabel:
    label: SweepLabel = combo_label(task.combo)
    if task.window is not None:  # as ISO times (UTC): what a person reads in a failure
        label["window"] = tuple(None if ns is None else _iso(ns) for ns in task.window)
    return label


def _iso(ns: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.timezone.utc).isoformat()


def optimise(cerebro: Cerebro) -> list[list[StratResult]]:
    """``optstrategy`` in tick mode: every combination as a task; results as backtrader's."""
    tasks = [SweepTask(combo) for combo in combinations(cerebro)]
    results, failures = run_tasks(cerebro, tasks)
    if failures:
        raise SweepError(failures, results)
    for result in results:
        for cb in cerebro.optcbs:
            cb(result)
    return results
