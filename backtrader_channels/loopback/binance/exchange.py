"""The loopback Binance: Binance's public spot WebSocket and REST protocol on 127.0.0.1, replaying
a recorded capture, with fault switches. An unmodified ``ccxt.pro.binance()`` connects to it once
its URLs point here (:func:`point_binance_at`). For tests, demos and ``backtrader-channels live
--replay-server``; it listens on loopback only.

It speaks Binance's REST market data (:mod:`.rest`: exchangeInfo, depth snapshots of the
server's own book, recent and historical trades, aggregate trades, and what a keyed client asks
during ``load_markets``), and ``/stream`` WebSockets answering ``SUBSCRIBE`` and pushing
combined-stream frames (``@trade``, ``@depth@100ms``, ``@bookTicker``) from one shared replay
clock, as a live exchange does. With ``loop_forever`` the capture repeats, each lap continuing
trade ids and exchange times where the previous lap ended, so a long run looks like one long
session. The book cannot simply go on: the recording's first book is not its last, and a lap's
diffs applied to the previous lap's final book would leave levels the lap never touches (a
crossed book). So each new lap is a discontinuity, presented as a venue presents one: the
server's book goes back to the recording's REST snapshot, with that lap's ids, and the lap's
depth stream opens with a **sequence break** (its update ids jump :data:`LAP_ID_GAP` past the
previous lap's last). A client that follows Binance's rules (ccxt.pro does) sees the break,
drops its book and resyncs from ``/api/v3/depth``: one resync per lap. Trades and best bid/ask
frames go on as before (a bookTicker's ``u`` carries its lap's book ids).
"""

from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING

from aiohttp import web

from ...btypes import JsonDict
from ...datasets import binance_btcusdt_capture, binance_exchange_info
from ...sources.batches import open_text
from ..account import FeeAsset
from ..base import LoopbackServer, Recorded, SendTimes, pace_to, rest_at
from ..book import BinanceBook
from .private import BinancePrivate
from .rest import BinanceRest, TradeHistory

if TYPE_CHECKING:
    import ccxt.pro as ccxtpro

__all__ = ["LAP_ID_GAP", "BinanceLoopback", "load_capture", "point_binance_at"]

DEFAULT_CAPTURE = binance_btcusdt_capture()
DEFAULT_EXCHANGE_INFO = binance_exchange_info()
#: how many book update ids each new lap skips: its first diff's ``U`` lies this far past the
#: previous lap's last ``u`` + 1 (a sequence break: the client resyncs)
LAP_ID_GAP = 1_000
#: a recorded frame: ``(receive time in ns, stream name, its data)``
Frame = tuple[int, str, JsonDict]


def load_capture(path: str) -> tuple[JsonDict, list[Frame]]:
    """The capture's depth snapshot and its frames ``(receive_ns, stream, data)`` after it."""
    snapshot: JsonDict | None = None
    frames: list[Frame] = []
    with open_text(path) as fh:
        for line in fh:
            head, _, body = line.partition(" ")
            msg = json.loads(body)
            if "lastUpdateId" in msg and snapshot is None:
                snapshot = msg
            elif "stream" in msg:
                frames.append((int(head), msg["stream"], msg["data"]))
    if snapshot is None:
        raise ValueError(f"{path}: no REST depth snapshot line")
    snap_id = int(snapshot["lastUpdateId"])
    # diffs already inside the snapshot are history; everything else replays in recorded order
    frames = [f for f in frames if "@depth" not in f[1] or int(f[2]["u"]) > snap_id]
    return snapshot, frames


