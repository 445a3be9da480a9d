"""TickBroker: backtrader's BackBroker accounting with fills decided event by event.

Cash, positions, commissions (``CommissionInfo``), margin and ``notify_order``/``notify_trade``
are backtrader's (``BackBroker._execute``'s arithmetic, :mod:`.execution`); what changes is
*when* and *at what price* an order fills (:mod:`.matching`, against :mod:`.book`):

* An order placed while the strategy handles event *E* is activated after *E* and can fill from
  the next event of its symbol on, even one with the same timestamp (no look-ahead). With an
  entry latency (``latency_ns``, or a latency model: :mod:`.latency`) it waits for the first
  event at or after ``created + latency``.
* Market orders fill at the opposite best price when a book or quote channel exists for the
  symbol (``market_fill="auto"`` or ``"book"``), else at the next trade price (``"trade"``).
* Limit orders marketable when they arrive fill at the best opposite price (or the next trade
  price, without a book). Once resting, they fill at their limit when the book's opposite best
  reaches it or a trade goes through it (``limit_fill="through"``; ``"touch"`` also fills on a
  trade at the limit).
* Stop orders trigger on a trade at/through the stop (or the opposite best crossing it) and then
  fill like a market order; StopLimit orders then behave as a limit order.
* ``partial_fills=True`` limits each fill to the size shown at the best level (or the trade size).

The engine calls :meth:`on_trade`, :meth:`on_book` and :meth:`activate`; nothing here knows files,
sockets or the event loop.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from typing import Literal, TypeVar, get_args

import backtrader as bt

from ..btypes import BtData, BtExecutionBit, BtOrder, BtPosition, JsonDict
from ..errors import check_choice
from ..events import BrokerUpdate, TickEvent, ns_to_num
from .book import BookTop, PriceSources, TopOfBook, TradeSource
from .entry import order_entry
from .fills import execute_fill
from .flags import (
    cut_to_position,
    end_immediate,
    refused_at_activation,
    refused_at_submission,
    refused_while_paused,
)
from .latency import (
    Clock,
    DelayedNotifications,
    LatencyModel,
    constant_latencies,
    latency_model,
)
from .matching import NO_BAND, Band, Matcher, in_band
from .models import fee_model_of, queue_model_of
from .modify import Modifications
from .orders import PendingBits, TickBuyOrder, TickSellOrder
from .perpetual import PerpAccount, PerpPosition

_Limit = bt.Order.Limit
#: a data's datetime and close buffers and the index of their current slot
Slots = tuple["array[float]", int, "array[float]", int]
#: a live run's feed (``live.feed.LiveFeed``, a layer above the broker's): a live broker's
#: venue sessions are feeds of the same kind, served beside the market feeds
FeedT = TypeVar("FeedT")


#: where market orders fill: the opposite best of the book/quote, else the next trade (auto)
MarketFill = Literal["auto", "book", "trade"]
MARKET_FILLS: tuple[MarketFill, ...] = get_args(MarketFill)
#: when a resting limit fills on a trade: through it only, or also at it
LimitFill = Literal["through", "touch"]
LIMIT_FILLS: tuple[LimitFill, ...] = get_args(LimitFill)
#: how much of the book a taker order may take: the best level, or level after level
MarketDepth = Literal["top", "walk"]
MARKET_DEPTHS: tuple[MarketDepth, ...] = get_args(MarketDepth)
#: when an order placed on an event may first fill: from the next event (even of the same
#: timestamp), or from the first event of a later timestamp (hftbacktest's rule)
OrderEntry = Literal["event", "timestamp"]
ORDER_ENTRIES: tuple[OrderEntry, ...] = get_args(OrderEntry)
#: which trades fill a resting limit: any trade at or through it, or only trades whose
#: aggressor is on the other side (a sell print fills bids, a buy print fills asks)
TradeSide = Literal["any", "aggressor"]
TRADE_SIDES: tuple[TradeSide, ...] = get_args(TradeSide)
#: a named set of fill rules (``docs/concepts.md``, "Fill profiles")
FillProfile = Literal["default", "hftbacktest"]
FILL_PROFILES: tuple[FillProfile, ...] = get_args(FillProfile)
#: what the default profile sets for ``order_entry`` and ``trade_side`` left at None
DEFAULT_RULES: dict[str, object] = {"order_entry": "event", "trade_side": "any"}
#: what ``fill_profile="hftbacktest"`` sets, for each parameter left at its default
HFTBACKTEST_RULES: dict[str, object] = {
    "order_entry": "timestamp",
    "trade_side": "aggressor",
    "queue": "risk_averse",
    "max_book_age_ns": None,
}


class TickBroker(bt.brokers.BackBroker):
    """A BackBroker that fills orders on individual trade, quote and book events.

    The fill rules are in the module docstring and ``docs/concepts.md``. A data whose commission
    scheme is a ``PerpetualCommInfo`` is a perpetual contract: margin, funding and liquidation
    (:mod:`.perpetual`, ``docs/perpetuals.md``); order flags: :mod:`.flags`.

    Parameters
    ----------
    market_fill : {"auto", "book", "trade"}, default "auto"
        Market orders fill at the opposite best of the symbol's book or quote channel
        (``"book"``; ``"auto"`` when there is one), else at the next trade (``"trade"``).
    limit_fill : {"through", "touch"}, default "through"
        A resting limit fills when a trade goes through its price; ``"touch"`` also on a trade
        at its price.
    partial_fills : bool, default False
        Limit each fill to the size shown at the best level (or the trade's size).
    latency_ns : int or "feed", default 0
        Entry latency: an order becomes active at the first event at or after
        ``created + latency_ns``; ``"feed"``: the data's own latency at submission
        (``recv_timestamp - timestamp`` of the latest event, :mod:`.latency`).
    response_latency_ns : int or "feed", default 0
        Response latency: the strategy hears of each ack, fill, cancel or rejection (its
        ``notify_order``) at the first event at or after the broker sent it plus this.
    keep_orders : bool, default False
        Keep every order in ``broker.orders`` (memory grows with the number of orders).
    tick_checksubmit : bool, default False
        Check cash when an order is submitted (else at execution, as ``Margin``).
    max_book_age_ns : int or None, default 1_000_000_000
        A book or quote older than the symbol's latest trade by more than this, or contradicted
        by a later trade printed outside it, is stale: orders do not fill at it but on the next
        trade (counted in ``stale_book_fills``; ``market_fill="book"`` waits for a fresh book).
        None: the book is always trusted (as hftbacktest does).
    market_depth : {"top", "walk"}, default "top"
        A taker order (market, stop, marketable limit) on an order book fills at the best
        level (``"top"``), or takes level after level up to its size, and up to its limit
        (``"walk"``); what it paid beyond the best is added up in ``broker.slippage``.
    queue : {None, "risk_averse", "prob"} or QueueModel, default None
        Queue position for resting limit orders on an order book
        (:mod:`~backtrader_channels.broker.models`); None: the touch/through rules alone.
    fees : FeeModel or None, default None
        Commission per fill by liquidity side, e.g. ``MakerTaker(maker=0.0002, taker=0.0005)``;
        None: the ``CommissionInfo`` (``setcommission``), as backtrader charges it.
    latency : LatencyModel or None, default None
        Entry and response latencies as a model (:mod:`~backtrader_channels.broker.latency`:
        ``entry`` and ``response`` methods); None: the :class:`OrderLatency` of ``latency_ns``
        and ``response_latency_ns`` (give one or the other).
    order_entry : {"event", "timestamp"} or None, default None
        An order placed on an event may fill from the next event on, even one of the same
        timestamp (``"event"``), or only from the first event of a later timestamp, after
        every event of its own (``"timestamp"``: hftbacktest's rule). None: the fill
        profile's (``"event"`` by default).
    trade_side : {"any", "aggressor"} or None, default None
        Which trades fill a resting limit: any trade at (queue, ``"touch"``) or through its
        price, or only one whose aggressor is on the other side (``"aggressor"``: a sell print
        fills bids, a buy print fills asks; hftbacktest's rule). None: the fill profile's
        (``"any"`` by default).
    queue_tolerance : float or None, default None
        With a queue model, a trade at a resting order's price fills it when it is larger than
        the queue ahead by more than this (a quantity; hftbacktest's is half a lot); None: a
        billionth of the order's size, so a float remainder (1e-18) is not a fill.
    cancel_latency_ns : int, default 0
        How long a cancel or an amend takes to reach the venue: until then the order fills at
        its old terms (a fill can race a cancel). 0: at once (:mod:`.modify`).
    fill_profile : {"default", "hftbacktest"}, default "default"
        A named set of rules: ``"hftbacktest"`` sets ``order_entry="timestamp"`` and
        ``trade_side="aggressor"`` unless given, and ``queue="risk_averse"`` and
        ``max_book_age_ns=None`` when left at their defaults (:data:`HFTBACKTEST_RULES`).
    **kwargs
        Every ``BackBroker`` parameter (``cash``, ``commission``, ...).
    """

    params = (
        ("market_fill", "auto"),  # auto | book | trade
        ("limit_fill", "through"),  # through | touch
        ("partial_fills", False),
        ("latency_ns", 0),  # entry latency: int ns or "feed"
        ("response_latency_ns", 0),  # notification latency: int ns or "feed"
        ("keep_orders", False),  # keep every order in broker.orders (memory grows)
        ("tick_checksubmit", False),  # pre-check cash at submission (else at execution: Margin)
        ("max_book_age_ns", 1_000_000_000),  # a book older than the latest trade by more: stale
        ("market_depth", "top"),  # top | walk
        ("queue", None),  # None | "risk_averse" | "prob" | a QueueModel
        ("fees", None),  # None (CommissionInfo) | a FeeModel
        ("latency", None),  # None (latency_ns, response_latency_ns) | a LatencyModel
        ("order_entry", None),  # event | timestamp; None: the fill profile's
        ("trade_side", None),  # any | aggressor; None: the fill profile's
        ("queue_tolerance", None),  # None (1e-9 of the order's size) | a quantity
        ("cancel_latency_ns", 0),  # cancels and amends reach the venue after this (ns)
        ("fill_profile", "default"),  # default | hftbacktest
    )

    #: True while a tick-mode run drives this broker; otherwise it is a plain BackBroker
    tick_mode = False
    #: set by the engine for a run where nothing reads order notifications (no strategy or
    #: analyzer defines ``notify_order``, no kept orders): no snapshot (clone) is taken, only
    #: what trade bookkeeping needs is queued (``PendingBits``); the outcome is the same
    lean_notifications = False
    #: set by the engine when nothing hears order or trade notifications: called with an
    #: order at each fill, to update the strategy's trades at once (no notification queued)
    trade_keeper: Callable[[BtOrder], None] | None = None
    #: set by the engine for a run that records its fills (``cerebro.trace``): called with the
    #: order and its new execution bit at each fill
    fill_hook: Callable[[BtOrder, BtExecutionBit], None] | None = None
    #: why new orders are refused now (the dashboard's pause; cancels still go), or None
    paused: str | None = None
    paused_refusals = 0  # orders refused while paused

    def init(self) -> None:
        super().init()
        p = self.p
        check_choice("market_fill", p.market_fill, MARKET_FILLS)
        check_choice("limit_fill", p.limit_fill, LIMIT_FILLS)
        check_choice("market_depth", p.market_depth, MARKET_DEPTHS)
        profile = check_choice("fill_profile", p.fill_profile, FILL_PROFILES)
        rules = HFTBACKTEST_RULES if profile == "hftbacktest" else DEFAULT_RULES
        defaults = type(p)._getkwargsdefault()
        for name, value in rules.items():
            if getattr(p, name) == defaults[name]:
                setattr(p, name, value)
        check_choice("order_entry", p.order_entry, ORDER_ENTRIES)
        check_choice("trade_side", p.trade_side, TRADE_SIDES)
        #: 1 ns added to each order's entry latency: ``order_entry="timestamp"``
        self._entry_after = int(p.order_entry == "timestamp")
        #: entry and response latencies (``latency=``, or built from the ns parameters)
        self.latency_model: LatencyModel = latency_model(
            p.latency, p.latency_ns, p.response_latency_ns
        )
        model = self.latency_model
        #: the constant entry and response latencies (None: the model reads each event)
        self.entry_ns, self.response_ns = constant_latencies(model)
        if self.response_ns != 0:  # (a model asked each time may delay: a subclass too)
            self.notifs = DelayedNotifications(self)
        #: the queue model of resting limit orders on book data (None: touch/through rules)
        self.queue_model = queue_model_of(p.queue)
        self._fees = fee_model_of(p.fees)
        #: each data's book or quote and its trades: the book tops fills look at
        self.prices = PriceSources(p.max_book_age_ns, p.market_fill != "trade")
        #: what taker orders paid beyond the best level when walking the book (quote currency)
        self.slippage = 0.0
        #: the commission of every fill of the run, open positions' included (quote currency)
        self.fees_paid = 0.0
        self._by_data: dict[BtData, list[BtOrder]] = {}
        self._new: list[BtOrder] = []
        self._slots: dict[BtData, Slots] = {}  # line arrays per one-slot data
        self._oco_groups: dict[int, list[BtOrder]] = {}
        self._trades_as: dict[BtData, BtData] = {}  # data feed -> the instrument it trades
        #: fills at a trade because the book was stale (``max_book_age_ns``)
        self.stale_book_fills = 0
        self.now_ns = 0  # time of the last pushed event (when clock is None)
        #: the channel being dispatched; its latest event's timestamp is "now"
        self.clock: Clock | None = None
        self.fills = 0
        self.orders_submitted = 0
        self._matcher = Matcher(self)
        #: cancels and amends on their way to the venue (:mod:`.modify`)
        self.modifications = Modifications(self, p.cancel_latency_ns)
        #: the perpetual account (:mod:`.perpetual`), built at ``start`` when a commission
        #: scheme is a ``PerpetualCommInfo``; None for a spot run
        self.perp: PerpAccount | None = None
        #: ioc/fok orders watched until their first matching event (:mod:`.flags`)
        self.immediate: list[BtOrder] = []

    # ---- wiring (engine) ----------------------------------------------------------------------
    def live_sessions(self, stop: Callable[[], None] | None, feeds: list[FeedT]) -> list[FeedT]:
        """Feeds of the broker's own that a live run serves beside the market feeds (a venue
        session for a live broker; none for paper fills). ``stop`` ends the run."""
        return []

    def report_section(self) -> JsonDict:
        """What the broker adds to ``cerebro.last_run`` (paper fills: the perpetuals' mark
        sources, funding and liquidations, when there are perpetuals)."""
        return {} if self.perp is None else self.perp.report()

    def perp_position(self, data: BtData) -> PerpPosition | None:
        """``data``'s perpetual position: entry and mark price, leverage, unrealized profit,
        margins and liquidation price (None: ``data`` is not a perpetual)."""
        return None if self.perp is None else self.perp.position(self._trades_as.get(data, data))

    def run_report(self) -> JsonDict:
        """The former name of :meth:`report_section`, kept for callers that use it."""
        return self.report_section()

    #: seconds a live run waits for the broker to be ready before its strategies start
    ready_timeout = 0.0

    def not_ready(self) -> str | None:
        """What keeps the broker from trading at the start of a run, or None when it is
        ready (paper fills always are: the strategies start at once)."""
        return None

    def on_update(self, ev: BrokerUpdate) -> None:
        """A venue's news (live brokers): paper fills get none."""

    def pending_list(self, data: BtData) -> list[BtOrder]:
        """The live list of active orders on ``data`` (the engine checks its truthiness)."""
        return self._by_data.setdefault(data, [])

    def trade_as(self, feed: BtData, instrument: BtData) -> None:
        """Orders and positions on ``feed`` (e.g. a bar feed) are those of ``instrument``."""
        self._trades_as[feed] = instrument

    def set_trade_source(self, data: BtData, channel: TradeSource) -> None:
        """``channel`` (a tick channel) holds ``data``'s latest trade: books older than it by
        more than ``max_book_age_ns``, or contradicted by it, are stale."""
        self.prices.set_trades(data, channel)

    def set_price_source(self, data: BtData, channel: object) -> None:
        """Use ``channel`` (order book or quote channel: a :class:`~.book.TopOfBook`) as the
        book of ``data`` for fills."""
        if not isinstance(channel, TopOfBook):
            raise TypeError(
                f"set_price_source: {channel!r} is not an order book or quote channel (it needs "
                "best_bid, best_ask, latest and channel_type)"
            )
        self.prices.set_book(data, channel)

    def book_top(self, data: BtData) -> BookTop:
        """``data``'s best bid and ask with their sizes, and whether its book is stale (then,
        and without a book, the prices are None: orders fill on trades)."""
        return self.prices.top(data)

    def current_ns(self) -> int:
        """Event time (ns) of the event being dispatched."""
        clock = self.clock
        ts = None if clock is None else clock.latest_ts
        return self.now_ns if ts is None else int(ts)

    @property
    def new_orders(self) -> list[BtOrder]:
        """Orders submitted during the current event, activated after it."""
        return self._new

    # ---- order entry (strategy) -------------------------------------------------------------
    buy = order_entry(TickBuyOrder, bt.brokers.BackBroker.buy)
    sell = order_entry(TickSellOrder, bt.brokers.BackBroker.sell)

    def _join_oco(self, order: BtOrder, oco: BtOrder) -> None:
        """``order`` is cancelled when ``oco`` (or any order of its group) ends, and back."""
        leader = getattr(oco, "_oco_leader", oco.ref)
        order._oco_leader = oco._oco_leader = leader
        self._oco_groups.setdefault(leader, [oco]).append(order)

    def submit(self, order: BtOrder, check: bool = True) -> BtOrder:
        """Accept the order; it becomes active after the current event (and the entry
        latency)."""
        if not self.tick_mode:
            return super().submit(order, check)
        notifs = self.notifs
        lean = self.lean_notifications
        order.status, order.broker = order.Submitted, self  # Order.submit, minus len(data)
        if not lean:
            notifs.append(order.clone())
        if self.paused is not None:
            refused_while_paused(self, order)
            return order
        if (
            self.p.tick_checksubmit
            and check
            and self._execute(
                order, ago=None, price=None, cash=self.cash, position=self.getposition(order.data)
            )
            < 0.0
        ):
            order.margin()
            self.notify(order)
            self._ococheck(order)
            return order
        if (getattr(order, "reduce_only", False) or self.perp is not None) and (
            refused_at_submission(self, order)
        ):
            return order
        order.status = order.Accepted
        if not lean:
            notifs.append(order.clone())
        latency = self.entry_ns
        if latency is None:  # (a model that reads the event)
            latency = self.latency_model.entry(getattr(self.clock, "latest", None))
        order.active_ns = order.created_ns + latency + self._entry_after
        self._new.append(order)
        self.orders_submitted += 1
        if self.p.keep_orders:
            self.orders.append(order)
        return order

    def notify(self, order: BtOrder) -> None:
        """Queue ``order``'s notification: a snapshot (backtrader's clone), or in a lean run
        only its new execution bits, for the trades."""
        if self.lean_notifications and self.tick_mode:
            if order.executed.size:
                keeper = self.trade_keeper
                if keeper is None:
                    self.notifs.append(PendingBits(order))
                else:  # nobody hears it: the trades are brought up to date now
                    keeper(order)
            return
        self.notifs.append(order.clone())

    def activate(self) -> None:
        """Make the orders of the event just handled eligible for the following events.

        A limit order that is not marketable on arrival (against the book, or the last trade
        without a book) rests from the start, so it can only fill at its limit. Without an
        entry latency it arrives now (with ``order_entry="timestamp"`` too: it is checked
        against the book it was placed on, and the events left at its timestamp can no longer
        fill it, as in hftbacktest, where it reaches the book when that timestamp ends).
        """
        by_data = self._by_data
        for order in self._new:
            if not order.alive():
                continue
            data = order.data
            if getattr(order, "tif", "gtc") != "gtc" and refused_at_activation(self, order):
                continue
            if order.exectype == _Limit and order.active_ns - order.created_ns <= self._entry_after:
                order.rested = not self._marketable(order)
            lst = by_data.get(data)
            if lst is None:
                lst = by_data[data] = []
            lst.append(order)
        self._new.clear()

    def marketable(self, order: BtOrder) -> bool:
        """Whether ``order`` (a limit) would take liquidity now."""
        return self._marketable(order)

    def _marketable(self, order: BtOrder) -> bool:
        limit = order.created.price
        buy = order.ordtype == 0
        top = self.prices.top(order.data)
        ref = top.ask if buy else top.bid
        if ref is None:
            ref = order.data.close[0]
            if ref != ref:  # no price seen yet
                return True
        return ref <= limit if buy else ref >= limit

    def cancel(self, order: BtOrder, bracket: bool = False) -> bool:
        """Cancel a pending order (after ``cancel_latency_ns``: until then it may still
        fill); False if it is no longer pending."""
        if not self.tick_mode:
            return super().cancel(order, bracket)
        mods = self.modifications
        if mods.latency_ns or self._entry_after:
            return mods.cancel(order)
        return self.cancel_now(order)

    def amend(self, order: BtOrder, price: float | None = None, size: float | None = None) -> bool:
        """Change a pending limit order's price and/or total size, keeping its identity; it
        applies after ``cancel_latency_ns``, with the venue's queue-priority rule
        (:mod:`.modify`). False when the order is no longer pending."""
        return self.modifications.amend(order, price, size)

    @property
    def amends_refused(self) -> dict[str, int]:
        """Amends the venue refused, by reason."""
        return dict(self.modifications.refused)

    @property
    def cancels_too_late(self) -> int:
        """Cancels that arrive after their order has ended (a fill won the race), those still
        on their way included."""
        mods = self.modifications
        return mods.too_late + sum(r.cancel and not r.order.alive() for r in mods.inflight)

    def cancel_now(self, order: BtOrder) -> bool:
        """Cancel a pending order at once; False if it is no longer pending."""
        lst = self._by_data.get(order.data)
        if lst is not None and order in lst:
            lst.remove(order)
        elif order in self._new:
            self._new.remove(order)
        else:
            return False
        order.cancel()
        self.notify(order)
        self._ococheck(order)
        return True

    def getposition(self, data: BtData) -> BtPosition:
        """The position of ``data`` (of its symbol, for a bar feed)."""
        return super().getposition(self._trades_as.get(data, data))

    def orderstatus(self, order: BtOrder) -> int:
        """Status of ``order`` (orders are not all kept, so read it from the order)."""
        if not self.tick_mode:
            return super().orderstatus(order)
        return order.status

    def get_orders_open(self, safe: bool = False) -> list[BtOrder]:
        """Orders still pending."""
        if not self.tick_mode:
            return super().get_orders_open(safe)
        out = list(self._new)
        for lst in self._by_data.values():
            out.extend(lst)
        return [o.clone() for o in out] if safe else out

    def _ococheck(self, order: BtOrder) -> None:
        if not self.tick_mode:
            return super()._ococheck(order)
        if not self._oco_groups:  # (getattr on an order without the attribute is costly)
            return None
        group = self._oco_groups.pop(getattr(order, "_oco_leader", -1), None)
        if not group:
            return
        for other in group:
            if other is not order and other.alive():
                self.cancel(other)

    def _bracketize(self, order: BtOrder, cancel: bool = False) -> None:
        """Brackets are not supported by the tick broker: nothing to do in tick mode."""
        if not self.tick_mode:
            return super()._bracketize(order, cancel)

    def start(self) -> None:
        super().start()
        self.fills = self.orders_submitted = self.stale_book_fills = 0  # per run
        self.slippage = self.fees_paid = 0.0
        self.perp = PerpAccount.create(self)
        self.immediate = []

    # ---- valuation ----------------------------------------------------------------------------
    def get_value(self, datas=None, mkt=False, lever=False):
        """Portfolio value marked at each data's last trade price, always current."""
        if self.tick_mode and datas is None and not mkt:
            self._get_value()
            if self.perp is not None:
                self.perp.revalue()
        return super().get_value(datas=datas, mkt=mkt, lever=lever)

    getvalue = get_value

    def mark_to_market(self) -> None:
        """Futures-style cash adjustment of open positions to the last price."""
        for data, pos in self.positions.items():
            if pos:
                comminfo = self.getcommissioninfo(data)
                close = data.close[0]
                self.cash += comminfo.cashadjust(pos.size, pos.adjbase, close)
                pos.adjbase = close

    # ---- matching (engine) ------------------------------------------------------------------
    def _lines(self, data: BtData) -> Slots:
        """``data``'s datetime and close buffers and the index of their current slot; cached for
        a symbol's one-slot data (tick mode rewrites that slot per event), read afresh for any
        other feed."""
        lines = data.lines
        slots = (lines.datetime.array, lines.datetime.idx, lines.close.array, lines.close.idx)
        if getattr(type(data), "one_slot", False):  # (InstrumentData)
            self._slots[data] = slots
        return slots

    def _fill(self, order: BtOrder, size: float, price: float, now: int, maker: bool) -> None:
        """Fill ``size`` (unsigned) of ``order`` at ``price`` at event time ``now``; ``maker``:
        a resting order's fill (the fee model's maker rate)."""
        data = order.data
        dtnum = ns_to_num(now)
        slots = self._slots.get(data)
        if slots is None:
            slots = self._lines(data)
        dt_arr, dt_i, close_arr, close_i = slots
        dt_arr[dt_i] = dtnum
        if close_arr[close_i] != close_arr[close_i]:  # no trade seen yet: mark at the fill
            close_arr[close_i] = price
        if order.reduce_only and cut_to_position(self, order, size, price, now, maker):
            return
        perp = self.perp
        if perp is not None and (st := perp.state_of(data)) is not None:
            perp.fill(st, order, size, price, dtnum, maker)
        else:
            execute_fill(self, order, size, price, dtnum, self._fees, maker)
        self.fills += 1

    def on_trade(self, pending: list[BtOrder], ev: TickEvent) -> Band:
        """Match ``pending`` (orders of the trade's symbol) against trade ``ev``. Returns the
        band of the next trades that change nothing while nothing else happens
        (:meth:`Matcher.band`; ``NO_BAND`` after a match): the loop skips those."""
        if self.modifications.inflight:
            self.modifications.due(ev.timestamp)
        else:
            band = self._matcher.band(pending, ev[0])
            if in_band(band, ev[1], ev[3]):
                return band  # resting limits the trade does not reach: nothing to do
        self._matcher.match(pending, ev.timestamp, ev.price, ev.volume, ev.direction)
        if self.immediate:
            end_immediate(self, pending, ev.timestamp)
        return NO_BAND

    def on_book(self, pending: list[BtOrder], ts: int) -> None:
        """Match ``pending`` against the book or quote of their symbol after an update."""
        if self.modifications.inflight:
            self.modifications.due(ts)
        self._matcher.match(pending, ts, None, 0.0)
        if self.immediate:
            end_immediate(self, pending, ts)
