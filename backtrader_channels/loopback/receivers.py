"""Loopback alert receivers on 127.0.0.1, speaking the real formats: a Telegram Bot API
``sendMessage`` endpoint and a JSON webhook. Each records what it received and can be told to
fail (a 429 with ``retry_after``, a 500) the next N times.

Telegram: ``POST /bot{TOKEN}/sendMessage`` with JSON ``{"chat_id", "text"}``; a wrong token is
401 ``Unauthorized``, a missing chat or text 400 ``Bad Request: ...``; success is
``{"ok": true, "result": {"message_id", "from", "chat", "date", "text"}}``, as Telegram answers.
Point the package at it with ``BTCH_TELEGRAM_API_URL=receiver.url``. Webhook: ``POST /hook``
with JSON ``{"text", "kind", "ts"}``; ``{"ok": true}``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass

from aiohttp import web


@dataclass
class Received:
    """One request a receiver took: its path, its JSON body, when (``at``: monotonic; ``wall``:
    Unix seconds), its answer's status."""

    path: str
    body: object
    at: float
    wall: float
    status: int


class _Receiver:
    """An aiohttp server on 127.0.0.1 in its own thread (``start``/``stop``)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.port = 0
        self._fail: list[tuple[int, float | None]] = []  # the next answers: (status, retry)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def fail(self, status: int = 500, times: int = 1, retry_after: float | None = None) -> None:
        """Answer the next ``times`` requests with ``status`` (a 429 with ``retry_after``)."""
        with self._lock:
            self._fail += [(status, retry_after)] * times

    def delivered(self) -> list[Received]:
        """The requests answered with success."""
        with self._lock:
            return [r for r in self.received if r.status == 200]

    def wait_for(self, n: int, timeout: float = 5.0) -> list[Received]:
        """Wait until ``n`` requests succeeded (or ``timeout``); the successful ones."""
        end = time.monotonic() + timeout
        while len(self.delivered()) < n and time.monotonic() < end:
            time.sleep(0.02)
        return self.delivered()

    def _record(self, path: str, body: object, status: int) -> None:
        with self._lock:
            self.received.append(Received(path, body, time.monotonic(), time.time(), status))

    def _injected(self) -> tuple[int, float | None] | None:
        with self._lock:
            return self._fail.pop(0) if self._fail else None

    def _routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def start(self) -> int:
        """Start serving; the port."""
        ready = threading.Event()

        def serve() -> None:
            loop = self._loop = asyncio.new_event_loop()
            app = web.Application()
            self._routes(app)
            runner = self._runner = web.AppRunner(app, access_log=None)
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, name="alert-receiver", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self.port

    def stop(self) -> None:
        """Stop serving."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(5)


async def _json(request: web.Request) -> object:
    try:
        return await request.json()
    except (ValueError, UnicodeDecodeError):
        return None


class TelegramReceiver(_Receiver):
    """The Bot API's ``sendMessage`` for one bot (see module doc).

    Parameters
    ----------
    token : str, default "123456:TEST-token"
        The bot token it accepts in the path.
    """

    def __init__(self, token: str = "123456:TEST-token") -> None:
        super().__init__()
        self.token = token
        self._next_id = 1

    def _routes(self, app: web.Application) -> None:
        app.router.add_post("/bot{token}/{method}", self._method)

    async def _method(self, request: web.Request) -> web.Response:
        body = await _json(request)
        path = request.path
        status, answer = self._answer(request.match_info["token"], request.match_info["method"],
                                      body)  # fmt: skip
        self._record(path, body, status)
        return web.json_response(answer, status=status)

    def _answer(self, token: str, method: str, body: object) -> tuple[int, dict[str, object]]:
        if token != self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        if method != "sendMessage":
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        if not isinstance(body, dict):
            return 400, _bad("Bad Request: request body is not JSON")
        if body.get("chat_id") in (None, ""):
            return 400, _bad("Bad Request: chat not found")
        if not isinstance(body.get("text"), str) or not body["text"].strip():
            return 400, _bad("Bad Request: message text is empty")
        injected = self._injected()
        if injected is not None:
            status, retry = injected
            out: dict[str, object] = {"ok": False, "error_code": status}
            if status == 429:
                wait = retry if retry is not None else 1
                out["description"] = f"Too Many Requests: retry after {wait:g}"
                out["parameters"] = {"retry_after": wait}
            else:
                out["description"] = "Internal Server Error"
            return status, out
        message_id, self._next_id = self._next_id, self._next_id + 1
        chat = body["chat_id"]
        return 200, {
            "ok": True,
            "result": {
                "message_id": message_id,
                "from": {"id": _bot_id(self.token), "is_bot": True, "first_name": "loopback"},
                "chat": {"id": chat, "type": "private"},
                "date": int(time.time()),
                "text": body["text"],
            },
        }


def _bot_id(token: str) -> int:
    head = token.partition(":")[0]
    return int(head) if head.isdigit() else 0


def _bad(description: str) -> dict[str, object]:
    return {"ok": False, "error_code": 400, "description": description}


class WebhookReceiver(_Receiver):
    """A JSON webhook at ``/hook`` taking ``{"text", "kind", "ts"}`` (see module doc)."""

    @property
    def hook_url(self) -> str:
        """The webhook's URL."""
        return f"{self.url}/hook"

    def _routes(self, app: web.Application) -> None:
        app.router.add_post("/hook", self._hook)

    async def _hook(self, request: web.Request) -> web.Response:
        body = await _json(request)
        ok = (
            isinstance(body, dict)
            and isinstance(body.get("text"), str)
            and isinstance(body.get("kind"), str)
            and isinstance(body.get("ts"), int | float)
        )
        injected = self._injected() if ok else None
        status = 400 if not ok else (injected[0] if injected is not None else 200)
        self._record(request.path, body, status)
        if status == 200:
            return web.json_response({"ok": True})
        headers = {}
        if injected is not None and injected[1] is not None:
            headers["Retry-After"] = f"{injected[1]:g}"
        return web.json_response({"ok": False, "status": status}, status=status, headers=headers)
