"""Bybit v5 on a live stream: its public frames told apart, and the guard of its book's
sequence that ccxt.pro leaves to its caller.

ccxt.pro's Bybit client applies every ``orderbook.N`` delta it receives without looking at
``u``, the book's update id (one more per message): a lost message leaves a wrong book that
looks right. :class:`BybitBookGuard` sits in front of the exchange instance's message handler
(an attribute of that one instance; ccxt itself is not changed): it passes snapshots and
in-sequence deltas through, and on a gap it drops the delta and every later one until the next
snapshot, and calls ``on_gap(symbol, first_missing, last_missing)``; the feed then resubscribes
(a new subscription starts with a snapshot). A snapshot whose ``u`` goes back (Bybit's "u=1
after a restart of the service") replaces the book as any snapshot does, and is reported:
``on_restart(symbol, last_u, u)``.

It also keeps ``orderbook.1`` (best bid/ask, what ``watch_bids_asks`` subscribes) away from
the book: ccxt.pro 4.5.90 applies those one-level snapshots to the same book as
``orderbook.50``, so a client watching both gets books of one level and deltas applied to them
(measured on the loopback Bybit). The guard answers ``watch_bids_asks`` from them itself, as
ccxt would (``bidsasks[symbol]``, resolved under ``bidask:SYMBOL``), and the book stays whole.
"""

from __future__ import annotations

from typing import Any

from ...btypes import JsonDict
from ...live.venue_parts import CcxtClient, CcxtExchange, OnGap


def frame_kind(message: JsonDict) -> tuple[str, str] | None:
    """``(channel type, market id)`` of a public frame (``publicTrade``, ``orderbook.N``;
    ``orderbook.1`` is the best bid/ask; ``tickers``, a contract's mark price and funding, is
    derivative), else None."""
    topic = message.get("topic")
    if type(topic) is not str:
        return None
    head, _, market = topic.rpartition(".")
    if head == "publicTrade":
        return ("tick", market)
    if head == "orderbook.1":
        return ("quote", market)
    if head.startswith("orderbook."):
        return ("orderbook", market)
    if head == "tickers":
        return ("derivative", market)
    return None


class BybitBookGuard:
    """Wraps ``exchange.handle_message`` (see module doc)."""

    def __init__(self, exchange: CcxtExchange, on_gap: OnGap, on_restart: OnGap | None = None):
        self.exchange, self.on_gap, self.on_restart = exchange, on_gap, on_restart
        self.inner = exchange.handle_message
        self.last_u: dict[tuple[str, str], int] = {}  # (socket url, topic) -> last u applied
        self.dropped = 0  # deltas held back (a gap, or before the first snapshot)
        exchange.handle_message = self.handle_message

    # ``message``: a frame as ccxt.pro parsed it: any JSON value (a dict, a list), or text
    def handle_message(self, client: CcxtClient, message: Any) -> None:
        topic = message.get("topic") if isinstance(message, dict) else None
        if not topic or not topic.startswith("orderbook."):
            return self.inner(client, message)
        if topic.startswith("orderbook.1."):
            return self._best(client, message)
        data = message.get("data") or {}
        try:
            u = int(data["u"])
        except (KeyError, TypeError, ValueError):
            return self.inner(client, message)  # no id: ccxt's parser says what is wrong
        key = (getattr(client, "url", ""), topic)
        if message.get("type") == "snapshot":
            prev = self.last_u.get(key)
            if prev is not None and u < prev and self.on_restart is not None:
                self.on_restart(self._symbol(data.get("s")), prev, u)
            self.last_u[key] = u
            out = self.inner(client, message)
            self._stamp(data.get("s"), u)
            return out
        prev = self.last_u.get(key)
        if prev is None:  # after a gap, until the next snapshot
            self.dropped += 1
            return None
        if u != prev + 1:
            del self.last_u[key]
            self.dropped += 1
            self.on_gap(self._symbol(data.get("s")), prev + 1, u - 1)
            return None
        self.last_u[key] = u
        out = self.inner(client, message)
        self._stamp(data.get("s"), u)
        return out

    def _best(self, client: CcxtClient, message: JsonDict) -> None:
        """A best bid/ask snapshot: ``watch_bids_asks``'s answer, the book left alone."""
        ex = self.exchange
        data = message.get("data") or {}
        market = ex.safe_market(data.get("s"), None, None, "spot")
        symbol = market["symbol"]
        bids, asks = data.get("b") or [[None, None]], data.get("a") or [[None, None]]
        ts = ex.safe_integer(message, "ts")
        ticker = ex.safe_ticker(
            {
                "symbol": symbol,
                "timestamp": ts,
                "datetime": ex.iso8601(ts),
                "bid": ex.safe_number(bids[0], 0),
                "bidVolume": ex.safe_number(bids[0], 1),
                "ask": ex.safe_number(asks[0], 0),
                "askVolume": ex.safe_number(asks[0], 1),
                "info": data,  # its "u": the quote's update id
            },
            market,
        )
        ex.bidsasks[symbol] = ticker
        client.resolve({symbol: ticker}, "bidask:" + symbol)

    def _stamp(self, market_id: str | None, u: int) -> None:
        """Give ccxt's book the update id it applied last (its ``nonce``, as on Binance)."""
        book = getattr(self.exchange, "orderbooks", {}).get(self._symbol(market_id))
        if book is not None:
            book["nonce"] = u

    def forget(self, url: str) -> None:
        """A socket is being replaced: its topics start again with a snapshot."""
        for key in [k for k in self.last_u if k[0] == url]:
            del self.last_u[key]

    def _symbol(self, market_id: str | None) -> str:
        try:
            return str(self.exchange.safe_market(market_id, None, None, "spot")["symbol"])
        except Exception:  # noqa: BLE001 - the id as it came
            return str(market_id)
