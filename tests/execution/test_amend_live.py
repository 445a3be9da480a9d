"""CCXTBroker.amend through unmodified ccxt.pro clients against the loopback venues: an amend in
place on Binance USDⓈ-M (``PUT /fapi/v1/order``) and Bybit linear (``/v5/order/amend``) keeps
the order's id, client id and backtrader ref, is journaled when sent and when the venue
reports it, and moves the venue's order; a refused amend leaves the order as it was; a venue
without an amend in place (Binance spot) is refused before anything is sent."""

from __future__ import annotations

import backtrader as bt
import ccxt.pro as ccxtpro
import pytest

import backtrader_channels as btch
from backtrader_channels.brokers import CCXTBroker
from backtrader_channels.execution.journal import read_journal
from backtrader_channels.feeds import CCXTLiveFeed
from backtrader_channels.loopback import (
    BinanceFuturesLoopback,
    BybitLinearLoopback,
    point_binance_futures_at,
    point_bybit_linear_at,
)

from .conftest import KEY, SECRET, run_real
from .test_perps_binance import ETH, SYMBOL


class Amender(bt.Strategy):
    """Once the broker trades: a bid 30 under the best bid; once it is acknowledged, amend its
    price to 20 under, then (once that is reported) its size down to 0.05, then the same size
    again (nothing to change: the venue refuses); then cancel it and stop."""

    def start(self):
        self.order = None
        self.steps = []  # what the strategy did, in order
        self.notes = []  # (ref, status, price, size, amended, refused)
        self.done = False

    def notify_order(self, order):
        info = order.info
        self.notes.append(
            (
                order.ref,
                order.getstatusname(),
                order.price,
                abs(order.size),
                info.get("amended", 0),
                info.get("amend_refused"),
            )
        )
        if self.order is None or order.ref != self.order.ref or order.status != order.Accepted:
            return
        amended, refused = info.get("amended", 0), info.get("amend_refused")
        if not self.steps and order.status == order.Accepted:
            self._step("price", price=self.price0 + 10)
        elif self.steps == ["price"] and amended == 1:
            self._step("size", size=0.05)
        elif self.steps == ["price", "size"] and amended == 2:
            self._step("same", size=0.05)
        elif self.steps[-1:] == ["same"] and refused and not self.done:
            self.done = True
            self.cancel(order)

    def _step(self, name, **kw):
        self.steps.append(name)
        assert self.broker.amend(self.order, **kw)

    def on_tick(self, t):
        if self.order is None and self.broker.trading:
            top = self.broker.book_top(self.data)
            bid = top.bid if top.bid is not None else t.price
            self.price0 = round(bid - 30, 2)
            self.order = self.buy(size=0.1, price=self.price0, exectype=bt.Order.Limit)
        if self.order is not None and self.order.status == self.order.Canceled:
            self.env.runstop()


def _run(feed_ex, ex, tmp_path, duration=25):
    cerebro = btch.Cerebro()
    cerebro.broker.setcash(1_000.0)
    cerebro.add_live_feed(CCXTLiveFeed(feed_ex, [SYMBOL], stall_timeout=10.0))
    journal = str(tmp_path / "journal.jsonl")
    broker = CCXTBroker(ex, journal=journal, sweep_interval=1.0)
    broker.addcommissioninfo(
        btch.PerpetualCommInfo(ETH, leverage=10, maker=0.0002, taker=0.0005), name=SYMBOL
    )
    cerebro.setbroker(broker)
    cerebro.addstrategy(Amender)
    strat = cerebro.run(mode=btch.RunMode.TICK, duration=duration)[0]
    return cerebro, strat, read_journal(journal)


def _check(strat, lines, venue_order):
    """One order throughout: its ref, client id and venue id never change; the amends are
    journaled and seen by the strategy; the refused one left it as it was."""
    assert strat.steps == ["price", "size", "same"]
    refs = {ref for ref, *_ in strat.notes}
    assert refs == {strat.order.ref}
    amended = [n for n in strat.notes if n[4] and n[1] == "Accepted"]
    assert (amended[0][2], amended[0][3]) == (strat.price0 + 10, 0.1)
    assert (amended[-1][2], amended[-1][3]) == (strat.price0 + 10, 0.05)
    assert strat.order.info["amend_refused"]
    assert strat.order.status == strat.order.Canceled
    events = [line["event"] for line in lines]
    assert events.count("amend") == 3
    assert events.count("amended") == 2
    assert events.count("amend failed") == 1
    assert len({line["client_id"] for line in lines if "client_id" in line}) == 1
    assert float(venue_order["price"]) == pytest.approx(strat.price0 + 10)
    text = "\n".join(map(str, lines))
    assert SECRET not in text


def test_binance_usdm_amends_in_place(tmp_path):
    srv = BinanceFuturesLoopback(wallet=1_000.0, speed=5.0, start_when=3)
    srv.start()
    try:
        keyed = point_binance_futures_at(
            ccxtpro.binanceusdm({"apiKey": KEY, "secret": SECRET, "rateLimit": 5}), srv.port
        )
        _, strat, lines = _run(
            point_binance_futures_at(ccxtpro.binanceusdm(), srv.port), keyed, tmp_path
        )
        cid = next(line["client_id"] for line in lines if line.get("event") == "amend")
        (venue_order,) = [o for o in srv.account.orders.values() if o["clientOrderId"] == cid]
    finally:
        srv.stop()
    _check(strat, lines, venue_order)
    assert venue_order["status"] == "CANCELED"
    assert float(venue_order["origQty"]) == pytest.approx(0.05)


