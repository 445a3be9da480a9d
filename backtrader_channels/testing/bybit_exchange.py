"""A loopback Bybit: Bybit's v5 public spot WebSocket and REST market data on 127.0.0.1,
replaying a recording in Bybit's public-archive formats (the bundled
``datasets.bybit_btcusdt_sample()``: the Binance recording re-framed, see ``data/README.md``),
with fault switches. An unmodified ``ccxt.pro.bybit()`` connects once its URLs point here
(:func:`point_bybit_at`).

WebSocket ``/v5/public/spot``: ``{"op": "subscribe", "args": [...], "req_id"}`` is answered
with ``{"success": true, "op": "subscribe", ...}``; ``{"op": "ping"}`` with a pong. Topics:
``publicTrade.SYM``; ``orderbook.N.SYM`` (a snapshot of the server's book on subscribing, then
the recording's deltas with ``u`` one more each, and its snapshots where it has them);
``orderbook.1.SYM`` (best bid/ask, a snapshot whenever they change); ``tickers.SYM`` (after
every trade). REST: ``/v5/market/time``, ``instruments-info`` (spot BTCUSDT; other categories
empty), ``orderbook``, ``recent-trade``, ``tickers``. The private side (signed REST, the
``/v5/private`` WebSocket, an account whose orders fill on the replay) is
:mod:`.bybit_private`; a keyed ``ccxt.pro.bybit`` pointed here trades on it.

With ``loop_forever`` each new lap is a restart of the venue's book, as Bybit documents one
("u=1 ... due to the restart of the service"): the lap opens with the recording's first
snapshot and ``u`` back at 1, so a client resets its book (one resync per lap, which the live
feed reports as ``book_resync``); trade ids and times go on.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import time
from collections import deque
from typing import Any
from urllib.parse import urlsplit

import ccxt.pro as ccxtpro
from aiohttp import WSMsgType, web

from ..datasets import bybit_btcusdt_sample
from ..sources.formats import open_source
from .binance_account import Account, FeeAsset
from .bybit_private import SPOT_RULES, BybitPrivate
from .loopback import LoopbackServer, SendTimes, pace_to, quiet_collector
from .private_side import PrivateFaults
from .replay_exchange import Faults

_MS = 1_000_000
SYMBOL = "BTCUSDT"
INSTRUMENT = {
    "symbol": SYMBOL,
    "baseCoin": "BTC",
    "quoteCoin": "USDT",
    "innovation": "0",
    "status": "Trading",
    "marginTrading": "utaOnly",
    "lotSizeFilter": {
        "basePrecision": "0.000001",
        "quotePrecision": "0.00000001",
        "minOrderQty": "0.000048",
        "maxOrderQty": "71.73956243",
        "minOrderAmt": "1",
        "maxOrderAmt": "2000000",
    },
    "priceFilter": {"tickSize": "0.01"},
}


def load_recording(trades: str, orderbook: str) -> list[tuple[int, str, Any]]:
    """The archive's trades and book messages as one list ``(ts_ms, kind, item)`` in time
    order (book first at equal times, as the engine orders them)."""
    import zipfile

    items: list[tuple[int, int, str, Any]] = []
    n = 0
    for _, chunk in open_source(trades, "tick", "BTC/USDT"):
        for t in chunk:
            n += 1
            items.append((t.timestamp // _MS, 1, "trade", (n, t.price, t.volume, t.direction)))
    with zipfile.ZipFile(orderbook) as zf:
        for line in zf.read(zf.namelist()[0]).splitlines():
            msg = json.loads(line)
            items.append((int(msg["ts"]), 0, "book", msg))
    items.sort(key=lambda x: (x[0], x[1]))  # stable: recorded order within a time
    return [(ts, kind, item) for ts, _, kind, item in items]


class _Book:
    """The server's book, moved by every recorded message (sent or not)."""

    def __init__(self) -> None:
        self.bids: dict[float, str] = {}
        self.asks: dict[float, str] = {}
        self.u = 0
        self.seq = 0

    def apply(self, msg: dict[str, Any]) -> None:
        data = msg["data"]
        if msg["type"] == "snapshot":
            self.bids.clear()
            self.asks.clear()
        for side, levels in ((self.bids, data["b"]), (self.asks, data["a"])):
            for price, size in levels:
                if float(size) == 0.0:
                    side.pop(float(price), None)
                else:
                    side[float(price)] = size
        self.u, self.seq = int(data["u"]), int(data["seq"])

    def top(self, limit: int) -> tuple[list[list[str]], list[list[str]]]:
        # a few levels of a deep book: a partial selection, not a sort of every level
        bids = heapq.nlargest(limit, self.bids.items())
        asks = heapq.nsmallest(limit, self.asks.items())
        return [[repr(p), s] for p, s in bids], [[repr(p), s] for p, s in asks]


