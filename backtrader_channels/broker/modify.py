"""Modifying a resting order in the tick broker: amends, and cancels that take time to arrive.

``broker.amend(order, price=..., size=...)`` changes a pending limit order's price or size
(its total size, filled part included) and keeps its identity (the same ``Order``, ``ref`` and
place in the strategy's books), as Binance USDⓈ-M's modify and Bybit's amend do. The venue's
queue-priority rule applies: a new price, or a larger size, sends the order to the back of
the queue at its (new) price; a smaller size keeps its place. An amend is refused, and the
order left as it was, when the order is no longer pending when the amend arrives, when the new
size is not above what has filled, or when a ``post_only`` order would take at its new price;
refusals are counted by reason in ``broker.amends_refused`` and noted in
``order.info["amend_refused"]``.

A cancel or an amend reaches the venue ``cancel_latency_ns`` after it is asked for (and, with
``order_entry="timestamp"``, after every event of the current timestamp): in between, the
order still fills at its old terms, so a fill can race an in-flight cancel, and a cancel that
arrives after the last fill finds nothing to cancel (``broker.cancels_too_late``). With no
latency (the default), a cancel takes effect at once, as before.

An applied amend is notified like an acknowledgement: ``notify_order`` sees the order with
its status unchanged (Accepted, or Partial) and ``order.info["amended"]`` counting amends.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, NamedTuple

import backtrader as bt

from ..btypes import BtOrder

if TYPE_CHECKING:
    from .tickbroker import TickBroker

_Limit = bt.Order.Limit


class Request(NamedTuple):
    """A cancel (``price`` and ``size`` None, ``cancel`` True) or an amend on its way."""

    due_ns: int
    order: BtOrder
    cancel: bool
    price: float | None
    size: float | None


class Modifications:
    """The in-flight cancels and amends of one :class:`~.tickbroker.TickBroker`.

    Parameters
    ----------
    broker : TickBroker
        The broker whose orders they modify.
    latency_ns : int
        How long a cancel or an amend takes to reach the venue.
    """

    def __init__(self, broker: TickBroker, latency_ns: int) -> None:
        if not isinstance(latency_ns, int) or latency_ns < 0:
            raise ValueError(f"cancel_latency_ns={latency_ns!r}: must be an int >= 0 (ns)")
        self.broker = broker
        self.latency_ns = latency_ns
        #: requests on their way, in the order they were made
        self.inflight: list[Request] = []
        #: amends refused, by reason
        self.refused: Counter[str] = Counter()
        #: cancels that arrived after the order had ended (a fill won the race)
        self.too_late = 0

    def delay(self, order: BtOrder) -> int:
        """When a request for ``order`` made now arrives: after the latency, never before the
        order itself (0: at once)."""
        broker = self.broker
        wait = self.latency_ns + broker._entry_after
        if not wait:
            return 0
        return max(broker.current_ns() + wait, order.active_ns)

    def cancel(self, order: BtOrder) -> bool:
        """Send a cancel of ``order``: True when it is pending and not already being
        cancelled."""
        if not order.alive() or any(r.order is order and r.cancel for r in self.inflight):
            return False
        self.inflight.append(Request(self.delay(order), order, True, None, None))
        return True

    def amend(self, order: BtOrder, price: float | None, size: float | None) -> bool:
        """Send an amend of ``order`` (a limit): its new limit ``price`` and/or total
        ``size``. True when it was sent; a ValueError for what no venue would take."""
        if order.exectype != _Limit:
            raise ValueError(f"amend: order {order.ref} is not a limit order (only limits amend)")
        if price is None and size is None:
            raise ValueError("amend: give a new price, a new size or both")
        if size is not None and not size > 0:
            raise ValueError(f"amend: size={size!r} must be > 0 (the order's new total size)")
        if price is not None and not price > 0:
            raise ValueError(f"amend: price={price!r} must be > 0")
        if not order.alive():
            return False
        if self.broker.paused is not None:  # the dashboard's pause: as a live broker, not sent
            self.refused["paused"] += 1
            return False
        due = self.delay(order)
        self.inflight.append(Request(due, order, False, price, size))
        if not due:
            self.arrive(self.inflight.pop())
        return True

    def due(self, now: int) -> None:
        """Apply what has arrived by ``now``, in the order it was sent."""
        inflight = self.inflight
        if inflight[0].due_ns > now and all(r.due_ns > now for r in inflight):
            return
        keep = []
        for req in inflight:
            if req.due_ns <= now:
                self.arrive(req)
            else:
                keep.append(req)
        inflight[:] = keep

    def arrive(self, req: Request) -> None:
        """A request reaches the venue: the cancel or the amend is applied, or refused."""
        broker, order = self.broker, req.order
        if req.cancel:
            if not broker.cancel_now(order):
                self.too_late += 1
            return
        reason = self._refusal(order, req.price, req.size)
        if reason is not None:
            self.refused[reason] += 1
            order.info.amend_refused = reason
            broker.notify(order)
            return
        self._apply(order, req.price, req.size)

    def _refusal(self, order: BtOrder, price: float | None, size: float | None) -> str | None:
        """Why the venue refuses this amend now (None: it does not)."""
        if not order.alive():
            return "not pending"
        if size is not None and size <= abs(order.executed.size):
            return "size not above the filled size"
        if order.tif == "post_only" and price is not None:
            old = order.created.price
            order.created.price = price
            try:
                if self.broker.marketable(order):
                    return "post-only would take"
            finally:
                order.created.price = old
        return None

    def _apply(self, order: BtOrder, price: float | None, size: float | None) -> None:
        back = False  # to the back of the queue at its price
        if price is not None and price != order.created.price:
            order.price = order.p.price = order.created.price = price
            order.rested = not self.broker.marketable(order)
            back = True
        if size is not None:
            signed = -size if order.ordtype else size
            if abs(signed) > abs(order.size):
                back = True
            order.executed.remsize += signed - order.size
            order.size = order.p.size = order.created.size = signed
        if back:
            order.queue_ahead = None
        order.info.amended = order.info.get("amended", 0) + 1
        self.broker.notify(order)
