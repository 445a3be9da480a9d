"""``backtrader-channels smoke``: the whole order path checked with one tiny order.

It places a limit buy ``price_offset`` percent below the best bid (far from the market, so it
does not fill), sees it open on the exchange (private stream and REST), cancels it, sees it
cancelled, and prints the order's timeline. Each failure is one clear line and a non-zero exit;
an order it placed and could not see cancelled is named, so that it can be cancelled by hand.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import ccxt

from ..errors import BacktraderChannelsError
from ..live.faults import describe_error
from ..live.venue_parts import CcxtExchange
from .ids import client_order_id


class SmokeError(BacktraderChannelsError):
    """A smoke check that failed: its message is the one line the user sees."""


async def smoke(
    exchange: CcxtExchange,
    symbol: str,
    qty: float,
    price_offset: float = 10.0,
    timeout: float = 30.0,
) -> list[tuple[float, str, str]]:
    """Run the check on ``exchange`` (a keyed ccxt.pro instance); return the timeline as
    ``(ms since start, source, event)``. Raises :class:`SmokeError` with what went wrong."""
    t0 = time.perf_counter()
    timeline: list[tuple[float, str, str]] = []

    def note(source: str, event: str) -> None:
        timeline.append(((time.perf_counter() - t0) * 1000.0, source, event))

    ex = exchange
    tasks: list[asyncio.Future[None]] = []
    try:
        return await asyncio.wait_for(
            _steps(ex, symbol, qty, price_offset, timeout, note, timeline, tasks), timeout
        )
    except asyncio.TimeoutError:
        raise SmokeError(f"no answer within {timeout:g} s (last step: {_last(timeline)})") from None
    except (ccxt.AuthenticationError, ccxt.PermissionDenied) as exc:
        raise SmokeError(f"the exchange refused the API key ({describe_error(exc, ex)})") from None
    except ccxt.BaseError as exc:
        raise SmokeError(f"{describe_error(exc, ex)} (last step: {_last(timeline)})") from None
    finally:
        for task in tasks:  # the private-stream watchers: their errors are the ones above
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        try:
            await ex.close()
        except Exception:  # noqa: BLE001 - closing anyway
            pass


def _last(timeline: list[tuple[float, str, str]]) -> str:
    return timeline[-1][2] if timeline else "connecting"


async def _steps(
    ex: CcxtExchange,
    symbol: str,
    qty: float,
    offset: float,
    timeout: float,
    note: Callable[[str, str], None],
    timeline: list[tuple[float, str, str]],
    tasks: list[asyncio.Future[None]],
) -> list[tuple[float, str, str]]:
    if not getattr(ex, "apiKey", None) or not getattr(ex, "secret", None):
        raise SmokeError("no API key: give --config FILE or set the exchange's API key variables")
    await ex.load_markets()
    note("rest", "markets loaded")
    if symbol not in ex.markets:
        raise SmokeError(f"{ex.id} has no market {symbol}")
    book = await ex.fetch_order_book(symbol, 5)
    if not book["bids"]:
        raise SmokeError(f"{symbol}: the book has no bids to price the order from")
    price = float(ex.price_to_precision(symbol, book["bids"][0][0] * (1 - offset / 100.0)))
    amount = float(ex.amount_to_precision(symbol, qty))
    min_cost = ((ex.markets[symbol].get("limits") or {}).get("cost") or {}).get("min")
    if min_cost and amount * price < min_cost:
        raise SmokeError(
            f"--qty {qty:g} at {price:g} is {amount * price:.2f}, below {symbol}'s minimum "
            f"notional {min_cost:g}: use a larger --qty"
        )
    cid = client_order_id("smoke", symbol, "buy", amount, price, ("smoke", time.time_ns()), 0)
    note("local", f"limit buy {amount:g} {symbol} at {price:g} ({offset:g}% below the bid), {cid}")
    stream = asyncio.ensure_future(_watch_until(ex, cid, ("open",), note))
    tasks.append(stream)
    await asyncio.sleep(0)
    await ex.authenticate()
    note("ws", "private stream subscribed")
    placed = await ex.create_order(symbol, "limit", "buy", amount, price, {"clientOrderId": cid})
    note("rest", f"placed: {placed['status']} (exchange id {placed['id']})")
    try:
        await asyncio.wait_for(stream, timeout / 3)
    except asyncio.TimeoutError:
        note("ws", "no open event on the private stream (REST will tell)")
    seen = await ex.fetch_order(None, symbol, {"clientOrderId": cid})
    if seen["status"] != "open":
        raise SmokeError(f"the order is {seen['status']} on the exchange, not open")
    note("rest", "seen open on the exchange")
    stream = asyncio.ensure_future(_watch_until(ex, cid, ("canceled", "cancelled"), note))
    tasks.append(stream)
    await asyncio.sleep(0)
    try:
        await ex.cancel_order(None, symbol, {"clientOrderId": cid})
        note("rest", "cancel accepted")
        try:
            await asyncio.wait_for(stream, timeout / 3)
        except asyncio.TimeoutError:
            note("ws", "no cancel event on the private stream (REST will tell)")
        seen = await ex.fetch_order(None, symbol, {"clientOrderId": cid})
    except ccxt.BaseError as exc:
        raise SmokeError(
            f"ORDER {cid} (id {placed['id']}) MAY STILL BE OPEN: cancel failed "
            f"({describe_error(exc, ex)}); cancel it on the exchange"
        ) from None
    if seen["status"] not in ("canceled", "cancelled"):
        raise SmokeError(f"ORDER {cid} is {seen['status']} after the cancel; check the exchange")
    note("rest", "seen cancelled on the exchange")
    return timeline


async def _watch_until(
    ex: CcxtExchange, cid: str, statuses: tuple[str, ...], note: Callable[[str, str], None]
) -> None:
    while True:
        for order in await ex.watch_orders():
            if order.get("clientOrderId") == cid and order.get("status") in statuses:
                note("ws", f"order {order['status']} (private stream)")
                return


def format_timeline(timeline: list[tuple[float, str, str]]) -> str:
    """The timeline, one step a line: ``+  12.3 ms  rest  placed: open ...``."""
    return "\n".join(f"+{ms:8.1f} ms  {src:<5} {event}" for ms, src, event in timeline)
