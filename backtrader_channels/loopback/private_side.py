"""What the loopback venues' private sides share: the account and its keys, the fault switches,
the server's (skewed) clock, the prices an order meets, a carried-out order request's reply (or
its loss), the private WebSocket's lifecycle, and the switches a test throws from its own
thread."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable

from aiohttp import WSMsgType, web

from ..btypes import JsonDict
from .account import Account, FeeAsset
from .book import LevelBook
from .futures_account import FuturesAccount

#: what a private WebSocket does with one client request: ``(socket, its send queue, the
#: request)`` -> the reply
OnPrivate = Callable[[web.WebSocketResponse, "asyncio.Queue[str]", JsonDict], JsonDict]
#: a signed endpoint's own handler: ``(request, its parameters once the signature is checked)``
#: -> the answer (a venue's ``_signed`` wraps it into an aiohttp handler)
SignedHandler = Callable[[web.Request, dict[str, str]], Awaitable[web.StreamResponse]]


class PrivateFaults:
    """Fault switches of a private side; counters are consumed as they fire."""

    def __init__(self) -> None:
        self.lose_response = 0  # next N order requests are carried out, the reply is lost
        self.slow_reply_s = 0.0  # order requests are carried out at once, answered this late
        self.unknown_5xx = 0  # next N new orders are placed, answered "status unknown"
        self.fail_503 = 0  # next N new orders are not placed, answered an HTML 503
        self.rate_limit = 0  # next N signed requests are refused for the rate limit
        self.clock_skew_ms = 0  # the private side's clock minus the local one
        self.mute_events = 0  # next N private stream events are not sent (the socket stays up)
        self.reject_subscribe = False  # private stream logins/subscriptions are refused


def sign(secret: str, payload: str) -> str:
    """HMAC-SHA256 of ``payload`` with ``secret``, in hex: how both venues sign."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


class PrivateSide:
    """The shared part; a venue's private side provides :meth:`_reply` (its answer envelope)
    and :meth:`_private_sockets`, its server ``book`` (a :class:`~.book.LevelBook`), ``sent``
    and ``last_trade`` (:class:`~.base.LoopbackServer`)."""

    account: Account
    private_faults: PrivateFaults
    api_key: str
    api_secret: str
    book: LevelBook
    sent: int
    last_trade: tuple[float, int] | None

    def _open_account(
        self,
        balances: dict[str, float] | None,
        symbols: dict[str, JsonDict],
        api_key: str,
        api_secret: str,
        fee_asset: FeeAsset,
    ) -> None:
        """The account (10,000 USDT unless ``balances``), the keys it accepts, its faults,
        and the log of its order requests."""
        self.api_key, self.api_secret = api_key, api_secret
        self.private_faults = PrivateFaults()
        start = balances if balances is not None else {"USDT": 10_000.0}
        self.account = Account(start, symbols, fee_asset=fee_asset)
        self._open_logs()

    def _open_margin_account(
        self,
        wallet: float,
        symbols: dict[str, JsonDict],
        leverage: int,
        fees: tuple[float, float],
        api_key: str,
        api_secret: str,
    ) -> None:
        """A perpetual futures venue's: its margin account (``wallet`` USDT, ``fees`` taker and
        maker), the keys it accepts, its faults and the log of its order requests."""
        self.api_key, self.api_secret = api_key, api_secret
        self.private_faults = PrivateFaults()
        self.account = FuturesAccount(  # type: ignore[assignment]  # (a venue's own account)
            wallet, symbols, taker=fees[0], maker=fees[1], leverage=leverage,
            clock=self.server_ms,
        )  # fmt: skip
        self._open_logs()

    def _open_logs(self) -> None:
        #: every order request carried out, in order: ("new", "cancel" or "amend", the client
        #: order id)
        self.order_requests: list[tuple[str, str]] = []
        #: client order id -> time.time_ns() when its new-order request arrived, and when its
        #: last fill's event was handed to the private sockets (latency benchmarks)
        self.order_times: dict[str, int] = {}
        self.fill_times: dict[str, int] = {}

    def server_ms(self) -> int:
        """The venue's clock (ms): the local one moved by the ``clock_skew_ms`` fault."""
        return int(time.time() * 1000) + self.private_faults.clock_skew_ms

    def _reply(self, body: JsonDict) -> web.StreamResponse:
        return web.json_response(body)

    def _private_sockets(self) -> list[web.WebSocketResponse]:
        raise NotImplementedError

    # ---- the replayed market, as the matching engine meets it --------------------------------
    def _traded(self, price: float, ts_ms: int) -> None:
        """A replayed trade at ``price``: the engine's freshness rule notes it, and resting
        limit orders it goes through fill."""
        self.last_trade = (price, self.sent)
        if self.account._resting:
            self.account.on_trade(price, ts_ms)

    def _best(self) -> tuple[float | None, float | None]:
        """The best bid and ask an order meets: the book's, unless a later trade printed
        outside them (the depth stream comes every 100 ms, trades at once): the book is then
        stale and the trade's price stands for both, as the paper broker's stale-book rule."""
        bid, ask = self.book.best()
        last = self.last_trade
        if last is not None and last[1] > self.book.at:
            price = last[0]
            if (bid is not None and price < bid) or (ask is not None and price > ask):
                return price, price
        return bid, ask

    # ---- replies and sockets -----------------------------------------------------------------
    async def _answer(self, request: web.Request, body: JsonDict) -> web.StreamResponse:
        """The reply of a carried-out order request, unless a fault loses or delays it."""
        f = self.private_faults
        if f.lose_response > 0:
            f.lose_response -= 1
            if request.transport is not None:
                request.transport.abort()  # the order stands; the reply never arrives
            return web.Response(status=500)
        if f.slow_reply_s:
            await asyncio.sleep(f.slow_reply_s)
        return self._reply(body)

    async def _private_socket(
        self,
        request: web.Request,
        on_request: OnPrivate,
        forget: Callable[[web.WebSocketResponse], None],
    ) -> web.WebSocketResponse:
        """Serve one private WebSocket: its events go out through its own queue, each text
        request is answered with what ``on_request`` returns; ``forget`` once it closes."""
        ws = web.WebSocketResponse(heartbeat=None, autoping=True)
        await ws.prepare(request)
        queue: asyncio.Queue[str] = asyncio.Queue()
        sender = asyncio.get_running_loop().create_task(drain(ws, queue))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    reply = on_request(ws, queue, json.loads(msg.data))
                    await ws.send_str(json.dumps(reply))
        finally:
            sender.cancel()
            forget(ws)
        return ws

    # ---- switches thrown from a test's thread ------------------------------------------------
    def drop_private(self) -> None:
        """Close every private stream socket now (from any thread)."""
        loop = getattr(self, "_loop", None)
        if loop is not None:
            asyncio.run_coroutine_threadsafe(self._close_private(), loop).result(5)

    def cross_resting(self) -> None:
        """A trade through every resting order now: each fills at its limit (from any thread)."""
        loop = getattr(self, "_loop", None)
        if loop is not None:

            async def cross() -> None:
                self.account.on_trade(0.0, 0)  # below every buy limit
                self.account.on_trade(1e12, 0)  # above every sell limit

            asyncio.run_coroutine_threadsafe(cross(), loop).result(5)

    async def _close_private(self) -> None:
        for ws in self._private_sockets():
            await ws.close()


async def drain(ws: web.WebSocketResponse, queue: asyncio.Queue[str]) -> None:
    """Send what the queue gets to ``ws`` until it closes."""
    while True:
        text = await queue.get()
        if ws.closed:
            return
        await ws.send_str(text)
