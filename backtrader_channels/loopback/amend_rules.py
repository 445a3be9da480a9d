"""Amending an open order in place on the loopback margin account
(:class:`~.futures_account.FuturesAccount`), and the queue-priority rule each venue applies.

The account fills resting orders a replayed trade goes through in their queue order (one
symbol, one side: the order they rest in, at whatever price); an amend may send an order to
the back of that queue. The venues' documented rules:

* **Binance USDⓈ-M** (``PUT /fapi/v1/order``, *Modify Order*,
  https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/Modify-Order):
  "only LIMIT orders can be modified; a modified order is **reordered in the matching queue**"
  (every amend, a quantity decrease included, loses priority: :data:`REQUEUE_ALWAYS`). Both
  ``quantity`` and ``price`` are sent; an amend that fails the filters is refused and the
  order stays as it was; nothing changed is -5027. The order **is cancelled** when it was
  partly filled and the new quantity is at most the filled one, and when it is GTX
  (post-only) and the new price would execute at once; the loopback answers the latter with
  -5022 (the GTX refusal) and ends the order EXPIRED, as Binance ends a GTX order that would
  take. A GTC amend to a price that crosses executes at once (taker).
* **Bybit** (``POST /v5/order/amend``; the rule as Bybit documents it for its amend,
  https://bybit-exchange.github.io/docs/fix-api/amend-order): "Increasing OrderQty causes the
  order to lose its current queue position. Decreasing OrderQty does not affect queue
  position"; a new price places the order at that price, behind the orders already there
  (:data:`KEEP_ON_DECREASE`: a price change or a quantity increase loses priority, a
  quantity decrease alone keeps it). Bybit documents this for spot (its FIX amend); the
  loopback applies it to linear too.

The spot account (:class:`~.account.Account`, Bybit spot's ``/v5/order/amend``) is amended by
:func:`amend_spot` under the same Bybit rule; there an amend to a quantity at most the part
already filled is refused (the account fills in parts when ``split_fills`` asks it to).

The account's own orders are the whole queue here (the recording's resting orders are not
modelled one by one), so "back of the queue" means behind the account's other orders.
"""

from __future__ import annotations

import itertools
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from ..btypes import JsonDict
from .account import TERMINAL, VenueError, dec, dec_text
from .futures_rules import check_filters, check_min_notional, refuse

if TYPE_CHECKING:
    from .account import Account
    from .futures_account import FuturesAccount

__all__ = [
    "AT_MOST_FILLED",
    "KEEP_ON_DECREASE",
    "REQUEUE_ALWAYS",
    "PriorityRule",
    "amend_futures",
    "amend_spot",
    "keeps_priority",
    "queue_key",
]

#: a venue's queue-priority rule on amend (see the module doc)
PriorityRule = Literal["requeue-always", "keep-on-decrease"]
#: Binance USDⓈ-M: every modification reorders the order in the matching queue
REQUEUE_ALWAYS: PriorityRule = "requeue-always"
#: Bybit: a price change or a quantity increase loses priority, a quantity decrease keeps it
KEEP_ON_DECREASE: PriorityRule = "keep-on-decrease"

#: Binance's messages of the codes only an amend answers
AMEND_MESSAGES = {
    -5025: "Only limit order is supported.",
    -5027: "No need to modify the order.",
    -90001: "The new quantity is at most the quantity already filled.",
}
#: the loopback's own code for a spot amend to at most the filled quantity (Binance spot has
#: no in-place amend of that kind; the Bybit side answers it 10001)
AT_MOST_FILLED = -90001

#: the amends made, in order (what sends an order behind the others)
_SEQUENCE = itertools.count(1)


def keeps_priority(
    rule: PriorityRule, old: tuple[Decimal, Decimal], new: tuple[Decimal, Decimal]
) -> bool:
    """Whether an amend from ``old`` to ``new`` (each ``(price, quantity)``) keeps the order's
    place in the queue under ``rule``."""
    if rule == REQUEUE_ALWAYS:
        return False
    (old_price, old_qty), (new_price, new_qty) = old, new
    return new_price == old_price and new_qty <= old_qty


def queue_key(order: JsonDict) -> tuple[int, int]:
    """An order's place in the account's queue: by id, unless an amend sent it to the back
    (then behind every order placed or amended before that amend)."""
    queued = order.get("_queue")
    return queued if queued is not None else (int(order["orderId"]), 0)


