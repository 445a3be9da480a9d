"""Loopback alert receivers (Telegram Bot API and a JSON webhook) on 127.0.0.1."""

from __future__ import annotations

import pytest

from backtrader_channels.loopback.receivers import TelegramReceiver, WebhookReceiver

TOKEN = "123456:SECRET-bot-token"
CHAT = "4242"


@pytest.fixture
def telegram(monkeypatch):
    rx = TelegramReceiver(TOKEN)
    rx.start()
    monkeypatch.setenv("BTCH_TELEGRAM_API_URL", rx.url)
    yield rx
    rx.stop()


@pytest.fixture
def webhook():
    rx = WebhookReceiver()
    rx.start()
    yield rx
    rx.stop()


def kinds(rx):
    """The alert kinds a receiver took, in order (Telegram's from the text's ``[kind]``)."""
    return [
        r.body["kind"] if "kind" in r.body else r.body["text"][1:].split("]")[0]
        for r in rx.delivered()
    ]


def arrivals(rx, kind):
    """When (Unix seconds) each alert of ``kind`` reached ``rx``."""
    return [r.wall for r, k in zip(rx.delivered(), kinds(rx), strict=True) if k == kind]
