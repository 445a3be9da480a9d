"""OrderBookChannel: an L2 book kept from a snapshot plus deltas, with update-id gap checks."""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import Counter
from collections.abc import Sequence

from ..events import ChannelType, EventPriority, Level, OrderBookEvent
from .base import Channel


def _apply_side(
    book: dict[float, float], prices: list[float], levels: Sequence[tuple[float, float]]
) -> None:
    """Set absolute sizes on one side; size 0 deletes, deleting an unknown level is a no-op."""
    for price, size in levels:
        if size == 0.0:
            if price in book:
                del book[price]
                del prices[bisect_left(prices, price)]
        else:
            if price not in book:
                insort(prices, price)
            book[price] = size


class OrderBookChannel(Channel[OrderBookEvent]):
    """L2 order book of one symbol.

    A snapshot replaces the book. A delta sets absolute sizes per level. When events carry
    update ids, a delta whose ids end at or before the book's last id is stale and ignored, and a
    delta that starts after ``last_update_id + 1`` is a gap: the book is marked unsynced and every
    delta is refused until the next snapshot. ``push`` returns whether the event was applied;
    refused events are counted by reason in ``refused``.
    """

    channel_type = ChannelType.ORDERBOOK
    priority = int(EventPriority.ORDERBOOK)
    latest: OrderBookEvent | None

    def __new__(cls, *args: object, **kwargs: object) -> OrderBookChannel:
        """``hear`` (the fourth argument) other than ``"all"`` makes a
        :class:`~backtrader_channels.channels.columnar.ColumnarBookChannel`: the fast L2
        path, where strategies hear best-price changes (``"best"``), a message per N ms (an
        int) or none (``"none"``). (Unpickling calls it with no arguments.)"""
        hear = kwargs.get("hear", args[3] if len(args) > 3 else "all")
        if cls is OrderBookChannel and hear != "all":
            from .columnar import ColumnarBookChannel

            return super().__new__(ColumnarBookChannel)
        return super().__new__(cls)

    def __init__(
        self,
        symbol: str,
        history_size: int = 100,
        require_snapshot: bool = True,
        hear: object = "all",
    ):
        super().__init__(symbol, history_size)
        self.require_snapshot = require_snapshot
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        self._bid_prices: list[float] = []  # ascending: best bid is the last
        self._ask_prices: list[float] = []  # ascending: best ask is the first
        self.synced = not require_snapshot
        self.last_update_id: int | None = None
        self.refused: Counter[str] = Counter()
        #: (first missing id, last missing id) of every gap seen
        self.gaps: list[tuple[int, int]] = []

    def reset(self) -> None:
        """Empty the book and forget counters and gaps."""
        super().reset()
        self.bids.clear()
        self.asks.clear()
        self._bid_prices.clear()
        self._ask_prices.clear()
        self.synced = not self.require_snapshot
        self.last_update_id = None
        self.refused.clear()
        self.gaps.clear()

    def push(self, event: OrderBookEvent) -> bool:
        """Apply a snapshot or delta; return False (and count why) when it is refused."""
        if event.is_snapshot:
            self.bids.clear()
            self.asks.clear()
            self._bid_prices.clear()
            self._ask_prices.clear()
            self.synced = True
        elif not self.synced:
            self.refused["unsynced"] += 1
            return False
        else:
            first, last, prev = event.first_update_id, event.last_update_id, self.last_update_id
            if last is not None and prev is not None:
                if last <= prev:
                    self.refused["stale"] += 1
                    return False
                if first is not None and first > prev + 1:
                    self.synced = False
                    self.gaps.append((prev + 1, first - 1))
                    self.refused["gap"] += 1
                    return False
        _apply_side(self.bids, self._bid_prices, event.bids)
        _apply_side(self.asks, self._ask_prices, event.asks)
        if event.last_update_id is not None:
            self.last_update_id = event.last_update_id
        self.latest = event
        self.history.append(event)
        self.count += 1
        return True

    # ---- read side -------------------------------------------------------------------------
    @property
    def best_bid_price(self) -> float | None:
        """Highest bid price, ``None`` when the side is empty."""
        p = self._bid_prices
        return p[-1] if p else None

    @property
    def best_ask_price(self) -> float | None:
        """Lowest ask price, ``None`` when the side is empty."""
        p = self._ask_prices
        return p[0] if p else None

    @property
    def best_bid(self) -> Level | None:
        """Best bid level."""
        p = self._bid_prices
        return Level(p[-1], self.bids[p[-1]]) if p else None

    @property
    def best_ask(self) -> Level | None:
        """Best ask level."""
        p = self._ask_prices
        return Level(p[0], self.asks[p[0]]) if p else None

    @property
    def mid_price(self) -> float | None:
        """Midpoint of best bid and ask, ``None`` if a side is empty."""
        b, a = self._bid_prices, self._ask_prices
        return (b[-1] + a[0]) * 0.5 if b and a else None

    @property
    def spread(self) -> float | None:
        """Best ask minus best bid."""
        b, a = self._bid_prices, self._ask_prices
        return a[0] - b[-1] if b and a else None

    @property
    def microprice(self) -> float | None:
        """Size-weighted mid: ``(bid * ask_size + ask * bid_size) / (bid_size + ask_size)``."""
        b, a = self._bid_prices, self._ask_prices
        if not (b and a):
            return None
        bp, ap = b[-1], a[0]
        bs, as_ = self.bids[bp], self.asks[ap]
        return (bp * as_ + ap * bs) / (bs + as_)

    @property
    def imbalance(self) -> float | None:
        """Top-of-book imbalance ``(bid_size - ask_size) / (bid_size + ask_size)`` in [-1, 1]."""
        b, a = self._bid_prices, self._ask_prices
        if not (b and a):
            return None
        bs, as_ = self.bids[b[-1]], self.asks[a[0]]
        return (bs - as_) / (bs + as_)

    @property
    def is_crossed(self) -> bool:
        """True when best bid >= best ask."""
        b, a = self._bid_prices, self._ask_prices
        return bool(b and a and b[-1] >= a[0])

    def levels(self, n: int = 10) -> tuple[list[Level], list[Level]]:
        """Top ``n`` levels: bids best first (descending), asks best first (ascending)."""
        bids = [Level(p, self.bids[p]) for p in reversed(self._bid_prices[-n:])] if n else []
        asks = [Level(p, self.asks[p]) for p in self._ask_prices[:n]]
        return bids, asks

    def size_at(self, price: float, side: str | None = None) -> float:
        """Size resting at ``price`` on ``side`` (``"bid"``/``"ask"``; either when omitted)."""
        if side in (None, "bid") and price in self.bids:
            return self.bids[price]
        if side in (None, "ask"):
            return self.asks.get(price, 0.0)
        return 0.0

    def depth(self) -> tuple[int, int]:
        """Number of bid and ask levels."""
        return len(self._bid_prices), len(self._ask_prices)
