"""Amending a live order in place: ``CCXTBroker.amend`` through ccxt's ``edit_order``.

The tick broker's ``amend`` (``broker/modify.py``) changes a resting limit's price or total
size and keeps the order's identity; a live broker asks the venue to do the same where the
venue amends in place (its dialect's ``amend_style``, ``venues/``: Binance USDⓈ-M's modify,
``PUT /fapi/v1/order``; Bybit's ``/v5/order/amend``, linear and spot), with the guarantees of
every order it sends:

* checked first: the order is open at the venue (sent, acknowledged, not ended), no other amend
  of it is on its way, the new size is above what has filled, and the new terms pass the
  market's rules and the risk limits (the kill switch and protection included);
* journaled when sent (``amend``), and when the venue answers: ``amended`` with the terms the
  venue reports (from the reply or the private stream, whichever comes first), or
  ``amend failed`` with why;
* never sent twice: a lost reply is answered by querying the order, whose terms say whether
  the amend happened (a money-moving request is not repeated by accident);
* the backtrader order keeps its ``ref`` and follows the venue's terms: ``notify_order`` sees
  it with its status unchanged and ``order.info["amended"]`` counting amends, or
  ``order.info["amend_refused"]`` saying why the venue refused.

Binance spot has no amend in place: ccxt's ``edit_order`` there is ``cancelReplace``
(``amend_style`` "replace"), which cancels the order and places a new one with a new venue id.
The broker sends it with a new client id of its own (the first one's, ``-r1``, ``-r2``...),
claimed in the id store first, and keeps **one order**: the backtrader order and its ``ref``,
the journal's ``client_id`` (the first one; ``venue_client_id`` says the venue's current one)
and the fills of both venue orders. The old order's CANCELED is the replacement's, not the
order's end. If the venue cancels the old order but refuses the new one, the order ends
cancelled (with the venue's reason); if the cancel fails (a fill came first), nothing was
replaced. A partly filled order is not replaced (the new order's size would not be the
order's): cancel it and place a new one. The queue-priority rule is the venue's own
(``loopback/amend_rules.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..btypes import BtOrder
from ..events import CcxtDict
from .dialects import AmendStyle
from .states import LiveOrder, OrderState, Source

if TYPE_CHECKING:
    from .apply import Applier
    from .broker import CCXTBroker

_OPEN = (OrderState.OPEN, OrderState.PARTIALLY_FILLED)
_TOL = 1e-9


def send_amend(b: CCXTBroker, order: BtOrder, price: float | None, size: float | None) -> bool:
    """Check and send an amend of ``order`` (see the module doc). True when it was sent;
    False (with a journal line and ``order.info["amend_refused"]``) when it was not; a
    ValueError for what no venue would take."""
    if price is None and size is None:
        raise ValueError("amend: give a new price, a new size or both")
    if size is not None and not size > 0:
        raise ValueError(f"amend: size={size!r} must be > 0 (the order's new total size)")
    if price is not None and not price > 0:
        raise ValueError(f"amend: price={price!r} must be > 0")
    live = b.live_order(order)
    if live is None or live.state.terminal:
        return False
    if live.kind != "limit":
        raise ValueError(f"amend: order {order.ref} is not a limit order (only limits amend)")
    session = b.sessions.get(live.venue)
    new_price = live.price if price is None else float(price)
    new_amount = live.amount if size is None else float(size)
    why = _refusal(b, live, new_price, new_amount)
    if why is not None or session is None:
        why = why or f"no session for venue {live.venue!r}"
        live.note("local", "amend refused", why=why)
        b.write(live, "amend refused", "local", why=why)
        order.addinfo(amend_refused=why)
        return False
    new_cid = None
    if _style(b, live) == "replace":
        new_cid = _claim_replacement(b, live, new_price, new_amount)
        if new_cid is None:
            return False
    live.amending = (new_price, new_amount)
    live.note("local", "amend sent", price=new_price, amount=new_amount, new_client_id=new_cid)
    b.write(live, "amend", "local", price=new_price, amount=new_amount, new_client_id=new_cid)
    flags = {"postOnly": True} if new_cid is not None and order.tif == "post_only" else None
    session.call(
        session.amend, live.client_id, live.exchange_id, live.symbol, live.side, new_amount,
        new_price, new_cid, flags,
    )  # fmt: skip
    return True


def _style(b: CCXTBroker, live: LiveOrder) -> AmendStyle:
    """How the order's venue amends it (its dialect says: ``venues/``)."""
    session = b.sessions.get(live.venue)
    if session is None:
        return "none"
    return session.dialect.amend_style(session.ex, live.symbol)


def _claim_replacement(
    b: CCXTBroker, live: LiveOrder, price: float | None, amount: float
) -> str | None:
    """The new client id of a cancel-replace, claimed in the id store (None: already used)."""
    origin = live.origin_id or live.client_id
    live.replaced += 1
    new_cid = f"{origin}-r{live.replaced}"
    assert b.store is not None
    stored = f"{live.symbol}@{live.venue}" if live.venue else live.symbol
    if not b.store.claim(new_cid, stored, live.side, live.kind, amount, price):
        live.note("local", "amend refused", why=f"{new_cid} was sent before")
        return None
    b.appliers[live.venue].replacements[new_cid] = live
    live.replacing = new_cid
    return new_cid


