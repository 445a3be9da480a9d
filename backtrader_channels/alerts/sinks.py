"""Where alerts go: a JSON webhook and the Telegram Bot API, each one HTTP POST, with secrets
kept out of every message, log line and error.

Request formats:

* webhook: ``POST URL`` with ``Content-Type: application/json`` and the body
  ``{"text": str, "kind": str, "ts": float}`` (``ts``: Unix seconds, when it was raised);
  any 2xx is delivered.
* Telegram: ``POST {base}/bot{TOKEN}/sendMessage`` with ``{"chat_id": CHAT, "text": str}``
  (the Bot API's JSON form; the text is ``"[kind] text"``, at most 4,096 characters);
  delivered when it answers ``{"ok": true, ...}``. ``base`` is ``BTCH_TELEGRAM_API_URL``
  (default ``https://api.telegram.org``). A 429's
  ``parameters.retry_after`` is honoured (capped). The token is part of the URL: the URL is
  never logged, and the token is redacted from any error.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from ..errors import BacktraderChannelsError

#: the Telegram Bot API's base URL, unless ``BTCH_TELEGRAM_API_URL`` says otherwise
TELEGRAM_API_URL = "https://api.telegram.org"
#: Telegram refuses longer texts
TELEGRAM_MAX_TEXT = 4096


class SendError(BacktraderChannelsError, RuntimeError):
    """A sink could not deliver an alert (the text is redacted). ``retry_after`` is the
    seconds the receiver asked to wait (Telegram's 429), ``permanent`` a refusal that no retry
    changes (a 4xx other than 408/429)."""

    def __init__(self, text: str, retry_after: float | None = None, permanent: bool = False):
        super().__init__(text)
        self.retry_after = retry_after
        self.permanent = permanent


@dataclass(frozen=True)
class Alert:
    """One alert: ``kind`` (``kill_switch``, ``stream_down``, ``correction``, ``unknown_order``,
    ``liquidation``, ``run_stopped``, ...), its ``text``, the throttling ``key`` and when its
    condition was seen (``ts``: Unix seconds)."""

    kind: str
    text: str
    key: str
    ts: float


class Sink(Protocol):
    """Something that delivers one alert (blocking; called on the alerts' own thread)."""

    #: how the sink is named in logs and errors (never a secret)
    name: str

    def send(self, alert: Alert, timeout: float) -> None:
        """Deliver ``alert`` or raise :class:`SendError`."""


_URL_SECRET = re.compile(r"(https?://)([^/@\s]+@)")  # user:password@ in a URL


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every secret (and any ``user:password@`` of a URL) replaced by ``***``."""
    for s in secrets:
        if s:
            text = text.replace(s, "***")
    return _URL_SECRET.sub(r"\1***@", text)


def _post(url: str, body: Mapping[str, object], timeout: float) -> tuple[int, bytes]:
    """POST ``body`` as JSON; the status and the answer (an HTTP error's too)."""
    data = json.dumps(body).encode()
    req = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


def _check_url(url: str, what: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"{what}: an http:// or https:// URL is needed")
    return url


def _status_error(name: str, status: int, answer: str, retry_after: float | None) -> SendError:
    permanent = 400 <= status < 500 and status not in (408, 429)
    return SendError(f"{name}: HTTP {status} {answer[:200]}".strip(), retry_after, permanent)


@dataclass
class WebhookSink:
    """A JSON webhook: ``POST url`` with ``{"text", "kind", "ts"}``.

    Parameters
    ----------
    url : str
        The endpoint (``http://`` or ``https://``). Its query string and any credentials in
        it are treated as secrets: only the host is ever named.
    """

    url: str
    name: str = field(init=False)
    _secrets: tuple[str, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        _check_url(self.url, "--alert webhook:URL")
        host = self.url.split("://", 1)[1].split("/", 1)[0].rpartition("@")[2]
        self.name = f"webhook {host}"
        path = self.url.split("://", 1)[1].partition("/")[2]
        self._secrets = (self.url, path) if path else (self.url,)

    def __repr__(self) -> str:
        return f"WebhookSink({self.name!r})"

    def send(self, alert: Alert, timeout: float) -> None:
        body = {"text": alert.text, "kind": alert.kind, "ts": alert.ts}
        try:
            status, raw = _post(self.url, body, timeout)
        except (OSError, ValueError) as exc:
            raise SendError(
                redact(f"{self.name}: {type(exc).__name__}: {exc}", self._secrets)
            ) from None
        if not 200 <= status < 300:
            answer = redact(raw.decode("utf-8", "replace"), self._secrets)
            raise _status_error(self.name, status, answer, None)


@dataclass
class TelegramSink:
    """The Telegram Bot API's ``sendMessage`` to one chat.

    Parameters
    ----------
    token : str
        The bot's token (from BotFather): a secret, never logged or shown.
    chat_id : str
        The chat (a number, or ``@channelname``).
    base_url : str, optional
        The API's base URL (default: ``BTCH_TELEGRAM_API_URL`` or ``https://api.telegram.org``).
    """

    token: str = field(repr=False)
    chat_id: str
    base_url: str | None = None
    name: str = field(init=False)

    def __post_init__(self) -> None:
        if not self.token or not self.chat_id:
            raise ValueError("--alert telegram:BOT_TOKEN:CHAT_ID: both are needed")
        base = self.base_url or os.environ.get("BTCH_TELEGRAM_API_URL") or TELEGRAM_API_URL
        self.base_url = _check_url(base.rstrip("/"), "BTCH_TELEGRAM_API_URL")
        self.name = f"telegram chat {self.chat_id}"

    def send(self, alert: Alert, timeout: float) -> None:
        url = f"{self.base_url}/bot{self.token}/sendMessage"
        chat: int | str = int(self.chat_id) if self.chat_id.lstrip("-").isdigit() else self.chat_id
        text = f"[{alert.kind}] {alert.text}"  # (a chat has no field for the kind)
        body = {"chat_id": chat, "text": text[:TELEGRAM_MAX_TEXT]}
        secrets = (url, self.token)
        try:
            status, raw = _post(url, body, timeout)
        except (OSError, ValueError) as exc:
            raise SendError(redact(f"{self.name}: {type(exc).__name__}: {exc}", secrets)) from None
        try:
            answer = json.loads(raw or b"{}")
        except ValueError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        if status == 200 and answer.get("ok") is True:
            return
        retry = (answer.get("parameters") or {}).get("retry_after")
        text = str(answer.get("description") or raw[:200].decode("utf-8", "replace"))
        after = float(retry) if isinstance(retry, int | float) else None
        raise _status_error(self.name, status, redact(text, secrets), after)
