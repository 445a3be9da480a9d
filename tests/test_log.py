"""One logging policy: the package logger, each (stream, kind) once, then throttled."""

import logging

from backtrader_channels.live.validator import LiveDataValidator
from backtrader_channels.log import ThrottledLog, logger


def test_package_logger_is_silent_unless_configured():
    assert logger.name == "backtrader_channels"
    assert any(isinstance(h, logging.NullHandler) for h in logger.handlers)


def test_repeats_within_the_interval_are_counted_not_logged(caplog, monkeypatch):
    clock = [100.0]
    monkeypatch.setattr("backtrader_channels.log.time.monotonic", lambda: clock[0])
    log = ThrottledLog(interval=30.0)
    caplog.set_level(logging.INFO, logger="backtrader_channels")
    assert log(logging.WARNING, ("tick", "BTC/USDT"), "disconnect")
    for _ in range(5):
        clock[0] += 1.0
        assert not log(logging.WARNING, ("tick", "BTC/USDT"), "disconnect")
    assert log(logging.WARNING, ("quote", "BTC/USDT"), "disconnect")  # another stream
    clock[0] += 30.0
    assert log(logging.WARNING, ("tick", "BTC/USDT"), "disconnect")
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "tick:BTC/USDT disconnect",
        "quote:BTC/USDT disconnect",
        "tick:BTC/USDT disconnect (+5 more in the last 35 s)",
    ]


def test_validator_logs_each_anomaly_kind_once_and_counts_all(caplog):
    caplog.set_level(logging.INFO, logger="backtrader_channels")
    v = LiveDataValidator()
    for _ in range(1000):
        v.record(("tick", "BTC/USDT"), "out_of_order", (2, 1))
    v.record(("tick", "BTC/USDT"), "backfilled", (5, 9))
    assert v.report()["tick:BTC/USDT"]["out_of_order"] == 1000
    records = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert records == [
        (logging.WARNING, "tick:BTC/USDT out_of_order: (2, 1)"),
        (logging.INFO, "tick:BTC/USDT backfilled: (5, 9)"),
    ]
