"""What the loopback venues' private sides share: the fault switches, a carried-out order
request's reply (or its loss), and the switches a test throws from its own thread."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from .binance_account import Account


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


class PrivateSide:
    """The shared part; a venue's private side provides ``account``, ``private_faults``,
    :meth:`_reply` (its answer envelope) and :meth:`_private_sockets`."""

    account: Account
    private_faults: PrivateFaults

    def _reply(self, body: Any) -> web.StreamResponse:
        return web.json_response(body)

    def _private_sockets(self) -> list[web.WebSocketResponse]:
        raise NotImplementedError

    async def _answer(self, request: web.Request, body: Any) -> web.StreamResponse:
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
