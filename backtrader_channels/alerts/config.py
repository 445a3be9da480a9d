"""Alert settings from the command line (``--alert SPEC``, repeatable) and the ``--config``
JSON file (``"alerts": [SPEC, ...]``, ``"alert_stream_down_s"``, ``"alert_liquidation_pct"``,
``"alert_throttle_s"``).

A SPEC is ``webhook:URL`` or ``telegram:BOT_TOKEN:CHAT_ID`` (a bot token has a colon of its
own: the chat id is what follows the last colon). Errors name the option and never echo the
spec: it holds a secret.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from .hub import Alerts
from .sinks import Sink, TelegramSink, WebhookSink

_FORMS = "webhook:URL or telegram:BOT_TOKEN:CHAT_ID"
#: the config file's alert settings -> the ``Alerts`` parameter
CONFIG_KEYS = {
    "alert_stream_down_s": "stream_down_s",
    "alert_liquidation_pct": "liquidation_pct",
    "alert_throttle_s": "throttle_s",
}


def parse_sink(spec: str, option: str = "--alert") -> Sink:
    """The sink of one ``--alert`` spec; ``ValueError`` naming ``option`` (never the spec's
    secret) when it is not ``webhook:URL`` or ``telegram:BOT_TOKEN:CHAT_ID``."""
    if not isinstance(spec, str):
        raise ValueError(f"{option}: expected a string, {_FORMS}")
    kind, _, rest = spec.partition(":")
    if kind == "webhook":
        if not rest.startswith(("http://", "https://")):
            raise ValueError(f"{option} webhook:...: the URL must start with http:// or https://")
        return WebhookSink(rest)
    if kind == "telegram":
        token, _, chat = rest.rpartition(":")
        if not token or not chat or ":" not in token:
            raise ValueError(
                f"{option} telegram:...: expected telegram:BOT_TOKEN:CHAT_ID (a bot token is "
                "123456:ABC..., the chat id a number or @channel)"
            )
        return TelegramSink(token, chat)
    shown = kind if kind.isidentifier() and len(kind) < 20 else "?"
    raise ValueError(f"{option}: unknown alert kind {shown!r}: {_FORMS}")


def alerts_from(
    specs: Sequence[str] | None = None, config: Mapping[str, object] | None = None
) -> Alerts | None:
    """The :class:`Alerts` of ``--alert`` specs and a config file's ``alerts`` section (both
    add up; a spec given twice counts once), or None when there is none."""
    config = config or {}
    listed = config.get("alerts", [])
    if not isinstance(listed, list):
        raise ValueError(f'--config "alerts": expected a list of {_FORMS}')
    sinks: list[Sink] = []
    seen: set[str] = set()
    given = [("--alert", s) for s in specs or ()]
    given += [(f'--config "alerts"[{i}]', s) for i, s in enumerate(listed)]
    for option, spec in given:
        if spec in seen:
            continue
        sinks.append(parse_sink(spec, option))
        seen.add(spec)
    options: dict[str, float] = {}
    for key, param in CONFIG_KEYS.items():
        value = config.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f'--config "{key}": expected a number >= 0, got {value!r}')
        options[param] = float(value)
    if not sinks:
        return None
    try:
        return Alerts(sinks, **options)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ValueError(f"--config: {exc}") from None


def alerts_from_args(specs: Sequence[str] | None, config_path: str | None) -> Alerts | None:
    """The alerts of ``live``: its ``--alert`` specs and the ``--config`` file's section."""
    config: Mapping[str, object] = {}
    if config_path:
        try:
            with open(config_path, encoding="utf-8") as fh:
                data = json.load(fh)
        except OSError as exc:
            raise ValueError(f"--config {config_path}: {exc.strerror}") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"--config {config_path}:{exc.lineno}: not JSON ({exc.msg})") from None
        config = data if isinstance(data, dict) else {}
    return alerts_from(specs, config)
