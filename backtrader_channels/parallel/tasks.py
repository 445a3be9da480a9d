"""What every engine runs: a task function on a payload and an item, its outcome, and the
error text of a task that failed (shared by the local engines and the Ray engine)."""

from __future__ import annotations

import pickle
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, TypeAlias, TypeVar

#: the payload every task gets a fresh copy of (pickled: for a sweep, the Cerebro)
PayloadT = TypeVar("PayloadT")
#: one task's item (for a sweep, a ``SweepTask``)
ItemT = TypeVar("ItemT")

#: what a task returns, or when it failed its error text: whatever the task function returns
#: (a user's objects, pickled back), read as one or the other only once ``ok`` is known
TaskValue: TypeAlias = Any
#: what names a task in a failure: the caller's label (a sweep's: a dict of the parameters and
#: the window, which the sweep reads back), else the item itself
TaskLabel: TypeAlias = Any
#: (item index, ok, result or error text)
Outcome: TypeAlias = tuple[int, bool, TaskValue]
#: ``fn(payload, item)``: what an engine runs for each item
TaskFn: TypeAlias = Callable[[PayloadT, ItemT], object]


class TaskEngine(Protocol):
    """Runs ``fn(payload, item)`` for each item and yields outcomes as tasks finish."""

    #: how many tasks run at once
    jobs: int

    def run(
        self, fn: TaskFn[PayloadT, ItemT], payload: PayloadT, items: Sequence[tuple[int, ItemT]]
    ) -> Iterator[Outcome]:
        """Run every ``(index, item)``; yield ``(index, ok, value)`` once for each."""
        ...

    def close(self) -> None:
        """Release what the engine started (worker processes, a local Ray instance)."""
        ...


def error_text(exc: BaseException) -> str:
    """``Type: message`` and the innermost frame: enough to find the failing line."""
    cause = getattr(exc, "cause", None)  # Ray wraps the task's exception
    if isinstance(cause, BaseException):
        exc = cause
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def call_task(fn: TaskFn[PayloadT, ItemT], blob: bytes, item: ItemT) -> Outcome:
    """Run ``fn`` on a fresh copy of the pickled payload; ``(-1, ok, value)``."""
    try:
        return -1, True, fn(pickle.loads(blob), item)
    except Exception as exc:  # noqa: BLE001 - a task's own code may raise anything: report it
        return -1, False, error_text(exc)
