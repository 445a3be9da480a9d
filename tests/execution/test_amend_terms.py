"""What the venue reports of an amended order's terms, in any order: the private stream's
update from before an amend may arrive after the amend's reply (seen in CI: the order's terms
went back, then forward, journaled four times). Only the broker's own amends change terms."""

from __future__ import annotations

from types import SimpleNamespace

from backtrader_channels.execution.amend import amend_failed, on_venue_terms
from backtrader_channels.execution.states import LiveOrder, OrderState


def _venue():
    lines = []
    b = SimpleNamespace(
        write=lambda live, event, source, **kw: lines.append((event, kw.get("price"))),
        notify=lambda order: None,
    )
    live = LiveOrder("cid", "ETH/USDT:USDT", "buy", "limit", 1.0, 100.0)
    live.state = OrderState.OPEN
    return SimpleNamespace(b=b), live, lines


def _open(price, amount=1.0):
    return {"status": "open", "price": price, "amount": amount}


def test_late_news_from_before_an_amend_never_takes_the_terms_back():
    a, live, lines = _venue()
    live.amending = (101.0, 1.0)
    on_venue_terms(a, live, _open(101.0), "rest")  # the amend's reply
    on_venue_terms(a, live, _open(100.0), "ws")  # the stream's update from before it
    on_venue_terms(a, live, _open(101.0), "ws")  # the stream's AMENDMENT
    assert (live.price, live.amount, live.amending) == (101.0, 1.0, None)
    assert lines == [("amended", 101.0)]
    assert ("ws", "late terms ignored") in [(s, e) for _, s, e, _ in live.history]


def test_an_amend_whose_reply_was_lost_is_believed_when_the_venue_shows_it():
    a, live, lines = _venue()
    live.amending = (102.0, 0.5)
    amend_failed(a, live, "RequestTimeout")
    assert live.amending is None
    on_venue_terms(a, live, _open(102.0, 0.5), "rest")  # the order's query: it did apply
    assert (live.price, live.amount) == (102.0, 0.5)
    assert lines == [("amend failed", None), ("amended", 102.0)]
