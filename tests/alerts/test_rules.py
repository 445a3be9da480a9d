"""The conditions (streams down, near liquidation, journal lines) and the alert settings."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from backtrader_channels.alerts import (
    Alerts,
    NearLiquidation,
    StreamsDown,
    TelegramSink,
    WebhookSink,
    alerts_from,
    alerts_from_args,
    parse_sink,
)
from backtrader_channels.app.cli import build_parser
from backtrader_channels.execution.alerting import journal_notice

TOKEN = "123456:SECRET-bot-token"


def test_specs_parse_and_errors_name_the_option_never_the_secret():
    sink = parse_sink(f"telegram:{TOKEN}:-1001")
    assert isinstance(sink, TelegramSink)
    assert (sink.token, sink.chat_id) == (TOKEN, "-1001")
    assert isinstance(parse_sink("webhook:https://example.invalid/x"), WebhookSink)
    for bad, says in [
        ("telegram:SECRETONLY", "--alert telegram:...: expected telegram:BOT_TOKEN:CHAT_ID"),
        ("webhook:ftp://SECRET", "--alert webhook:...: the URL must start with http"),
        ("slack:SECRET", "--alert: unknown alert kind 'slack'"),
    ]:
        with pytest.raises(ValueError, match="^" + says.replace(".", r"\.")) as err:
            parse_sink(bad)
        assert "SECRET" not in str(err.value)


def test_the_config_file_section_adds_to_the_command_line(tmp_path):
    path = tmp_path / "keys.json"
    config = {
        "apiKey": "k",
        "secret": "s",
        "alerts": ["webhook:http://127.0.0.1:1/hook", f"telegram:{TOKEN}:7"],
        "alert_stream_down_s": 3,
        "alert_liquidation_pct": 2.5,
    }
    path.write_text(json.dumps(config))
    alerts = alerts_from_args(["webhook:http://127.0.0.1:1/hook"], str(path))
    assert isinstance(alerts, Alerts)
    assert [s.name for s in alerts.sinks] == ["webhook 127.0.0.1:1", "telegram chat 7"]
    assert (alerts.stream_down_s, alerts.liquidation_pct, alerts.throttle_s) == (3.0, 2.5, 60.0)
    assert alerts_from_args(None, None) is None
    with pytest.raises(ValueError, match=r'^--config "alerts"\[0\]: unknown alert kind'):
        alerts_from(None, {"alerts": ["nope:x"]})
    with pytest.raises(ValueError, match=r'^--config "alert_stream_down_s": expected a number'):
        alerts_from(["webhook:http://127.0.0.1:1/"], {"alert_stream_down_s": "ten"})


def test_the_live_command_takes_repeated_alerts():
    args = build_parser().parse_args(
        ["live", "--alert", "webhook:http://127.0.0.1:1/", "--alert", f"telegram:{TOKEN}:1"]
    )
    assert args.alert == ["webhook:http://127.0.0.1:1/", f"telegram:{TOKEN}:1"]


def test_a_stream_down_longer_than_n_seconds_alerts_once_per_outage():
    sick = {}
    rule = StreamsDown([lambda: dict(sick)], after_s=10)
    sick["tick:BTC/USDT"] = "stalled, reconnecting"
    sick["quote:BTC/USDT"] = "no data yet"  # a quiet stream: not an outage
    assert rule(0.0) == []
    assert rule(9.9) == []
    fired = rule(10.0)
    assert fired == [
        (
            "stream_down",
            "stream down for 10 s: tick:BTC/USDT (stalled, reconnecting)",
            "stream_down:tick:BTC/USDT",
        )
    ]
    assert rule(30.0) == []  # one message per outage
    del sick["tick:BTC/USDT"]
    assert rule(31.0) == []
    sick["tick:BTC/USDT"] = "disconnect"
    assert rule(32.0) == []
    assert len(rule(42.0)) == 1


class _Data:
    def __init__(self, name):
        self._name = name


class _PerpBroker:
    """What NearLiquidation reads of a broker: its positions and each perpetual's position."""

    def __init__(self, **positions):
        self.data = {n: _Data(n) for n in positions}
        self.pos = {self.data[n]: p for n, p in positions.items()}
        self.positions = dict.fromkeys(self.pos)

    def perp_position(self, data):
        return self.pos[data]


def _pos(size, mark, liq):
    return SimpleNamespace(size=size, mark_price=mark, liquidation_price=liq, leverage=20)


def test_a_position_near_its_liquidation_price_alerts_once_until_it_moves_away():
    broker = _PerpBroker(**{"ETH/USDT:USDT": _pos(1.0, 2000.0, 1850.0), "BTC/USDT": None})
    rule = NearLiquidation(broker, pct=5)
    assert rule(0) == []  # 7.5% away
    eth = broker.data["ETH/USDT:USDT"]
    broker.pos[eth] = _pos(1.0, 1900.0, 1850.0)  # 2.6%
    (fired,) = rule(1)
    assert fired[0] == "liquidation"
    assert fired[2] == "liquidation:ETH/USDT:USDT"
    assert "long 1 is 2.63% from liquidation (mark 1900, liquidation 1850" in fired[1]
    assert rule(2) == []
    broker.pos[eth] = _pos(1.0, 1960.0, 1850.0)  # 5.6%: not yet 1.5 x 5% away
    assert rule(3) == []
    broker.pos[eth] = _pos(1.0, 1900.0, 1850.0)
    assert rule(4) == []
    broker.pos[eth] = _pos(-1.0, 2000.0, float("inf"))  # a short that cannot be liquidated
    assert rule(5) == []
    broker.pos[eth] = _pos(-1.0, 2000.0, 2050.0)
    assert len(rule(6)) == 1


def _line(event, reason="", **more):
    line = {"ns": 0, "client_id": "abc", "exchange_id": None, "symbol": "BTC/USDT",
            "side": "buy", "kind": "market", "state": "REJECTED", "source": "rest",
            "event": event, "price": None, "amount": 0.001, "filled": 0.0, "fee": 0.0,
            "reason": reason}  # fmt: skip
    return {**line, **more}


def test_journal_lines_that_alert():
    kind, text, key = journal_notice(
        _line(
            "correction: balances",
            client_id="account",
            symbol="USDT",
            details={"cash": [10000.0, 10100.0]},
        )
    )
    assert (kind, key) == ("correction", "correction:balances:USDT:account")
    assert text == "reconciliation: balances (USDT): cash [10000.0, 10100.0]"
    kind, text, key = journal_notice(
        _line("rejected", "not found at the venue after 5 queries", venue="bybit")
    )
    assert (kind, key) == ("unknown_order", "unknown_order:abc")
    assert text.startswith("order abc on bybit (buy 0.001 BTC/USDT) had an unknown outcome")
    assert journal_notice(_line("rejected", "insufficient balance")) is None
    assert journal_notice(_line("fill")) is None
