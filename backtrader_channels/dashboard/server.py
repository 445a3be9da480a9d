"""The dashboard's web server: aiohttp (it comes with ccxt) on its own thread and event loop.

Every request needs the run's token: ``?token=...`` (the URL printed at the start), or an
``Authorization: Bearer ...`` header; without it the answer is 401 and nothing else. Routes:

* ``GET /``: the page (one self-contained HTML file: no CDN, works offline);
* ``GET /ws``: a WebSocket that pushes the run's snapshot (:class:`~.state.RunState`) every
  ``interval`` seconds;
* ``GET /api/state``: the snapshot once, as JSON;
* ``POST /api/control``: ``{"action": "pause"|"resume"|"cancel_all"|"stop", "who": NAME}``
  (:class:`~.controls.Controls`; the page asks for a confirmation first).

It binds 127.0.0.1 unless told otherwise; a host that is not a loopback address is refused
unless ``allow_remote`` (``--dashboard-allow-remote``).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import secrets
import threading
from importlib.resources import files
from typing import Any

from aiohttp import WSMsgType, web

from ..log import logger
from .controls import ACTIONS, ControlError, Controls
from .state import JsonDict, RunState

#: where the dashboard listens without a HOST
DEFAULT_HOST = "127.0.0.1"


def parse_bind(spec: str | int, allow_remote: bool = False) -> tuple[str, int]:
    """``"[HOST:]PORT"`` (or a port number) as ``(host, port)``; port 0 picks a free one. A
    host that is not a loopback address raises ``ValueError`` unless ``allow_remote``."""
    text = str(spec).strip()
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host = DEFAULT_HOST
    host = host.strip("[]") or DEFAULT_HOST
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"dashboard {text!r}: [HOST:]PORT, e.g. 8765 or 127.0.0.1:8765") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"dashboard {text!r}: the port must be 0..65535")
    if not allow_remote and not _loopback(host):
        raise ValueError(
            f"dashboard {text!r}: {host} is not a loopback address; the dashboard controls the "
            "run (cancel all, stop): serve it beyond this machine only with "
            "--dashboard-allow-remote (dashboard_allow_remote=True), behind your own TLS"
        )
    return host, port


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class DashboardServer:
    """The server of one run's dashboard (see module doc).

    Parameters
    ----------
    state : RunState
        What the page shows.
    host, port : str, int
        Where to listen (port 0: a free one, :attr:`port` once started).
    interval : float, default 0.5
        Seconds between two pushes of the snapshot.
    token : str, optional
        The access token (default: a random one, :attr:`token`).
    """

    def __init__(
        self,
        state: RunState,
        host: str = DEFAULT_HOST,
        port: int = 0,
        interval: float = 0.5,
        token: str | None = None,
    ) -> None:
        self.state = state
        self.controls = Controls(state)
        self.host, self.port = host, port
        self.interval = float(interval)
        self.token = token or secrets.token_urlsafe(18)
        self.refused = 0  # requests without the token
        self.clients: set[web.WebSocketResponse] = set()
        self.last: JsonDict = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stop: asyncio.Event | None = None
        self._failures: set[str] = set()

    @property
    def url(self) -> str:
        """The page's address, token included (printed at the start)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/?token={self.token}"

    # ---- lifecycle ---------------------------------------------------------------------------
    def start(self) -> str:
        """Serve (on a thread of its own); the page's URL."""
        self._thread = threading.Thread(target=self._serve, name="btch-dashboard", daemon=True)
        self._thread.start()
        self._ready.wait(10.0)
        if self._error is not None:
            raise OSError(f"dashboard on {self.host}:{self.port}: {self._error}") from self._error
        return self.url

    def stop(self, final: JsonDict | None = None) -> None:
        """Push a last snapshot (the run's end) to the open pages, then stop serving."""
        loop, stop = self._loop, self._stop
        if loop is None or stop is None or self._thread is None:
            return
        if final is not None:
            self.last = final
            fut = asyncio.run_coroutine_threadsafe(self._push(final), loop)
            try:
                fut.result(2.0)
            except Exception:  # noqa: BLE001 - a page gone away does not stop the run's end
                pass
        loop.call_soon_threadsafe(stop.set)
        self._thread.join(5.0)

    def _serve(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # noqa: BLE001 - reported by start()
            self._error = exc
            self._ready.set()
        finally:
            loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        app = web.Application(middlewares=[self._auth])
        app.router.add_get("/", self._page)
        app.router.add_get("/ws", self._ws)
        app.router.add_get("/api/state", self._state)
        app.router.add_post("/api/control", self._control)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]
        self._ready.set()
        ticker = asyncio.ensure_future(self._tick())
        await self._stop.wait()
        ticker.cancel()
        for ws in list(self.clients):
            await ws.close()
        await self._runner.cleanup()

    async def _tick(self) -> None:
        while True:
            try:
                snapshot = self.state.sample()
            except Exception as exc:  # noqa: BLE001 - one bad read must not end the dashboard
                what = f"{type(exc).__name__}: {exc}"
                if what not in self._failures:  # once per distinct failure, not twice a second
                    self._failures.add(what)
                    logger.warning("dashboard: reading the run failed: %s", what)
            else:
                self.last = snapshot
                if self.clients:
                    await self._push(snapshot)
            await asyncio.sleep(self.interval)

    async def _push(self, snapshot: JsonDict) -> None:
        text = json.dumps({"type": "state", **snapshot}, default=str)
        for ws in list(self.clients):
            try:
                await ws.send_str(text)
            except (ConnectionError, RuntimeError):
                self.clients.discard(ws)

    # ---- requests ----------------------------------------------------------------------------
    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        given = request.query.get("token", "")
        header = request.headers.get("Authorization", "")
        if not given and header.startswith("Bearer "):
            given = header[7:]
        if not given or not hmac.compare_digest(given.encode(), self.token.encode()):
            self.refused += 1
            why = "this dashboard needs its token: the URL printed at the run's start (?token=)"
            if request.path.startswith("/api/"):
                return web.json_response({"ok": False, "error": why}, status=401)
            return web.Response(status=401, text=f"401: {why}")
        response: web.StreamResponse = await handler(request)
        return response

    async def _page(self, request: web.Request) -> web.Response:
        page = files(__package__).joinpath("page.html").read_text(encoding="utf-8")
        return web.Response(
            text=page,
            content_type="text/html",
            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
        )

    async def _state(self, request: web.Request) -> web.Response:
        return web.json_response(self.last or self.state.sample(), dumps=_dumps)

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20.0)
        await ws.prepare(request)
        self.clients.add(ws)
        try:
            if self.last:
                await ws.send_str(json.dumps({"type": "state", **self.last}, default=str))
            async for msg in ws:  # the page sends nothing; this waits for it to close
                if msg.type == WSMsgType.ERROR:
                    break
        finally:
            self.clients.discard(ws)
        return ws

    async def _control(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return web.json_response({"ok": False, "error": "a JSON body is needed"}, status=400)
        if not isinstance(body, dict):
            return web.json_response({"ok": False, "error": "a JSON object is needed"}, status=400)
        action = str(body.get("action", ""))
        if action not in ACTIONS:
            error = f"unknown control {action!r}: one of {', '.join(ACTIONS)}"
            return web.json_response({"ok": False, "error": error}, status=400)
        name = str(body.get("who") or "dashboard user")[:60]
        who = f"{name} from {request.remote or 'unknown'}"
        loop = asyncio.get_running_loop()
        try:
            entry = await loop.run_in_executor(None, self.controls.request, action, who)
        except ControlError as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=409)
        return web.json_response({"ok": True, **entry}, dumps=_dumps)


def _dumps(obj: object) -> str:
    return json.dumps(obj, default=str)
