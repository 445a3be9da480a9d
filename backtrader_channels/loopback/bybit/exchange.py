"""A loopback Bybit: Bybit's v5 public spot WebSocket and REST market data on 127.0.0.1,
replaying a recording in Bybit's public-archive formats (the bundled
``datasets.bybit_btcusdt_sample()``: the Binance recording re-framed, see ``data/README.md``),
with fault switches. An unmodified ``ccxt.pro.bybit()`` connects once its URLs point here
(:func:`point_bybit_at`).

WebSocket ``/v5/public/spot``: ``{"op": "subscribe", "args": [...], "req_id"}`` is answered
with ``{"success": true, "op": "subscribe", ...}``; ``{"op": "ping"}`` with a pong. Topics:
``publicTrade.SYM``; ``orderbook.N.SYM`` (the top N levels of the server's book on subscribing,
then a message for each recorded one, ``u`` one more each: a delta keeping the subscriber's book
the server's top N, as the venue sends one (:mod:`.window`), or the top N as a snapshot where the
recording has a snapshot);
``orderbook.1.SYM`` (best bid/ask, a snapshot whenever they change); ``tickers.SYM`` (after
every trade). REST: ``/v5/market/time``, ``instruments-info`` (spot BTCUSDT; other categories
empty), ``orderbook``, ``recent-trade``, ``tickers``. The private side (signed REST, the
``/v5/private`` WebSocket, an account whose orders fill on the replay) is
:mod:`.private`; a keyed ``ccxt.pro.bybit`` pointed here trades on it.

With ``loop_forever`` each new lap is a restart of the venue's book, as Bybit documents one
("u=1 ... due to the restart of the service"): the lap opens with the recording's first
snapshot and ``u`` back at 1, so a client resets its book (one resync per lap, which the live
feed reports as ``book_resync``); trade ids and times go on.
"""

from __future__ import annotations

import json
import time
from collections import deque
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import urlsplit

from aiohttp import web

from ...btypes import JsonDict
from ...datasets import bybit_btcusdt_sample
from ...sources.formats import open_source
from ..account import FeeAsset
from ..base import LoopbackServer, Recorded, SendTimes, pace_to, rest_at, unavailable
from ..book import BybitBook, Levels
from .private import BybitPrivate
from .protocol import INSTRUMENT, SPOT_RULES, SYMBOL, BybitError, body, error, ok
from .window import DepthWindows

if TYPE_CHECKING:
    import ccxt.pro as ccxtpro

__all__ = ["INSTRUMENT", "SYMBOL", "BybitLoopback", "load_recording", "point_bybit_at"]

_MS = 1_000_000
#: a recorded trade, as the replay sends it: ``(number, price, volume, side)``
Trade: TypeAlias = tuple[int, float, float, str]
#: a recorded item: a :data:`Trade` (kind ``"trade"``) or a book message, a JsonDict (kind
#: ``"book"``). Untyped: only its kind, beside it, says which (mypy cannot follow that)
RecordedItem: TypeAlias = Any


def load_recording(trades: str, orderbook: str) -> list[tuple[int, str, RecordedItem]]:
    """The archive's trades and book messages as one list ``(ts_ms, kind, item)`` in time
    order (book first at equal times, as the engine orders them)."""
    import zipfile

    items: list[tuple[int, int, str, RecordedItem]] = []
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


