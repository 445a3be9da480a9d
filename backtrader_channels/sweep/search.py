"""Search instead of a grid: Optuna proposes the parameter sets (``pip install
"backtrader-channels[optuna]"``), the sweep engine runs them.

Trials run in batches as wide as the engine (``maxcpus`` processes, or the Ray cluster's CPUs):
Optuna is asked for a batch, the batch runs as one sweep, and each trial is told its metric. A
run that fails on every attempt is told as a failed trial. With a seeded sampler (the default,
``seed=0``) and a fixed batch width the search is the same every time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..btypes import BtStrategyClass, Kwargs
from ..cerebro.sweeps import engine_of
from .core import SweepResult, SweepRun, run_param_sets
from .metrics import check_metric

if TYPE_CHECKING:
    from optuna.study import Study
    from optuna.trial import Trial

    from ..cerebro import Cerebro


def _suggest(trial: Trial, name: str, spec: object) -> object:
    """A value for ``name``: a list is a choice, ``(low, high)`` a range (ints stay ints),
    ``(low, high, step)`` a stepped one."""
    if isinstance(spec, list):
        return trial.suggest_categorical(name, spec)
    if isinstance(spec, tuple) and len(spec) in (2, 3):
        low, high, *step = spec
        if isinstance(low, int) and isinstance(high, int) and all(isinstance(s, int) for s in step):
            return trial.suggest_int(name, low, high, step=step[0] if step else 1)
        return trial.suggest_float(name, low, high, step=step[0] if step else None)
    raise ValueError(
        f"search space {name}={spec!r}: use a list of choices, (low, high) or (low, high, step)"
    )


def search(
    cerebro: Cerebro,
    strategy: BtStrategyClass,
    space: Mapping[str, object],
    n_trials: int,
    metric: str = "pnl",
    seed: int | None = 0,
    batch: int | None = None,
    study: Study | None = None,
    quiet: bool = False,
    **kwargs: Kwargs,
) -> tuple[SweepResult, Study]:
    """Search ``space`` for the parameters of ``strategy`` that maximise ``metric``.

    Parameters
    ----------
    cerebro : Cerebro
        As for :func:`~backtrader_channels.sweep.core.run_param_sets` (its engine runs the
        trials).
    strategy : bt.Strategy subclass
        The strategy whose parameters are searched.
    space : mapping
        Parameter name -> a list of choices, ``(low, high)`` or ``(low, high, step)``.
    n_trials : int
        How many parameter sets to run.
    metric : str, default "pnl"
        What to maximise (one of ``sweep.metrics.METRICS``).
    seed : int or None, default 0
        The TPE sampler's seed (ignored when ``study`` is given).
    batch : int, optional
        Trials per batch; default: the engine's width.
    study : optuna.Study, optional
        A study to continue (its direction must match the metric's).
    quiet : bool, default False
        Set Optuna's log level to warnings (it logs every trial at INFO).
    **kwargs
        Passed to ``run_param_sets`` (``split``, ``on_failure``).

    Returns
    -------
    (SweepResult, optuna.Study)
        Every trial's run in trial order, and the study.
    """
    try:
        import optuna
    except ImportError as exc:
        raise ImportError('search needs Optuna: pip install "backtrader-channels[optuna]"') from exc
    check_metric(metric)
    if quiet:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    kwargs.setdefault("on_failure", "report")
    if study is None:
        study = optuna.create_study(  # every metric is higher-is-better
            direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed)
        )
    engine = kwargs.pop("engine", None) or engine_of(cerebro)
    runs: list[SweepRun] = []
    days = None
    try:
        width = batch or engine.jobs
        while len(runs) < n_trials:
            trials = [study.ask() for _ in range(min(width, n_trials - len(runs)))]
            params = [{n: _suggest(t, n, s) for n, s in space.items()} for t in trials]
            result = run_param_sets(
                cerebro, strategy, params, metric=metric, engine=engine, **kwargs
            )
            days = result.days
            for trial, run in zip(trials, result.runs):
                value = run.metrics.get(metric)
                if value is None:
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                else:
                    study.tell(trial, value)
            runs.extend(result.runs)
    finally:
        engine.close()
    return SweepResult(runs, metric, days), study