def amend_futures(
    account: FuturesAccount,
    order: JsonDict,
    qty: Decimal,
    price: Decimal,
    best: tuple[float | None, float | None],
    mark: float | Decimal | None,
    rule: PriorityRule,
) -> JsonDict:
    """Amend ``order`` (an order of ``account``) to ``qty`` at ``price`` against the best bid
    and ask, as Binance USDⓈ-M's *Modify Order* does (see the module doc): an
    ``ORDER_TRADE_UPDATE`` with execution type ``AMENDMENT`` goes out, the order keeps its
    id. Raises :class:`~.account.VenueError` with Binance's code when it is refused (the order
    unchanged), or, for a GTX order that would take, -5022 once the order has expired."""
    if order["status"] in TERMINAL:
        raise refuse(-2013)
    if order["type"] != "LIMIT":
        raise VenueError(400, -5025, AMEND_MESSAGES[-5025])
    info = account.symbols.get(order["symbol"])
    if info is None:
        raise refuse(-1121)
    check_filters(info, "LIMIT", qty, price)
    old = (dec(order["price"]), dec(order["origQty"]))
    if (price, qty) == old:
        raise VenueError(400, -5027, AMEND_MESSAGES[-5027])
    executed = dec(order["executedQty"])
    if executed and qty <= executed:  # Binance: the order is cancelled
        account.cancel(order)
        return order
    fill_at = account._taker_price(order["side"], "LIMIT", price, best)
    if fill_at is not None and order["timeInForce"] == "GTX":
        # Binance cancels the order; Bybit's engine cancels a PostOnly that would take
        order["_bybit_reject"] = "EC_PostOnlyWillTakeLiquidity"
        account._end(order, "EXPIRED")
        raise refuse(-5022)
    check_min_notional(info, qty * (fill_at or price), order["reduceOnly"])
    if not order["reduceOnly"]:
        _check_margin(account, order, qty - executed, fill_at, price, mark)
    order["origQty"], order["price"] = dec_text(qty), dec_text(price)
    order["updateTime"] = account.clock()
    if not keeps_priority(rule, old, (price, qty)):
        order["_queue"] = (account._next_order, next(_SEQUENCE))
    account._report(order, "AMENDMENT")
    if fill_at is not None:  # a GTC order moved through the book: it takes at once
        account._resting.pop(order["orderId"], None)
        account._fill(order, fill_at, maker=False)
    return order


def _check_margin(
    account: FuturesAccount,
    order: JsonDict,
    left: Decimal,
    fill_at: Decimal | None,
    price: Decimal,
    mark: float | Decimal | None,
) -> None:
    """The margin rule of a new order, for what the amended order would leave (-2019,
    -2027; the order unchanged when refused)."""
    symbol = order["symbol"]
    resting = account._resting.pop(order["orderId"], None)
    try:
        at = fill_at if fill_at is not None else price
        ref = dec(mark) if mark is not None else account.marks.get(symbol, at)
        account._check_margin(symbol, order["side"], left, at, fill_at is not None, ref)
    finally:
        if resting is not None:
            account._resting[order["orderId"]] = resting


def amend_spot(
    account: Account,
    order: JsonDict,
    qty: Decimal,
    price: Decimal,
    best: tuple[float | None, float | None],
    rule: PriorityRule = KEEP_ON_DECREASE,
) -> JsonDict:
    """Amend ``order`` (a resting limit order of the spot ``account``) to ``qty`` at ``price``
    in place: its lock follows (refused when the balance cannot cover the new one), an
    ``executionReport`` with execution type ``REPLACED`` goes out, and a price through the
    book takes at once. Raises :class:`~.account.VenueError` (Binance's codes: -2013 ended,
    -5025 not a limit order, -1013 filters, -5027 unchanged, -2010 balance; and
    :data:`AT_MOST_FILLED`) with the order unchanged."""
    if order["status"] in TERMINAL:
        raise VenueError(400, -2013, "Order does not exist.")
    if order["type"] != "LIMIT":
        raise VenueError(400, -5025, AMEND_MESSAGES[-5025])
    account._check_filters(account.symbols[order["symbol"]], "LIMIT", qty, price, best)
    old = (dec(order["price"]), dec(order["origQty"]))
    if (price, qty) == old:
        raise VenueError(400, -5027, AMEND_MESSAGES[-5027])
    left = qty - dec(order["executedQty"])
    if left <= 0:
        raise VenueError(400, AT_MOST_FILLED, AMEND_MESSAGES[AT_MOST_FILLED])
    buy = order["side"] == "BUY"
    opposite = best[1] if buy else best[0]
    takes = opposite is not None and (dec(opposite) <= price if buy else dec(opposite) >= price)
    ref = dec(opposite) if takes and opposite is not None else price
    need = left * ref * (1 + (account.taker if takes else account.maker)) if buy else left
    asset = order["_quote"] if buy else order["_base"]
    if account.free.get(asset, Decimal(0)) + order.get("_locked", Decimal(0)) < need:
        msg = "Account has insufficient balance for requested action."
        raise VenueError(400, -2010, msg)
    account._unlock(order)
    order["origQty"], order["price"] = dec_text(qty), dec_text(price)
    order["updateTime"] = order["transactTime"] = int(time.time() * 1000)
    account._report(order, "REPLACED")
    if takes and opposite is not None:
        account._resting.pop(order["orderId"], None)
        account._fill(order, dec(opposite), maker=False)
        return order
    account._lock(order, need)
    if not keeps_priority(rule, old, (price, qty)):  # to the back of the queue
        account._resting[order["orderId"]] = account._resting.pop(order["orderId"])
    return order
