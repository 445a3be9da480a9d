"""The loopback Binance USDⓈ-M: Binance's perpetual futures protocol on 127.0.0.1, replaying a
recording of one perpetual (the bundled ETH/USDT:USDT sample by default), for an unmodified
``ccxt.pro.binanceusdm()`` once its URLs point here (:func:`point_binance_futures_at`).

Public side (this module):

* WebSockets on Binance's split endpoints, as ccxt 4.5.90 uses them: ``/public/ws`` (``@depth``,
  ``@bookTicker``, ``@trade``) and ``/market/ws`` (``@markPrice``), each also with ``/<n>``;
  raw (not combined) frames, ``SUBSCRIBE``/``UNSUBSCRIBE`` acknowledged;
* REST ``/fapi/v1``: ``exchangeInfo``, ``depth`` (the server's own book), ``trades`` and
  ``aggTrades``, ``premiumIndex`` (mark, index, funding rate, next funding time),
  ``fundingRate`` (the settlements so far), ``time``, ``ping``.

Private side (:mod:`.futures_private`): signed ``/fapi`` orders, positions, account, income,
leverage, margin type, position mode, leverage brackets, and the listenKey user stream on
``/private/ws?listenKey=K``, on the venue's own margin account (:mod:`..futures_account`).

The recording's frames come from :mod:`.futures_replay`. Exchange times move to now (spacing
kept). The mark prices of the bundled sample are **generated** (its capture has none; see
``datasets.binance_ethusdt_perp_sample``). Controls for tests and demos: :meth:`set_funding_rate`
(the rate of every later mark frame and settlement) and :meth:`move_mark` (every later mark
moves by a delta, at once: the account is marked and a frame goes out). One pass over the
recording (no laps).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING

from aiohttp import web

from ...btypes import JsonDict
from ...datasets import Sample, binance_ethusdt_perp_sample, binance_exchange_info
from ..base import LoopbackServer, pace_to, rest_at
from ..book import BinanceBook
from .futures_private import BinanceFuturesPrivate
from .futures_replay import Item, load_replay
from .rest import BinanceRest, TradeHistory, _coin, _limit, _trade_json, binance_error

if TYPE_CHECKING:
    import ccxt.pro as ccxtpro

__all__ = ["BinanceFuturesLoopback", "point_binance_futures_at"]

#: which frames each stream kind carries (a subscription ``ethusdt@depth@100ms`` is ``depth``)
_STREAM_OF = {"depth": "depth", "trade": "trade", "bookTicker": "bookTicker", "mark": "markPrice"}


class BinanceFuturesLoopback(LoopbackServer, BinanceFuturesPrivate):
    """The loopback Binance USDⓈ-M (see module doc). ``start()`` returns the port.

    Parameters
    ----------
    sample : Sample, optional
        The recording (Parquet, the package's schema): the bundled ETH/USDT:USDT perpetual
        sample by default. Its ``derivative`` file gives the mark prices and settlements.
    exchange_info : str, optional
        The exchangeInfo JSON file (its ``linear`` part is served).
    rate : float, optional
        Items per second; None: as fast as the slowest client reads.
    speed : float, optional
        Pace by the recording's exchange times instead (1.0: real time).
    start_when : int, default 1
        The replay starts once this many streams are subscribed (public streams and open
        user data sockets).
    wallet : float, default 10,000
        The account's USDT wallet.
    leverage : int, default 20
        Each symbol's leverage until the client sets one.
    taker, maker : float
        Commission rates.
    api_key, api_secret : str
        The credentials the signed API accepts.
    clock_skew_ms : int, default 0
        The exchange's clock minus the local one.
    """

    thread_name = "binance-usdm-loopback"
    book: BinanceBook

    def __init__(
        self,
        sample: Sample | None = None,
        exchange_info: str | None = None,
        rate: float | None = None,
        speed: float | None = None,
        start_when: int = 1,
        wallet: float = 10_000.0,
        leverage: int = 20,
        taker: float = 0.0005,
        maker: float = 0.0002,
        api_key: str = "loopback-key",
        api_secret: str = "loopback-secret",
        clock_skew_ms: int = 0,
    ) -> None:
        LoopbackServer.__init__(self, rate, start_when, False, speed)
        self.sample = sample if sample is not None else binance_ethusdt_perp_sample()
        with open(exchange_info or binance_exchange_info(), encoding="utf-8") as fh:
            self.exchange_info = json.load(fh)["linear"]
        self.symbols = {s["symbol"]: s for s in self.exchange_info["symbols"]}
        self.market_id = self.sample.symbol.split(":")[0].replace("/", "")
        if self.market_id not in self.symbols:
            known = ", ".join(sorted(self.symbols))
            raise ValueError(f"{self.sample.symbol}: not in the exchangeInfo ({known})")
        self.snapshot, self.items = load_replay(self.sample, self.market_id)
        self.book = BinanceBook(self.snapshot)
        self.history = TradeHistory()
        self.clock_skew_ms = clock_skew_ms
        self._open_futures(wallet, leverage, taker, maker, api_key, api_secret)
        #: control: the funding rate of later mark frames and settlements (None: recorded)
        self.funding_rate: float | None = None
        #: control: what every later mark (and index) price is moved by
        self.mark_shift = 0.0
        #: the last mark frame sent (``premiumIndex``), and the recorded one it was made of
        self.last_mark: JsonDict | None = None
        self._raw_mark: JsonDict | None = None
        #: the funding settlements done: ``fundingRate`` rows
        self.settlements: list[JsonDict] = []

    # ---- controls (from any thread) ---------------------------------------------------------
    def set_funding_rate(self, rate: float | None) -> None:
        """From now on, mark frames and settlements carry ``rate`` (None: the recording's)."""
        self.funding_rate = rate

    def move_mark(self, delta: float) -> None:
        """Move every later mark and index price by ``delta`` more, at once: the account is
        marked (and liquidated if it must be) and a mark frame goes out."""
        loop = self._loop
        if loop is None:
            self.mark_shift += delta
            return

        async def move() -> None:
            self.mark_shift += delta
            if self._raw_mark is not None:
                self._send_mark(dict(self._raw_mark, E=self._now_ms() - self.offset_ms))

        asyncio.run_coroutine_threadsafe(move(), loop).result(5)

    # ---- routes -------------------------------------------------------------------------------
    def add_routes(self, app: web.Application) -> None:
        r = app.router
        for part in ("public", "market"):
            r.add_get(f"/{part}/ws", self._ws)
            r.add_get(f"/{part}/ws/{{n}}", self._ws)
        r.add_get("/fapi/v1/exchangeInfo", self._exchange_info)
        r.add_get("/fapi/v1/depth", self._depth)
        r.add_get("/fapi/v1/trades", self._trades)
        r.add_get("/fapi/v1/historicalTrades", self._historical_trades)
        r.add_get("/fapi/v1/aggTrades", self._agg_trades)
        r.add_get("/fapi/v1/premiumIndex", self._premium_index)
        r.add_get("/fapi/v1/fundingRate", self._funding_rates)
        r.add_get("/fapi/v1/time", self._time)
        r.add_get("/fapi/v1/ping", self._ping)
        # what a keyed ccxt client asks during load_markets (the account's coins)
        r.add_get("/sapi/v1/capital/config/getall", self._coins)
        for path in ("/sapi/v1/margin/allPairs", "/sapi/v1/margin/isolated/allPairs"):
            r.add_get(path, self._no_pairs)
        self.add_futures_private_routes(app)

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        return await self._socket(request, self._on_request)

    async def _on_request(self, ws: web.WebSocketResponse, req: JsonDict) -> None:
        method = req.get("method")
        if method not in ("SUBSCRIBE", "UNSUBSCRIBE"):
            return
        streams = {_stream_key(str(p)) for p in req.get("params", [])}
        if method == "SUBSCRIBE":
            self._subs[ws].update(streams)
        else:
            self._subs[ws].difference_update(streams)
        await ws.send_str(json.dumps({"result": None, "id": req.get("id")}))

    def _subscribed(self) -> int:
        """Public streams subscribed, and user data sockets open (``start_when`` counts both:
        a replay can wait for a trading client's private stream)."""
        return super()._subscribed() + len(self._user_sockets)

    # ---- REST ---------------------------------------------------------------------------------
    async def _exchange_info(self, request: web.Request) -> web.Response:
        if self.faults.fail_markets:
            return web.Response(status=503, text="<html>503 Service Unavailable</html>")
        return web.json_response(
            {k: v for k, v in self.exchange_info.items() if not k.startswith("_")}
        )

    async def _depth(self, request: web.Request) -> web.Response:
        if self.faults.fail_depth_rest > 0:
            self.faults.fail_depth_rest -= 1
            return binance_error(503, -1001, "Internal error")
        snap = self.book.snapshot(int(request.query.get("limit", "1000")))
        now = self._now_ms()
        return web.json_response(dict(snap, E=now, T=now))

    async def _trades(self, request: web.Request) -> web.Response:
        return web.json_response([_trade_json(t) for t in self.history.recent(_limit(request))])

    async def _historical_trades(self, request: web.Request) -> web.Response:
        from_id = request.query.get("fromId")
        limit = _limit(request)
        trades = (
            self.history.recent(limit)
            if from_id is None
            else self.history.from_id(int(from_id), limit)
        )
        return web.json_response([_trade_json(t) for t in trades])

    async def _agg_trades(self, request: web.Request) -> web.Response:
        from_id = request.query.get("fromId")
        aggs = self.history.aggregates(int(from_id) if from_id else None, _limit(request))
        return web.json_response(
            [
                {"a": a, "p": p, "q": q, "f": f, "l": last, "T": ts, "m": m}
                for a, p, q, f, last, ts, m in aggs
            ]
        )

    async def _premium_index(self, request: web.Request) -> web.Response:
        m = self.last_mark or {"p": "0", "i": "0", "r": "0", "T": 0, "P": "0"}
        body = {
            "symbol": self.market_id,
            "markPrice": m["p"],
            "indexPrice": m["i"],
            "estimatedSettlePrice": m["P"],
            "lastFundingRate": m["r"],
            "interestRate": "0.00010000",
            "nextFundingTime": int(m["T"]),
            "time": self._now_ms(),
        }
        return web.json_response(body if "symbol" in request.query else [body])

    async def _funding_rates(self, request: web.Request) -> web.Response:
        return web.json_response(self.settlements[-_limit(request, 100) :])

    async def _coins(self, request: web.Request) -> web.Response:
        refused = BinanceRest._keyed(request, signed=True)
        if refused is not None:
            return refused
        symbols = self.exchange_info["symbols"]
        coins = sorted({s[k] for s in symbols for k in ("baseAsset", "quoteAsset")})
        return web.json_response([_coin(c) for c in coins])

    async def _no_pairs(self, request: web.Request) -> web.Response:
        refused = BinanceRest._keyed(request, signed=False)
        return refused if refused is not None else web.json_response([])

    async def _time(self, request: web.Request) -> web.Response:
        return web.json_response({"serverTime": self.server_ms()})

    async def _ping(self, request: web.Request) -> web.Response:
        return web.json_response({})

    def _now_ms(self) -> int:
        return time.time_ns() // 1_000_000 + self.clock_skew_ms

    # ---- the replay ---------------------------------------------------------------------------
    async def _replay(self) -> None:
        loop, interval = await self._until_subscribed()
        items = self.items
        first = items[0].ms if items else 0
        self.offset_ms = self._now_ms() - first
        speed = self.speed
        t0 = loop.time()
        for item in items:
            if speed:
                await pace_to(loop, t0 + (item.ms - first) / 1000 / speed)
            await self._connection_faults(self.faults)
            self._one(item)
            self.sent += 1
            if not speed:
                await self._after_send(loop, t0, interval)
        self.done.set()

    def _one(self, item: Item) -> None:
        kind, data = item.kind, item.data
        if kind == "settle":
            self._settle(data)
            return
        if kind == "mark":
            self._send_mark(data)
            return
        shifted = dict(data, E=int(data["E"]) + self.offset_ms, T=int(data["T"]) + self.offset_ms)
        if kind == "depth":
            self.book.apply(data)
            self.book.at = self.sent
            if self.faults.skip_depth > 0:
                self.faults.skip_depth -= 1
                return
        elif kind == "trade":
            self.history.add(shifted)
            self._traded(float(data["p"]), int(shifted["T"]))
        self._broadcast(_STREAM_OF[kind], shifted)

    def _send_mark(self, data: JsonDict) -> None:
        """One mark frame, with the controls applied; the account is marked first."""
        self._raw_mark = data
        out = dict(data, E=int(data["E"]) + self.offset_ms)
        if data["T"]:
            out["T"] = int(data["T"]) + self.offset_ms
        shift = self.mark_shift
        if shift:
            for key in ("p", "ap", "P", "i"):
                out[key] = repr(round(float(data[key]) + shift, 8))
        if self.funding_rate is not None:
            out["r"] = repr(self.funding_rate)
        self.last_mark = out
        self.account.set_mark(self.market_id, float(out["p"]), int(out["E"]))
        self._broadcast("markPrice", out)

    def _settle(self, data: JsonDict) -> None:
        """A funding time: the account pays or receives at the rate in force and the mark."""
        rate = self.funding_rate if self.funding_rate is not None else float(data["r"] or 0.0)
        if self.last_mark is not None:
            mark = float(self.last_mark["p"])
        else:
            mark = float(data["p"] or 0.0) + self.mark_shift
        ts = int(data["fundingTime"]) + self.offset_ms
        self.account.settle_funding(self.market_id, rate, mark, ts)
        self.settlements.append(
            {
                "symbol": self.market_id,
                "fundingTime": ts,
                "fundingRate": repr(rate),
                "markPrice": repr(mark),
            }
        )

    def _broadcast(self, stream: str, data: JsonDict) -> None:
        key = f"{self.market_id.lower()}@{stream}"
        text = json.dumps(data)
        for ws, subs in list(self._subs.items()):
            if key in subs:
                queue = self._queues.get(ws)
                if queue is not None:
                    queue.put_nowait(text)


def _stream_key(param: str) -> str:
    """A subscription's stream without its speed: ``ethusdt@depth@100ms`` -> ``ethusdt@depth``."""
    head, _, rest = param.partition("@")
    return f"{head}@{rest.split('@')[0]}"


def point_binance_futures_at(exchange: ccxtpro.Exchange | str, port: int) -> ccxtpro.Exchange:
    """Point an unmodified ``ccxt.pro.binanceusdm`` at the loopback Binance USDⓈ-M on ``port``:
    only its URLs change (REST keeps its paths; the linear WebSocket base goes to ``/ws``, which
    ccxt rewrites to ``/public/ws``, ``/market/ws`` and ``/private/ws``).

    Parameters
    ----------
    exchange : ccxt.pro.binanceusdm or str
        The client, or ``"binanceusdm"`` for a new one.
    port : int
        The loopback's port (``start()``'s answer).

    Returns
    -------
    ccxt.pro.binanceusdm
        The client, pointed here.
    """
    exchange = rest_at(exchange, port)
    ws = exchange.urls["api"]["ws"]
    ws["linear"] = f"ws://127.0.0.1:{port}/ws"
    if isinstance(ws.get("ws-api"), dict):
        ws["ws-api"] = dict(ws["ws-api"], linear=f"ws://127.0.0.1:{port}/ws-fapi/v1")
    return exchange
