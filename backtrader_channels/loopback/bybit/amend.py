"""``POST /v5/order/amend`` on the loopback Bybit linear (``category=linear``), as ccxt's
``bybit.edit_order`` sends it: ``category``, ``symbol``, ``orderId`` or ``orderLinkId``, and
``qty`` and / or ``price`` (what is left out stays as it was).

Bybit's answers: ``{"retCode": 0, "retMsg": "OK", "result": {"orderId", "orderLinkId"}}``;
110001 "Order does not exist" (none found, or the order has ended), 10001 for a parameter
error (a category other than linear, nothing to amend, a market order, a filter failure)
and 10001 "order not modified" when nothing changes; the account's refusals as
:func:`.linear_wire.linear_error` translates them (110007 margin, 110094 notional, ...). The
order keeps its id; the ``order`` topic pushes it amended.

The amend is the margin account's (:func:`..amend_rules.amend_futures`) under Bybit's
queue rule, :data:`..amend_rules.KEEP_ON_DECREASE`: a price change or a quantity increase
sends the order behind the account's others, a quantity decrease alone keeps its place
(https://bybit-exchange.github.io/docs/fix-api/amend-order). A PostOnly order amended to a
price that would take is handled as Bybit handles a PostOnly order that would take on
creation: the request is accepted (retCode 0) and the order is cancelled
(``rejectReason`` ``EC_PostOnlyWillTakeLiquidity``); no retCode of Bybit's own for an amend
that would make a PostOnly order take was found documented.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from ...btypes import JsonDict
from ..account import TERMINAL, VenueError, dec
from ..amend_rules import KEEP_ON_DECREASE, amend_futures
from ..futures_account import FuturesAccount
from ..private_side import PrivateSide
from .linear_wire import linear_error
from .protocol import BybitError

__all__ = ["BybitLinearAmend"]


class BybitLinearAmend(PrivateSide):
    """The amend route of :class:`~.linear_private.BybitLinearPrivate`, which provides
    ``_find`` (an order by ``orderId`` / ``orderLinkId``, 110001 when none) and ``_ids`` (an
    order's ``orderId`` and ``orderLinkId`` as Bybit answers them)."""

    account: FuturesAccount  # type: ignore[assignment]  # the margin account, not spot's

    if TYPE_CHECKING:  # provided by BybitLinearPrivate

        def _find(self, q: dict[str, str]) -> JsonDict: ...

        def _ids(self, order: JsonDict) -> JsonDict: ...

    async def _amend(self, request: web.Request, q: dict[str, str]) -> web.StreamResponse:
        if q.get("category") != "linear":
            raise BybitError(10001, "params error: category only support linear")
        if not q.get("orderId") and not q.get("orderLinkId"):
            raise BybitError(10001, "params error: orderId or orderLinkId is required")
        order = self._find(q)
        if order["status"] in TERMINAL or order["orderId"] not in self.account.orders:
            raise BybitError(110001, "Order does not exist")
        if order["type"] != "LIMIT":
            raise BybitError(10001, "params error: only a limit order's qty or price is amended")
        try:
            qty = dec(q["qty"]) if q.get("qty") else dec(order["origQty"])
            price = dec(q["price"]) if q.get("price") else dec(order["price"])
        except ArithmeticError:
            raise BybitError(10001, "params error: qty or price invalid") from None
        a = self.account
        try:
            amend_futures(a, order, qty, price, self._best(), a.marks.get(order["symbol"]),
                          KEEP_ON_DECREASE)  # fmt: skip
        except VenueError as e:
            if e.code == -5027:
                raise BybitError(10001, "order not modified") from None
            if e.code != -5022:  # -5022: the PostOnly order was cancelled (see module doc)
                raise linear_error(e) from None
        self.order_requests.append(("amend", order["clientOrderId"]))
        return await self._answer(request, self._ids(order))
