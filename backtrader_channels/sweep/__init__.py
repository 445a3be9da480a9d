"""Parameter sweeps over tick data: grids and searches, on the whole data, day by day or
walking forward, run by the Cerebro's engine (this process, local processes or Ray).

``cerebro.optstrategy(...)`` in tick mode runs the same runs with backtrader's results; this
package adds the ranking, the per-day split, walk-forward windows and Optuna. See
``docs/sweeps.md``.
"""

from ..parallel import SweepError, TaskFailure
from .core import SweepResult, SweepRun, expand_grid, run_param_sets, sweep, sweep_days
from .metrics import METRICS, annualized_sharpe
from .search import search
from .walkforward import WalkForward, Window, walk_forward

__all__ = [
    "METRICS",
    "SweepError",
    "SweepResult",
    "SweepRun",
    "TaskFailure",
    "WalkForward",
    "Window",
    "annualized_sharpe",
    "expand_grid",
    "run_param_sets",
    "search",
    "sweep",
    "sweep_days",
    "walk_forward",
]
