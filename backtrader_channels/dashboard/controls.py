"""The dashboard's controls: pause new orders, resume, cancel all, stop the run.

A control runs on the engine's thread, between two events (``WatchedRun.call``: an
``EngineCall`` through the live queue), so that it never races the strategy or the broker. Each
is journaled with who asked and when (a real broker's journal: ``Journal.note``, client id
``"run"``), logged once, and kept in :attr:`RunState.actions` (the page shows them; the run
report lists them). Pausing refuses new orders (``Rejected``, reason ``"paused from the
dashboard ..."``; a real broker: a protection reason, which never counts toward the kill
switch); cancels still go out. A control is done once: a request the engine has not taken
within ``timeout`` is reported as pending, never sent again.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Literal, get_args

from ..errors import BacktraderChannelsError
from ..log import logger
from .state import JsonDict, RunState

#: what the dashboard can ask of a run
Action = Literal["pause", "resume", "cancel_all", "stop"]
ACTIONS: tuple[str, ...] = get_args(Action)


class ControlError(BacktraderChannelsError, ValueError):
    """A control that cannot be done (unknown, or no run is dispatching)."""


class Controls:
    """The four controls of one run (see module doc).

    Parameters
    ----------
    state : RunState
        The run's view: its ``run`` is asked, its ``actions`` list is appended to.
    timeout : float, default 5.0
        How long a request waits for the engine to take it.
    """

    def __init__(self, state: RunState, timeout: float = 5.0) -> None:
        self.state = state
        self.timeout = timeout
        self._lock = threading.Lock()  # one control at a time

    def request(self, action: str, who: str) -> JsonDict:
        """Do ``action`` for ``who`` (e.g. ``"trader from 127.0.0.1"``) on the engine's thread;
        returns the journaled entry (``done`` False while the engine has not taken it)."""
        if action not in ACTIONS:
            raise ControlError(f"unknown control {action!r}: one of {', '.join(ACTIONS)}")
        at = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        entry: JsonDict = {"action": action, "who": who, "at": at, "done": False, "detail": ""}
        taken = threading.Event()

        def on_engine() -> None:
            try:
                entry["detail"] = self._do(action, who, at)
                entry["done"] = True
            except Exception as exc:  # noqa: BLE001 - reported to whoever asked, not raised
                entry["detail"] = f"failed: {type(exc).__name__}: {exc}"
            finally:
                taken.set()

        with self._lock:
            if not self.state.run.call(on_engine):
                raise ControlError("the run is not dispatching events (not started, or ended)")
            self.state.actions.append(entry)
            if not taken.wait(self.timeout):
                entry["detail"] = (
                    f"queued: the engine has not taken it within {self.timeout:g} s (it will, "
                    "once; it is not sent again)"
                )
        return dict(entry)

    def _do(self, action: str, who: str, at: str) -> str:
        """On the engine's thread: the control itself, journaled; what it did."""
        run = self.state.run
        broker = run.broker
        if action == "pause":
            broker.paused = f"paused from the dashboard ({who}, {at})"
            detail = "new orders refused until resumed; cancels still go out"
        elif action == "resume":
            broker.paused = None
            detail = "new orders allowed"
        elif action == "cancel_all":
            orders = broker.get_orders_open()
            asked = sum(bool(broker.cancel(o)) for o in orders)
            detail = f"cancel asked for {asked} of {len(orders)} open orders"
        else:
            run.runstop()
            detail = "the run is stopping"
        journal = getattr(broker, "journal", None)
        if journal is not None:
            journal.note(f"dashboard: {action}", "dashboard", who=who, at=at, detail=detail)
        logger.warning("dashboard: %s by %s: %s", action, who, detail)
        return detail
