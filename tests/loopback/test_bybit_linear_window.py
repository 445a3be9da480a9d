"""The loopback Bybit linear's ``orderbook.N`` streams, driven without a network: a subscriber
started from its snapshot at any moment and moved by the published deltas holds the server's
top N levels (Bybit's depth semantics, :mod:`backtrader_channels.loopback.bybit.window`), as
the spot loopback's do (``test_bybit_window.py``)."""

from __future__ import annotations

import json

import pytest

from backtrader_channels.loopback import BybitLinearLoopback
from backtrader_channels.loopback.book import LevelBook

from .test_bybit_window import Sink


class Client:
    """A subscriber of ``orderbook.{depth}`` on a fake socket, keeping the book it is told."""

    def __init__(self, srv, depth):
        self.ws, self.sink = object(), Sink()
        self.topic = f"orderbook.{depth}.{srv.market_id}"
        self.book, self.u = LevelBook(), None
        srv._subs[self.ws] = {self.topic}
        srv._queues[self.ws] = self.sink
        self.sink.put_nowait(srv._book_snapshot(self.topic))  # as subscribing answers

    def read(self):
        for text in self.sink.texts:
            msg = json.loads(text)
            data = msg["data"]
            if msg["type"] == "snapshot":
                self.book.load(data["b"], data["a"])
            else:
                assert data["u"] == self.u + 1, "a gap in u"
                self.book.update(data["b"], data["a"])
            self.u = data["u"]
        self.sink.texts.clear()


def top(book, depth):
    bids, asks = book.top(depth)
    return [(float(p), s) for p, s in bids], [(float(p), s) for p, s in asks]


@pytest.mark.parametrize("depth", [50, 200])
def test_a_subscriber_from_any_moment_has_the_servers_top_levels(depth):
    srv = BybitLinearLoopback()
    srv.offset_ms = 0
    depths = [item for item in srv.items if item.kind == "depth"]
    clients, checks = [], 0
    for i, item in enumerate(depths):
        if i % 400 == 0:
            clients.append(Client(srv, depth))
        srv._depth(item.data, item.ms)
        srv.sent += 1
        if i % 97 == 0:
            want = top(srv.book, depth)
            for c in clients:
                c.read()
                assert c.u == srv.book.u
                assert top(c.book, depth) == want, (i, depth)
                assert max(len(c.book.bids), len(c.book.asks)) <= depth  # its window only
                checks += 1
    assert len(clients) > 3
    assert checks > 50


def test_a_skipped_delta_is_a_gap_and_a_resubscription_is_right_again():
    srv = BybitLinearLoopback()
    srv.offset_ms = 0
    depths = [item for item in srv.items if item.kind == "depth"]
    c = Client(srv, 50)
    for item in depths[:300]:
        srv._depth(item.data, item.ms)
    c.read()
    srv.faults.skip_depth = 1
    for item in depths[300:400]:
        srv._depth(item.data, item.ms)
    with pytest.raises(AssertionError, match="a gap in u"):
        c.read()
    del srv._subs[c.ws], srv._queues[c.ws]
    again = Client(srv, 50)
    for item in depths[400:]:
        srv._depth(item.data, item.ms)
    again.read()
    assert top(again.book, 50) == top(srv.book, 50)