def _refusal(b: CCXTBroker, live: LiveOrder, price: float | None, amount: float) -> str | None:
    """Why this amend is not sent (None: it is)."""
    style = _style(b, live)
    if style == "none":
        return "this venue has no amend known to the broker: cancel the order and place a new one"
    if style == "replace" and live.filled > _TOL:
        return (
            "this venue amends by cancel-replace, and this order is partly filled: cancel it "
            "and place a new one"
        )
    if live.state not in _OPEN or live.exchange_id is None:
        return f"the venue does not have the order open yet ({live.state.value})"
    if live.amending is not None or live.replacing is not None:
        return "an amend of this order is on its way"
    if amount <= live.filled + _TOL:
        return f"size {amount} is not above what has filled ({live.filled})"
    order = live.bt_order
    if order is None:
        return None
    # the new terms in place of the old (the order's old remainder is left out of the exposure)
    return b.order_refusal(live.venue, live.symbol, live.side, amount, price, order.data, live)


def on_venue_terms(a: Applier, live: LiveOrder, o: CcxtDict, source: Source) -> None:
    """The venue reports ``live`` open with price ``o["price"]`` and amount ``o["amount"]``.
    Terms that are an amend of ours (on its way, or one whose reply was lost) are applied: the
    order and the backtrader order follow, journaled once. Other terms are late news (the
    private stream's update from before an amend, arriving after the amend's reply): noted,
    never applied, so the order's terms never go back. Only the broker amends its orders."""
    price, amount = o.get("price"), o.get("amount")
    if live.kind != "limit" or o.get("status") != "open" or price is None or amount is None:
        return
    price, amount = float(price), float(amount)
    asked, lost = live.amending, live.unconfirmed
    if _same((live.price, live.amount), price, amount):
        if asked is not None and source == "rest" and _same(asked, price, amount):
            live.amending = None  # (the reply to an amend that changed nothing)
        return
    if not (
        (asked is not None and _same(asked, price, amount))
        or (lost is not None and _same(lost, price, amount))
    ):
        live.note(source, "late terms ignored", price=price, amount=amount)
        return
    live.amending = live.unconfirmed = None
    live.price, live.amount = price, amount
    live.note(source, "amended", price=price, amount=amount)
    a.b.write(live, "amended", source, price=price, amount=amount)
    order = live.bt_order
    if order is None or not order.alive():
        return
    signed = -amount if order.ordtype else amount
    order.executed.remsize += signed - order.size
    order.size = order.p.size = order.created.size = signed
    order.price = order.p.price = order.created.price = price
    order.info.amended = order.info.get("amended", 0) + 1
    a.b.notify(order)


def replaced(a: Applier, live: LiveOrder, o: CcxtDict, cid: str | None, xid: str | None) -> bool:
    """A cancel-replace on its way (``live.replacing``) and news of one of its two venue
    orders: the new one completes the replacement (the order goes on as it); the old one's
    CANCELED is skipped (True: nothing more to do with ``o``)."""
    new = live.replacing
    if new is None:
        return False
    if cid == new and xid is not None and xid != live.exchange_id:
        old_cid, old_xid = live.client_id, live.exchange_id
        live.origin_id = live.origin_id or old_cid
        live.client_id, live.exchange_id, live.replacing = new, xid, None
        a.by_xid[xid] = live
        if old_xid is not None:
            a.retired.add(old_xid)
        a.replacements.pop(new, None)
        a.b.live.pop(old_cid, None)
        a.b.live[new] = live
        if a.b.store is not None:
            a.b.store.update(old_cid, "CANCELLED", old_xid)
        live.note("rest", "replaced", old_client_id=old_cid, old_exchange_id=old_xid)
        return False  # its terms and state follow as any order update's
    if (cid == live.client_id or xid == live.exchange_id) and o.get("status") == "canceled":
        live.note("rest", "old order cancelled by the cancel-replace")
        return True
    return False


def replacement_missing(a: Applier, live: LiveOrder, cid: str) -> bool:
    """The query of a cancel-replace's new order found nothing: it was not placed (the old
    order's query, next, tells whether the cancel went through). True when ``cid`` was it."""
    if live.replacing != cid:
        return False
    live.replacing = None
    a.replacements.pop(cid, None)
    if a.b.store is not None:
        a.b.store.update(cid, "REJECTED", None)
    live.note("rest", "replacement not placed", client_id=cid)
    return True


def amend_failed(a: Applier, live: LiveOrder, why: str) -> None:
    """The venue refused the amend (or its reply was lost: the order's query tells the
    terms): the order keeps its terms. What was asked is kept as unconfirmed: a venue that
    reports those terms later (a lost reply, not a refusal) is believed."""
    live.unconfirmed, live.amending = live.amending, None
    live.note("rest", "amend failed", why=why)
    a.b.write(live, "amend failed", "rest", why=why)
    order = live.bt_order
    if order is not None and order.alive():
        order.info.amend_refused = why
        a.b.notify(order)


def _same(asked: tuple[float | None, float], price: float, amount: float) -> bool:
    p, q = asked
    return (p is None or abs(p - price) <= _TOL * max(price, 1.0)) and abs(
        q - amount
    ) <= _TOL * max(amount, 1.0)