class BinanceLoopback(LoopbackServer, BinanceRest, BinancePrivate):
    """The loopback Binance (see module doc); also known as ``ReplayExchange``. ``start()``
    returns the port.

    Parameters
    ----------
    capture : str
        A raw Binance capture (``<receive_ns> <json>`` lines); the bundled one by default.
    exchange_info : str
        The ``exchangeInfo`` JSON the server answers with.
    rate : float, optional
        Frames per second; None sends as fast as the slowest client reads.
    start_when : int, default 1
        The replay starts once this many streams are subscribed.
    loop_forever : bool, default False
        Repeat the capture, each lap continuing trade ids and times; the book restarts from
        the recording's snapshot with a sequence break (see module doc).
    record_send_times : bool, default False
        Keep when each trade's frame was sent (``send_times``), for latency benchmarks.
    keep_trades : int, default 100_000
        How many sent trades ``historicalTrades`` can still serve; older ids are gone.
    clock_skew_ms : int, default 0
        The exchange's clock minus the local one: exchange times in frames are shifted by it (a
        venue with a skewed clock, or a replay of recorded days with ``-86_400_000 * days``).
    balances : dict, optional
        The account's starting free balances (default 10,000 USDT); orders placed through the
        signed API fill against the replay (:mod:`..account`).
    api_key, api_secret : str
        The credentials the signed API accepts.
    fee_asset : {"quote", "received"}, default "quote"
        The asset the account's commissions are charged in: the quote, or the asset a fill
        brings in (a buyer's fee in the base coin, as the real venue charges it).
    lap_pause : float, default 0.0
        With ``loop_forever``: between two laps, let the clients' queues drain and send
        nothing for this many seconds (a venue's restart), so that a client behind the replay
        still sees each lap's last book.
    speed : float, optional
        Pace by the recording's exchange times instead of ``rate``: 1.0 replays in real time,
        2.0 twice as fast (for several venues on one timeline, with ``origin_ms``).
    origin_ms : int, optional
        With ``speed``: the recorded time (ms) that the replay's start stands for (default:
        the first frame's); exchange times become now + (recorded - origin) / speed.
    """

    book: BinanceBook

    def __init__(
        self,
        capture: str = DEFAULT_CAPTURE,
        exchange_info: str = DEFAULT_EXCHANGE_INFO,
        rate: float | None = None,
        start_when: int = 1,
        loop_forever: bool = False,
        record_send_times: bool = False,
        keep_trades: int = 100_000,
        clock_skew_ms: int = 0,
        balances: dict[str, float] | None = None,
        api_key: str = "loopback-key",
        api_secret: str = "loopback-secret",
        speed: float | None = None,
        origin_ms: int | None = None,
        lap_pause: float = 0.0,
        fee_asset: FeeAsset = "quote",
    ):
        LoopbackServer.__init__(self, rate, start_when, loop_forever, speed, origin_ms, lap_pause)
        self.snapshot, self.frames = load_capture(capture)
        with open(exchange_info, encoding="utf-8") as fh:
            self.exchange_info = json.load(fh)
        self.clock_skew_ms = clock_skew_ms  # the exchange's clock minus the local one
        spot = {s["symbol"]: s for s in self.exchange_info["spot"]["symbols"]}
        self._open_account(balances, spot, api_key, api_secret, fee_asset)
        self.book = BinanceBook(self.snapshot)
        self.history = TradeHistory(keep_trades)  # what the trade endpoints serve
        # when frames were handed to the sockets (for latency): trades by id, depth and
        # bookTicker frames by their ``u`` (see ``send_times`` and the like)
        self._trade_sends = SendTimes() if record_send_times else None
        self._book_sends, self._quote_sends = SendTimes(), SendTimes()
        #: the book's last update id and its top 1,000 levels a side at the end of each lap
        self.lap_ends: list[tuple[int, JsonDict]] = []
        #: per field, what is added to the recorded value: times move to now, and each lap
        #: continues trade ids and times where the previous lap ended; book ids jump
        self._shift: dict[str, int] = {}
        self._templates: list[tuple[str, JsonDict, list[str]]] = []

    thread_name = "replay-exchange"

    # ---- lifecycle ---------------------------------------------------------------------------
    @property
    def send_times(self) -> dict[int, int] | None:
        """Trade id -> ``time.time_ns()`` when its frame was handed to the sockets (None
        unless ``record_send_times``)."""
        return None if self._trade_sends is None else self._trade_sends.as_dict()

    @property
    def book_send_times(self) -> dict[int, int]:
        """Book update id (``u``) -> when its depth frame was handed to the sockets."""
        return self._book_sends.as_dict()

    @property
    def quote_send_times(self) -> dict[int, int]:
        """bookTicker frames' ``u`` -> when each was handed to the sockets."""
        return self._quote_sends.as_dict()

    def recorded(self) -> Recorded:
        """What the server noted for latency measurements, by name (what a server in its own
        process sends back when it stops: :mod:`..serve`)."""
        return {
            "send_times": self.send_times,
            "book_send_times": self.book_send_times,
            "quote_send_times": self.quote_send_times,
            "order_times": self.order_times,
            "fill_times": self.fill_times,
        }

    def start(self) -> int:
        """Serve on 127.0.0.1 in a background thread; return the port."""
        # frames serialised once, before anyone connects: serialising per send cost the server
        # half a core at 10k frames/s, which the client side of the benchmarks competed with
        self._templates = [(st, data, _template(st, data)) for _r, st, data in self.frames]
        return super().start()

    def add_routes(self, app: web.Application) -> None:
        self.add_rest_routes(app)
        self.add_private_routes(app)
        app.router.add_get("/stream", self._ws)
        app.router.add_get("/stream/{n}", self._ws)

    def lap_end_id(self, lap: int) -> int:
        """The book's update id at the end of lap ``lap`` (0 is the first): the recording's
        last ``u``, moved by the lap's shift (:data:`LAP_ID_GAP` further per lap)."""
        diffs = [d for _, st, d in self.frames if "@depth" in st]
        step = _lap_spans(diffs)["u"]
        return int(diffs[-1]["u"]) + lap * step

    # ---- WebSocket ----------------------------------------------------------------------------
    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        return await self._socket(request, self._on_request)

    async def _on_request(self, ws: web.WebSocketResponse, req: JsonDict) -> None:
        method = req.get("method")
        if method == "SUBSCRIBE":
            self._subs[ws].update(req.get("params", []))
        elif method == "UNSUBSCRIBE":
            self._subs[ws].difference_update(req.get("params", []))
        else:
            return
        await ws.send_str(json.dumps({"result": None, "id": req.get("id")}))

    async def _replay(self) -> None:
        loop, interval = await self._until_subscribed()
        frames = self._templates
        # exchange times move to now, as on a live exchange (spacing kept)
        # (mypy makes ``d.get(k, untyped default)`` of a JsonDict optional; "E" is in ``d``)
        first = next((int(d.get("E", d.get("T", 0))) for _, _, d in self.frames if "E" in d), 0)  # type: ignore[arg-type]
        if self.speed and first:
            first = self.origin_ms if self.origin_ms is not None else first
        self.offset_ms = int(time.time() * 1000) - first + self.clock_skew_ms if first else 0
        spans = _lap_spans([d for _, d, _ in frames])
        due = exchange_times([(0, st, d) for st, d, _ in frames]) if self.speed else None
        speed = self.speed or 1.0
        last = len(frames) - 1
        t0 = loop.time()
        while True:
            self._shift = {k: self.lap * span for k, span in spans.items()}
            self._shift["E"] = self._shift["T"] = self.offset_ms + self.lap * spans["E"]
            if self.lap:  # a new lap: the venue's book starts again, with the lap's ids
                self.book.reset(self.snapshot, self._shift["u"])
            for k, (stream, data, parts) in enumerate(frames):
                if due is not None:  # by the recording's clock
                    lap_ms = self.lap * spans["E"]
                    await pace_to(loop, t0 + (due[k] + lap_ms - first) / 1000 / speed)
                await self._one_frame(stream, data, parts)
                self.sent += 1
                if k == last:  # before any client can have the lap's last frame
                    self.lap_ends.append((self.book.last_id, self.book.snapshot(1000)))
                if due is None:
                    await self._after_send(loop, t0, interval)
            if not self.loop_forever:
                break
            t0 += await self._lap_break(loop, self.lap_pause)
            self.lap += 1
        self.done.set()

    async def _one_frame(  # noqa: C901 - every fault switch in the one place a frame is sent
        self, stream: str, data: JsonDict, parts: list[str]
    ) -> None:
        """Send one recorded frame (``parts``: its text around its moving values, which move
        by the lap's ``_shift``), applying any armed fault."""
        f = self.faults
        shift = self._shift
        if len(parts) > 1 and shift:
            data = dict(data)
            for i in range(1, len(parts), 2):
                key = parts[i]
                data[key] = int(data[key]) + shift.get(key, 0)
        text = parts[0] if len(parts) == 1 else _fill(parts, data)
        await self._connection_faults(f)
        if "@depth" in stream:
            self.book.apply(data)  # the exchange's book moves on, sent or not
            self.book.at = self.sent
            if f.skip_depth > 0:
                f.skip_depth -= 1
                return
        if f.null_bid > 0 and stream.endswith("@bookTicker"):
            f.null_bid -= 1
            f.nulled_u.append(int(data["u"]))
            text = json.dumps({"stream": stream, "data": dict(data, b=None)})
        if stream.endswith("@trade"):
            self.history.add(data)
            self._traded(float(data["p"]), int(data["T"]))
            if f.malformed > 0:
                f.malformed -= 1
                text = '{"stream": "' + stream + '", "data": {"e": "trade", "p": '
            elif f.out_of_order > 0 or f.negative_price > 0:
                if f.out_of_order > 0:
                    f.out_of_order -= 1
                    data = dict(data, T=int(data["T"]) - 10_000, E=int(data["E"]) - 10_000)
                if f.negative_price > 0:
                    f.negative_price -= 1
                    data = dict(data, p="-" + data["p"])
                text = json.dumps({"stream": stream, "data": data})
        send_log, send_key = None, 0
        if self._trade_sends is not None:  # the sender stamps the frame as it writes it
            if stream.endswith("@trade") and "t" in data:
                send_log, send_key = self._trade_sends, int(data["t"])
            elif "@depth" in stream:
                send_log, send_key = self._book_sends, int(data["u"])
            elif stream.endswith("@bookTicker"):
                send_log, send_key = self._quote_sends, int(data["u"])
        item = self._stamped(text, send_log, send_key)
        for ws, subs in list(self._subs.items()):
            if stream in subs:
                queue = self._queues.get(ws)
                if queue is not None:
                    queue.put_nowait(item)


