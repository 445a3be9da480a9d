"""Where the tasks of a sweep run: in this process, in local worker processes, or on Ray.

An engine gets one *payload* (whatever every task needs: for a sweep, the pickled Cerebro) and
a list of items; it runs ``fn(payload, item)`` for each item and yields ``(index, ok, value)``
as tasks finish, where ``value`` is the result or, when ``ok`` is False, the error's text. Each
task gets a fresh copy of the payload (unpickled for it), so no task sees another's state. The
retry loop, the progress bar and the report of failures are :func:`run_all`'s, the same for
every engine.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Literal, Protocol, TypeVar

from ..errors import BacktraderChannelsError, check_choice
from .tasks import (
    ItemT,
    Outcome,
    PayloadT,
    TaskEngine,
    TaskFn,
    TaskLabel,
    TaskValue,
    call_task,
    error_text,
)

EngineName = Literal["local", "ray"]
ENGINES: tuple[str, ...] = ("local", "ray")
#: what the task function of :func:`run_all` returns
ResultT = TypeVar("ResultT")


class SequentialEngine:
    """Every task in this process, one after another (``jobs=1``)."""

    jobs = 1

    def run(
        self, fn: TaskFn[PayloadT, ItemT], payload: PayloadT, items: Sequence[tuple[int, ItemT]]
    ) -> Iterator[Outcome]:
        blob = pickle.dumps(payload)
        for index, item in items:
            _, ok, value = call_task(fn, blob, item)
            yield index, ok, value

    def close(self) -> None:
        pass


_PAYLOAD: bytes = b""


def _init_worker(blob: bytes) -> None:
    global _PAYLOAD
    _PAYLOAD = blob


def _in_worker(fn: TaskFn[PayloadT, ItemT], item: ItemT) -> Outcome:
    return call_task(fn, _PAYLOAD, item)


class ProcessEngine:
    """Tasks in ``jobs`` local worker processes (forked where the platform allows, as
    backtrader's own ``maxcpus`` pool; spawned elsewhere, which needs importable strategies).

    Parameters
    ----------
    jobs : int or None
        Worker processes; None uses every core (``os.cpu_count()``).
    """

    def __init__(self, jobs: int | None = None) -> None:
        self.jobs = max(1, jobs or os.cpu_count() or 1)

    def run(
        self, fn: TaskFn[PayloadT, ItemT], payload: PayloadT, items: Sequence[tuple[int, ItemT]]
    ) -> Iterator[Outcome]:
        if not items:
            return
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        pool = ProcessPoolExecutor(
            max_workers=min(self.jobs, len(items)),
            mp_context=multiprocessing.get_context(method),
            initializer=_init_worker,
            initargs=(pickle.dumps(payload),),
        )
        try:
            pending = {pool.submit(_in_worker, fn, item): index for index, item in items}
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    index = pending.pop(future)
                    try:
                        _, ok, value = future.result()
                    except Exception as exc:  # noqa: BLE001 - the worker died (BrokenProcessPool)
                        ok, value = False, error_text(exc)
                    yield index, ok, value
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        pass


def make_engine(
    engine: EngineName = "local", jobs: int | None = None, address: str | None = None
) -> TaskEngine:
    """The engine called ``engine``: ``"local"`` (``jobs`` processes; one runs in this process)
    or ``"ray"`` (the cluster at ``address``, the one this process is connected to, or a local
    one started on 127.0.0.1 for the call)."""
    check_choice("engine", engine, ENGINES)
    if engine == "ray":
        from .ray_engine import RayEngine

        return RayEngine(address=address, jobs=jobs)
    if jobs == 1:
        return SequentialEngine()
    return ProcessEngine(jobs)


class TaskFailure:
    """A task that failed on every attempt: which one, with what, and why."""

    __slots__ = ("attempts", "error", "index", "label")

    def __init__(self, index: int, label: TaskLabel, error: str, attempts: int) -> None:
        self.index, self.label, self.error, self.attempts = index, label, error, attempts

    def __repr__(self) -> str:
        return (
            f"task {self.index} {self.label}: {self.error} "
            f"(failed {self.attempts} time{'s' * (self.attempts > 1)})"
        )


class SweepError(BacktraderChannelsError, RuntimeError):
    """Some tasks failed on every attempt. ``results`` holds the others' results in task
    order (None where a task failed); ``failures`` says which failed, with their parameters."""

    def __init__(self, failures: list[TaskFailure], results: list[TaskValue]) -> None:
        self.failures, self.results = failures, results
        lines = "\n  ".join(repr(f) for f in failures)
        super().__init__(f"{len(failures)} of {len(results)} runs failed:\n  {lines}")


def run_all(
    engine: TaskEngine,
    fn: Callable[[PayloadT, ItemT], ResultT],
    payload: PayloadT,
    items: Sequence[ItemT],
    labels: Sequence[TaskLabel] | None = None,
    retries: int = 1,
    progress: bool | None = None,
    on_done: Callable[[int, ResultT], None] | None = None,
) -> tuple[list[ResultT | None], list[TaskFailure]]:
    """Run ``fn(payload, item)`` for every item on ``engine``; return the results in item order
    and the tasks that failed ``retries + 1`` times (None in their result slots).

    A failed task is run again, up to ``retries`` more times, after the round it failed in.
    ``progress`` shows a bar over tasks on stderr (None: when stderr is a terminal);
    ``on_done(index, result)`` is called as each task succeeds."""
    results: list[ResultT | None] = [None] * len(items)
    errors: dict[int, str] = {}
    todo = list(enumerate(items))
    bar = _bar(len(items), progress)
    try:
        for _ in range(retries + 1):
            if not todo:
                break
            failed = []
            for index, ok, value in engine.run(fn, payload, todo):
                if ok:
                    results[index] = value
                    errors.pop(index, None)
                    if on_done is not None:
                        on_done(index, value)
                    if bar is not None:
                        bar.update(1)
                else:
                    errors[index] = value
                    failed.append(index)
            todo = [(i, items[i]) for i in sorted(failed)]
    finally:
        if bar is not None:
            bar.close()
    names = labels if labels is not None else list(items)
    failures = [TaskFailure(i, names[i], errors[i], retries + 1) for i in sorted(errors)]
    return results, failures


class _Progress(Protocol):
    """A progress bar (tqdm's): advanced by each task done, closed at the end."""

    def update(self, n: int = 1) -> object: ...

    def close(self) -> None: ...


def _bar(total: int, progress: bool | None) -> _Progress | None:
    if not (progress or (progress is None and sys.stderr.isatty())):
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit=" runs", file=sys.stderr, desc="sweep", mininterval=0.5)
