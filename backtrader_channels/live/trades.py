"""Trade continuity for a live feed: trade ids in order, duplicates dropped, gaps backfilled
from the venue's REST (:mod:`.backfill`) or reported with their id ranges."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from ..events import CcxtDict, TickEvent
from ..log import logger
from .backfill import trade_source
from .streams import StreamState
from .validator import LiveDataValidator
from .venue_parts import CcxtExchange

_MS = 1_000_000
_NO_END = 2**63 - 1  # "up to the venue's newest trade"


class TradeContinuity:
    """Per symbol: the last trade id delivered, and what to do with what follows it.

    Parameters
    ----------
    exchange : ccxt.pro.Exchange
        The feed's exchange (its REST side fills gaps).
    validator : LiveDataValidator
        Where duplicates, backfills and gaps are counted.
    enabled : bool
        Backfill gaps (else they are only reported).
    """

    def __init__(
        self,
        exchange: CcxtExchange,
        validator: LiveDataValidator,
        enabled: bool = True,
        venue: str = "",
    ):
        self.venue = venue
        self.exchange_id = str(getattr(exchange, "id", "exchange"))
        self.validator = validator
        self.enabled = enabled
        #: where missing trades come from; None: the venue has no REST trades with stream ids
        self.source = trade_source(exchange)
        #: the last trade id delivered, per symbol
        self.last_id: dict[str, int] = {}
        self._from_cache_upto: dict[str, int] = {}
        #: (last id, validator clock) of the last trades the feed delivered, per symbol (the
        #: clock: what the validator's ``last_time`` gives, handed back to its ``rewind``)
        self._delivered: dict[str, tuple[int | None, object]] = {}
        self._last_time = getattr(validator, "last_time", None)  # (a validator of the user's)

    def delivered(self, symbol: str) -> None:
        """The feed has queued (or rejected and counted) ``symbol``'s trades up to its last id:
        where :meth:`rewind` goes back to."""
        last_time = self._last_time
        clock = None if last_time is None else last_time(("tick", symbol))
        self._delivered[symbol] = (self.last_id.get(symbol), clock)

    def rewind(self, symbol: str) -> None:
        """A watch failed before its trades reached the queue (a backfill or the stream that
        raised, a stall, a hook or a recording that raised): the last id and the validator's
        clock go back to the last trade delivered, so that the next watch sees the trades as a
        gap and backfills them (they used to be lost without a report)."""
        last, clock = self._delivered.get(symbol, (None, None))
        if last is None:
            self.last_id.pop(symbol, None)  # none delivered yet: the stream starts afresh
        else:
            self.last_id[symbol] = last
        rewind = getattr(self.validator, "rewind", None)
        if rewind is not None:
            rewind(("tick", symbol), clock)

    async def from_watch(self, trades: list[CcxtDict], symbol: str, recv: int) -> list[TickEvent]:
        """Trades of a watch call: duplicates dropped, gaps backfilled (or reported)."""
        out, i = self._continuing(trades, 0, symbol, recv)
        while i < len(trades):  # trades[i] is after a gap in ids
            first = self.last_id[symbol] + 1
            upto = int(trades[i]["id"]) - 1
            out.extend(await self.backfill(symbol, first, upto, recv))
            self.last_id[symbol] = upto  # the gap is filled or reported
            more, i = self._continuing(trades, i, symbol, recv)
            out.extend(more)
        return out

    def from_cache(self, trades: list[CcxtDict], symbol: str, recv: int) -> list[TickEvent]:
        """Trades from ccxt's cache (no backfill: the next watch call will see any gap)."""
        out, _ = self._continuing(trades, 0, symbol, recv)
        last = self.last_id.get(symbol)
        if last is not None:
            self._from_cache_upto[symbol] = last
        return out

    def _continuing(
        self, trades: list[CcxtDict], start: int, symbol: str, recv: int
    ) -> tuple[list[TickEvent], int]:
        """Events of ``trades[start:]`` that continue the symbol's last trade id, up to the first
        gap; and the index of the trade after that gap (``len(trades)`` when there is none).
        Ids already seen are dropped (counted as ``duplicate_trade`` unless they are the ones
        this feed took from ccxt's cache)."""
        out: list[TickEvent] = []
        last = self.last_id.get(symbol)
        n = len(trades)
        i = start
        while i < n:
            t = trades[i]
            tid = int_id(t.get("id"))
            if tid is not None and last is not None:
                if tid <= last:
                    if tid > self._from_cache_upto.get(symbol, -1):  # not our own cache read
                        self.validator.record(("tick", symbol), "duplicate_trade")
                    i += 1
                    continue
                if tid > last + 1:
                    break
            out.append(tick_event(t, symbol, tid, recv, self.venue))
            if tid is not None:
                last = tid
            i += 1
        if last is not None:
            self.last_id[symbol] = last
        return out, i

    async def catch_up(self, symbol: str, recv: int) -> list[TickEvent]:
        """After a reconnect: the trades the venue made since the last one delivered, from its
        REST, so that a quiet market's missed trades do not wait for its next trade to show the
        gap. What it cannot give below the newest it found is reported as a ``trade_gap``; when
        the venue cannot be asked, nothing is: the stream's next trade shows the gap."""
        last = self.last_id.get(symbol)
        if last is None or not self.enabled or self.source is None:
            return []
        trades, reason = await self.source.between(symbol, last + 1, _NO_END)
        if not trades:  # nothing newer, or the venue could not be asked
            return []
        newest = int(trades[-1]["id"])  # in id order
        out = self._report(symbol, last + 1, newest, trades, reason, recv)
        self.last_id[symbol] = newest
        self._from_cache_upto[symbol] = newest  # the stream may send these again: not duplicates
        return out

    async def backfill(self, symbol: str, first: int, last: int, recv: int) -> list[TickEvent]:
        """Trades ``first..last`` from the venue's REST (:mod:`.backfill`), in id order; every
        id it cannot give is reported as a ``trade_gap`` range (logged with the reason)."""
        source = self.source
        trades: list[CcxtDict]
        reason: str | None
        if not self.enabled:
            trades, reason = [], "backfill is off"
        elif source is None:
            trades, reason = [], f"{self.exchange_id} has no REST trades with the stream's ids"
        else:
            trades, reason = await source.between(symbol, first, last)
        return self._report(symbol, first, last, trades, reason, recv)

    def _report(
        self,
        symbol: str,
        first: int,
        last: int,
        trades: list[CcxtDict],
        reason: str | None,
        recv: int,
    ) -> list[TickEvent]:
        """``trades`` (of ``first..last``, in id order) as events; the ids missing from them
        reported as ``trade_gap`` ranges."""
        key = ("tick", symbol)
        found = [tick_event(t, symbol, int(t["id"]), recv, self.venue) for t in trades]
        if found:
            self.validator.record(key, "backfilled", (found[0].trade_id, found[-1].trade_id))
        got = {e.trade_id for e in found}
        for lo, hi in id_ranges([i for i in range(first, last + 1) if i not in got]):
            self.validator.record(key, "trade_gap", (lo, hi))
            logger.warning(
                "%s tick:%s trades %d-%d lost: %s", self.exchange_id, symbol, lo, hi, reason
            )
        return found


