"""What every loopback exchange shares: an aiohttp server on 127.0.0.1 in a thread of its own,
its public WebSocket clients (subscriptions and send queues), the replay's settings and fault
switches, starting, stopping, dropping every socket (fault injection), pacing the replay and
pointing a ccxt.pro client's REST URLs here."""

from __future__ import annotations

import asyncio
import ctypes
import gc
import json
import sys
import threading
import time
from array import array
from collections.abc import Awaitable, Callable
from typing import TypedDict
from urllib.parse import urlsplit

import ccxt.pro as ccxtpro
from aiohttp import WSMsgType, web

from ..btypes import JsonDict

#: what a public WebSocket hands each client request (parsed JSON) to
OnRequest = Callable[[web.WebSocketResponse, JsonDict], Awaitable[None]]


def quiet_collector() -> None:
    """In an exchange's own process, once it has started: what exists (the process's imports,
    the recording) is frozen out of the collector's reach, and collections come rarely. A spawned
    exchange imports its parent's main module (pytest's, say) and paused 90 ms in a full
    collection 4.3 s into a 10k trades/s replay; its clients saw the burst that followed as
    their latency."""
    gc.freeze()
    gc.set_threshold(50_000, 50, 1000)


class SendTimes:
    """When each frame was handed to its socket, by an integer key (trade id, update id), in
    two flat arrays: appending never rehashes. A dict did, at 43,690 and 87,381 keys, for 5-17 ms
    between a frame's stamp and its send: latency spikes that were the probe's, not the client's.
    The sender stamps a frame as it writes it (``_send``), so that nothing the server does between
    rendering a frame and sending it (its own garbage collections) counts as the client's."""

    __slots__ = ("keys", "times")

    def __init__(self) -> None:
        self.keys = array("q")
        self.times = array("q")

    def add(self, key: int, ns: int) -> None:
        """Record ``key`` sent at ``ns`` (``time.time_ns()``)."""
        self.keys.append(key)
        self.times.append(ns)

    def as_dict(self) -> dict[int, int]:
        """``{key: ns}``, the latest time where a key was sent again."""
        return dict(zip(self.keys, self.times))


#: what waits in a client's send queue: a frame's text, or ``(text, send log, key)`` that the
#: sender stamps as it writes the text (:meth:`LoopbackServer._stamped`)
Outgoing = str | tuple[str, SendTimes, int]


class Recorded(TypedDict, total=False):
    """What a loopback exchange noted for latency measurements (its ``recorded()``; what a
    server in its own process sends back when it stops, :mod:`.serve`): ``time.time_ns()``
    when frames were handed to the sockets, by trade id or book update id (``send_times``:
    None unless ``record_send_times``), and when orders arrived and fills went out, by client
    order id. Each venue fills the names it keeps."""

    send_times: dict[int, int] | None
    bbo_send_times: dict[int, int]
    book_send_times: dict[int, int]
    quote_send_times: dict[int, int]
    order_times: dict[str, int]
    fill_times: dict[str, int]


class Faults:
    """A loopback exchange's public fault switches (``server.faults``); each one-shot switch is
    consumed when it fires."""

    def __init__(self) -> None:
        self.drop_after: int | None = None  # close every socket after this many more frames
        self.abrupt_drop = False  # close without a close frame (TCP reset)
        self.stall_seconds = 0.0  # send no data frames for this long (pings still answered)
        self.malformed = 0  # next N trade frames are broken JSON
        self.out_of_order = 0  # next N trades carry a time 10 s in the past
        self.negative_price = 0  # next N trades carry a negative price
        self.skip_depth = 0  # next N depth diffs are not sent (a sequence gap)
        self.fail_depth_rest = 0  # next N REST depth snapshots answer HTTP 503
        self.null_bid = 0  # next N bookTicker frames carry "b": null (an empty bid side)
        self.nulled_u: list[int] = []  # the update ids ("u") of the frames null_bid changed
        self.fail_markets = False  # the markets endpoint answers an HTML 503 while set (down)


def unavailable() -> web.Response:
    """What a venue behind its load balancer answers when it is down: an HTML 503."""
    return web.Response(status=503, text="<html>503 Service Unavailable</html>")