class BybitExchange(LoopbackServer, BybitPrivate):
    """The loopback Bybit (see module doc). ``start()`` returns the port.

    Parameters
    ----------
    trades, orderbook : str
        A Bybit trade archive and ``ob500`` book archive; the bundled sample by default.
    rate : float, optional
        Recorded items (trades and book messages) per second; None: as fast as clients read.
    start_when : int, default 1
        The replay starts once this many topics are subscribed.
    loop_forever : bool, default False
        Repeat the recording, each lap continuing trade ids and times; the book restarts with
        a snapshot, ``u`` back at 1 (see module doc).
    speed : float, optional
        Pace by the recording's times instead of ``rate`` (1.0: real time).
    origin_ms : int, optional
        With ``speed``: the recorded time the replay's start stands for (default: the first
        item's); another replay given the same origin runs on the same timeline.
    record_send_times : bool, default False
        Keep when each book delta was sent (``send_times``, by ``u``), for latency benchmarks.
    balances : dict, optional
        The account's starting free balances (default 10,000 USDT); orders placed through the
        private side (:mod:`.bybit_private`) fill against the replayed market.
    api_key, api_secret : str
        The keys the private side accepts.
    fee_asset : {"quote", "received"}, default "quote"
        The asset the account's commissions are charged in: the quote, or the asset a fill
        brings in (a buyer's fee in the base coin, as the real venue charges it).
    lap_pause : float, default 0.0
        With ``loop_forever``: between two laps, let the clients' queues drain and send
        nothing for this many seconds (the venue's restart), so that a client behind the
        replay still sees each lap's last book.
    """

    def __init__(
        self,
        trades: str | None = None,
        orderbook: str | None = None,
        rate: float | None = None,
        start_when: int = 1,
        loop_forever: bool = False,
        speed: float | None = None,
        origin_ms: int | None = None,
        record_send_times: bool = False,
        balances: dict[str, float] | None = None,
        api_key: str = "loopback-key",
        api_secret: str = "loopback-secret",
        lap_pause: float = 0.0,
        fee_asset: FeeAsset = "quote",
    ):
        self.api_key, self.api_secret = api_key, api_secret
        self.lap_pause = lap_pause
        self.private_faults = PrivateFaults()
        start = balances if balances is not None else {"USDT": 10_000.0}
        self.account = Account(start, {SYMBOL: SPOT_RULES}, fee_asset=fee_asset)
        #: the last replayed trade's price and item number, and the book's (the matching
        #: engine's freshness rule)
        self.last_trade: tuple[float, int] | None = None
        self.book_at = 0
        self.speed, self.origin_ms = speed, origin_ms
        # when book deltas (by u) and best bid/ask snapshots (by their own u) were handed to
        # the sockets: see ``send_times`` and ``bbo_send_times``
        self._book_sends = SendTimes() if record_send_times else None
        self._bbo_sends = SendTimes()
        self.stream_u = 0  # the u of the last book message sent
        sample = bybit_btcusdt_sample()
        self.items = load_recording(trades or sample.trades, orderbook or sample.orderbook)
        self.rate, self.start_when, self.loop_forever = rate, start_when, loop_forever
        self.faults = Faults()
        self.book = _Book()  # the book as the recording starts: what a subscriber sees first
        self.book.apply(next(item for _, kind, item in self.items if kind == "book"))
        self.best: tuple[Any, Any] | None = None
        self.bbo_u = 0
        self.recent: deque[dict[str, Any]] = deque(maxlen=1000)  # what recent-trade serves
        self.last_price = 0.0
        self.sent = 0
        self.lap = 0
        #: the book's last ``u`` and its top 1,000 levels a side at the end of each lap
        self.lap_ends: list[tuple[int, tuple[list[list[str]], list[list[str]]]]] = []
        self.offset_ms = 0
        self.now_ms = 0  # the replay's exchange time: the last item's (shifted) time
        self.trade_ids = 0  # trades replayed over all laps: the next trade's id
        #: the ``u`` of every delta the skip_depth fault held back
        self.skipped_u: list[int] = []
        LoopbackServer.__init__(self)

    thread_name = "bybit-loopback"

    # ---- routes ------------------------------------------------------------------------------
    @property
    def send_times(self) -> dict[int, int] | None:
        """Book update id (``u``) -> ``time.time_ns()`` when its delta was handed to the
        sockets (None unless ``record_send_times``)."""
        return None if self._book_sends is None else self._book_sends.as_dict()

    @property
    def bbo_send_times(self) -> dict[int, int]:
        """The same for best bid/ask (``orderbook.1``) snapshots, by their own ``u``."""
        return self._bbo_sends.as_dict()

    def add_routes(self, app: web.Application) -> None:
        for path, handler in (
            ("/v5/market/time", self._time),
            ("/v5/market/instruments-info", self._instruments),
            ("/v5/market/orderbook", self._orderbook),
            ("/v5/market/recent-trade", self._recent),
            ("/v5/market/tickers", self._tickers),
        ):
            app.router.add_get(path, handler)
        app.router.add_get("/v5/public/spot", self._ws)
        self.add_private_routes(app)

    # ---- REST --------------------------------------------------------------------------------
    @staticmethod
    def _ok(result: Any) -> web.Response:
        now = int(time.time() * 1000)
        body = {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": now}
        return web.json_response(body)

    @staticmethod
    def _error(code: int, msg: str) -> web.Response:
        now = int(time.time() * 1000)
        body = {"retCode": code, "retMsg": msg, "result": {}, "retExtInfo": {}, "time": now}
        return web.json_response(body)

    async def _time(self, request: web.Request) -> web.Response:
        ns = time.time_ns() + self.private_faults.clock_skew_ms * 1_000_000  # one clock
        body = {"retCode": 0, "retMsg": "OK", "retExtInfo": {}, "time": ns // 1_000_000,
                "result": {"timeSecond": str(ns // 10**9), "timeNano": str(ns)}}  # fmt: skip
        return web.json_response(body)

    async def _instruments(self, request: web.Request) -> web.Response:
        category = request.query.get("category", "")
        if self.faults.fail_markets:
            return web.Response(status=503, text="<html>503 Service Unavailable</html>")
        listed = [INSTRUMENT] if category == "spot" else []
        return self._ok({"category": category, "list": listed, "nextPageCursor": ""})

    async def _orderbook(self, request: web.Request) -> web.Response:
        if request.query.get("symbol") != SYMBOL:
            return self._error(10001, "params error: symbol invalid")
        if self.faults.fail_depth_rest > 0:
            self.faults.fail_depth_rest -= 1
            return web.Response(status=503, text="<html>503 Service Unavailable</html>")
        bids, asks = self.book.top(int(request.query.get("limit", 50)))
        now = self.now_ms or int(time.time() * 1000)
        return self._ok(
            {"s": SYMBOL, "b": bids, "a": asks, "ts": now, "u": self.book.u, "seq": self.book.seq}
        )

    async def _recent(self, request: web.Request) -> web.Response:
        limit = min(int(request.query.get("limit", 60)), 1000)
        trades = list(self.recent)[-limit:][::-1]  # newest first, as Bybit answers
        return self._ok({"category": request.query.get("category", "spot"), "list": trades})

    async def _tickers(self, request: web.Request) -> web.Response:
        return self._ok({"category": "spot", "list": [self._ticker()]})

    def _ticker(self) -> dict[str, Any]:
        bids, asks = self.book.top(1)
        p = repr(self.last_price)
        return {
            "symbol": SYMBOL,
            "bid1Price": bids[0][0] if bids else "",
            "bid1Size": bids[0][1] if bids else "",
            "ask1Price": asks[0][0] if asks else "",
            "ask1Size": asks[0][1] if asks else "",
            "lastPrice": p,
            "prevPrice24h": p,
            "price24hPcnt": "0",
            "highPrice24h": p,
            "lowPrice24h": p,
            "turnover24h": "0",
            "volume24h": "0",
        }

    # ---- WebSocket ----------------------------------------------------------------------------
    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None, autoping=True)
        await ws.prepare(request)
        sender = self._open(ws, request)
        queue = self._queues[ws]
        conn = f"loopback-{id(ws):x}"
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                req = json.loads(msg.data)
                op, rid = req.get("op"), req.get("req_id")
                if op == "ping":
                    pong = {"success": True, "ret_msg": "pong", "conn_id": conn, "op": "ping"}
                    await ws.send_str(json.dumps(dict(pong, req_id=rid)))
                elif op in ("subscribe", "unsubscribe"):
                    topics = list(req.get("args") or [])
                    ack = {"success": True, "ret_msg": "", "conn_id": conn, "req_id": rid, "op": op}
                    await ws.send_str(json.dumps(ack))
                    if op == "subscribe":
                        self._subs[ws].update(topics)
                        for topic in topics:  # a book topic starts with the book as it is
                            if topic.startswith("orderbook."):
                                queue.put_nowait(self._snapshot_text(topic))
                    else:
                        self._subs[ws].difference_update(topics)
        finally:
            self._close(ws, sender)
        return ws

    def _snapshot_text(self, topic: str) -> str:
        depth = int(topic.split(".")[1])
        bids, asks = self.book.top(depth)
        ts = self.now_ms or int(time.time() * 1000)
        data = {"s": SYMBOL, "b": bids, "a": asks, "u": self.book.u, "seq": self.book.seq}
        if depth == 1:
            data["u"] = self.bbo_u
        msg = {"topic": topic, "type": "snapshot", "ts": ts, "data": data, "cts": ts}
        return json.dumps(msg)

    def _publish(
        self, topic_prefix: str, text: str, log: SendTimes | None = None, key: int = 0
    ) -> None:
        """Queue ``text`` for every subscriber of the topic; with a send log, each sender
        stamps it under ``key`` as it writes it."""
        item = self._stamped(text, log, key)
        for ws, subs in list(self._subs.items()):
            if any(t.startswith(topic_prefix) for t in subs):
                queue = self._queues.get(ws)
                if queue is not None:
                    queue.put_nowait(item)

    # ---- replay ------------------------------------------------------------------------------
    async def _replay(self) -> None:
        while self._subscribed() < self.start_when:  # noqa: ASYNC110 - a few polls at start
            await asyncio.sleep(0.005)
        interval = 1.0 / self.rate if self.rate else 0.0
        loop = asyncio.get_running_loop()
        first, last = self.items[0][0], self.items[-1][0]
        if self.speed and self.origin_ms is not None:
            first = min(first, self.origin_ms)
        self.offset_ms = int(time.time() * 1000) - first
        t0 = loop.time()
        while True:
            lap_ms = self.lap * (last - first + 1)
            shift = self.offset_ms + lap_ms
            if self.lap:  # a new lap: the venue's book restarts, its first snapshot at u = 1
                self.stream_u = 0
            for ts, kind, item in self.items:
                if self.speed:  # by the recording's clock
                    await pace_to(loop, t0 + (ts + lap_ms - first) / 1000 / self.speed)
                await self._one(ts + shift, kind, item)
                self.sent += 1
                if self.sent == len(self.items) and not self.loop_forever:
                    # ended before the pause: a client that has the last frame sees ``done``
                    self.done.set()
                if not self.speed:
                    await self._after_send(loop, t0, interval)
            self.lap_ends.append((self.book.u, self.book.top(1000)))
            if not self.loop_forever:
                break
            t0 += await self._lap_break(loop, self.lap_pause)
            self.lap += 1
        self.done.set()

    async def _one(self, ts: int, kind: str, item: Any) -> None:
        self.now_ms = ts
        f = self.faults
        await self._connection_faults(f)
        if kind == "book":
            self._book(ts, item)
        else:
            self._trade(ts, item)

    def _book(self, ts: int, msg: dict[str, Any]) -> None:
        # one update id sequence for the lap: the recording's restart snapshots (its u back at
        # 1) go out as snapshots with u continuing, as a steady venue sends; a new lap starts
        # at 1 (``_replay``)
        self.stream_u += 1
        msg = dict(msg, data=dict(msg["data"], u=self.stream_u))
        self.book.apply(msg)
        self.book_at = self.sent
        f = self.faults
        if msg["type"] == "delta" and f.skip_depth > 0:
            f.skip_depth -= 1
            self.skipped_u.append(int(msg["data"]["u"]))
        else:
            out = dict(msg, ts=ts, cts=ts - 2)
            depths = {
                t.split(".")[1] for s in self._subs.values() for t in s if t[:10] == "orderbook."
            }
            for depth in depths - {"1"}:
                self._publish(
                    f"orderbook.{depth}.",
                    json.dumps(dict(out, topic=f"orderbook.{depth}.{SYMBOL}")),
                    self._book_sends,
                    self.stream_u,
                )
        bids, asks = self.book.top(1)
        best = (bids[0] if bids else None, asks[0] if asks else None)
        if best != self.best:
            self.best = best
            self.bbo_u += 1
            data = {"s": SYMBOL, "b": bids, "a": asks, "u": self.bbo_u, "seq": self.book.seq}
            text = json.dumps(
                {"topic": f"orderbook.1.{SYMBOL}", "type": "snapshot", "ts": ts, "data": data}
            )
            bbo_log = self._bbo_sends if self._book_sends is not None else None
            self._publish("orderbook.1.", text, bbo_log, self.bbo_u)

    def _trade(self, ts: int, item: tuple[int, float, float, str]) -> None:
        f = self.faults
        self.trade_ids += 1
        _, price, volume, side = item
        tid = str(2_290_000_000_000_000_000 + self.trade_ids)
        trade: dict[str, Any] = {
            "T": ts,
            "s": SYMBOL,
            "S": "Buy" if side == "buy" else "Sell",
            "v": repr(volume),
            "p": repr(price),
            "L": "ZeroPlusTick",
            "i": tid,
            "BT": False,
        }
        self.last_price = price
        self.last_trade = (price, self.sent)
        if self.account._resting:
            self.account.on_trade(price, ts)
        self.recent.append(
            {
                "execId": tid,
                "symbol": SYMBOL,
                "price": trade["p"],
                "size": trade["v"],
                "side": trade["S"],
                "time": str(ts),
                "isBlockTrade": False,
            }
        )
        if f.out_of_order > 0:
            f.out_of_order -= 1
            trade["T"] = ts - 10_000
        if f.negative_price > 0:
            f.negative_price -= 1
            trade["p"] = "-" + trade["p"]
        msg = {"topic": f"publicTrade.{SYMBOL}", "type": "snapshot", "ts": ts, "data": [trade]}
        text = json.dumps(msg)
        if f.malformed > 0:
            f.malformed -= 1
            text = text[: len(text) // 2]
        self._publish("publicTrade.", text)
        if any(t[:8] == "tickers." for subs in self._subs.values() for t in subs):
            ticker = {"topic": f"tickers.{SYMBOL}", "type": "snapshot", "ts": ts, "cs": self.sent}
            self._publish("tickers.", json.dumps(dict(ticker, data=self._ticker())))


def _serve_child(conn: Any, kwargs: dict[str, Any]) -> None:
    server = BybitExchange(**kwargs)
    conn.send(server.start())
    quiet_collector()
    conn.recv()  # any message: stop
    server.stop()
    conn.send((server.send_times, server.bbo_send_times, server.order_times, server.fill_times))


def serve_bybit_in_subprocess(**kwargs: Any) -> tuple[int, Any]:
    """A BybitExchange in its own process (its own GIL, as a real venue); ``(port, stop)``,
    ``stop()`` returning its ``(send_times, bbo_send_times)``; ``stop.timings`` then holds
    ``(None, order_times, fill_times)`` (the private side's, as ``serve_in_subprocess``)."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve_child, args=(child, kwargs), daemon=True)
    proc.start()
    port = parent.recv()

    def stop() -> tuple[dict[int, int] | None, dict[int, int]]:
        parent.send("stop")
        times = parent.recv() if parent.poll(10) else (None, {}, {}, {})
        proc.join(10)
        stop.timings = (None, times[2], times[3])  # type: ignore[attr-defined]
        return times[0], times[1]

    return port, stop


def point_bybit_at(exchange: Any, port: int) -> Any:
    """Point an unmodified ``ccxt.pro.bybit`` (an instance, or ``"bybit"`` for a new one) at the
    loopback Bybit on ``port``: only its URLs change (REST keeps its paths, the public spot
    WebSocket goes to ``/v5/public/spot``)."""
    if isinstance(exchange, str):
        exchange = getattr(ccxtpro, exchange)()
    base = f"http://127.0.0.1:{port}"
    api = exchange.urls["api"]
    for key, url in list(api.items()):
        if isinstance(url, str) and url.startswith("http"):
            api[key] = base + urlsplit(url).path
    ws = f"ws://127.0.0.1:{port}"
    api["ws"]["public"] = {k: f"{ws}{urlsplit(v).path}" for k, v in api["ws"]["public"].items()}
    private = api["ws"]["private"]
    for key, url in list(private.items()):
        if isinstance(url, dict):
            private[key] = {k: f"{ws}/v5/private" for k in url}
        else:  # the order-entry WebSocket (v5/trade) is not served: orders go by REST
            private[key] = f"{ws}{urlsplit(url).path}"
    return exchange