async def watch_catching_up(
    exchange: CcxtExchange,
    continuity: TradeContinuity,
    symbol: str,
    deliver: Callable[[list[TickEvent]], None],
    stream: StreamState,
) -> list[CcxtDict]:
    """A stream's first ``watch_trades`` after a reconnect: subscribe first (so nothing more is
    missed), ``deliver`` the trades the venue made since the last one delivered
    (:meth:`TradeContinuity.catch_up`), then wait for the stream's trades. The catch-up is no
    stall: the watchdog's clock (``stream.since``) starts after it (its REST call takes
    0.1-0.2 s on loopback, ccxt's rate limiter and then ~40 ms parsing 1,000 trades, and more
    on a loaded machine)."""
    pending = asyncio.ensure_future(exchange.watch_trades(symbol))
    stream.since = None
    try:
        deliver(await continuity.catch_up(symbol, time.time_ns()))
        stream.since = asyncio.get_running_loop().time()
        return await pending
    finally:
        if not pending.done():
            pending.cancel()
        elif not pending.cancelled():
            pending.exception()  # (retrieved: raised above, or beside another error)


def id_ranges(ids: list[int]) -> list[tuple[int, int]]:
    """Sorted ids as contiguous ``(first, last)`` ranges."""
    out: list[tuple[int, int]] = []
    for i in ids:
        if out and i == out[-1][1] + 1:
            out[-1] = (out[-1][0], i)
        else:
            out.append((i, i))
    return out


def int_id(value: object) -> int | None:
    """An id (ccxt's are strings, a venue's own fields numbers) as an int; None when it is
    missing or not a number."""
    try:
        return int(value)  # type: ignore[call-overload]  # (refused: a TypeError, below)
    except (TypeError, ValueError):
        return None


def tick_event(t: CcxtDict, symbol: str, tid: int | None, recv: int, venue: str = "") -> TickEvent:
    ts = int(t["timestamp"]) * _MS if t.get("timestamp") is not None else recv
    side = t.get("side") or "unknown"
    return TickEvent(ts, float(t["price"]), float(t["amount"]), side, tid, symbol, recv, venue)
