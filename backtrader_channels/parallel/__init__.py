"""Engines that run the tasks of a parameter sweep: this process, local worker processes, or a
Ray cluster (:mod:`~backtrader_channels.parallel.ray_engine`, an optional extra)."""

from .engines import (
    ENGINES,
    EngineName,
    ProcessEngine,
    SequentialEngine,
    SweepError,
    TaskEngine,
    TaskFailure,
    make_engine,
    run_all,
)

__all__ = [
    "ENGINES",
    "EngineName",
    "ProcessEngine",
    "SequentialEngine",
    "SweepError",
    "TaskEngine",
    "TaskFailure",
    "make_engine",
    "run_all",
]
