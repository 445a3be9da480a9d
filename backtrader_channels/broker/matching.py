"""Matching pending orders against one event, split by order type as backtrader's own broker
does: market (and close), limit, stop and stop-limit. The rules are the tick broker's (its
module docstring and ``docs/concepts.md``); the fill models (fees, queue position, book
walking) plug in here.

One :class:`Matcher` per broker. For each event the broker calls :meth:`Matcher.match` with the
pending orders of the event's symbol; the book is looked at once, on the first order that can
fill and needs it (a resting limit order on a trade does not). Every fill goes through
:meth:`Matcher.fill` (all that remains, or what is shown with ``partial_fills``): at the book's
best (a taker), at a trade (a taker, when there is no fresh book), or at the order's limit (a
resting maker).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import backtrader as bt

from ..btypes import BtOrder
from ..events import ns_to_num

if TYPE_CHECKING:
    from .book import DepthBook
    from .models import QueueModel
    from .tickbroker import TickBroker

_Market, _Close, _Limit, _Stop, _StopLimit = (
    bt.Order.Market,
    bt.Order.Close,
    bt.Order.Limit,
    bt.Order.Stop,
    bt.Order.StopLimit,
)
#: a resting order's side as a trade's aggressor names it, by ``buy``
_SIDE = ("sell", "buy")
_INF = float("inf")
_NEVER = (1 << 63) - 1
#: the trades that change nothing, by their aggressor's side (:meth:`Matcher.band`)
Band = tuple[float, float, float, float, int]
#: a band no trade is inside of: every trade is matched
NO_BAND: Band = (_INF, -_INF, _INF, -_INF, 0)


def in_band(band: Band, price: float, side: str) -> bool:
    """Whether a trade at ``price`` by a ``side`` aggressor is inside ``band`` (a NaN price
    reaches nothing: inside, unless the band is empty)."""
    if side == "buy":
        lo, hi = band[0], band[1]
    elif side == "sell":
        lo, hi = band[2], band[3]
    else:
        lo, hi = max(band[0], band[2]), min(band[1], band[3])
    return lo < hi and not (price <= lo or price >= hi)


#: how deep a walking taker order looks into the book
WALK_LEVELS = 50


class Matcher:
    """The fill rules of one :class:`~backtrader_channels.broker.tickbroker.TickBroker`."""

    def __init__(self, broker: TickBroker) -> None:
        p = broker.p
        self.broker = broker
        self.prices = broker.prices
        self._top = broker.prices.top
        self.partial = bool(p.partial_fills)
        self.book_mode = p.market_fill != "trade"
        self.trade_ok = p.market_fill != "book"  # may a market order fill at a trade
        self.touch = p.limit_fill == "touch"
        self.walk = p.market_depth == "walk"
        self.queue = broker.queue_model
        #: only trades whose aggressor is on the other side fill resting limits
        self.aggressor = p.trade_side == "aggressor"
        #: how much a trade must exceed the queue ahead by to fill (None: 1e-9 of the size)
        self.tolerance: float | None = p.queue_tolerance
        self.by_type = {
            _Market: self.market,
            _Close: self.market,
            _Limit: self.limit,
            _Stop: self.stop,
            _StopLimit: self.stop,
        }
        # the event being matched
        self.now = 0
        self.trade_px: float | None = None
        self.trade_sz = 0.0
        self.trade_side = ""
        # its book top (:meth:`PriceSources.top`)
        self.bid: float | None = None
        self.ask: float | None = None
        self.bid_sz = self.ask_sz = 0.0
        self.stale = False

    def match(
        self,
        pending: list[BtOrder],
        now: int,
        trade_px: float | None,
        trade_sz: float,
        trade_side: str = "",
    ) -> None:
        """Fill what ``pending`` (orders of one symbol) can fill on this event: a trade at
        ``trade_px`` of ``trade_sz`` by a ``trade_side`` aggressor ("buy", "sell"; "": not
        known), or a book update (``trade_px`` None)."""
        broker = self.broker
        self.now, self.trade_px, self.trade_sz = now, trade_px, trade_sz
        self.trade_side = trade_side
        looked = False
        by_type = self.by_type
        queue = self.queue is not None
        for order in list(pending):
            if now < order.active_ns or order.status > 3:  # not yet active, or done (OCO)
                continue
            if (
                trade_px is not None
                and order.rested
                and order.exectype == _Limit
                and order.valid is None
                and (order.queue_ahead is not None or not queue)
                and (
                    trade_px > order.created.price
                    if order.ordtype == 0
                    else trade_px < order.created.price
                )
            ):
                continue  # a trade that does not reach a resting limit changes nothing for it
            if order.valid is not None and ns_to_num(now) > order.valid:
                pending.remove(order)
                order.status = order.Expired
                broker.notify(order)
                broker._ococheck(order)
                continue
            if not looked and (trade_px is None or not order.rested):
                # (a resting limit on a trade looks at the trade alone: no book top needed)
                self.bid, self.ask, self.bid_sz, self.ask_sz, self.stale = self._top(order.data)
                looked = True
            by_type[order.exectype](order)
            if not order.alive():
                pending.remove(order)

    def band(self, pending: list[BtOrder], now: int) -> Band:
        """Which next trades leave every order of ``pending`` as it is, from ``now`` on while
        they stay as they are: ``(buy_lo, buy_hi, sell_lo, sell_hi, until)``, a trade by a
        buyer strictly between the first two prices, or by a seller strictly between the next
        two, before ``until`` (ns). A trade of neither side must be inside both.

        Each active order must be a resting limit (no expiry, no time in force) the trade does
        not reach: above the highest buy limit and below the lowest sell limit, in its queue
        when there is a queue model. With ``trade_side="aggressor"`` a buyer's trade never
        touches a resting buy limit (nor a seller's a sell limit), whatever its price or queue.
        An order not yet active is passed by until it is (``until``: the first of those times).
        :data:`NO_BAND` when some order must see every trade."""
        queue = self.queue is not None
        lo, hi, until = -_INF, _INF, _NEVER
        bids_in = asks_in = True  # (every active buy / sell limit has its queue position)
        for order in pending:
            if now < order.active_ns:  # (match() passes it by until then)
                if order.active_ns < until:
                    until = order.active_ns
                continue
            if (
                not order.rested
                or order.exectype != _Limit
                or order.valid is not None
                or order.tif != "gtc"
            ):
                return NO_BAND
            price = order.created.price
            if order.ordtype == 0:
                if price > lo:
                    lo = price
                if queue and order.queue_ahead is None:
                    bids_in = False
            else:
                if price < hi:
                    hi = price
                if queue and order.queue_ahead is None:
                    asks_in = False
        if not self.aggressor:
            return (lo, hi, lo, hi, until) if bids_in and asks_in else NO_BAND
        return (
            -_INF if asks_in else _INF,
            hi if asks_in else -_INF,
            lo if bids_in else _INF,
            _INF if bids_in else -_INF,
            until,
        )

    # ---- one order type each ------------------------------------------------------------------
    def market(self, order: BtOrder) -> None:
        """Market, close and triggered stop orders: the opposite best, else the next trade."""
        buy = order.ordtype == 0
        opp = self.ask if buy else self.bid
        trade_px = self.trade_px
        if self.book_mode and opp is not None:
            self.take(order, buy, opp, None)
        elif trade_px is not None and self.trade_ok:
            self.at_trade(order, trade_px)

    def limit(self, order: BtOrder) -> None:
        """Limit orders, and stop-limit orders once triggered."""
        buy = order.ordtype == 0
        created = order.created
        limit = created.pricelimit if order.exectype == _StopLimit else created.price
        opp = (self.ask if buy else self.bid) if self.book_mode else None
        trade_px = self.trade_px
        if not order.rested:  # marketable when it arrived: a taker fill; else it rests
            ref = trade_px if opp is None else opp
            if ref is None:
                return
            if ref <= limit if buy else ref >= limit:
                if opp is not None:
                    self.take(order, buy, opp, limit)
                else:
                    self.at_trade(order, ref)
                return
            order.rested = True  # it rests from its arrival: this event's trade may fill it
            if trade_px is None or opp is None:
                return
        if trade_px is not None and self.aggressor and self.trade_side == _SIDE[buy]:
            return  # (trade_side="aggressor") a print by a buyer took asks, never our bid
        queue = self.queue
        if queue is not None and self.queued(queue, order, buy, limit):
            return
        if trade_px is not None:  # resting: filled at the limit when a trade crosses it
            if (trade_px < limit if buy else trade_px > limit) or (
                self.touch and trade_px == limit
            ):
                self.fill(order, self.trade_sz, limit, True)
        elif opp is not None and (opp <= limit if buy else opp >= limit):
            self.fill(order, self.ask_sz if buy else self.bid_sz, limit, True)

    def stop(self, order: BtOrder) -> None:
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
    def fill(self, order: BtOrder, shown: float, price: float, maker: bool) -> None:
        """Fill ``order`` at ``price``: all that remains, or no more than ``shown`` (the size
        at the level, or the trade's) with ``partial_fills``."""
        size = abs(order.executed.remsize)
        if self.partial and shown < size:
            if order.tif == "fok":  # all of it or nothing: it expires after this event
                return
            size = shown
        if size:
            self.broker._fill(order, size, price, self.now, maker)

    def at_trade(self, order: BtOrder, price: float) -> None:
        """A taker fill at the trade's price (no fresh book to take from); counted in
        ``stale_book_fills`` when the book was there but stale."""
        self.broker.stale_book_fills += self.stale
        self.fill(order, self.trade_sz, price, False)

    def take(self, order: BtOrder, buy: bool, best: float, limit: float | None) -> None:
        """A taker fill against the book: at the best level (its size with ``partial_fills``),
        or level by level up to ``limit`` with ``market_depth="walk"``."""
        shown = self.ask_sz if buy else self.bid_sz
        if not self.walk:
            self.fill(order, shown, best, False)
            return
        book = self.prices.depth(order.data)
        remaining = abs(order.executed.remsize)
        if order.tif == "fok" and not self.fok_fits(book, buy, shown, remaining, limit):
            return
        if book is None:  # a quote channel: one level, no deeper than what it shows
            size = min(remaining, shown)
            if size:
                self.broker._fill(order, size, best, self.now, False)
            return
        bids, asks = book.levels(WALK_LEVELS)
        for level in asks if buy else bids:
            if remaining <= 0 or not order.alive():
                break
            px = level.price
            if limit is not None and (px > limit if buy else px < limit):
                break
            size = min(remaining, level.size)
            if size <= 0:
                continue
            self.broker.slippage += (px - best if buy else best - px) * size
            self.broker._fill(order, size, px, self.now, False)
            remaining = abs(order.executed.remsize)
        if limit is not None and order.alive():
            order.rested = True  # what the book could not give at or inside the limit rests

    def fok_fits(
        self, book: DepthBook | None, buy: bool, shown: float, size: float, limit: float | None
    ) -> bool:
        """Whether a walking fill-or-kill order finds all of ``size`` within ``limit``."""
        if book is None:
            return shown >= size
        bids, asks = book.levels(WALK_LEVELS)
        total = 0.0
        for level in asks if buy else bids:
            if limit is not None and (level.price > limit if buy else level.price < limit):
                break
            total += level.size
        return total >= size

    def queued(self, queue: QueueModel, order: BtOrder, buy: bool, limit: float) -> bool:
        """Queue position of a resting limit on book data (``queue``, the broker's model):
        True when the model decided this event (filled the order, or kept it waiting); False
        to apply the plain rules."""
        book = self.prices.depth(order.data)
        if book is None:  # no order book with depth: the touch/through rules
            return False
        shown = book.size_at(limit, "bid" if buy else "ask")
        ahead = order.queue_ahead
        if ahead is None:  # joins the back of the queue at its price
            order.queue_ahead, order.queue_shown = shown, shown
            ahead = shown
        elif shown < order.queue_shown:
            ahead = order.queue_ahead = queue.on_decrease(ahead, order.queue_shown, shown)
        order.queue_shown = shown
        trade_px = self.trade_px
        if trade_px is None or trade_px != limit:
            return False  # a trade or the book through the limit: the plain rules fill it
        left = self.trade_sz - ahead  # the trade at our price eats the queue ahead first
        order.queue_ahead = max(ahead - self.trade_sz, 0.0)
        tol = self.tolerance
        if tol is None:  # a float remainder (0.3 - 0.1 - 0.2) is not a fill
            tol = abs(order.executed.remsize) * 1e-9
        if left > tol:
            self.fill(order, left, limit, True)
        return True
