"""The ``sweep`` command: a parameter grid (or an Optuna search) on recorded data, ranked."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from ..btypes import BtStrategyClass, JsonDict
from .usage import UsageError, _convert, load_strategy

if TYPE_CHECKING:
    from ..sweep import WalkForward


def parse_grid(
    items: list[str] | None, strategy: BtStrategyClass, search: bool = False
) -> dict[str, object]:
    """``--param`` values of a sweep, typed as the strategy's defaults.

    ``n=10,20,30`` is a list; ``k=1..5`` the integers 1 to 5; ``x=0.1..0.5:0.1`` 0.1 to 0.5 in
    steps of 0.1 (both ends included); ``n=10`` one value. With ``search`` a range stays a
    range for Optuna: ``(low, high)`` or ``(low, high, step)``."""
    defaults = dict(strategy.params._getitems())
    grid: dict[str, object] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key or not raw:
            raise UsageError(f"--param {item!r}: use name=v1,v2,... or name=low..high[:step]")
        if key not in defaults:
            raise UsageError(
                f"--param {key}: {strategy.__name__} has no parameter {key!r} (its parameters: "
                f"{', '.join(defaults) or 'none'})"
            )
        if key in grid:
            raise UsageError(f"--param {key} given twice")
        grid[key] = _values(key, raw, defaults[key], search)
    if not grid:
        raise UsageError("give at least one --param to sweep, e.g. --param period=10,20,30")
    return grid


def _values(key: str, raw: str, default: object, search: bool) -> list[object] | tuple[float, ...]:
    if ".." not in raw:
        return [_convert(key, v.strip(), default) for v in raw.split(",")]
    span, _, step_raw = raw.partition(":")
    low_raw, _, high_raw = span.partition("..")
    low, high = _convert(key, low_raw, default), _convert(key, high_raw, default)
    kind = type(default) if isinstance(default, (int, float)) else type(low)
    if kind is bool or not isinstance(low, (int, float)) or not isinstance(high, (int, float)):
        raise UsageError(f"--param {key}={raw}: a range needs a number parameter")
    step = _convert(key, step_raw, default) if step_raw else (1 if kind is int else None)
    if high < low or (step is not None and step <= 0):
        raise UsageError(f"--param {key}={raw}: needs low <= high and a step > 0")
    if search:
        return (low, high) if step is None or (kind is int and step == 1) else (low, high, step)
    if step is None:
        raise UsageError(f"--param {key}={raw}: a float range needs a step (low..high:step)")
    digits = len(step_raw.partition(".")[2]) if "." in step_raw else 0
    count = int(round((high - low) / step, 9)) + 1
    return [low + i * step if kind is int else round(low + i * step, digits) for i in range(count)]


def run_sweep_command(args: argparse.Namespace) -> int:
    """``backtrader-channels sweep STRATEGY --data ... --param ...``."""
    from ..cerebro import Cerebro
    from ..sweep import search, sweep, walk_forward
    from .backtest_commands import add_data, check_data

    check_data(args)
    strategy = load_strategy(args.strategy)
    grid = parse_grid(args.param, strategy, search=args.search is not None)
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: must be at least 1")
    engine = "ray" if args.ray else "local"
    cerebro = Cerebro(
        stdstats=False,
        progress=args.progress,
        maxcpus=args.jobs,
        optengine=engine,
        optaddress=None if args.ray in (None, "local") else args.ray,
        optretries=args.retries,
    )
    add_data(cerebro, args)
    split = "day" if args.split_days else None
    out: JsonDict
    if args.walk_forward:
        fit, _, test = args.walk_forward.partition(":")
        if not fit.isdigit() or (test and not test.isdigit()):
            raise UsageError(f"--walk-forward {args.walk_forward}: use FIT_DAYS[:TEST_DAYS]")
        wf = walk_forward(
            cerebro, strategy, grid, int(fit), int(test or 1), args.metric, on_failure="report"
        )
        print(_walk_table(wf))
        out = wf.to_dict()
        failed = [r for r in wf.runs if r.error is not None]
    else:
        if args.search is not None:
            result, _study = search(
                cerebro,
                strategy,
                grid,
                args.search,
                args.metric,
                split=split,
                seed=args.seed,
                quiet=True,
            )
        else:
            result = sweep(
                cerebro, strategy, grid, split=split, metric=args.metric, on_failure="report"
            )
        print(result.table())
        out = result.to_dict()
        failed = result.failures
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=2, default=str)
    if args.walk_forward:
        for run in failed:
            print(f"failed: {run.params}: {run.error}")
    return 1 if failed else 0


def _walk_table(wf: WalkForward) -> str:
    lines = [f"walk-forward, fitting {wf.metric}:"]
    for w in wf.windows:
        t = w.test
        lines.append(
            f"  fit {w.fit_days[0]}..{w.fit_days[-1]} -> {w.params}  test "
            f"{w.test_days[0]}..{w.test_days[-1]}: pnl {t['pnl']:.2f}, orders {t['orders']}"
        )
    o = wf.out_of_sample
    lines.append(f"out of sample: pnl {o['pnl']:.2f}, orders {o['orders']}, trades {o['trades']}")
    return "\n".join(lines)
