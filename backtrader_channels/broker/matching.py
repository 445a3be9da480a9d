"""Matching pending orders against one event, split by order type as backtrader's own broker
does: market (and close), limit, stop and stop-limit. The rules are the tick broker's (its
module docstring and ``docs/concepts.md``); the fill models (fees, queue position, book
walking) plug in here.

One :class:`Matcher` per broker. For each event the broker calls :meth:`Matcher.match` with the
pending orders of the event's symbol; the book is looked at once, on the first order that can
fill.
"""

from __future__ import annotations

from typing import Any

import backtrader as bt

from ..events import ns_to_num

_Market, _Close, _Limit, _Stop, _StopLimit = (
    bt.Order.Market,
    bt.Order.Close,
    bt.Order.Limit,
    bt.Order.Stop,
    bt.Order.StopLimit,
)


class Matcher:
    """The fill rules of one :class:`~backtrader_channels.broker.tickbroker.TickBroker`."""

    def __init__(self, broker: Any) -> None:
        p = broker.p
        self.broker = broker
        self.partial = bool(p.partial_fills)
        self.book_mode = p.market_fill != "trade"
        self.trade_ok = p.market_fill != "book"  # may a market order fill at a trade
        self.touch = p.limit_fill == "touch"
        self.walk = p.market_depth == "walk"
        self.queue = broker.queue_model
        self.by_type = {
            _Market: self.market,
            _Close: self.market,
            _Limit: self.limit,
            _Stop: self.stop,
            _StopLimit: self.stop,
        }
        # the event being matched
        self.now = 0
        self.trade_px: Any = None
        self.trade_sz = 0.0
        self.bid: Any = None
        self.ask: Any = None
        self.bid_sz = self.ask_sz = 0.0

    def match(self, pending: list[Any], now: int, trade_px: Any, trade_sz: float) -> None:
        """Fill what ``pending`` (orders of one symbol) can fill on this event."""
        broker = self.broker
        self.now, self.trade_px, self.trade_sz = now, trade_px, trade_sz
        looked = False
        by_type = self.by_type
        for order in list(pending):
            if now < order.active_ns or order.status > 3:  # not yet active, or done (OCO)
                continue
            if order.valid is not None and ns_to_num(now) > order.valid:
                pending.remove(order)
                order.status = order.Expired
                broker.notify(order)
                broker._ococheck(order)
                continue
            if not looked:
                self.bid, self.ask, self.bid_sz, self.ask_sz = broker._book_prices(order.data)
                looked = True
            by_type[order.exectype](order)
            if not order.alive():
                pending.remove(order)

    # ---- one order type each ------------------------------------------------------------------
    def market(self, order: Any) -> None:
        """Market, close and triggered stop orders: the opposite best, else the next trade."""
        buy = order.ordtype == 0
        opp = self.ask if buy else self.bid
        remaining = abs(order.executed.remsize)
        if self.book_mode and opp is not None:
            self.take(order, buy, opp, remaining, None)
        elif self.trade_px is not None and self.trade_ok:
            size = min(remaining, self.trade_sz) if self.partial else remaining
            self.broker.stale_book_fills += self.broker.book_stale
            self.fill(order, size, self.trade_px, False)

    def limit(self, order: Any) -> None:
        """Limit orders, and stop-limit orders once triggered."""
        buy = order.ordtype == 0
        created = order.created
        limit = created.pricelimit if order.exectype == _StopLimit else created.price
        opp = self.ask if buy else self.bid
        use_book = self.book_mode and opp is not None
        trade_px = self.trade_px
        if not order.rested:  # marketable when it arrived: a taker fill; else it rests
            if use_book:
                if opp <= limit if buy else opp >= limit:
                    self.take(order, buy, opp, abs(order.executed.remsize), limit)
                else:
                    order.rested = True
            elif trade_px is not None:
                if trade_px <= limit if buy else trade_px >= limit:
                    remaining = abs(order.executed.remsize)
                    size = min(remaining, self.trade_sz) if self.partial else remaining
                    self.broker.stale_book_fills += self.broker.book_stale
                    self.fill(order, size, trade_px, False)
                else:
                    order.rested = True
            return
        if self.queue is not None and self._queued(order, buy, limit):
            return
        remaining = abs(order.executed.remsize)
        if trade_px is not None:  # resting: filled at the limit when crossed
            crossed = (trade_px < limit if buy else trade_px > limit) or (
                self.touch and trade_px == limit
            )
            if crossed:
                size = min(remaining, self.trade_sz) if self.partial else remaining
                self.fill(order, size, limit, True)
        elif use_book and (opp <= limit if buy else opp >= limit):
            size = (
                min(remaining, self.ask_sz if buy else self.bid_sz) if self.partial else remaining
            )
            self.fill(order, size, limit, True)

    def stop(self, order: Any) -> None:
        """Stop and stop-limit orders: triggered by a trade at or through the stop (or the
        opposite best crossing it), then a market or a limit order."""
        if not order.triggered:
            buy = order.ordtype == 0
            ref = (self.ask if buy else self.bid) if self.trade_px is None else self.trade_px
            stop = order.created.price
            if ref is None or (ref < stop if buy else ref > stop):
                return
            order.triggered = True
        if order.exectype == _Stop:
            self.market(order)
        else:
            self.limit(order)

    # ---- fills --------------------------------------------------------------------------------
    def take(self, order: Any, buy: bool, best: float, remaining: float, limit: Any) -> None:
        """A taker fill against the book: at the best level (its size with ``partial_fills``),
        or level by level up to ``limit`` with ``market_depth="walk"``."""
        shown = self.ask_sz if buy else self.bid_sz
        if not self.walk:
            self.fill(order, min(remaining, shown) if self.partial else remaining, best, False)
            return
        src = self.broker._quote_src.get(order.data)
        levels = getattr(src, "levels", None)
        if levels is None:  # a quote channel: one level
            self.fill(order, min(remaining, shown), best, False)
            return
        for level in (levels(50)[1] if buy else levels(50)[0]) or ():
            if remaining <= 0 or not order.alive():
                break
            px = level.price
            if limit is not None and (px > limit if buy else px < limit):
                break
            size = min(remaining, level.size)
            if size <= 0:
                continue
            self.broker.slippage += (px - best if buy else best - px) * size
            self.fill(order, size, px, False)
            remaining = abs(order.executed.remsize)
        if limit is not None and order.alive():
            order.rested = True  # what the book could not give at or inside the limit rests

    def fill(self, order: Any, size: float, price: float, maker: bool) -> None:
        if size:
            self.broker._fill(order, size, price, self.now, maker)

    def _queued(self, order: Any, buy: bool, limit: float) -> bool:
        """Queue position of a resting limit on book data: True when the model decided this
        event (filled the order, or kept it waiting); False to apply the plain rules."""
        src = self.broker._quote_src.get(order.data)
        size_at = getattr(src, "size_at", None)
        if size_at is None:  # no order book with depth: the touch/through rules
            return False
        shown = size_at(limit, "bid" if buy else "ask")
        ahead = order.queue_ahead
        if ahead is None:  # joins the back of the queue at its price
            order.queue_ahead, order.queue_shown = shown, shown
            ahead = shown
        elif shown < order.queue_shown:
            ahead = order.queue_ahead = self.queue.on_decrease(ahead, order.queue_shown, shown)
        order.queue_shown = shown
        trade_px = self.trade_px
        if trade_px is None or trade_px != limit:
            return False  # a trade or the book through the limit: the plain rules fill it
        left = self.trade_sz - ahead  # the trade at our price eats the queue ahead first
        order.queue_ahead = max(ahead - self.trade_sz, 0.0)
        if left > 0:
            remaining = abs(order.executed.remsize)
            self.fill(order, min(remaining, left) if self.partial else remaining, limit, True)
        return True
