"""The live order's state machine: one record per order, its history, and the transition rules.

::

    NEW -> SUBMITTING -> OPEN -> PARTIALLY_FILLED -> FILLED
                 |          \\________________________ CANCELLED, EXPIRED
                 +-> UNKNOWN (the submit's outcome is not known yet) -> any of the above
                 +-> REJECTED

* No transition goes backwards (a late OPEN after PARTIALLY_FILLED is ignored, and recorded).
* A fill wins over a cancel: FILLED may follow CANCELLED, EXPIRED or REJECTED (the venue filled
  the order before the cancel reached it, or an unknown submit was declared lost too early).
* Fills are counted once per (symbol, trade id), whichever channel (WebSocket, REST) brings them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

from ..btypes import BtOrder

#: where a state change was learnt
Source = Literal["ws", "rest", "local"]


class OrderState(str, Enum):
    """The states of a live order."""

    NEW = "NEW"
    SUBMITTING = "SUBMITTING"
    UNKNOWN = "UNKNOWN"
    OPEN = "OPEN"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"

    @property
    def terminal(self) -> bool:
        """No further change is expected (a late fill may still come: it wins)."""
        return self in _TERMINAL


_TERMINAL = frozenset(
    (OrderState.FILLED, OrderState.CANCELLED, OrderState.REJECTED, OrderState.EXPIRED)
)
_RANK = {
    OrderState.NEW: 0,
    OrderState.SUBMITTING: 1,
    OrderState.UNKNOWN: 2,
    OrderState.OPEN: 3,
    OrderState.PARTIALLY_FILLED: 4,
    OrderState.CANCELLED: 5,
    OrderState.REJECTED: 5,
    OrderState.EXPIRED: 5,
    OrderState.FILLED: 6,
}

#: ccxt's unified order status -> our state (ccxt says "open" for partially filled orders too)
CCXT_STATUS = {
    "open": OrderState.OPEN,
    "closed": OrderState.FILLED,
    "canceled": OrderState.CANCELLED,
    "cancelled": OrderState.CANCELLED,
    "rejected": OrderState.REJECTED,
    "expired": OrderState.EXPIRED,
}


def allowed(old: OrderState, new: OrderState) -> bool:
    """Whether ``old -> new`` is a forward transition (see module doc)."""
    if old in _TERMINAL:
        return new is OrderState.FILLED and old is not OrderState.FILLED
    return _RANK[new] > _RANK[old]


@dataclass
class LiveOrder:
    """One order sent (or about to be sent) to a venue.

    Parameters
    ----------
    client_id : str
        The idempotent client order id (:mod:`.ids`).
    symbol, side, kind : str
        ccxt's symbol, ``"buy"``/``"sell"``, ``"market"``/``"limit"``.
    amount : float
        Base quantity.
    price : float or None
        Limit price (None for market orders).
    """

    client_id: str
    symbol: str
    side: str
    kind: str
    amount: float
    price: float | None
    state: OrderState = OrderState.NEW
    exchange_id: str | None = None
    filled: float = 0.0
    cost: float = 0.0
    fee: float = 0.0
    reason: str = ""
    #: (time ns, source, event, details) for every change, in order
    history: list[tuple[int, str, str, dict[str, object]]] = field(default_factory=list)
    #: trade ids already counted
    trade_ids: set[str] = field(default_factory=set)
    #: the backtrader order the strategy holds (None for an order resumed from an earlier run)
    bt_order: BtOrder | None = None
    #: a sweep was asked for fills the venue reported and no trade has brought yet
    asked: bool = False
    #: the strategy cancelled it before the venue had it: sent once it is open
    cancel_wanted: bool = False
    #: the terms (price, amount) of an amend on its way to the venue (:mod:`.amend`)
    amending: tuple[float | None, float] | None = None
    #: the terms of the last amend that failed (a refusal, or a reply lost on its way)
    unconfirmed: tuple[float | None, float] | None = None
    #: the client id the order was first sent with, when a cancel-replace amend gave it a new
    #: one (``client_id`` is then the venue's current one; the journal keeps this one)
    origin_id: str | None = None
    #: a cancel-replace amend on its way: the new order's client id
    replacing: str | None = None
    #: cancel-replace amends sent so far (the next new client id's number)
    replaced: int = 0
    #: the venue it goes to ("" for a single-venue broker)
    venue: str = ""
    #: what closing the whole position left below the venue's lot step (signed as the
    #: position): written off the position once the order is filled
    dust: float = 0.0

    @property
    def remaining(self) -> float:
        return max(self.amount - self.filled, 0.0)

    def note(self, source: Source, event: str, **details: object) -> None:
        """Add a history line."""
        self.history.append((time.time_ns(), source, event, details))

    def to(self, new: OrderState, source: Source, **details: object) -> bool:
        """Move to ``new`` if that is forward; record it either way. True when it moved."""
        old = self.state
        if new is old:
            return False
        if not allowed(old, new):
            self.note(source, f"ignored {new.value}", was=old.value, **details)
            return False
        self.state = new
        self.note(source, new.value, **details)
        return True

    def add_fill(
        self, trade_id: str, amount: float, price: float, fee: float, source: Source
    ) -> bool:
        """Count one fill once; the state follows the filled size. True when it was new."""
        if trade_id in self.trade_ids:
            return False
        self.trade_ids.add(trade_id)
        self.filled += amount
        self.cost += amount * price
        self.fee += fee
        self.note(source, "fill", trade_id=trade_id, amount=amount, price=price, fee=fee)
        done = self.filled >= self.amount * (1 - 1e-9)
        self.to(OrderState.FILLED if done else OrderState.PARTIALLY_FILLED, source)
        return True
