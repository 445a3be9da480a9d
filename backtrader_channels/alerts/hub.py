"""The alert hub: a bounded queue and one sender thread, so that raising an alert never blocks.

Whoever raises an alert (:meth:`Alerts.alert`, from any thread) only enqueues it. The same key
is queued at most once per ``throttle_s`` (no storm); a full queue drops the alert and counts it
(``dropped``). The sender thread delivers each alert to every sink, retrying a failure a few times
with a doubling backoff (a 429's ``retry_after`` when the receiver gives one); an error is logged
once per failure, already redacted by the sink. A second thread polls the *probes* given to
:meth:`Alerts.watch` (conditions that need a clock: a stream down for N seconds, a position near
liquidation) every ``poll_s``.
"""

from __future__ import annotations

import atexit
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

from ..log import logger
from .sinks import Alert, SendError, Sink

#: what a probe reports: ``(kind, text, key)``
Notice = tuple[str, str, str]
#: a condition polled on the hub's clock: given ``time.monotonic()``, the alerts it raises now
Probe = Callable[[float], Iterable[Notice]]

_CLOSE = object()


class Alerts:
    """Alerts to a trader's webhook or Telegram chat (see module doc and ``docs/live.md``).

    Parameters
    ----------
    sinks : sequence of str or Sink
        Where alerts go: ``"webhook:URL"``, ``"telegram:BOT_TOKEN:CHAT_ID"`` (see
        :func:`~.config.parse_sink`) or sink objects.
    stream_down_s : float, default 10.0
        A private or market-data stream down longer than this raises an alert.
    liquidation_pct : float, default 5.0
        A perpetual position whose mark is within this percentage of its liquidation price
        raises an alert.
    throttle_s : float, default 60.0
        The same alert key is sent at most once in this many seconds.
    retries : int, default 3
        Further attempts after a failed delivery (per sink).
    backoff_s : float, default 0.5
        The first wait between attempts (doubling, at most ``backoff_max_s``).
    backoff_max_s : float, default 10.0
        The longest wait between attempts (also the cap of a receiver's ``retry_after``).
    timeout_s : float, default 5.0
        Each HTTP request's timeout.
    queue_size : int, default 100
        Alerts waiting to be sent at most; beyond it they are dropped and counted.
    poll_s : float, default 0.25
        How often the probes are polled.
    """

    def __init__(
        self,
        sinks: Sequence[str | Sink],
        *,
        stream_down_s: float = 10.0,
        liquidation_pct: float = 5.0,
        throttle_s: float = 60.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        backoff_max_s: float = 10.0,
        timeout_s: float = 5.0,
        queue_size: int = 100,
        poll_s: float = 0.25,
    ) -> None:
        from .config import parse_sink

        self.sinks: list[Sink] = [parse_sink(s) if isinstance(s, str) else s for s in sinks]
        if stream_down_s < 0 or liquidation_pct <= 0 or throttle_s < 0 or retries < 0:
            raise ValueError(
                "Alerts: stream_down_s and throttle_s must be >= 0, liquidation_pct > 0, "
                "retries >= 0"
            )
        self.stream_down_s = float(stream_down_s)
        self.liquidation_pct = float(liquidation_pct)
        self.throttle_s = float(throttle_s)
        self.retries = int(retries)
        self.backoff_s, self.backoff_max_s = float(backoff_s), float(backoff_max_s)
        self.timeout_s = float(timeout_s)
        self.poll_s = float(poll_s)
        #: alerts delivered (to every sink that took them), failed after the retries, dropped
        #: on a full queue, and held back by the throttle
        self.sent = self.failed = self.dropped = self.throttled = 0
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(1, int(queue_size)))
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}  # key -> when it was last queued (monotonic)
        self._probes: list[Probe] = []
        self._stop_pending: tuple[Alert, float] | None = None  # a provisional run-stopped alert
        self._closing = threading.Event()
        self._closed = False
        self._deadline = float("inf")  # when closing: give up retrying after this
        self._sender: threading.Thread | None = None
        self._poller: threading.Thread | None = None
        self._bad_probes: set[str] = set()

    def __repr__(self) -> str:
        return f"Alerts({[s.name for s in self.sinks]})"

    # ---- raising alerts (any thread; never blocks) ---------------------------------------------
    def alert(self, kind: str, text: str, key: str | None = None, throttle: bool = True) -> bool:
        """Queue an alert; False when the throttle held it back or the queue was full."""
        key = key or kind
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if throttle and last is not None and now - last < self.throttle_s:
                self.throttled += 1
                return False
            self._last[key] = now
        return self._put(Alert(kind, text, key, time.time()))

    def _put(self, item: Alert) -> bool:
        self._start()
        if self._closed:
            with self._lock:  # closed: nothing more goes out
                self.dropped += 1
            return False
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            with self._lock:
                self.dropped += 1
            return False
        return True

    def watch(self, probe: Probe) -> None:
        """Poll ``probe`` every ``poll_s`` on the hub's own thread, until :meth:`unwatch`."""
        with self._lock:
            self._probes.append(probe)
        self._start()

    def unwatch(self, probe: Probe) -> None:
        """Stop polling ``probe`` (unknown probes are ignored)."""
        with self._lock:
            if probe in self._probes:
                self._probes.remove(probe)

    def run_stopped(self, reason: str, summary: str = "", grace_s: float | None = None) -> None:
        """The run stopped: one ``run_stopped`` alert with the reason and a one-line summary.
        With ``grace_s`` it is provisional: sent after that long unless a final one (no grace),
        e.g. :meth:`run_ended` with the run's report, replaces it first."""
        text = f"run stopped: {reason}" + (f" | {summary}" if summary else "")
        alert = Alert("run_stopped", text, "run_stopped", time.time())
        with self._lock:
            if grace_s is not None:
                self._stop_pending = (alert, time.monotonic() + grace_s)
                self._start_locked()
                return
            self._stop_pending = None
        self._put(alert)

    def run_ended(self, report: Mapping[str, object]) -> None:
        """The run stopped, with its report (``cerebro.last_run``): the reason and P&L line."""
        from .rules import stop_reason, stop_summary

        self.run_stopped(stop_reason(report), stop_summary(report))

    def stats(self) -> dict[str, int]:
        """Alerts sent, failed, dropped (queue full) and throttled so far."""
        with self._lock:
            return {
                "sent": self.sent,
                "failed": self.failed,
                "dropped": self.dropped,
                "throttled": self.throttled,
            }

    def close(self, timeout: float = 10.0) -> None:
        """Send what is queued (a provisional run-stopped alert at once), then stop the threads;
        gives up retrying after ``timeout`` seconds. Also run at the program's exit; alerts
        raised after it are dropped (counted)."""
        if self._closing.is_set():
            return
        with self._lock:
            pending, self._stop_pending = self._stop_pending, None
            self._probes.clear()
        if pending is not None:
            self._put(pending[0])
        self._deadline = time.monotonic() + timeout
        self._closing.set()
        sender = self._sender
        if sender is not None:
            try:
                self._queue.put(_CLOSE, timeout=timeout)
            except queue.Full:
                pass
            sender.join(max(0.0, self._deadline - time.monotonic()))
        if self._poller is not None:
            self._poller.join(1.0)
        self._closed = True

    # ---- the threads ---------------------------------------------------------------------------
    def _start(self) -> None:
        with self._lock:
            self._start_locked()

    def _start_locked(self) -> None:
        if self._sender is None:
            self._sender = threading.Thread(target=self._send_loop, name="btch-alerts", daemon=True)
            self._sender.start()
            atexit.register(self.close, 5.0)  # what is queued still goes at the program's end
        if self._poller is None and self._probes:
            self._poller = threading.Thread(target=self._poll_loop, name="btch-alerts-poll",
                                            daemon=True)  # fmt: skip
            self._poller.start()

    def _send_loop(self) -> None:
        while True:
            with self._lock:
                pending = self._stop_pending
            wait = 0.2 if pending is None else max(0.0, min(0.2, pending[1] - time.monotonic()))
            try:
                item = self._queue.get(timeout=wait)
            except queue.Empty:
                item = None
            if item is _CLOSE:
                return
            if isinstance(item, Alert):
                self._deliver(item)
            with self._lock:
                pending = self._stop_pending
                if pending is not None and time.monotonic() >= pending[1]:
                    self._stop_pending = None
                else:
                    pending = None
            if pending is not None:
                self._deliver(pending[0])

    def _poll_loop(self) -> None:
        while not self._closing.wait(self.poll_s):
            with self._lock:
                probes = list(self._probes)
            now = time.monotonic()
            for probe in probes:
                try:
                    notices = list(probe(now))
                except Exception as exc:  # noqa: BLE001 - a probe's bug must not end the alerts
                    name = type(probe).__name__
                    if name not in self._bad_probes:
                        self._bad_probes.add(name)
                        logger.warning("alert probe %s failed: %s: %s", name,
                                       type(exc).__name__, exc)  # fmt: skip
                    continue
                for kind, text, key in notices:
                    self.alert(kind, text, key)

    def _deliver(self, alert: Alert) -> None:
        ok = True
        for sink in self.sinks:
            ok = self._deliver_to(sink, alert) and ok
        with self._lock:
            if ok:
                self.sent += 1
            else:
                self.failed += 1

    def _deliver_to(self, sink: Sink, alert: Alert) -> bool:
        delay = self.backoff_s
        for attempt in range(self.retries + 1):
            try:
                sink.send(alert, self.timeout_s)
            except SendError as exc:
                last = attempt == self.retries or exc.permanent
                wait = min(exc.retry_after if exc.retry_after is not None else delay,
                           self.backoff_max_s)  # fmt: skip
                if not last and time.monotonic() + wait > self._deadline:
                    last = True  # closing: no time left for another attempt
                if last:
                    logger.warning("alert %s to %s not delivered: %s", alert.kind, sink.name, exc)
                    return False
                logger.info("alert %s to %s failed (retrying in %.1f s): %s", alert.kind,
                            sink.name, wait, exc)  # fmt: skip
                time.sleep(wait)
                delay = min(delay * 2, self.backoff_max_s)
            except Exception as exc:  # noqa: BLE001 - a sink's bug must not end the alerts
                # (only the type: a foreign sink's message may hold its secret)
                logger.warning("alert %s to %s failed: %s", alert.kind, sink.name,
                               type(exc).__name__)  # fmt: skip
                return False
            else:
                return True
        return False