def exchange_times(frames: list[Frame]) -> list[int]:
    """Each frame's exchange time (ms): its ``E``/``T``, else the previous frame's (a
    bookTicker frame carries none)."""
    out, last = [], 0
    for _, _, d in frames:
        t = d.get("E", d.get("T"))
        if isinstance(t, int):
            last = t
        out.append(last)
    first = next((t for t in out if t), 0)
    return [t or first for t in out]


#: the integer fields that move: event/trade time, trade id, first/last book update id
_MOVING = ("E", "T", "t", "U", "u")


def _template(stream: str, data: JsonDict) -> list[str]:
    """A frame's JSON text split around its moving values: ``[text, key, text, ...]``."""
    keys = [k for k in _MOVING if k in data and isinstance(data[k], int)]
    if not keys:
        return [json.dumps({"stream": stream, "data": data})]
    marked = dict(data, **{k: f"@@{k}@@" for k in keys})
    return re.split(r'"@@([A-Za-z])@@"', json.dumps({"stream": stream, "data": marked}))


def _lap_spans(frames: list[JsonDict]) -> dict[str, int]:
    """How far each lap moves trade ids (``t``), book update ids (``U``/``u``) and times
    (``E``): trades and times start right after the previous lap's last value, book ids
    :data:`LAP_ID_GAP` further (a sequence break)."""

    def span(key: str, first_key: str, rows: list[JsonDict]) -> int:
        lasts = [int(d[key]) for d in rows if isinstance(d.get(key), int)]
        firsts = [int(d[first_key]) for d in rows if isinstance(d.get(first_key), int)]
        return max(lasts) - min(firsts) + 1 if lasts and firsts else 0

    diffs = [d for d in frames if "U" in d]  # book ids continue from the last diff's ``u``
    book = span("u", "U", diffs) + LAP_ID_GAP
    return {"t": span("t", "t", frames), "U": book, "u": book, "E": span("E", "E", frames)}


def _fill(parts: list[str], data: JsonDict) -> str:
    """The text of a template with ``data``'s values in place."""
    out = list(parts)
    for i in range(1, len(out), 2):
        out[i] = str(int(data[out[i]]))
    return "".join(out)


def point_binance_at(exchange: ccxtpro.Exchange | str, port: int) -> ccxtpro.Exchange:
    """Point an unmodified ``ccxt.pro.binance`` at the loopback Binance on ``port``: only its
    URLs change (REST keeps its paths; the spot WebSocket goes to ``/stream``), no option is
    set. Also known as ``point_ccxt_at``.

    Parameters
    ----------
    exchange : ccxt.pro.binance or str
        The client, or ``"binance"`` for a new one.
    port : int
        The loopback Binance's port (``start()``'s answer).

    Returns
    -------
    ccxt.pro.binance
        The client, pointed here.
    """
    exchange = rest_at(exchange, port)
    ws = exchange.urls["api"]["ws"]
    ws["spot"] = f"ws://127.0.0.1:{port}/stream"  # ccxt tells spot from futures by "/stream"
    ws["ws-api"] = dict(ws["ws-api"], spot=f"ws://127.0.0.1:{port}/ws-api/v3")
    return exchange