class LoopbackServer:
    """The server's lifecycle and the replay's settings; a venue adds its routes
    (:meth:`add_routes`) and its replay (:meth:`_replay`). ``start()`` returns the port.

    Parameters
    ----------
    rate : float, optional
        Recorded items per second; None: as fast as the slowest client reads.
    start_when : int, default 1
        The replay starts once this many streams are subscribed.
    loop_forever : bool, default False
        Repeat the recording, lap after lap (each venue says how a lap restarts its book).
    speed : float, optional
        Pace by the recording's times instead of ``rate`` (1.0: real time).
    origin_ms : int, optional
        With ``speed``: the recorded time the replay's start stands for.
    lap_pause : float, default 0.0
        With ``loop_forever``: between two laps, let the clients' queues drain and send
        nothing for this many seconds.
    """

    #: the server thread's name
    thread_name = "loopback-exchange"

    def __init__(
        self,
        rate: float | None = None,
        start_when: int = 1,
        loop_forever: bool = False,
        speed: float | None = None,
        origin_ms: int | None = None,
        lap_pause: float = 0.0,
    ) -> None:
        self.rate = rate  # items per second (None: as fast as the clients read)
        self.start_when = start_when  # replay starts once this many streams are subscribed
        self.loop_forever = loop_forever
        self.speed, self.origin_ms = speed, origin_ms
        self.lap_pause = lap_pause
        self.faults = Faults()
        self.lap = 0  # completed passes over the recording (``loop_forever``)
        self.offset_ms = 0  # added to recorded exchange times (set when the replay starts)
        #: the last replayed trade's price and item number (the matching engine's freshness)
        self.last_trade: tuple[float, int] | None = None
        self.done = threading.Event()  # the replay has ended
        self.port = 0
        self._subs: dict[web.WebSocketResponse, set[str]] = {}  # socket -> its subscriptions
        # socket -> what waits to be sent
        self._queues: dict[web.WebSocketResponse, asyncio.Queue[Outgoing]] = {}
        self._requests: dict[web.WebSocketResponse, web.Request] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self.sent = 0  # items replayed

    def add_routes(self, app: web.Application) -> None:
        """The venue's REST and WebSocket routes."""
        raise NotImplementedError

    async def _replay(self) -> None:
        """Send the recording."""
        raise NotImplementedError

    # ---- lifecycle ---------------------------------------------------------------------------
    def start(self) -> int:
        """Serve on 127.0.0.1 in a background thread; return the port."""
        self._thread = threading.Thread(target=self._serve, name=self.thread_name, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError(f"{self.thread_name} did not start")
        return self.port

    def stop(self) -> None:
        """Close every socket and stop the server."""
        if self._loop is not None:
            fut = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
            try:
                fut.result(5)
            except Exception:  # noqa: BLE001 - shutting down anyway
                pass
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(5)

    def drop_connections(self, abrupt: bool = False) -> None:
        """Close every client socket now (fault injection)."""
        if self._loop is not None:
            asyncio.run_coroutine_threadsafe(self._close_all(abrupt), self._loop).result(5)

    def _serve(self) -> None:
        _fine_timers()
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        self.add_routes(app)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._replay_task = self._loop.create_task(self._replay())
        self._ready.set()
        self._loop.run_forever()

    async def _shutdown(self) -> None:
        self._replay_task.cancel()
        await self._close_all(False)
        if self._runner is not None:
            await self._runner.cleanup()

    async def _close_all(self, abrupt: bool) -> None:
        for ws, request in list(self._requests.items()):
            if abrupt and request.transport is not None:
                request.transport.abort()  # a TCP reset: no close frame
            else:
                await ws.close()

    # ---- sockets -----------------------------------------------------------------------------
    async def _socket(self, request: web.Request, on_request: OnRequest) -> web.WebSocketResponse:
        """Serve one public WebSocket: registered for the replay (:meth:`_open`), each text
        request handed to ``on_request`` as parsed JSON, until the client goes."""
        ws = web.WebSocketResponse(heartbeat=None, autoping=True)
        await ws.prepare(request)
        sender = self._open(ws, request)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await on_request(ws, json.loads(msg.data))
        finally:
            self._close(ws, sender)
        return ws

    def _open(self, ws: web.WebSocketResponse, request: web.Request) -> asyncio.Task[None]:
        """Register a new client socket; its sender task."""
        queue: asyncio.Queue[Outgoing] = asyncio.Queue()
        self._subs[ws], self._queues[ws], self._requests[ws] = set(), queue, request
        return asyncio.get_running_loop().create_task(self._send(ws, queue))

    def _close(self, ws: web.WebSocketResponse, sender: asyncio.Task[None]) -> None:
        sender.cancel()
        self._subs.pop(ws, None)
        self._queues.pop(ws, None)
        self._requests.pop(ws, None)

    async def _send(self, ws: web.WebSocketResponse, queue: asyncio.Queue[Outgoing]) -> None:
        while True:
            item = await queue.get()
            if ws.closed:
                return
            if type(item) is tuple:  # (text, send log, key): stamped as it goes to the socket
                item, log, key = item
                log.add(key, time.time_ns())
            # text by now (mypy narrows no ``type(x) is`` test's other side; no isinstance here)
            await ws.send_str(item)  # type: ignore[arg-type]

    @staticmethod
    def _stamped(text: str, log: SendTimes | None, key: int) -> Outgoing:
        """What a send queue takes: the text, or with a send log, what the sender stamps."""
        return text if log is None else (text, log, key)

    def _subscribed(self) -> int:
        return sum(len(s) for s in self._subs.values())

    async def _until_subscribed(self) -> tuple[asyncio.AbstractEventLoop, float]:
        """Wait until ``start_when`` streams are subscribed; the loop and the pacing interval
        (0.0 without a ``rate``)."""
        while self._subscribed() < self.start_when:  # noqa: ASYNC110 - a few polls at start
            await asyncio.sleep(0.005)
        return asyncio.get_running_loop(), 1.0 / self.rate if self.rate else 0.0

    async def _after_send(
        self, loop: asyncio.AbstractEventLoop, t0: float, interval: float
    ) -> None:
        """After the ``self.sent``-th item: pace at one item per ``interval`` s from ``t0``, or
        (no interval) keep the clients close behind."""
        if interval:
            await asyncio.sleep(0)  # let the senders put the item on the wire now
            await pace_to(loop, t0 + self.sent * interval)
        elif self.sent % 64 == 0:
            await self._backpressure()

    async def _connection_faults(self, f: Faults) -> None:
        """Before each item: an armed stall (send nothing for a while), then an armed drop
        (close every socket once ``drop_after`` more items have gone)."""
        if f.stall_seconds > 0:
            seconds, f.stall_seconds = f.stall_seconds, 0.0
            await asyncio.sleep(seconds)
        if f.drop_after is not None:
            f.drop_after -= 1
            if f.drop_after <= 0:
                f.drop_after = None
                await self._close_all(f.abrupt_drop)

    async def _lap_break(self, loop: asyncio.AbstractEventLoop, pause: float) -> float:
        """Between two laps: with a ``pause``, let every client's queue drain (at most 5 s),
        then send nothing for ``pause`` seconds, so that a client reading behind the replay
        still sees the lap's last state before the next lap restarts the book. Returns the
        seconds it took (the pacing clock moves on by them: no burst after)."""
        if pause <= 0:
            return 0.0
        start = loop.time()
        while any(q.qsize() for q in self._queues.values()) and loop.time() - start < 5.0:  # noqa: ASYNC110 - at most a few polls per lap
            await asyncio.sleep(0.002)
        await asyncio.sleep(pause)
        return loop.time() - start

    async def _backpressure(self) -> None:
        """As fast as possible, but never far ahead of the slowest client."""
        await asyncio.sleep(0)
        while any(q.qsize() > 2000 for q in self._queues.values()):  # noqa: ASYNC110
            await asyncio.sleep(0.001)


async def pace_to(loop: asyncio.AbstractEventLoop, target: float) -> None:
    """Wait until the loop's clock reads ``target``. asyncio's timers have 1 ms granularity
    (epoll): sleeping on them would send 10 frames per millisecond in bursts, so the last
    2 ms are waited by blocking."""
    delay = target - loop.time()
    if delay > 0.002:
        await asyncio.sleep(delay)
    elif delay > 0:
        time.sleep(delay)  # noqa: ASYNC251 - sub-ms pacing, on purpose


def rest_at(exchange: ccxtpro.Exchange | str, port: int) -> ccxtpro.Exchange:
    """``exchange`` (a ccxt.pro instance, or its id for a new one) with every REST URL moved to
    the loopback exchange on ``port``, paths kept; its WebSocket URLs are the venue's to point
    (``point_binance_at``, ``point_bybit_at``)."""
    if isinstance(exchange, str):
        exchange = getattr(ccxtpro, exchange)()
    base = f"http://127.0.0.1:{port}"
    api = exchange.urls["api"]
    for key, url in list(api.items()):
        if isinstance(url, str) and url.startswith("http"):
            api[key] = base + urlsplit(url).path
    return exchange


def _fine_timers() -> None:
    """Ask Linux for exact sleeps on this thread: its default 50 us timer slack (80 us per
    ``time.sleep`` seen here) made the pacer fall behind and catch up in bursts."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None).prctl(29, 1, 0, 0, 0)  # PR_SET_TIMERSLACK, 1 ns
        except (OSError, AttributeError):
            pass
