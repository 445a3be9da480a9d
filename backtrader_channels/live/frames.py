"""Market-data frames a venue sent, counted per stream, beside the events the feed made of them.

ccxt.pro hands over its latest book and best bid/ask when a watch call asks: frames that arrive
while the feed is busy are merged into the next answer (a book loses no level, a best bid/ask
keeps only the newest). A strategy that saw every one of 28,040 recorded bookTicker updates in
a backtest may see a few hundred of them live, on a client that reads slower than they come.
:class:`FrameCounter` sits in front of the exchange instance's message handler (an attribute of
that one instance; ccxt itself is not changed) and counts each public market-data frame by
``(channel type, venue market id)``, so that the run report can say how many frames each
stream's events stand for. Venues whose frames it knows: Binance (raw or combined streams:
``trade``, ``depthUpdate``, ``bookTicker``) and Bybit v5 (``publicTrade``, ``orderbook.N``;
``orderbook.1`` is the best bid/ask).
"""

from __future__ import annotations

from typing import Any

#: ccxt exchange ids whose public frames :class:`FrameCounter` can tell apart
COUNTED = ("binance", "bybit")

_BINANCE = {"trade": "tick", "depthUpdate": "orderbook"}


def _binance(message: Any) -> tuple[str, str] | None:
    data = message.get("data", message) if "stream" in message else message
    if type(data) is not dict:
        return None
    e = data.get("e")
    if e is None:  # bookTicker carries no event type: its update id and both sides
        return ("quote", data["s"]) if "u" in data and "b" in data and "s" in data else None
    kind = _BINANCE.get(e)
    return (kind, data.get("s", "")) if kind is not None else None


def _bybit(message: Any) -> tuple[str, str] | None:
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
    return None


class FrameCounter:
    """Counts the public market-data frames ``exchange`` handles (see module doc).

    Parameters
    ----------
    exchange : ccxt.pro.Exchange
        A Binance or Bybit instance; its ``handle_message`` is wrapped.
    """

    def __init__(self, exchange: Any) -> None:
        self.exchange = exchange
        self._kind_of = _binance if exchange.id == "binance" else _bybit
        self.counts: dict[tuple[str, str], int] = {}  # (type, venue market id) -> frames
        self.inner = exchange.handle_message
        exchange.handle_message = self.handle_message

    def handle_message(self, client: Any, message: Any) -> Any:
        if type(message) is dict:
            key = self._kind_of(message)
            if key is not None:
                counts = self.counts
                counts[key] = counts.get(key, 0) + 1
        return self.inner(client, message)

    def frames(self, kind: str, symbol: str) -> int:
        """Frames of ``kind`` received for the unified ``symbol`` so far."""
        try:
            market_id = self.exchange.market(symbol)["id"]
        except Exception:  # noqa: BLE001 - markets not loaded (the venue never answered)
            return 0
        return self.counts.get((kind, market_id), 0)
