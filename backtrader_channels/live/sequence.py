"""Keeping a live book in sequence where ccxt.pro leaves it to its caller: resubscribing a book
(a new subscription starts with a snapshot), replacing a stream's socket, and forgetting the
rejected book futures ccxt.pro keeps after a break. A venue whose book ccxt.pro does not check
registers a guard of its own (``live/venue_parts.py``; Bybit's, ``venues/bybit``).
"""

from __future__ import annotations

import asyncio

from .venue_parts import BookGuard, CcxtExchange


def forget_rejected_book(exchange: CcxtExchange, symbol: str) -> None:
    """Drop the settled book futures ccxt.pro keeps for ``symbol`` after a sequence break.

    ccxt.pro 4.5.90 rejects a book's future when its update ids break; with no watch call
    waiting (the engine was dispatching) it stores the rejection, and the next call's future
    takes it and *stays* in the client's futures, rejected: every watch call until the new
    snapshot resolves it raises the same break again (seen: five in 0.8 s for one break, the
    backoff doubling each time). Forgetting it lets the next call wait for the new snapshot."""
    needle = "orderbook::" + symbol
    for client in list(getattr(exchange, "clients", {}).values()):
        futures = getattr(client, "futures", None)
        if not isinstance(futures, dict):
            continue
        for message_hash, future in list(futures.items()):
            if needle in str(message_hash) and future.done():
                del futures[message_hash]


async def resubscribe_book(exchange: CcxtExchange, symbol: str, timeout: float) -> bool:
    """Unsubscribe ``symbol``'s book topic, so that the next watch subscribes again (and a new
    subscription starts with a snapshot); the socket and its other streams stay up. False when
    ccxt could not unsubscribe (the caller then replaces the socket)."""
    try:
        await asyncio.wait_for(exchange.un_watch_order_book(symbol), timeout)
    except Exception:  # noqa: BLE001 - no unsubscribe: the caller takes a new socket
        return False
    getattr(exchange, "orderbooks", {}).pop(symbol, None)
    return True


#: the word in ccxt's subscription keys ("trade::BTC/USDT", ...) for each stream kind
_MARKER = {"tick": "trade", "orderbook": "orderbook", "quote": "bidsask"}


async def reset_socket(
    exchange: CcxtExchange,
    kind: str,
    symbol: str,
    guard: BookGuard | None = None,
    marker: str | None = None,
) -> None:
    """Close and forget the socket that ``kind``'s stream of ``symbol`` uses (and any socket
    with no subscription), so that the next watch dials a new one; ``guard`` (a book sequence
    guard) forgets what it knew of it. ``marker``: a word of ccxt's subscription keys for the
    stream, where the kind's own does not do (a venue's mark-price stream)."""
    marker = marker or _MARKER[kind]
    for url, client in list(getattr(exchange, "clients", {}).items()):
        subs = " ".join(str(k) for k in getattr(client, "subscriptions", {})).lower()
        if (marker in subs and symbol.lower() in subs) or not subs:
            if guard is not None:
                guard.forget(url)
            try:
                await client.close()
            except Exception:  # noqa: BLE001 - the socket may be half dead already
                pass
            exchange.clients.pop(url, None)
    if kind == "orderbook":
        getattr(exchange, "orderbooks", {}).pop(symbol, None)
