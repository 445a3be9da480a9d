"""The loopback Binance's spot REST side: market data and what a keyed client asks.

Served as Binance serves it, with Binance's own ids, so that a client asking the wrong endpoint
fails a test instead of passing it:

* ``GET /api/v3/trades``: the most recent trades (at most ``RECENT`` = 1,000), trade ids;
* ``GET /api/v3/historicalTrades``: trades from ``fromId`` on (at most 1,000 a page), out of
  the last ``keep_trades`` the server remembers; older ids are gone, as on a venue that prunes;
* ``GET /api/v3/aggTrades``: aggregate trades, whose ids (``a``) are a sequence of their own;
* ``GET /api/v3/depth``, ``/exchangeInfo``, ``/ping``, ``/time``;
* with an API key: ``/sapi/v1/capital/config/getall`` (the coins of exchangeInfo) and
  ``/sapi/v1/margin/allPairs``, ``/sapi/v1/margin/isolated/allPairs`` (empty: an account without
  margin), which a keyed ccxt client asks during ``load_markets``.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections import deque
from typing import TYPE_CHECKING, Any, TypeAlias

from aiohttp import web
from aiohttp.typedefs import Handler

from ...btypes import JsonDict
from ..book import BinanceBook

if TYPE_CHECKING:
    from ..base import Faults

#: how many trades ``/api/v3/trades`` can return (Binance's maximum ``limit``)
RECENT = 1000
#: how far aggregate-trade ids are from trade ids (any distinct sequence would do)
_AGG_ID_OFFSET = 600_000_000
#: an aggregate trade: ``[agg id, price, qty, first id, last id, time, buyer is maker]``, a
#: row of ints, the frames' price and quantity texts and a bool, updated in place
AggRow: TypeAlias = list[Any]


class TradeHistory:
    """The trades the server has sent, by id, and their aggregation into aggregate trades."""

    def __init__(self, keep: int = 100_000):
        self.keep = keep
        self.trades: deque[JsonDict] = deque(maxlen=keep)
        self._ids: deque[int] = deque(maxlen=keep)
        #: aggregate trades: [agg id, price, qty, first id, last id, time, buyer is maker]
        self.aggs: deque[AggRow] = deque(maxlen=keep)

    def add(self, trade: JsonDict) -> None:
        """Remember one sent trade frame's data (``t``, ``p``, ``q``, ``T``, ``m``)."""
        tid = int(trade["t"])
        if self._ids and tid <= self._ids[-1]:
            return  # a repeat (a fault switch re-sent it)
        self.trades.append(trade)
        self._ids.append(tid)
        last = self.aggs[-1] if self.aggs else None
        if (
            last is not None
            and last[4] == tid - 1
            and last[1] == trade["p"]
            and last[5] == int(trade["T"])
            and last[6] == trade["m"]
        ):
            last[2] = repr(float(last[2]) + float(trade["q"]))
            last[4] = tid
        else:
            agg_id = last[0] + 1 if last is not None else tid - _AGG_ID_OFFSET
            self.aggs.append(
                [agg_id, trade["p"], trade["q"], tid, tid, int(trade["T"]), trade["m"]]
            )

    def recent(self, limit: int) -> list[JsonDict]:
        """The last ``limit`` trades (at most :data:`RECENT`)."""
        n = min(limit, RECENT, len(self.trades))
        return list(self.trades)[len(self.trades) - n :]

    def from_id(self, from_id: int, limit: int) -> list[JsonDict]:
        """Up to ``limit`` trades with ids from ``from_id`` on, among those still kept."""
        ids = list(self._ids)
        i = bisect_left(ids, from_id)
        return list(self.trades)[i : i + limit]

    def aggregates(self, from_id: int | None, limit: int) -> list[AggRow]:
        """Up to ``limit`` aggregate trades from aggregate id ``from_id`` (else the latest)."""
        aggs = list(self.aggs)
        if from_id is None:
            return aggs[-limit:]
        i = bisect_left([a[0] for a in aggs], from_id)
        return aggs[i : i + limit]


def _trade_json(t: JsonDict) -> JsonDict:
    return {
        "id": int(t["t"]),
        "price": t["p"],
        "qty": t["q"],
        "quoteQty": repr(float(t["p"]) * float(t["q"])),
        "time": int(t["T"]),
        "isBuyerMaker": t["m"],
        "isBestMatch": True,
    }


def binance_error(status: int, code: int, msg: str) -> web.Response:
    """Binance's error answer: HTTP ``status``, ``{"code", "msg"}``."""
    return web.json_response({"code": code, "msg": msg}, status=status)


def _limit(request: web.Request, default: int = 500) -> int:
    return max(1, min(int(request.query.get("limit", str(default))), RECENT))


