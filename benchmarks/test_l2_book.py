"""The book channel alone, from native Parquet: level updates per CPU second on three paths, in
one session, on the Binance USDⓈ-M capture (``mm_data``; the bundled sample without it) and on
its 20x set:

1. the event path (``hear="all"``: an ``OrderBookEvent`` per message, ``OrderBookChannel.push``);
2. the fast L2 path with the compiled book (``hear="none"``: columns applied in C);
3. the same with the pure-Python fallback book (``PyL2Book``), what a machine without a C
   compiler runs.

The issue's target: (2) >= 4x (3) in the same run. Each run is a whole ``cerebro.run`` (reading,
checking, building the columns, applying) with one empty strategy: no callback, no order. Also
the quoter's requotes by amend against cancel-and-replace (``test_requote_*``): what an amend
saves on the tick broker's order path.
"""

from __future__ import annotations

import time

import backtrader as bt
import pytest

import backtrader_channels as btch
import backtrader_channels.channels.columnar as columnar
from backtrader_channels.channels.l2book import COMPILED, PyL2Book

from . import mm_data
from .mm_data import SYMBOL

ROUNDS = 3
_RATE: dict[str, float] = {}


@pytest.fixture(scope="module")
def capture():
    return mm_data.capture_set()


@pytest.fixture(scope="module")
def x20():
    return mm_data.x_set()


def book_alone(dataname: str, hear: str) -> int:
    c = btch.Cerebro(stdstats=False)
    book = c.add_channel("orderbook", SYMBOL, dataname=dataname, hear=hear)
    c.addstrategy(bt.Strategy)
    c.run(mode=btch.RunMode.TICK)
    return book.count


def _rate(benchmark, s, path: str, hear: str, monkeypatch=None, python_book=False):
    if python_book:
        monkeypatch.setattr(columnar, "L2Book", PyL2Book)
    cpu: list[float] = []

    def once():
        t = time.process_time()
        n = book_alone(s.orderbook, hear)
        cpu.append(time.process_time() - t)
        return n

    n = benchmark.pedantic(once, rounds=ROUNDS, iterations=1)
    assert n == s.book_messages
    rate = s.level_updates / min(cpu)
    key = f"{s.name}:{path}"
    _RATE[key] = rate
    info = {
        "set": s.name,
        "path": path,
        "cpu_s": round(min(cpu), 3),
        "level_updates": s.level_updates,
        "messages": s.book_messages,
        "level_updates_per_cpu_s": round(rate),
        "compiled": COMPILED,
    }
    py = _RATE.get(f"{s.name}:python_book")
    if path == "compiled_book" and py:
        info["vs_python_book"] = round(rate / py, 2)
    benchmark.extra_info.update(info)


@pytest.mark.parametrize("which", ["capture", "x20"])
def test_book_1_event_path(benchmark, request, which):
    _rate(benchmark, request.getfixturevalue(which), "event_path", "all")


@pytest.mark.parametrize("which", ["capture", "x20"])
def test_book_2_python_book(benchmark, request, which, monkeypatch):
    _rate(benchmark, request.getfixturevalue(which), "python_book", "none", monkeypatch, True)


@pytest.mark.parametrize("which", ["capture", "x20"])
def test_book_3_compiled_book(benchmark, request, which):
    if not COMPILED:
        pytest.skip("the compiled book is not built (no C compiler at install)")
    _rate(benchmark, request.getfixturevalue(which), "compiled_book", "none")


class Requoter(bt.Strategy):
    """One bid a tick under the best bid, one ask a tick over the best ask, moved on every
    best-price change by ``amend`` or by cancel and a new order; the position capped."""

    params = (("amend", True),)

    def start(self):
        self.book = self.channels[("orderbook", SYMBOL)]
        self.q = {"buy": None, "sell": None}

    def on_orderbook(self, ev):
        bid, ask = self.book.best_bid_price, self.book.best_ask_price
        if bid is None or ask is None:
            return
        pos = self.position.size
        for side, price, room in (
            ("buy", round(bid - 0.01, 2), pos < 0.1 - 1e-9),
            ("sell", round(ask + 0.01, 2), pos > -0.1 + 1e-9),
        ):
            o = self.q[side]
            if o is not None and o.alive():
                if o.price == price:
                    continue
                if self.p.amend:
                    self.broker.amend(o, price=price)
                    continue
                self.cancel(o)
            if room:
                place = self.buy if side == "buy" else self.sell
                self.q[side] = place(size=0.01, price=price, exectype=bt.Order.Limit)


@pytest.mark.parametrize("amend", [True, False], ids=["amend", "cancel_new"])
def test_requote(benchmark, capture, amend):
    cpu: list[float] = []

    def once():
        c = btch.Cerebro(stdstats=False)
        c.setbroker(
            btch.TickBroker(
                fill_profile="hftbacktest", fees=btch.MakerTaker(maker=0.0002, taker=0.0005)
            )
        )
        c.add_channel("orderbook", SYMBOL, dataname=capture.orderbook, hear="best")
        c.add_channel("tick", SYMBOL, dataname=capture.trades)
        c.addstrategy(Requoter, amend=amend)
        t = time.process_time()
        c.run(mode=btch.RunMode.TICK)
        cpu.append(time.process_time() - t)
        return c.last_run

    run = benchmark.pedantic(once, rounds=ROUNDS, iterations=1)
    benchmark.extra_info.update(
        {"cpu_s": round(min(cpu), 3), "orders": run["orders"], "fills": run["fills"]}
    )
