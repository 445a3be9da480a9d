"""The alert hub: throttling, retries with backoff, redaction, drop counting, never blocking."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from backtrader_channels.alerts import Alert, Alerts, SendError, TelegramSink, WebhookSink

from .conftest import CHAT, TOKEN


def _tg():
    return f"telegram:{TOKEN}:{CHAT}"


def test_the_real_request_formats_reach_both_receivers(telegram, webhook):
    alerts = Alerts([_tg(), f"webhook:{webhook.hook_url}"])
    assert alerts.alert("kill_switch", "kill switch: 3 faults")
    tg, wh = telegram.wait_for(1), webhook.wait_for(1)
    alerts.close()
    assert tg[0].path == f"/bot{TOKEN}/sendMessage"
    assert tg[0].body == {"chat_id": 4242, "text": "[kill_switch] kill switch: 3 faults"}
    assert set(wh[0].body) == {"text", "kind", "ts"}
    assert wh[0].body["kind"] == "kill_switch"
    assert abs(wh[0].body["ts"] - time.time()) < 5
    assert alerts.stats() == {"sent": 1, "failed": 0, "dropped": 0, "throttled": 0}


def test_the_same_key_is_sent_once_per_window(webhook):
    alerts = Alerts([f"webhook:{webhook.hook_url}"], throttle_s=60)
    for _ in range(5):
        alerts.alert("stream_down", "tick:BTC/USDT down", key="stream_down:tick")
    alerts.alert("stream_down", "book down", key="stream_down:book")
    alerts.close()
    assert [r.body["text"] for r in webhook.delivered()] == ["tick:BTC/USDT down", "book down"]
    assert alerts.stats()["throttled"] == 4


def test_a_429_is_retried_after_its_retry_after_and_a_500_with_backoff(telegram, webhook):
    telegram.fail(429, times=2, retry_after=0.3)
    webhook.fail(500, times=2)
    alerts = Alerts([_tg(), f"webhook:{webhook.hook_url}"], backoff_s=0.05)
    t0 = time.monotonic()
    alerts.alert("correction", "cash corrected")
    alerts.close()
    assert [r.status for r in telegram.received] == [429, 429, 200]
    assert telegram.received[2].at - t0 >= 0.6  # waited as told
    assert [r.status for r in webhook.received] == [500, 500, 200]
    assert alerts.stats()["sent"] == 1


def test_retries_end_and_the_failure_is_counted(webhook):
    webhook.fail(500, times=10)
    alerts = Alerts([f"webhook:{webhook.hook_url}"], retries=2, backoff_s=0.01)
    alerts.alert("x", "text")
    alerts.close()
    assert len(webhook.received) == 3  # once and two retries
    assert alerts.stats()["failed"] == 1


def test_the_bot_token_is_never_logged_nor_in_an_error(telegram, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG, logger="backtrader_channels")
    wrong = Alerts(["telegram:999999:ANOTHER-secret:1"], retries=3, backoff_s=0.01)
    wrong.alert("x", "text")  # 401: a refusal no retry changes
    wrong.close()
    assert len(telegram.received) == 1
    assert "Unauthorized" in caplog.text
    monkeypatch.setenv("BTCH_TELEGRAM_API_URL", "http://127.0.0.1:9")  # nothing listens
    sink = TelegramSink(TOKEN, CHAT)
    with pytest.raises(SendError) as err:
        sink.send(Alert("x", "text", "x", 0.0), timeout=2)
    down = Alerts([sink], retries=1, backoff_s=0.01)
    down.alert("x", "text")
    down.close()
    for text in (caplog.text, str(err.value), repr(sink), repr(down)):
        assert TOKEN not in text
        assert "SECRET" not in text
        assert "ANOTHER-secret" not in text
    assert "telegram chat" in str(err.value)


def test_a_webhook_url_secret_is_redacted(caplog):
    caplog.set_level(logging.INFO, logger="backtrader_channels")
    sink = WebhookSink("http://user:pw@127.0.0.1:9/hooks/T0K3N-path?key=abc")
    alerts = Alerts([sink], retries=0)
    alerts.alert("x", "text")
    alerts.close()
    assert "webhook 127.0.0.1:9" in caplog.text
    for secret in ("T0K3N", "key=abc", "pw"):
        assert secret not in caplog.text
        assert secret not in repr(sink)


class _Blocking:
    """A sink that waits until released (a receiver that hangs)."""

    name = "blocking"

    def __init__(self):
        self.entered, self.release, self.got = threading.Event(), threading.Event(), []

    def send(self, alert, timeout):
        self.entered.set()
        self.release.wait(5)
        self.got.append(alert.text)


def test_raising_never_blocks_and_a_full_queue_drops_and_counts():
    sink = _Blocking()
    alerts = Alerts([sink], queue_size=2)
    alerts.alert("a", "first")
    assert sink.entered.wait(2)  # the sender is stuck in the first one
    t0 = time.perf_counter()
    results = [alerts.alert("a", f"n{i}", key=f"k{i}") for i in range(5)]
    assert time.perf_counter() - t0 < 0.05
    assert results == [True, True, False, False, False]
    assert alerts.stats()["dropped"] == 3
    sink.release.set()
    alerts.close()
    assert sink.got == ["first", "n0", "n1"]
    assert not alerts.alert("a", "after close", key="late")  # closed: dropped, counted
    assert alerts.stats()["dropped"] == 4


def test_a_broken_sink_does_not_end_the_alerts(webhook):
    class Broken:
        name = "broken"

        def send(self, alert, timeout):
            raise RuntimeError("bug")

    alerts = Alerts([Broken(), f"webhook:{webhook.hook_url}"])
    alerts.alert("a", "one", key="1")
    alerts.alert("a", "two", key="2")
    alerts.close()
    assert [r.body["text"] for r in webhook.delivered()] == ["one", "two"]
    assert alerts.stats()["failed"] == 2


def test_a_provisional_run_stopped_is_replaced_by_the_final_one(webhook):
    alerts = Alerts([f"webhook:{webhook.hook_url}"])
    alerts.run_stopped("stopped", "pnl +1.00", grace_s=5)
    alerts.run_ended({"ended": "duration", "pnl": -2.5, "fees": 0.1, "orders": 3, "fills": 2,
                      "open_positions": {"BTC/USDT": {"size": 0.001, "price": 1.0}}})  # fmt: skip
    alerts.close()
    texts = [r.body["text"] for r in webhook.delivered()]
    assert texts == [
        "run stopped: duration | pnl -2.50, fees 0.10, orders 3, fills 2, open: BTC/USDT 0.001"
    ]


def test_a_provisional_run_stopped_goes_after_its_grace(webhook):
    alerts = Alerts([f"webhook:{webhook.hook_url}"])
    alerts.run_stopped("kill switch: 2 faults", "pnl +0.00", grace_s=0.2)
    assert [r.body["kind"] for r in webhook.wait_for(1, timeout=3)] == ["run_stopped"]
    alerts.close()
    assert len(webhook.delivered()) == 1