class BinanceRest:
    """The REST routes of the loopback Binance; :class:`~.exchange.BinanceLoopback` mixes them
    in and provides ``exchange_info``, ``book``, ``history`` and ``faults``."""

    exchange_info: JsonDict
    book: BinanceBook
    history: TradeHistory
    faults: Faults

    def add_rest_routes(self, app: web.Application) -> None:
        """Register every REST endpoint on ``app``."""
        for prefix, key in (("/api/v3", "spot"), ("/fapi/v1", "linear"), ("/dapi/v1", "inverse")):
            app.router.add_get(f"{prefix}/exchangeInfo", self._info_handler(key))
        app.router.add_get("/api/v3/depth", self._depth)
        app.router.add_get("/api/v3/trades", self._trades)
        app.router.add_get("/api/v3/historicalTrades", self._historical_trades)
        app.router.add_get("/api/v3/aggTrades", self._agg_trades)
        app.router.add_get("/api/v3/ping", self._ping)
        app.router.add_get("/api/v3/time", self._time)
        app.router.add_get("/sapi/v1/capital/config/getall", self._capital_config)
        app.router.add_get("/sapi/v1/margin/allPairs", self._margin_pairs)
        app.router.add_get("/sapi/v1/margin/isolated/allPairs", self._margin_pairs)

    def _info_handler(self, key: str) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            if self.faults.fail_markets:  # what a venue behind its load balancer sends when down
                return web.Response(
                    status=503,
                    text="<html><body>503 Service Unavailable</body></html>",
                    content_type="text/html",
                )
            body = {k: v for k, v in self.exchange_info[key].items() if not k.startswith("_")}
            return web.json_response(body)

        return handler

    async def _ping(self, request: web.Request) -> web.Response:
        return web.json_response({})

    async def _time(self, request: web.Request) -> web.Response:
        server_ms = getattr(self, "server_ms", None)  # the private side's (skewed) clock
        now = server_ms() if server_ms is not None else time.time_ns() // 1_000_000
        return web.json_response({"serverTime": now})

    async def _depth(self, request: web.Request) -> web.Response:
        if self.faults.fail_depth_rest > 0:
            self.faults.fail_depth_rest -= 1
            return binance_error(503, -1001, "Internal error")
        return web.json_response(self.book.snapshot(int(request.query.get("limit", "1000"))))

    async def _trades(self, request: web.Request) -> web.Response:
        return web.json_response([_trade_json(t) for t in self.history.recent(_limit(request))])

    async def _historical_trades(self, request: web.Request) -> web.Response:
        limit = _limit(request)
        from_id = request.query.get("fromId")
        if from_id is None:
            trades = self.history.recent(limit)
        else:
            trades = self.history.from_id(int(from_id), limit)
        return web.json_response([_trade_json(t) for t in trades])

    async def _agg_trades(self, request: web.Request) -> web.Response:
        from_id = request.query.get("fromId")
        aggs = self.history.aggregates(int(from_id) if from_id else None, _limit(request))
        return web.json_response(
            [
                {"a": a, "p": p, "q": q, "f": f, "l": last, "T": ts, "m": m, "M": True}
                for a, p, q, f, last, ts, m in aggs
            ]
        )

    # ---- what a keyed client asks during load_markets --------------------------------------
    @staticmethod
    def _keyed(request: web.Request, signed: bool) -> web.Response | None:
        """Binance's answer to a request without the API key (or signature) it needs."""
        if not request.headers.get("X-MBX-APIKEY"):
            return binance_error(401, -2014, "API-key format invalid.")
        if signed and "signature" not in request.query:
            return binance_error(
                400,
                -1102,
                "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.",
            )
        return None

    async def _capital_config(self, request: web.Request) -> web.Response:
        refused = self._keyed(request, signed=True)
        if refused is not None:
            return refused
        symbols = self.exchange_info["spot"]["symbols"]
        coins = sorted({s[k] for s in symbols for k in ("baseAsset", "quoteAsset")})
        return web.json_response([_coin(c) for c in coins])

    async def _margin_pairs(self, request: web.Request) -> web.Response:
        refused = self._keyed(request, signed=False)
        return refused if refused is not None else web.json_response([])


def _coin(code: str) -> JsonDict:
    """A ``capital/config/getall`` entry: one network, deposits and withdrawals open."""
    return {
        "coin": code,
        "name": code,
        "isLegalMoney": False,
        "trading": True,
        "depositAllEnable": True,
        "withdrawAllEnable": True,
        "free": "0",
        "locked": "0",
        "networkList": [
            {
                "network": code,
                "coin": code,
                "name": code,
                "isDefault": True,
                "depositEnable": True,
                "withdrawEnable": True,
                "withdrawFee": "0",
                "withdrawMin": "0",
                "withdrawMax": "9999999",
                "withdrawIntegerMultiple": "0.00000001",
                "depositDust": "0.00000001",
            }
        ],
    }
