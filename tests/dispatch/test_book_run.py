"""The fast L2 path (``hear=`` on an order book channel: columns applied in the compiled book,
dispatch/book_run.py) against the event path (``hear="all"``): the same fills, values,
analyzers and book for a strategy that acts on best-price changes, under every broker setting
that changes when an order can fill; what each ``hear`` delivers; bad input."""

from __future__ import annotations

import backtrader as bt
import numpy as np
import pandas as pd
import pytest

import backtrader_channels as btch
from backtrader_channels.channels.columnar import ColumnarBookChannel
from backtrader_channels.channels.l2book import COMPILED
from backtrader_channels.datasets import binance_ethusdt_perp_sample
from backtrader_channels.events import OrderBookEvent
from backtrader_channels.sources import read_native

SAMPLE = binance_ethusdt_perp_sample()
SYMBOL = SAMPLE.symbol


class Quoter(bt.Strategy):
    """One bid a tick under the best bid, one ask a tick over the best ask, requoted when the
    best prices change; the position capped at +-0.1. It acts only on best-price changes, so
    hearing every message or only those changes gives it the same decisions."""

    params = (("market_every", 0), ("amend", False))

    def start(self):
        self.quotes = {"bid": None, "ask": None}
        self.last = None
        self.fills = []
        self.decisions = 0
        self.heard = []

    def notify_order(self, order):
        if order.status in (order.Completed, order.Partial):
            self.fills.append((order.ref, order.executed.dt, order.executed.price))

    def on_orderbook(self, ev):
        self.heard.append(ev.timestamp)
        ch = self.book
        b, a = ch.best_bid_price, ch.best_ask_price
        if b is None or a is None or (b, a) == self.last:
            return
        self.last = (b, a)
        self.decisions += 1
        if self.p.market_every and self.decisions % self.p.market_every == 0:
            self.buy(size=0.01)  # a market order: it fills on the next message
        pos = self.getposition(self.data).size
        for side, want in (("bid", round(b - 0.01, 2)), ("ask", round(a + 0.01, 2))):
            o = self.quotes[side]
            if o is not None and o.alive():
                if o.price == want:
                    continue
                if self.p.amend:
                    self.broker.amend(o, price=want)
                    continue
                self.cancel(o)
            if side == "bid" and pos < 0.1 - 1e-12:
                self.quotes[side] = self.buy(size=0.01, price=want, exectype=bt.Order.Limit)
            elif side == "ask" and pos > -0.1 + 1e-12:
                self.quotes[side] = self.sell(size=0.01, price=want, exectype=bt.Order.Limit)


def run(hear, data=None, strategy=Quoter, analyzers=True, sp=None, **broker_kw):
    c = btch.Cerebro(stdstats=False)
    c.setbroker(btch.TickBroker(**broker_kw))
    c.broker.setcash(100_000.0)
    book = c.add_channel(
        "orderbook", SYMBOL, dataname=SAMPLE.orderbook if data is None else data, hear=hear
    )
    c.add_channel("tick", SYMBOL, dataname=SAMPLE.trades)
    c.addstrategy(strategy, **(sp or {}))
    if analyzers:
        c.addanalyzer(bt.analyzers.TimeReturn, _name="tr", timeframe=bt.TimeFrame.Seconds)
    strategy.book = book
    s = c.run(mode=btch.RunMode.TICK)[0]
    return c, s, book


def outcome(c, s, book):
    tr = s.analyzers.tr.get_analysis() if hasattr(s.analyzers, "tr") else {}
    ref0 = min((f[0] for f in s.fills), default=0)
    return {
        "fills": [(ref - ref0, dt, px) for ref, dt, px in s.fills],
        "decisions": s.decisions,
        "value": c.broker.getvalue(),
        "cash": c.broker.getcash(),
        "returns": list(tr.items()),
        "count": book.count,
        "levels": book.levels(20),
        "depth": book.depth(),
    }


SETTINGS = [
    pytest.param({}, id="default"),
    pytest.param({"queue": "risk_averse"}, id="queue"),
    pytest.param({"fill_profile": "hftbacktest"}, id="hftbacktest"),
    pytest.param({"queue": "prob", "latency_ns": 5_000_000}, id="latency"),
    pytest.param({"queue": "risk_averse", "cancel_latency_ns": 3_000_000}, id="cancel_latency"),
    pytest.param({"partial_fills": True, "market_depth": "walk"}, id="partial_walk"),
    pytest.param({"max_book_age_ns": 50_000_000}, id="stale_books"),
]


@pytest.mark.parametrize("kw", SETTINGS)
def test_the_fast_path_fills_as_the_event_path(kw):
    every = run("all", **kw)
    fast = run("best", **kw)
    assert isinstance(fast[2], ColumnarBookChannel)
    assert not isinstance(every[2], ColumnarBookChannel)
    want, got = outcome(*every), outcome(*fast)
    assert got == want
    assert want["decisions"] > 100  # (the case is not empty)
    assert len(want["fills"]) > 50


def test_market_orders_and_amends_on_the_fast_path():
    sp = {"market_every": 7, "amend": True}
    want = outcome(*run("all", sp=sp, queue="risk_averse"))
    got = outcome(*run("best", sp=sp, queue="risk_averse"))
    assert got == want