class BybitLoopback(LoopbackServer, BybitPrivate):
    """The loopback Bybit (see module doc); also known as ``BybitExchange``. ``start()``
    returns the port.

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
        private side (:mod:`.private`) fill against the replayed market.
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
        LoopbackServer.__init__(self, rate, start_when, loop_forever, speed, origin_ms, lap_pause)
        self._open_account(balances, {SYMBOL: SPOT_RULES}, api_key, api_secret, fee_asset)
        # when book deltas (by u) and best bid/ask snapshots (by their own u) were handed to
        # the sockets: see ``send_times`` and ``bbo_send_times``
        self._book_sends = SendTimes() if record_send_times else None
        self._bbo_sends = SendTimes()
        self.stream_u = 0  # the u of the last book message sent
        sample = bybit_btcusdt_sample()
        self.items = load_recording(trades or sample.trades, orderbook or sample.orderbook)
        self.book = BybitBook()  # the book as the recording starts: what a subscriber sees first
        self.book.apply(next(item for _, kind, item in self.items if kind == "book"))
        self.book.at = 0  # the recording's first item
        #: each subscribed depth's window: the server's top N levels, what its subscribers have
        self.windows = DepthWindows(self.book)
        self.best: tuple[list[str] | None, list[str] | None] | None = None
        self.bbo_u = 0
        self.recent: deque[JsonDict] = deque(maxlen=1000)  # what recent-trade serves
        self.last_price = 0.0
        #: the book's last ``u`` and its top 1,000 levels a side at the end of each lap
        self.lap_ends: list[tuple[int, tuple[Levels, Levels]]] = []
        self.now_ms = 0  # the replay's exchange time: the last item's (shifted) time
        self.trade_ids = 0  # trades replayed over all laps: the next trade's id
        #: the ``u`` of every delta the skip_depth fault held back
        self.skipped_u: list[int] = []

    thread_name = "bybit-loopback"

    @property
    def book_at(self) -> int:
        """The number of the last replayed item that moved the book (``book.at``)."""
        return self.book.at

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

    def recorded(self) -> Recorded:
        """What the server noted for latency measurements, by name (what a server in its own
        process sends back when it stops: :mod:`..serve`)."""
        return {
            "send_times": self.send_times,
            "bbo_send_times": self.bbo_send_times,
            "order_times": self.order_times,
            "fill_times": self.fill_times,
        }

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
    async def _time(self, request: web.Request) -> web.Response:
        ns = time.time_ns() + self.private_faults.clock_skew_ms * 1_000_000  # one clock
        result = {"timeSecond": str(ns // 10**9), "timeNano": str(ns)}
        return web.json_response(dict(body(result), time=ns // 1_000_000))

    async def _instruments(self, request: web.Request) -> web.Response:
        category = request.query.get("category", "")
        if self.faults.fail_markets:
            return unavailable()
        listed = [INSTRUMENT] if category == "spot" else []
        return ok({"category": category, "list": listed, "nextPageCursor": ""})

    async def _orderbook(self, request: web.Request) -> web.Response:
        if request.query.get("symbol") != SYMBOL:
            return error(BybitError(10001, "params error: symbol invalid"))
        if self.faults.fail_depth_rest > 0:
            self.faults.fail_depth_rest -= 1
            return unavailable()
        bids, asks = self.book.top(int(request.query.get("limit", 50)))
        now = self.now_ms or int(time.time() * 1000)
        return ok(
            {"s": SYMBOL, "b": bids, "a": asks, "ts": now, "u": self.book.u, "seq": self.book.seq}
        )

    async def _recent(self, request: web.Request) -> web.Response:
        limit = min(int(request.query.get("limit", 60)), 1000)
        trades = list(self.recent)[-limit:][::-1]  # newest first, as Bybit answers
        return ok({"category": request.query.get("category", "spot"), "list": trades})

    async def _tickers(self, request: web.Request) -> web.Response:
        return ok({"category": "spot", "list": [self._ticker()]})

    def _ticker(self) -> dict[str, str]:
        bids, asks = self.windows.top(1)
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
        return await self._socket(request, self._on_request)

    async def _on_request(self, ws: web.WebSocketResponse, req: JsonDict) -> None:
        op, rid, conn = req.get("op"), req.get("req_id"), f"loopback-{id(ws):x}"
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
                        self._queues[ws].put_nowait(self._snapshot_text(topic))
            else:
                self._subs[ws].difference_update(topics)

    def _snapshot_text(self, topic: str) -> str:
        depth = int(topic.split(".")[1])
        # the depth's window opens here (or is already this: the top N after every message)
        bids, asks = self.windows.top(1) if depth == 1 else self.windows.open(depth)
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
        loop, interval = await self._until_subscribed()
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

    async def _one(self, ts: int, kind: str, item: RecordedItem) -> None:
        self.now_ms = ts
        f = self.faults
        await self._connection_faults(f)
        if kind == "book":
            self._book(ts, item)
        else:
            self._trade(ts, item)

    def _book(self, ts: int, msg: JsonDict) -> None:
        # one update id sequence for the lap: the recording's restart snapshots (its u back at
        # 1) go out as snapshots with u continuing, as a steady venue sends; a new lap starts
        # at 1 (``_replay``)
        self.stream_u += 1
        data = dict(msg["data"], u=self.stream_u)
        msg = dict(msg, data=data)
        self.book.apply(msg)
        self.book.at = self.sent
        windows = self.windows
        if msg["type"] == "snapshot":
            windows.reload()
        else:
            windows.follow(data["b"], data["a"])
        depths = {t.split(".")[1] for s in self._subs.values() for t in s if t[:10] == "orderbook."}
        depths = {d for d in depths if d.isdigit() and d != "1"}  # (1: best bid/ask, below)
        windows.keep(int(d) for d in depths)
        f = self.faults
        skip = msg["type"] == "delta" and f.skip_depth > 0
        if skip:  # lost on the way: the subscribers' windows move on all the same
            f.skip_depth -= 1
            self.skipped_u.append(self.stream_u)
        out = dict(msg, ts=ts, cts=ts - 2)
        for depth in depths:
            bids, asks = windows.advance(int(depth))  # the window's delta (or top N: snapshot)
            if not skip:
                topic = f"orderbook.{depth}.{SYMBOL}"
                text = json.dumps(dict(out, topic=topic, data=dict(data, b=bids, a=asks)))
                self._publish(f"orderbook.{depth}.", text, self._book_sends, self.stream_u)
        bids, asks = windows.top(1)
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

    def _trade(self, ts: int, item: Trade) -> None:
        f = self.faults
        self.trade_ids += 1
        _, price, volume, side = item
        tid = str(2_290_000_000_000_000_000 + self.trade_ids)
        trade: JsonDict = {
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
        self._traded(price, ts)
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


def point_bybit_at(exchange: ccxtpro.Exchange | str, port: int) -> ccxtpro.Exchange:
    """Point an unmodified ``ccxt.pro.bybit`` at the loopback Bybit on ``port``: only its URLs
    change (REST keeps its paths, the public spot WebSocket goes to ``/v5/public/spot``, the
    private one to ``/v5/private``).

    Parameters
    ----------
    exchange : ccxt.pro.bybit or str
        The client, or ``"bybit"`` for a new one.
    port : int
        The loopback Bybit's port (``start()``'s answer).

    Returns
    -------
    ccxt.pro.bybit
        The client, pointed here.
    """
    exchange = rest_at(exchange, port)
    api = exchange.urls["api"]
    ws = f"ws://127.0.0.1:{port}"
    api["ws"]["public"] = {k: f"{ws}{urlsplit(v).path}" for k, v in api["ws"]["public"].items()}
    private = api["ws"]["private"]
    for key, url in list(private.items()):
        if isinstance(url, dict):
            private[key] = {k: f"{ws}/v5/private" for k in url}
        else:  # the order-entry WebSocket (v5/trade) is not served: orders go by REST
            private[key] = f"{ws}{urlsplit(url).path}"
    return exchange
