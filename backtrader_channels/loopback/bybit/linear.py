"""A loopback Bybit for USDT perpetuals (``category=linear``): Bybit v5's public linear
WebSocket and REST market data and its private side on 127.0.0.1, for an unmodified
``ccxt.pro.bybit()`` once its URLs point here (:func:`point_bybit_linear_at`).

**The recording is Binance's; the frames are Bybit's.** It replays the bundled Binance USDⓈ-M
ETH/USDT:USDT perpetual sample (``datasets.binance_ethusdt_perp_sample()``, read from its Parquet
events by :func:`~..binance.futures_replay.load_replay`, mark prices and the funding settlement
**generated**, see ``data/README.md``) re-framed in Bybit v5's formats, as symbol ``ETHUSDT``.
Its instruments are Binance's fapi ``exchangeInfo`` ``linear`` symbols (the bundled 2021 subset)
as Bybit's ``lotSizeFilter`` / ``priceFilter`` / ``leverageFilter``.

WebSocket ``/v5/public/linear``: ``subscribe`` / ``unsubscribe`` acknowledged, ``ping``
answered. Topics: ``orderbook.N.ETHUSDT`` (a snapshot of the server's book on subscribing, then
each recorded depth diff as a ``delta``, ``u`` one more each, ``seq`` the recording's update id;
``orderbook.1`` a snapshot whenever the best bid or ask changes), ``publicTrade.ETHUSDT``,
``tickers.ETHUSDT`` (a full snapshot on subscribing, then ``delta`` frames with what changed:
``lastPrice`` after trades, ``markPrice`` / ``indexPrice`` / ``fundingRate`` /
``nextFundingTime`` after mark updates, the best bid and ask as the book moves). REST
``/v5/market``: ``time``, ``instruments-info`` (linear; the other categories empty),
``orderbook``, ``recent-trade``, ``tickers``, ``funding/history`` (the settlements so far).

Private side: :mod:`.linear_private` (orders, positions, the unified wallet, the transaction log,
leverage and modes, the ``/v5/private`` topics) on the loopback's margin account
(:class:`~..futures_account.FuturesAccount`, Binance's rules, which are Bybit's in substance for
cross margin and one-way mode).

Exchange times move to now (spacing kept). Controls for tests and demos, as the loopback Binance
USDⓈ-M's: :meth:`BybitLinearLoopback.set_funding_rate` and :meth:`BybitLinearLoopback.move_mark`
(the account is marked at once, liquidated if it must be; a ticker delta goes out). A funding
settlement of the recording pays through the account (an ``execType`` ``Funding`` execution and
a ``SETTLEMENT`` transaction-log row). One pass over the recording (no laps).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from decimal import Decimal
from typing import TYPE_CHECKING

from aiohttp import web

from ...btypes import JsonDict
from ...datasets import Sample, binance_ethusdt_perp_sample, binance_exchange_info
from ..base import LoopbackServer, pace_to, unavailable
from ..binance.futures_replay import Item, load_replay
from ..book import BybitBook
from .exchange import point_bybit_at
from .linear_private import BybitLinearPrivate
from .linear_wire import linear_instrument
from .protocol import BybitError, body, error, ok
from .window import DepthWindows

if TYPE_CHECKING:
    import ccxt.pro as ccxtpro

__all__ = ["BybitLinearLoopback", "point_bybit_linear_at"]


class BybitLinearLoopback(LoopbackServer, BybitLinearPrivate):
    """The loopback Bybit linear (see module doc). ``start()`` returns the port.

    Parameters
    ----------
    sample : Sample, optional
        The recording (Parquet, the package's schema): the bundled Binance ETH/USDT:USDT
        perpetual sample by default. Its ``derivative`` file gives the mark prices and
        settlements.
    exchange_info : str, optional
        The Binance exchangeInfo JSON file whose ``linear`` symbols are listed.
    rate : float, optional
        Items per second; None: as fast as the slowest client reads.
    speed : float, optional
        Pace by the recording's exchange times instead (1.0: real time).
    start_when : int, default 1
        The replay starts once this many public topics are subscribed.
    wallet : float, default 10,000
        The unified account's USDT wallet.
    leverage : int, default 10
        Each symbol's leverage until the client sets one (Bybit's default).
    taker, maker : float
        Commission rates (Bybit's base tier by default).
    api_key, api_secret : str
        The credentials the signed API and the private WebSocket accept.
    """

    thread_name = "bybit-linear-loopback"
    book: BybitBook

    def __init__(
        self,
        sample: Sample | None = None,
        exchange_info: str | None = None,
        rate: float | None = None,
        speed: float | None = None,
        start_when: int = 1,
        wallet: float = 10_000.0,
        leverage: int = 10,
        taker: float = 0.00055,
        maker: float = 0.0002,
        api_key: str = "loopback-key",
        api_secret: str = "loopback-secret",
    ) -> None:
        LoopbackServer.__init__(self, rate, start_when, False, speed)
        self.sample = sample if sample is not None else binance_ethusdt_perp_sample()
        with open(exchange_info or binance_exchange_info(), encoding="utf-8") as fh:
            listed = json.load(fh)["linear"]["symbols"]
        self.market_id = self.sample.symbol.split(":")[0].replace("/", "")
        self.symbols = {s["symbol"]: s for s in listed}
        if self.market_id not in self.symbols:
            known = ", ".join(sorted(self.symbols))
            raise ValueError(f"{self.sample.symbol}: not in the exchangeInfo ({known})")
        self._open_linear(wallet, leverage, taker, maker, api_key, api_secret)
        brackets = self.account.brackets
        #: the listed instruments (``/v5/market/instruments-info?category=linear``)
        self.instruments = [
            linear_instrument(s, brackets[s["symbol"]]) for s in listed if s["symbol"] in brackets
        ]
        snapshot, self.items = load_replay(self.sample, self.market_id)
        self.book = BybitBook()
        self.book.load(snapshot["bids"], snapshot["asks"])
        self.book.seq = int(snapshot["lastUpdateId"])
        #: each subscribed depth's window: the server's top N, what its subscribers were told
        self.windows = DepthWindows(self.book)
        self.recent: deque[JsonDict] = deque(maxlen=1000)  # what recent-trade serves
        self.trade_ids = 0
        self.best: tuple[str | None, str | None] = (None, None)
        self.bbo_u = 0
        #: the ticker as ``tickers`` shows it (each delta updates it)
        self.ticker: dict[str, str] = self._first_ticker()
        #: control: the funding rate of later mark updates and settlements (None: recorded)
        self.funding_rate: float | None = None
        #: control: what every later mark (and index) price is moved by
        self.mark_shift = 0.0
        self._raw_mark: JsonDict | None = None
        #: the funding settlements done: ``/v5/market/funding/history`` rows, oldest first
        self.settlements: list[JsonDict] = []

    # ---- controls (from any thread) ---------------------------------------------------------
    def set_funding_rate(self, rate: float | None) -> None:
        """From now on, mark updates and settlements carry ``rate`` (None: the recording's)."""
        self.funding_rate = rate

    def move_mark(self, delta: float) -> None:
        """Move every later mark and index price by ``delta`` more, at once: the account is
        marked (and liquidated if it must be) and a ticker delta goes out. Before any recorded
        mark, the mark is the book's mid price."""
        loop = self._loop
        if loop is None:
            self.mark_shift += delta
            return

        async def move() -> None:
            self.mark_shift += delta
            raw = self._raw_mark
            if raw is None:
                bid, ask = self.book.best()
                mid = ((bid or 0.0) + (ask or bid or 0.0)) / 2
                raw = {"p": repr(mid), "i": repr(mid), "r": "0.0001", "T": 0, "E": 0}
            self._mark(dict(raw, E=self._now_ms() - self.offset_ms))

        asyncio.run_coroutine_threadsafe(move(), loop).result(5)

    # ---- routes -------------------------------------------------------------------------------
    def add_routes(self, app: web.Application) -> None:
        r = app.router
        for path, handler in (
            ("/v5/market/time", self._time),
            ("/v5/market/instruments-info", self._instruments),
            ("/v5/market/orderbook", self._orderbook),
            ("/v5/market/recent-trade", self._recent),
            ("/v5/market/tickers", self._tickers),
            ("/v5/market/funding/history", self._funding_history),
        ):
            r.add_get(path, handler)
        r.add_get("/v5/public/linear", self._ws)
        self.add_linear_private_routes(app)

    def _now_ms(self) -> int:
        return self.server_ms()

    # ---- REST ---------------------------------------------------------------------------------
    async def _time(self, request: web.Request) -> web.Response:
        ns = time.time_ns() + self.private_faults.clock_skew_ms * 1_000_000
        result = {"timeSecond": str(ns // 10**9), "timeNano": str(ns)}
        return web.json_response(dict(body(result), time=ns // 1_000_000))

    async def _instruments(self, request: web.Request) -> web.Response:
        q = request.query
        if self.faults.fail_markets:
            return unavailable()
        listed = [] if q.get("category") != "linear" or q.get("status") == "PreLaunch" else [
            i for i in self.instruments if q.get("symbol") in (None, i["symbol"])]  # fmt: skip
        return ok({"category": q.get("category", ""), "list": listed, "nextPageCursor": ""})

    async def _orderbook(self, request: web.Request) -> web.Response:
        if request.query.get("symbol") != self.market_id:
            return error(BybitError(10001, "params error: symbol invalid"))
        if self.faults.fail_depth_rest > 0:
            self.faults.fail_depth_rest -= 1
            return unavailable()
        bids, asks = self.book.top(min(int(request.query.get("limit", 25)), 500))
        return ok({"s": self.market_id, "b": bids, "a": asks, "ts": self._now_ms(),
                   "u": self.book.u, "seq": self.book.seq, "cts": self._now_ms()})  # fmt: skip

    async def _recent(self, request: web.Request) -> web.Response:
        limit = min(int(request.query.get("limit", 500)), 1000)
        trades = list(self.recent)[-limit:][::-1]  # newest first, as Bybit answers
        return ok({"category": "linear", "list": trades})

    async def _tickers(self, request: web.Request) -> web.Response:
        symbol = request.query.get("symbol")
        rows = [dict(self.ticker)] if symbol in (None, self.market_id) else []
        return ok({"category": "linear", "list": rows})

    async def _funding_history(self, request: web.Request) -> web.Response:
        rows = [r for r in self.settlements if request.query.get("symbol") in (None, r["symbol"])]
        limit = min(int(request.query.get("limit", 200)), 200)
        return ok({"category": "linear", "list": rows[::-1][:limit]})

    # ---- the ticker ---------------------------------------------------------------------------
    def _first_ticker(self) -> dict[str, str]:
        bids, asks = self.book.top(1)
        mid = (float(bids[0][0]) + float(asks[0][0])) / 2 if bids and asks else 0.0
        p = repr(mid)
        return {
            "symbol": self.market_id, "tickDirection": "ZeroPlusTick", "price24hPcnt": "0",
            "lastPrice": p, "prevPrice24h": p, "highPrice24h": p, "lowPrice24h": p,
            "prevPrice1h": p, "markPrice": p, "indexPrice": p, "openInterest": "0",
            "openInterestValue": "0", "turnover24h": "0", "volume24h": "0",
            "nextFundingTime": "0", "fundingRate": "0", "bid1Price": bids[0][0] if bids else "",
            "bid1Size": bids[0][1] if bids else "", "ask1Price": asks[0][0] if asks else "",
            "ask1Size": asks[0][1] if asks else "", "deliveryTime": "", "basisRate": "",
            "deliveryFeeRate": "", "predictedDeliveryPrice": "", "preOpenPrice": "",
            "preQty": "", "curPreListingPhase": "",
        }  # fmt: skip

    def _ticker_delta(self, changes: dict[str, str], ts: int) -> None:
        changes = {k: v for k, v in changes.items() if self.ticker.get(k) != v}
        self.ticker.update(changes)
        if not changes or not any(
            t[:8] == "tickers." for subs in self._subs.values() for t in subs
        ):
            return
        data = dict(changes, symbol=self.market_id)
        msg = {"topic": f"tickers.{self.market_id}", "type": "delta", "data": data,
               "cs": self.sent, "ts": ts}  # fmt: skip
        self._publish("tickers.", json.dumps(msg))

    # ---- WebSocket ----------------------------------------------------------------------------
    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        return await self._socket(request, self._on_request)

    async def _on_request(self, ws: web.WebSocketResponse, req: JsonDict) -> None:
        op, rid, conn = req.get("op"), req.get("req_id"), f"loopback-{id(ws):x}"
        if op == "ping":
            pong = {"success": True, "ret_msg": "pong", "conn_id": conn, "op": "ping"}
            await ws.send_str(json.dumps(dict(pong, req_id=rid)))
            return
        if op not in ("subscribe", "unsubscribe"):
            return
        topics = [str(t) for t in req.get("args") or []]
        ack = {"success": True, "ret_msg": "", "conn_id": conn, "req_id": rid, "op": op}
        await ws.send_str(json.dumps(ack))
        if op == "unsubscribe":
            self._subs[ws].difference_update(topics)
            return
        self._subs[ws].update(topics)
        for topic in topics:  # a book or ticker topic starts with a snapshot
            if topic.startswith("orderbook."):
                self._queues[ws].put_nowait(self._book_snapshot(topic))
            elif topic.startswith("tickers."):
                msg = {"topic": topic, "type": "snapshot", "data": dict(self.ticker),
                       "cs": self.sent, "ts": self._now_ms()}  # fmt: skip
                self._queues[ws].put_nowait(json.dumps(msg))

    def _book_snapshot(self, topic: str) -> str:
        depth = int(topic.split(".")[1])
        # the depth's window opens here (or is already this: the top N after every message)
        bids, asks = self.windows.top(1) if depth == 1 else self.windows.open(depth)
        u = self.bbo_u if depth == 1 else self.book.u
        data = {"s": self.market_id, "b": bids, "a": asks, "u": u, "seq": self.book.seq}
        ts = self._now_ms()
        return json.dumps({"topic": topic, "type": "snapshot", "ts": ts, "data": data, "cts": ts})

    def _publish(self, prefix: str, text: str) -> None:
        for ws, subs in list(self._subs.items()):
            if any(t.startswith(prefix) for t in subs):
                queue = self._queues.get(ws)
                if queue is not None:
                    queue.put_nowait(text)

    def _subscribed(self) -> int:
        """Public streams subscribed, and private sockets open (``start_when`` counts both:
        a replay can wait for a trading client's private stream)."""
        return super()._subscribed() + len(self._private_sockets())

    # ---- the replay ---------------------------------------------------------------------------
    async def _replay(self) -> None:
        loop, interval = await self._until_subscribed()
        items = self.items
        first = items[0].ms if items else 0
        self.offset_ms = self._now_ms() - first
        t0 = loop.time()
        for item in items:
            if self.speed:
                await pace_to(loop, t0 + (item.ms - first) / 1000 / self.speed)
            await self._connection_faults(self.faults)
            self._one(item)
            self.sent += 1
            if not self.speed:
                await self._after_send(loop, t0, interval)
        self.done.set()

    def _one(self, item: Item) -> None:
        kind, data = item.kind, item.data
        if kind == "depth":
            self._depth(data, item.ms + self.offset_ms)
        elif kind == "trade":
            self._trade(data, item.ms + self.offset_ms)
        elif kind == "mark":
            self._mark(data)
        elif kind == "settle":
            self._settle(data)
        # bookTicker frames: Bybit has none (``orderbook.1`` comes from the book)

    def _depth(self, diff: JsonDict, ts: int) -> None:
        u = self.book.u + 1
        data = {"s": self.market_id, "b": diff["b"], "a": diff["a"], "u": u, "seq": diff["u"]}
        msg = {"type": "delta", "ts": ts, "data": data, "cts": ts - 2}
        self.book.apply(msg)
        self.book.at = self.sent
        # what Bybit sends an orderbook.N subscriber: the changes to the top N (window.py)
        windows = self.windows
        windows.follow(diff["b"], diff["a"])
        depths = {t.split(".")[1] for s in self._subs.values() for t in s if t[:10] == "orderbook."}
        depths = {d for d in depths if d.isdigit() and d != "1"}  # (1: best bid/ask, below)
        windows.keep(int(d) for d in depths)
        skip = self.faults.skip_depth > 0
        if skip:  # lost on the way: the subscribers' windows move on all the same
            self.faults.skip_depth -= 1
        for depth in depths:
            bids, asks = windows.advance(int(depth))
            if not skip:
                topic = f"orderbook.{depth}.{self.market_id}"
                text = json.dumps(dict(msg, topic=topic, data=dict(data, b=bids, a=asks)))
                self._publish(f"orderbook.{depth}.", text)
        bids, asks = windows.top(1)
        best = (bids[0][0] if bids else None, asks[0][0] if asks else None)
        if best == self.best:
            return
        self.best = best
        self.bbo_u += 1
        data = {"s": self.market_id, "b": bids, "a": asks, "u": self.bbo_u, "seq": self.book.seq}
        topic = f"orderbook.1.{self.market_id}"
        self._publish("orderbook.1.", json.dumps({"topic": topic, "type": "snapshot", "ts": ts,
                                                  "data": data, "cts": ts - 2}))  # fmt: skip
        changes = {
            "bid1Price": bids[0][0] if bids else "",
            "bid1Size": bids[0][1] if bids else "",
            "ask1Price": asks[0][0] if asks else "",
            "ask1Size": asks[0][1] if asks else "",
        }
        self._ticker_delta(changes, ts)  # fmt: skip

    def _trade(self, data: JsonDict, ts: int) -> None:
        self.trade_ids += 1
        tid = f"loopback-{self.trade_ids:010d}"
        side = "Sell" if data["m"] else "Buy"  # the buyer made the book: a seller took
        trade = {"T": ts, "s": self.market_id, "S": side, "v": data["q"], "p": data["p"],
                 "L": "ZeroPlusTick", "i": tid, "BT": False, "RPI": False}  # fmt: skip
        self.recent.append({"execId": tid, "symbol": self.market_id, "price": data["p"],
                            "size": data["q"], "side": side, "time": str(ts),
                            "isBlockTrade": False, "isRPITrade": False})  # fmt: skip
        f = self.faults
        if f.out_of_order > 0:
            f.out_of_order -= 1
            trade["T"] = ts - 10_000
        if f.negative_price > 0:
            f.negative_price -= 1
            trade["p"] = "-" + str(trade["p"])
        msg = {"topic": f"publicTrade.{self.market_id}", "type": "snapshot", "ts": ts,
               "data": [trade]}  # fmt: skip
        text = json.dumps(msg)
        if f.malformed > 0:
            f.malformed -= 1
            text = text[: len(text) // 2]
        self._publish("publicTrade.", text)
        self._traded(float(data["p"]), ts)
        self._ticker_delta({"lastPrice": data["p"]}, ts)

    def _mark(self, data: JsonDict) -> None:
        """One mark update (a recorded ``markPriceUpdate``, times unshifted), with the controls
        applied: the account is marked first, then a ticker delta goes out."""
        self._raw_mark = data
        shift = self.mark_shift
        mark, index = float(data["p"]) + shift, float(data["i"]) + shift
        rate = repr(self.funding_rate) if self.funding_rate is not None else str(data["r"])
        ts = int(data["E"]) + self.offset_ms
        self.account.set_mark(self.market_id, round(mark, 8), ts)
        changes = {"markPrice": repr(round(mark, 8)), "indexPrice": repr(round(index, 8)),
                   "fundingRate": rate}  # fmt: skip
        if data.get("T"):
            changes["nextFundingTime"] = str(int(data["T"]) + self.offset_ms)
        self._ticker_delta(changes, ts)

    def _settle(self, data: JsonDict) -> None:
        """A funding time: the account pays or receives at the rate in force and the mark."""
        rate = self.funding_rate if self.funding_rate is not None else float(data["r"] or 0.0)
        mark = float(self.ticker["markPrice"]) if self._raw_mark is not None else (
            float(data["p"] or 0.0) + self.mark_shift)  # fmt: skip
        ts = int(data["fundingTime"]) + self.offset_ms
        self.funding_context = (Decimal(repr(rate)), Decimal(repr(mark)), ts)
        self.account.settle_funding(self.market_id, rate, mark, ts)
        self.settlements.append({"symbol": self.market_id, "fundingRate": repr(rate),
                                 "fundingRateTimestamp": str(ts)})  # fmt: skip


def point_bybit_linear_at(exchange: ccxtpro.Exchange | str, port: int) -> ccxtpro.Exchange:
    """Point an unmodified ``ccxt.pro.bybit`` at the loopback Bybit linear on ``port``: only its
    URLs change (REST keeps its paths, the public linear WebSocket goes to
    ``/v5/public/linear``, the private one to ``/v5/private``).

    Parameters
    ----------
    exchange : ccxt.pro.bybit or str
        The client, or ``"bybit"`` for a new one.
    port : int
        The loopback's port (``start()``'s answer).

    Returns
    -------
    ccxt.pro.bybit
        The client, pointed here.
    """
    return point_bybit_at(exchange, port)
