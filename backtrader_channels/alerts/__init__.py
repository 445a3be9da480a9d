"""Alerts that reach the trader: a webhook or a Telegram chat, throttled, retried, never
blocking the engine, secrets never shown (request formats: :mod:`.sinks`; the conditions:
:mod:`.rules` and ``execution/alerting.py``).

``Alerts(["telegram:BOT_TOKEN:CHAT_ID"])`` given to ``CCXTBroker(..., alerts=...)`` sends one
message when the kill switch fires, a private or market-data stream stays down, reconciliation
corrects a balance or a position, an order stays unknown after its queries, a perpetual nears
its liquidation price, and when the run stops.
"""

from .config import alerts_from, alerts_from_args, parse_sink
from .hub import Alerts, Notice, Probe
from .rules import NearLiquidation, StreamsDown, paper_probe, stop_reason, stop_summary
from .sinks import Alert, SendError, Sink, TelegramSink, WebhookSink, redact

__all__ = [
    "Alert",
    "Alerts",
    "NearLiquidation",
    "Notice",
    "Probe",
    "SendError",
    "Sink",
    "StreamsDown",
    "TelegramSink",
    "WebhookSink",
    "alerts_from",
    "alerts_from_args",
    "paper_probe",
    "parse_sink",
    "redact",
    "stop_reason",
    "stop_summary",
]