def test_hear_best_calls_only_on_best_price_changes_and_none_calls_nothing():
    _, s, book = run("best")
    _, every, _ = run("all")
    assert len(s.heard) < len(every.heard) / 3
    assert len(s.heard) == s.decisions + 1 or len(s.heard) >= s.decisions
    assert list(book.history)[-1].timestamp == s.heard[-1]
    _, quiet, book = run("none")
    assert quiet.heard == []
    assert book.count == 1900


def test_hear_every_n_ms_hears_the_first_message_of_each_window():
    _, s, _ = run(250)
    ts = np.asarray(s.heard)
    windows = ts // 250_000_000
    assert len(set(windows.tolist())) == len(ts)  # at most one per 250 ms window
    _, every, _ = run("all")
    firsts = {}
    for t in every.heard:
        firsts.setdefault(t // 250_000_000, t)
    assert s.heard == sorted(firsts.values())


def test_the_book_is_the_event_paths_message_by_message():
    """Both paths end with the same book, levels and ids, with data given as events too."""
    _, _, slow = run("all", analyzers=False)
    _, _, fast = run("none", analyzers=False)
    assert fast.bids == slow.bids
    assert fast.asks == slow.asks
    assert (fast.last_update_id, fast.synced, fast.count) == (
        slow.last_update_id,
        slow.synced,
        slow.count,
    )
    events = [e for _, chunk in read_native(SAMPLE.orderbook, "orderbook", SYMBOL) for e in chunk]
    assert isinstance(events[0], OrderBookEvent)
    got = outcome(*run("best", data=events, queue="risk_averse"))
    assert got == outcome(*run("all", queue="risk_averse"))


def test_a_gap_is_refused_and_reported_as_on_the_event_path():
    events = [e for _, chunk in read_native(SAMPLE.orderbook, "orderbook", SYMBOL) for e in chunk]
    cut = events[:400] + events[403:]  # three messages lost: a gap in the update ids
    rows = [
        (
            e.timestamp,
            "bid" if k < len(e.bids) else "ask",
            p,
            s,
            e.is_snapshot,
            e.last_update_id,
            e.first_update_id,
        )
        for e in cut
        for k, (p, s) in enumerate((*e.bids, *e.asks))
    ]
    df = pd.DataFrame(
        rows,
        columns=[
            "timestamp",
            "side",
            "price",
            "size",
            "is_snapshot",
            "update_id",
            "first_update_id",
        ],
    )
    _, _, slow = run("all", data=df, analyzers=False)
    _, _, fast = run("best", data=df, analyzers=False)
    assert slow.gaps
    assert fast.gaps == slow.gaps
    assert fast.refused == slow.refused
    assert fast.count == slow.count


@pytest.mark.parametrize("hear", ["some", 0, -5, 1.5, True])
def test_a_bad_hear_names_the_field(hear):
    with pytest.raises(ValueError, match=r"hear=.*must be 'all', 'best', 'none' or a number"):
        btch.OrderBookChannel(SYMBOL, hear=hear)


def test_which_book_runs_is_said():
    assert isinstance(COMPILED, bool)


def test_the_pure_python_book_gives_the_same_run(monkeypatch):
    """The fallback a machine without a C compiler gets (``BTCH_PURE_PYTHON=1``, or no
    extension built): the same run, fill for fill."""
    import backtrader_channels.channels.columnar as columnar
    from backtrader_channels.channels.l2book import PyL2Book

    want = outcome(*run("best", fill_profile="hftbacktest"))
    monkeypatch.setattr(columnar, "L2Book", PyL2Book)
    got = run("best", fill_profile="hftbacktest")
    assert isinstance(got[2].book, PyL2Book)
    assert outcome(*got) == want


def test_a_fast_path_channel_pickles_for_sweeps_with_its_book():
    """A sweep sends its Cerebro, channels included, to worker processes: the compiled book
    does not pickle, so the channel carries its levels and ids and rebuilds it."""
    import pickle

    _, _, book = run("none", analyzers=False)
    again = pickle.loads(pickle.dumps(book))
    assert isinstance(again, ColumnarBookChannel)
    assert again.levels(20) == book.levels(20)
    assert (again.last_update_id, again.synced, again.count) == (
        book.last_update_id,
        book.synced,
        book.count,
    )
    fresh = pickle.loads(pickle.dumps(btch.OrderBookChannel(SYMBOL, hear="best")))
    assert fresh.depth() == (0, 0)
    assert fresh.synced is False


def test_a_sweep_runs_the_fast_path_in_worker_processes():
    from backtrader_channels.sweep import sweep

    c = btch.Cerebro(stdstats=False, maxcpus=2)  # (worker processes: the pickled Cerebro)
    c.add_channel("orderbook", SYMBOL, dataname=SAMPLE.orderbook, hear="best")
    c.add_channel("tick", SYMBOL, dataname=SAMPLE.trades)
    result = sweep(c, Quoter, {"market_every": [0, 7]})
    assert not result.failures
    assert sorted(r.params["market_every"] for r in result.ranked()) == [0, 7]
