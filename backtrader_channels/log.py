"""The package logger and its one policy: nothing per event, each kind of trouble once, then
throttled.

Everything logs to ``logging.getLogger("backtrader_channels")`` (a ``NullHandler`` is attached,
so nothing prints unless the application configures logging; the CLI sends warnings to stderr).
Anomalies are counted where they happen (the validator's report, ``cerebro.last_run``); the
log says the same thing once per ``(stream, kind)`` at first sight, and after that at most once
per ``interval`` seconds with the number seen since, so a flapping connection or a stream of
rejected events never floods the log.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Hashable

logger = logging.getLogger("backtrader_channels")
logger.addHandler(logging.NullHandler())


class ThrottledLog:
    """Log ``(key, kind)`` events the first time, then at most once per ``interval`` seconds."""

    def __init__(self, interval: float = 30.0, log: logging.Logger = logger):
        self.interval = interval
        self.log = log
        self._last: dict[tuple[Hashable, str], float] = {}
        self._since: dict[tuple[Hashable, str], int] = {}
        self._lock = threading.Lock()

    def __call__(self, level: int, key: Hashable, kind: str, detail: object = None) -> bool:
        """Log ``kind`` on ``key`` unless it was logged less than ``interval`` seconds ago;
        True when a line was written."""
        now = time.monotonic()
        k = (key, kind)
        with self._lock:
            last = self._last.get(k)
            if last is not None and now - last < self.interval:
                self._since[k] = self._since.get(k, 0) + 1
                return False
            repeats = self._since.pop(k, 0)
            self._last[k] = now
        if not self.log.isEnabledFor(level):
            return False
        where = ":".join(map(str, key)) if isinstance(key, tuple) else str(key)
        more = f" (+{repeats} more in the last {now - last:.0f} s)" if repeats and last else ""
        extra = f": {detail}" if detail is not None else ""
        self.log.log(level, "%s %s%s%s", where, kind, extra, more)
        return True