def test_bybit_linear_amends_in_place(tmp_path):
    srv = BybitLinearLoopback(wallet=1_000.0, speed=5.0, start_when=3)
    srv.start()
    try:
        keyed = point_bybit_linear_at(
            ccxtpro.bybit({"apiKey": KEY, "secret": SECRET, "rateLimit": 5}), srv.port
        )
        _, strat, lines = _run(point_bybit_linear_at(ccxtpro.bybit(), srv.port), keyed, tmp_path)
        cid = next(line["client_id"] for line in lines if line.get("event") == "amend")
        (venue_order,) = [o for o in srv.account.orders.values() if o["clientOrderId"] == cid]
    finally:
        srv.stop()
    _check(strat, lines, venue_order)


def test_binance_spot_amends_by_cancel_replace_as_one_order(server, tmp_path):
    """ccxt's edit_order on Binance spot is a cancelReplace: the venue cancels the order and
    places a new one with a new id. The broker sends it with a client id of its own
    (``<first>-r1``) and keeps one order: one backtrader ref, one journal client id (the
    venue's current one in ``venue_client_id``), the old order's CANCELED not taken for the
    order's end; a later cancel cancels the new venue order."""
    seen = {}

    def place(s, t):
        s.orders["o"] = s.buy(size=0.001, price=round(t.price * 0.9, 2), exectype=bt.Order.Limit)

    def amend(s, t):
        seen["price"] = round(t.price * 0.85, 2)
        seen["sent"] = s.broker.amend(s.orders["o"], price=seen["price"])

    def cancel(s, t):
        seen["amended"] = s.orders["o"].info.get("amended")
        seen["status_before_cancel"] = s.orders["o"].getstatusname()
        s.cancel(s.orders["o"])

    _, strat = run_real(server, {5: place, 150: amend, 400: cancel}, stop_at=500, tmp=str(tmp_path))
    assert seen["sent"] is True
    assert seen["amended"] == 1
    assert seen["status_before_cancel"] == "Accepted"
    order = strat.orders["o"]
    assert order.price == seen["price"]
    assert strat.statuses(order.ref)[-1] == "Canceled"
    lines = read_journal(str(tmp_path / "orders.jsonl"))
    first = lines[0]["client_id"]
    assert {line["client_id"] for line in lines} == {first}  # one order in the journal
    assert [line["event"] for line in lines].count("amended") == 1
    assert lines[-1]["venue_client_id"] == f"{first}-r1"
    assert lines[-1]["state"] == "CANCELLED"
    venue = {o["clientOrderId"]: o for o in server.account.orders.values()}
    assert venue[first]["status"] == "CANCELED"
    assert venue[f"{first}-r1"]["status"] == "CANCELED"
    assert float(venue[f"{first}-r1"]["price"]) == pytest.approx(seen["price"])
    new = [cid for kind, cid in server.order_requests if kind == "new"]
    assert new == [first, f"{first}-r1"]


def test_a_partly_filled_order_is_not_replaced(server, tmp_path):
    """A cancel-replace's new order would not be the order (its size, its fills): refused
    before sending, with the reason."""
    seen = {}

    def place(s, t):
        s.orders["o"] = s.buy(size=0.002, price=round(t.price * 0.9, 2), exectype=bt.Order.Limit)

    def amend(s, t):
        live = s.broker.live_order(s.orders["o"])
        live.filled = 0.001  # (as if a fill had come: the rule under test is the broker's)
        seen["sent"] = s.broker.amend(s.orders["o"], price=round(t.price * 0.85, 2))
        seen["why"] = s.orders["o"].info.get("amend_refused")
        live.filled = 0.0
        s.cancel(s.orders["o"])

    run_real(server, {5: place, 150: amend}, stop_at=300, tmp=str(tmp_path))
    assert seen["sent"] is False
    assert "partly filled" in seen["why"]


def test_a_refused_replacement_ends_the_order_cancelled(server, tmp_path):
    """A post-only (LIMIT_MAKER) bid amended to a price that would take: Binance cancels the
    old order and refuses the new one (-2021). The order ends Canceled, with the venue's
    reason; no replacement is left behind."""
    seen = {}

    def place(s, t):
        s.orders["o"] = s.buy(
            size=0.001, price=round(t.price * 0.9, 2), exectype=bt.Order.Limit, tif="post_only"
        )

    def amend(s, t):
        seen["sent"] = s.broker.amend(s.orders["o"], price=round(t.price * 1.001, 2))
        seen["why"] = s.orders["o"].info.get("amend_refused")

    _, strat = run_real(server, {5: place, 150: amend}, stop_at=400, tmp=str(tmp_path))
    assert seen["sent"] is True, seen["why"]
    order = strat.orders["o"]
    assert strat.statuses(order.ref)[-1] == "Canceled"
    assert order.info.get("amend_refused")
    lines = read_journal(str(tmp_path / "orders.jsonl"))
    events = [line["event"] for line in lines]
    assert "amend failed" in events
    assert events[-1] == "cancelled"
    assert {line["client_id"] for line in lines} == {lines[0]["client_id"]}
    assert server.account.open_orders("BTCUSDT") == []
