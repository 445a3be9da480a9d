"""A loopback exchange in a process of its own (its own GIL, as a real venue would be), for the
latency benchmarks: started by kind, stopped by a callable that returns what it recorded.

Faults cannot be switched from outside: the server lives in the other process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from ..btypes import Kwargs
from ..errors import check_choice
from .base import Recorded, quiet_collector

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

    from .binance.exchange import BinanceLoopback
    from .bybit.exchange import BybitLoopback

#: which loopback venue
Kind = Literal["binance", "bybit"]
#: when frames were handed to the sockets: ``time.time_ns()`` by trade id or book update id
#: (None when the server kept none)
SendLog = dict[int, int] | None


def _make(
    kind: Kind, kwargs: dict[str, Kwargs], trades_only: bool
) -> BinanceLoopback | BybitLoopback:
    if kind == "bybit":
        from .bybit.exchange import BybitLoopback

        return BybitLoopback(**kwargs)
    from .binance.exchange import BinanceLoopback

    server = BinanceLoopback(**kwargs)
    if trades_only:
        server.frames = [f for f in server.frames if f[1].endswith("@trade")]
    return server


def _child(conn: Connection, kind: Kind, kwargs: dict[str, Kwargs], trades_only: bool) -> None:
    server = _make(kind, kwargs, trades_only)
    conn.send(server.start())
    quiet_collector()
    conn.recv()  # any message: stop
    server.stop()
    conn.send(server.recorded())


class StopServer:
    """``stop()`` for a loopback exchange in its own process: stops it and returns what its
    venue's ``serve_*_in_subprocess`` promises. Afterwards ``recorded`` holds everything the
    server noted (its ``recorded()``, empty when it did not answer within 10 s), ``timings``
    ``(trade send times or None, order_times, fill_times)``, and for Binance ``book_times`` and
    ``quote_times`` (its depth and bookTicker frames' send times by ``u``)."""

    def __init__(self, kind: Kind, conn: Connection, proc: BaseProcess):
        self.kind, self._conn, self._proc = kind, conn, proc
        self.recorded: Recorded = {}
        self.timings: tuple[SendLog, dict[str, int], dict[str, int]] = (
            None,
            {},
            {},
        )
        self.book_times: dict[int, int] = {}
        self.quote_times: dict[int, int] = {}

    def __call__(self) -> SendLog | tuple[SendLog, dict[int, int]]:
        self._conn.send("stop")
        rec: Recorded = self._conn.recv() if self._conn.poll(10) else {}
        self._proc.join(10)
        self.recorded = rec
        orders, fills = rec.get("order_times", {}), rec.get("fill_times", {})
        sends = rec.get("send_times")
        if self.kind == "bybit":  # its send_times are the book deltas': not a trade's
            self.timings = (None, orders, fills)
            return sends, rec.get("bbo_send_times", {})
        self.timings = (sends, orders, fills)
        self.book_times = rec.get("book_send_times", {})
        self.quote_times = rec.get("quote_send_times", {})
        return sends


def serve_loopback(
    kind: Kind, trades_only: bool = False, **kwargs: Kwargs
) -> tuple[int, StopServer]:
    """Run a loopback exchange in its own (spawned) process.

    Parameters
    ----------
    kind : {"binance", "bybit"}
        Which venue: :class:`~.binance.exchange.BinanceLoopback` or
        :class:`~.bybit.exchange.BybitLoopback`.
    trades_only : bool, default False
        Binance only: replay the capture's trade frames alone.
    **kwargs
        The server's constructor arguments.

    Returns
    -------
    (int, StopServer)
        The port, and the callable that stops the server (see :class:`StopServer`).
    """
    import multiprocessing

    check_choice("kind", kind, ("binance", "bybit"))
    if trades_only and kind != "binance":
        raise ValueError(f"trades_only: only the binance loopback replays trades alone, not {kind}")
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_child, args=(child, kind, kwargs, trades_only), daemon=True)
    proc.start()
    return parent.recv(), StopServer(kind, parent, proc)


def serve_binance_in_subprocess(
    trades_only: bool = False, **kwargs: Kwargs
) -> tuple[int, StopServer]:
    """A :class:`~.binance.exchange.BinanceLoopback` in its own process (also known as
    ``serve_in_subprocess``). Returns ``(port, stop)``; ``stop()`` returns the server's
    ``send_times`` (None unless ``record_send_times=True``); ``stop.timings`` then holds
    ``(send_times, order_times, fill_times)``, ``stop.book_times`` and ``stop.quote_times`` the
    depth and bookTicker frames' send times by ``u``.

    Parameters
    ----------
    trades_only : bool, default False
        Replay the capture's trade frames alone.
    **kwargs
        ``BinanceLoopback``'s arguments.
    """
    return serve_loopback("binance", trades_only, **kwargs)


def serve_bybit_in_subprocess(**kwargs: Kwargs) -> tuple[int, StopServer]:
    """A :class:`~.bybit.exchange.BybitLoopback` in its own process. Returns ``(port, stop)``;
    ``stop()`` returns its ``(send_times, bbo_send_times)``; ``stop.timings`` then holds
    ``(None, order_times, fill_times)`` (the private side's, as for Binance).

    Parameters
    ----------
    **kwargs
        ``BybitLoopback``'s arguments.
    """
    return serve_loopback("bybit", **kwargs)
