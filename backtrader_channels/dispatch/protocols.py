"""What the engine needs from a broker: the seam between the dispatch loop and the fills.

:class:`LoopBroker` is everything the dispatch loop (:mod:`.loop`), the notifier
(:mod:`.notify`) and the hold before a live start (:mod:`.hold`) use of a broker, and nothing
more. ``TickBroker`` (and so ``CCXTBroker``) implements it; a loop unit test implements it
with a small class of its own. The engine never asks a broker whether it has a method.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from typing import Protocol

from ..btypes import BtCommInfo, BtOrder
from ..channels.base import Channel
from ..events import BrokerUpdate, TickEvent

#: the broker's notification queue: a ``deque`` of orders (snapshots, or in a lean run their
#: new execution bits), or ``broker.latency.DelayedNotifications`` with a response latency
Notifications = deque[BtOrder]


class LoopBroker(Protocol):
    """What the engine uses of a broker (``TickBroker`` implements all of it).

    The attributes are those the engine writes; what it only reads is a property here (an
    implementation may hold it in a plain attribute).
    """

    #: the channel being dispatched, whose latest event is "now"; None for a pushed event
    clock: Channel | None
    #: the time of the pushed event being dispatched (when ``clock`` is None)
    now_ns: int
    #: set by the engine: nothing reads order notifications in this run (no snapshots taken)
    lean_notifications: bool
    #: set by the engine: called with an order at each fill when nothing hears order or trade
    #: notifications (the strategy's trades are updated at once); None otherwise
    trade_keeper: Callable[[BtOrder], None] | None

    @property
    def notifs(self) -> Notifications:
        """The notifications to deliver (the engine takes them out of this queue)."""
        ...

    @property
    def comminfo(self) -> Mapping[str | None, BtCommInfo]:
        """backtrader's commission schemes by data name (``None``: the default one)."""
        ...

    @property
    def fundvalue(self) -> float:
        """The fund's value per share (``notify_fund``)."""
        ...

    @property
    def fundshares(self) -> float:
        """The fund's shares (``notify_fund``)."""
        ...

    @property
    def new_orders(self) -> list[BtOrder]:
        """Orders submitted during the current event; :meth:`activate` makes them eligible."""
        ...

    def activate(self) -> None:
        """Make the orders submitted during the event just handled eligible for the next."""
        ...

    def on_trade(
        self, pending: list[BtOrder], ev: TickEvent
    ) -> tuple[float, float, float, float, int] | None:
        """Match ``pending`` (the active orders of the trade's symbol) against trade ``ev``.
        May return a band ``(buy_lo, buy_hi, sell_lo, sell_hi, until)``: until the next
        notification, callback, activation or sample, a trade before ``until`` (ns) strictly
        between ``buy_lo`` and ``buy_hi`` (a buyer's), between ``sell_lo`` and ``sell_hi`` (a
        seller's), or inside both (neither side) would change nothing, and the loop does not
        pass it (None: no such promise)."""
        ...

    def on_book(self, pending: list[BtOrder], ts: int) -> None:
        """Match ``pending`` against their symbol's book or quote after an update at ``ts``."""
        ...

    def on_update(self, ev: BrokerUpdate) -> None:
        """Apply a venue's news (an ack, a fill, a reconciliation) on the engine's thread."""
        ...

    def submit(self, order: BtOrder, check: bool = True) -> BtOrder:
        """Accept an order (the notifier asks whether it is ``TickBroker``'s own)."""
        ...

    def notify(self, order: BtOrder) -> None:
        """Queue an order's notification (the notifier asks whether it is ``TickBroker``'s)."""
        ...

    def mark_to_market(self) -> None:
        """Adjust cash for open futures-like positions to the last price."""
        ...

    def getcash(self) -> float:
        """The cash."""
        ...

    def getvalue(self) -> float:
        """The portfolio's value."""
        ...
