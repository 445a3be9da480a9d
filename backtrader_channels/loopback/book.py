"""The loopback exchanges' own order book: price levels both servers keep, and the update ids
each venue keeps beside them.

One :class:`LevelBook` (price -> size text, a side each) is what the server's REST snapshot
serves, what its matching engine meets (``bids``, ``asks``, ``at``) and what its lap ends
record. The venues differ only in their ids: Binance's ``lastUpdateId`` (:class:`BinanceBook`,
moved by each diff's ``u``), Bybit's ``u`` and ``seq`` (:class:`BybitBook`, each message a
snapshot or a delta). Levels print as ``[[price, size], ...]`` text, the best first.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence

from ..btypes import JsonDict

#: levels as a venue prints them: ``[[price, size], ...]``, the best first
Levels = list[list[str]]
#: levels as a venue's message gives them: ``[price, size]`` pairs of text
LevelPairs = Iterable[Sequence[str]]


class LevelBook:
    """Price levels a side (``bids``, ``asks``: price -> size as the venue wrote it) and the
    number of the last replayed item that moved them (``at``, -1 before any)."""

    __slots__ = ("asks", "at", "bids")

    def __init__(self) -> None:
        self.bids: dict[float, str] = {}
        self.asks: dict[float, str] = {}
        self.at = -1

    def load(self, bids: LevelPairs, asks: LevelPairs) -> None:
        """Replace every level by ``bids`` and ``asks`` (``[price, size]`` pairs)."""
        self.bids = {float(p): s for p, s in bids}
        self.asks = {float(p): s for p, s in asks}

    def update(self, bids: LevelPairs, asks: LevelPairs) -> None:
        """Set each ``[price, size]`` level; a size of zero deletes the level."""
        for side, levels in ((self.bids, bids), (self.asks, asks)):
            for price, size in levels:
                if float(size) == 0.0:
                    side.pop(float(price), None)
                else:
                    side[float(price)] = size

    def top(self, limit: int) -> tuple[Levels, Levels]:
        """The best ``limit`` levels a side, printed (the highest bid, the lowest ask first)."""
        # a few levels of a deep book: a partial selection, not a sort of every level
        bids = heapq.nlargest(limit, self.bids.items())
        asks = heapq.nsmallest(limit, self.asks.items())
        return [[repr(p), s] for p, s in bids], [[repr(p), s] for p, s in asks]

    def best(self) -> tuple[float | None, float | None]:
        """The best bid and ask prices (None for an empty side)."""
        return (max(self.bids) if self.bids else None, min(self.asks) if self.asks else None)


class BinanceBook(LevelBook):
    """The loopback Binance's book: what ``/api/v3/depth`` serves, with its ``lastUpdateId``
    (``last_id``).

    Parameters
    ----------
    snapshot : dict
        A depth snapshot (``lastUpdateId``, ``bids``, ``asks``).
    """

    __slots__ = ("last_id",)

    def __init__(self, snapshot: JsonDict):
        super().__init__()
        self.last_id = 0
        self.reset(snapshot)

    def reset(self, snapshot: JsonDict, id_shift: int = 0) -> None:
        """The book as ``snapshot`` has it, its update id moved by ``id_shift`` (a new lap)."""
        self.load(snapshot["bids"], snapshot["asks"])
        self.last_id = int(snapshot["lastUpdateId"]) + id_shift

    def apply(self, diff: JsonDict) -> None:
        """A depth diff's levels (``b``, ``a``); its ``u`` becomes the book's id."""
        self.update(diff["b"], diff["a"])
        self.last_id = int(diff["u"])

    def snapshot(self, limit: int) -> JsonDict:
        """``/api/v3/depth``'s answer: the best ``limit`` levels a side and ``lastUpdateId``."""
        bids, asks = self.top(limit)
        return {"lastUpdateId": self.last_id, "bids": bids, "asks": asks}


class BybitBook(LevelBook):
    """The loopback Bybit's book, with the last message's ``u`` and ``seq``."""

    __slots__ = ("seq", "u")

    def __init__(self) -> None:
        super().__init__()
        self.u = 0
        self.seq = 0

    def apply(self, msg: JsonDict) -> None:
        """A book message: a ``snapshot`` replaces every level, a ``delta`` updates them; its
        ``u`` and ``seq`` become the book's."""
        data = msg["data"]
        if msg["type"] == "snapshot":
            self.bids.clear()
            self.asks.clear()
        self.update(data["b"], data["a"])
        self.u, self.seq = int(data["u"]), int(data["seq"])
