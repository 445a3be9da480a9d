"""CCXTLiveFeed: ccxt.pro WebSocket streams as channel events, made to survive real exchanges.

One thread runs an asyncio loop with one task per (channel, symbol): ``watch_trades`` (tick),
``watch_order_book`` (orderbook: snapshots of the top ``book_depth`` levels of the book ccxt
keeps), ``watch_bids_asks`` (quote), and a contract's mark-price stream (derivative: mark, index,
funding, and the funding settlements it reveals; :mod:`.derivative`). What ccxt.pro does not do
by itself (measured on 4.5.90), this does:

* **reconnect** with capped exponential backoff after any ``ccxt.NetworkError`` (disconnects,
  ``ChecksumError`` on a book sequence gap, which resyncs the book, ``ExchangeNotAvailable`` after
  failed snapshots, ``RequestTimeout``);
* a per-stream **stall watchdog**: a stream silent for ``stall_timeout`` seconds (a silent stall,
  or a malformed frame that killed ccxt's receive loop) has its socket torn down and reopened;
* **trade continuity**: duplicate trade ids are dropped; a gap in ids is backfilled from REST
  trades that carry the stream's own ids (:mod:`.backfill`), and what cannot be backfilled is
  reported with its id range; a book handed over twice unchanged is delivered once; a stream
  that goes quiet first takes what waits in ccxt's caches (:mod:`.latest`), then reconnects;
* every event passes the :class:`LiveDataValidator`; it can be **recorded** (native Parquet,
  flushed every second) and it goes to the engine's :class:`LiveEventQueue`.

API keys come from the exchange instance you pass, or from ``config`` (a JSON file with
``apiKey``/``secret``) or the environment (``<EXCHANGE>_API_KEY``/``<EXCHANGE>_API_SECRET``);
they are never logged, reported or recorded.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TypeAlias, cast

import ccxt

from ..errors import check_choice
from ..events import DerivativeEvent, channel_key
from ..log import logger
from ..sources.venues import market_of
from ..sources.writer import PartitionedWriter
from .book_recovery import BookRecovery
from .derivative import FundingClock, LiveDerivatives
from .driver import close_loop
from .faults import FeedError, anomaly_of, describe_error, error_family
from .frames import FrameCounter
from .keys import credentials, exchange_from
from .latest import LatestState
from .queue import LiveEventQueue
from .sequence import reset_socket
from .stream_reports import StreamReports
from .streams import Backoff, FeedConfig, StreamState
from .trades import TradeContinuity, int_id, watch_catching_up
from .validator import LiveDataValidator, MarketEvent
from .venue_parts import CcxtExchange, live_parts

KINDS = ("tick", "orderbook", "quote", "derivative")
#: what the feed delivers: market events, and a contract's mark price and funding
FeedEvent: TypeAlias = MarketEvent | DerivativeEvent
#: why a book stream is down while it rebuilds its book after a break in the update ids
__all__ = ["KINDS", "CCXTLiveFeed", "FeedEvent", "credentials", "exchange_from"]


class CCXTLiveFeed(BookRecovery, StreamReports):
    """Live trades, books, best bid/ask and mark prices from any ccxt.pro exchange (see
    module doc).

    Parameters
    ----------
    exchange : ccxt.pro.Exchange or str
        An exchange instance (its URLs and keys as you set them), or a ccxt id such as
        ``"binance"`` (keys then come from ``config`` or the environment).
    symbols : iterable of str
        Unified ccxt symbols, e.g. ``["BTC/USDT"]``.
    channels : iterable of {"tick", "orderbook", "quote", "derivative"}
        The streams to watch for every symbol (default: the first three). ``"derivative"`` (mark
        price, index price, funding: ``DerivativeChannel`` events, with a settlement event
        for each funding time passed) needs contract symbols (``"BTC/USDT:USDT"``) on a venue
        with a mark-price stream (Binance USDⓈ-M/COIN-M, Bybit; :mod:`.derivative`): a
        ValueError otherwise.
    record_to : str, optional
        A directory: every delivered event is written there in the native partitioned
        layout, flushed every second.
    book_depth : int, default 20
        Levels per side in each order-book event.
    stall_timeout : float, default 10.0
        Seconds without a message after which a stream's socket is torn down and reopened.
    backoff_initial, backoff_max : float
        The reconnect backoff: first delay and cap, in seconds (doubling in between).
    backfill : bool, default True
        Fill gaps in trade ids from REST where the venue has them (else only report them).
    config : str, optional
        A JSON file with ``apiKey``/``secret`` (used when ``exchange`` is an id).
    validator : LiveDataValidator, optional
        The checks every event passes; a default one otherwise.
    connect_timeout : float, default 10.0
        Seconds after which a stream that has delivered nothing is logged (once, with its last
        error) and reported; the feed keeps retrying.
    max_failures : int, default 5
        Errors in a row, other than network errors, after which a stream (or ``load_markets``)
        gives up and the run stops with a :class:`FeedError`. Network errors are retried for as
        long as they last.
    trade_cache : int or None, default 10_000
        Trades ccxt keeps per symbol between two watch calls (its ``tradesLimit`` option,
        1,000 by default); the feed raises the exchange's option to this. Trades beyond it
        that arrive while the engine is busy are lost to ccxt and must be backfilled (a
        0.1 s pause at 10,000 trades/s overflows ccxt's default). None leaves the option as
        the exchange has it.
    venue : str, optional
        Name the venue: the channels become ``(type, symbol, venue)`` and every event carries
        it, so two feeds may deliver one symbol (``docs/venues.md``). ``True`` names it after
        the exchange (``"bybit"``). None: ``(type, symbol)``, as a single-venue run has it.
    """

    def __init__(
        self,
        exchange: CcxtExchange | str,
        symbols: Iterable[str],
        channels: Iterable[str] = ("tick", "orderbook", "quote"),
        record_to: str | None = None,
        book_depth: int = 20,
        stall_timeout: float = 10.0,
        backoff_initial: float = 0.25,
        backoff_max: float = 30.0,
        backfill: bool = True,
        config: str | None = None,
        validator: LiveDataValidator | None = None,
        connect_timeout: float = 10.0,
        max_failures: int = 5,
        trade_cache: int | None = 10_000,
        venue: str | bool | None = None,
    ):
        self.symbols = list(symbols)
        self.kinds = list(channels)
        for kind in self.kinds:
            check_choice("channels", kind, KINDS)
        if not self.symbols:
            raise ValueError("symbols: give at least one symbol, e.g. ['BTC/USDT']")
        if isinstance(exchange, str):
            self.exchange = exchange_from(exchange, config)
        else:
            self.exchange = exchange
        self.exchange_id = str(getattr(self.exchange, "id", "exchange"))
        #: how the streams are watched (checked once, here)
        self.config = FeedConfig(
            book_depth, stall_timeout, backoff_initial, backoff_max, backfill,
            connect_timeout, max_failures, trade_cache,
        )  # fmt: skip
        options = getattr(self.exchange, "options", None)
        if trade_cache is not None and isinstance(options, dict):
            options["tradesLimit"] = max(int(options.get("tradesLimit") or 0), trade_cache)
        self.stall_timeout = self.config.stall_timeout  # (the stream reports read it)
        self.connect_timeout = self.config.connect_timeout
        self.validator = validator or LiveDataValidator()
        #: trade ids in order: duplicates dropped, gaps backfilled or reported
        self.venue = self.exchange_id if venue is True else (venue or "")
        self.validator.venue = self.venue
        #: book gaps ccxt does not check itself (Bybit's ``u``): symbols to resubscribe
        self._gaps: dict[str, tuple[int, int]] = {}
        parts = live_parts(self.exchange)
        wrappable = hasattr(self.exchange, "handle_message")
        self.book_guard = (
            parts.book_guard(self.exchange, self._on_book_gap, self._on_book_restart)
            if parts.book_guard is not None and wrappable
            else None
        )
        #: market-data frames received per stream (outside the guard: every frame counts)
        self.frame_counter = (
            FrameCounter(self.exchange, parts.frame_kind)
            if parts.frame_kind is not None and wrappable
            else None
        )
        self.trades = TradeContinuity(self.exchange, self.validator, backfill, self.venue)
        self.writer = (
            PartitionedWriter(record_to, venue=self.exchange_id, market=market_of(self.exchange))
            if record_to
            else None
        )
        self.queue: LiveEventQueue | None = None
        self.delivered = 0
        self.error: BaseException | None = None
        #: the books and best bid/ask delivered last (and what waits in ccxt's caches)
        self.latest = LatestState(book_depth, self.venue, self.validator)
        #: the mark prices delivered last, and the funding settlements due (derivative only;
        #: refused on spot symbols or a venue without a mark-price stream)
        derivative = "derivative" in self.kinds
        self.derivatives = (
            LiveDerivatives.of(self.exchange, self.symbols, self.venue, self.validator)
            if derivative
            else None
        )
        self.funding = FundingClock(self.venue) if derivative else None
        self._running = False
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Future[None]] = []
        #: each stream's state: its task, the watch call it waits in, why it is down, ...
        self._streams: dict[tuple[str, str], StreamState] = {
            key: StreamState(key) for key in self.streams
        }
        self._ready = threading.Event()
        self._wake = True  # stop the driven loop after each delivery (until detach())
        self._main_task: asyncio.Task[None] | None = None  # set when attached to a driven loop
        self._main_future: asyncio.Future[None] | None = None  # _main's task, in either mode
        self._markets_error = ""  # load_markets' last error, redacted, for the report

    def __repr__(self) -> str:  # never shows credentials
        return f"<CCXTLiveFeed {self.exchange_id} {self.symbols} {self.kinds}>"

    # ---- lifecycle ---------------------------------------------------------------------------
    def attach(self, queue: LiveEventQueue, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver into ``queue`` from ``loop``, which the engine runs on its own thread while it
        waits (``live/driver.py``); each delivery stops the loop so the engine can
        dispatch at once. The alternative to :meth:`start`."""
        self.queue = queue
        self._running = True
        self._loop = loop
        self._main_task = self._main_future = loop.create_task(self._main())
        self._main_task.add_done_callback(self._main_done)

    def _main_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.error = task.exception()
        self._ready.set()

    @property
    def ready(self) -> bool:
        """Whether the markets are loaded and the streams started (or the feed failed)."""
        return self._ready.is_set()

    def loop_paused(self, seconds: float) -> None:
        """The driven loop did not run for ``seconds`` (the engine was busy): that time does not
        count towards a stream's stall."""
        for st in self._streams.values():
            if st.since is not None:
                st.since += seconds

    def detach(self) -> None:
        """The driver is stopping the feeds: no longer stop its loop after a delivery (it would
        cut short another feed's shutdown running on the same loop)."""
        self._wake = False

    def start(self, queue: LiveEventQueue) -> None:
        """Connect and deliver into ``queue`` (a LiveEventQueue) from a thread of its own."""
        self.queue = queue
        self._running = True
        self._thread = threading.Thread(
            target=self._thread_main, name=f"feed-{self.exchange_id}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every stream, close the exchange's sockets, flush the recording."""
        self._running = False
        task = self._main_task
        if task is not None and self._loop is not None:
            if not task.done() and not self._loop.is_closed():
                self._cancel_all()
                self._loop.run_until_complete(asyncio.wait([task], timeout=timeout))
        elif self._thread is not None and self._thread.is_alive():
            deadline = time.monotonic() + timeout
            while self._loop is None and time.monotonic() < deadline:
                time.sleep(0.001)  # the thread is creating its loop
            if self._loop is not None and not self._loop.is_closed():
                try:
                    self._loop.call_soon_threadsafe(self._cancel_all)
                except RuntimeError:  # the loop closed meanwhile: the thread is ending
                    pass
            self._thread.join(max(deadline - time.monotonic(), 0.0))
        if self.writer is not None:
            self.writer.close()

    @property
    def alive(self) -> bool:
        """Whether the feed is running (its thread, or its task on a driven loop)."""
        if self._main_task is not None:
            return not self._main_task.done()
        return self._thread is not None and self._thread.is_alive()

    def _thread_main(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        try:
            self._main_future = self._loop.create_task(self._main())
            if not self._running:  # stopped before the loop existed
                self._main_future.cancel()
            self._loop.run_until_complete(self._main_future)
        except asyncio.CancelledError:
            pass  # stopped
        except BaseException as exc:  # noqa: BLE001 - surfaced to the engine
            self.error = exc
        finally:
            self._ready.set()
            close_loop(self._loop)

    def _cancel_all(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._main_future is not None:  # also while markets are still loading
            self._main_future.cancel()

    async def _main(self) -> None:
        watch = asyncio.ensure_future(self._connect_watch())
        self._tasks = [watch]
        try:
            await self._load_markets()
            markets = getattr(self.exchange, "markets", None) or {}
            unknown = [s for s in self.symbols if self._running and s not in markets]
            if unknown:
                near = [m for m in markets if any(u.split("/")[0] in m for u in unknown)][:5]
                raise FeedError(
                    f"{self.exchange_id} has no market {', '.join(unknown)}"
                    + (f" (similar: {', '.join(near)})" if near else "")
                )
            why = self.derivatives.refusal(markets, self.symbols) if self.derivatives else None
            if why and self._running:
                raise FeedError(f"{self.exchange_id}: {why}")
            for st in self._streams.values():
                st.task = asyncio.ensure_future(self._stream(st))
            self._tasks = [
                watch,
                *(st.task for st in self._streams.values() if st.task is not None),
                asyncio.ensure_future(self._watchdog()),
            ]
            if self.writer is not None:
                self._tasks.append(asyncio.ensure_future(self._flush_every_second()))
            self._ready.set()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        finally:
            watch.cancel()
            try:
                await self.exchange.close()
            except Exception:  # noqa: BLE001 - already closing
                pass

    async def _load_markets(self) -> None:
        """``load_markets`` until it succeeds: network errors are retried for as long as they
        last, other errors (bad credentials, a venue answering nonsense) ``max_failures``
        times in a row before the feed fails with them."""
        cfg = self.config
        backoff = Backoff(cfg.backoff_initial, cfg.backoff_max)
        failures = 0
        key = ("markets", "*")
        while self._running:
            try:
                await self.exchange.load_markets()
                return
            except Exception as exc:
                failures += 1
                self._markets_error = describe_error(exc, self.exchange)
                self.validator.record(key, f"{error_family(exc)}:{type(exc).__name__}")
                if not isinstance(exc, ccxt.NetworkError) and failures >= cfg.max_failures:
                    raise FeedError(f"{self.exchange_id} markets: {self._markets_error}") from exc
                await backoff.wait()

    async def _flush_every_second(self) -> None:
        while self._running:
            await asyncio.sleep(1.0)
            self.writer.flush()  # type: ignore[union-attr]

    # ---- one stream --------------------------------------------------------------------------
    async def _stream(self, st: StreamState) -> None:
        """One supervised stream: watch, convert, deliver; on any error record it, back off
        (with jitter) and start again; see :meth:`_failed` for when it gives up."""
        kind, symbol = st.key
        cfg = self.config
        backoff = Backoff(cfg.backoff_initial, cfg.backoff_max)
        watch = {
            "tick": self._watch_trades,
            "orderbook": self._watch_book,
            "quote": self._watch_quote,
            "derivative": self._watch_derivative,
        }[kind]
        failures = 0
        loop = asyncio.get_running_loop()
        # Driven (the engine's thread), a book or quote stream lets the engine dispatch before
        # the next watch call is set up: ccxt's watch_* runs for tens of us before it waits
        # (frame -> quote engine p50 261 -> ~210 us, test_venues.py). What ccxt handled
        # meanwhile, with no call waiting, is taken from its cache. Not for trades: ccxt hands
        # cached trades back with the next call, and at 10k trades/s the second look costs more
        # than it saves.
        dispatch_first = self._main_task is not None and kind != "tick"
        while self._running:
            if self._gaps and kind == "orderbook" and await self._resync_book(symbol):
                continue  # a gap seen while no watch call waited (dispatching, just above)
            st.since = loop.time()
            try:
                events = await watch(symbol)
                st.since = None
                st.down = ""
                self._deliver(events, st)
                while dispatch_first and events:
                    await asyncio.sleep(0)
                    events = self._from_cache(kind, symbol)
                    self._deliver(events, st)
            except asyncio.CancelledError:
                self._watch_failed(st)
                if not st.stalled:
                    raise  # stopping
                st.stalled = False
                await self._on_stall(st)
                continue
            except Exception as exc:  # noqa: BLE001 - every stream is supervised
                self._watch_failed(st)
                if await self._on_sequence_break(st, exc):
                    continue
                st.down = f"failing ({type(exc).__name__})"
                failures += 1
                if self._failed(st, exc, failures):
                    return
                await backoff.wait()
                continue
            if failures:
                failures = 0
                backoff.reset()

    def _watch_failed(self, st: StreamState) -> None:
        """A watch call ended without events: it no longer waits, and a trade stream goes back
        to the last trade it delivered."""
        st.since = None
        if st.key[0] == "tick":
            self.trades.rewind(st.key[1])

    async def _on_stall(self, st: StreamState) -> None:
        """The watchdog (or a book gap) cancelled a watch: resubscribe a book with a gap, else
        deliver what waits in ccxt's cache, else reconnect."""
        uncancel = getattr(asyncio.current_task(), "uncancel", None)
        if uncancel is not None:  # Python >= 3.11 counts cancellations
            uncancel()
        kind, symbol = st.key
        if kind == "orderbook" and await self._resync_book(symbol):
            return
        # ccxt.pro resolves a watch on the *next* message: updates that arrived between two
        # calls wait in its cache. Take them first; only a silent cache is a stall.
        pending = self._from_cache(kind, symbol)
        if pending:
            self._deliver(pending, st)
            return
        self.validator.record(st.key, "stale")
        st.down = "stalled, reconnecting"
        await self._reset_socket(kind, symbol)

    def _failed(self, st: StreamState, exc: BaseException, failures: int) -> bool:
        """Record a stream's error; True when the feed must fail: ``max_failures`` errors in a
        row that are not network errors (a network outage is retried for as long as it lasts).
        The run then stops with the error (``feed.error``)."""
        st.last_error = describe_error(exc, self.exchange)
        if isinstance(exc, ccxt.BaseError):
            anomaly, detail = anomaly_of(st.key[0], exc), type(exc).__name__
        else:  # a bug or an unexpected payload: never silent
            anomaly, detail = "stream_error", st.last_error
        self.validator.record(st.key, anomaly, detail)
        if isinstance(exc, ccxt.NetworkError) or failures < self.config.max_failures:
            return False
        kind, symbol = st.key
        self.error = FeedError(
            f"{self.exchange_id} {kind}:{symbol}: {failures} errors in a row, the last "
            f"{st.last_error}"
        )
        logger.error("%s", self.error)
        return True

    async def _watchdog(self) -> None:
        """Cancel a stream's watch once it has waited ``stall_timeout`` seconds (one timer for
        the feed: a ``wait_for`` per watch call cost a task and a timer per message batch).

        Only time the loop was free to read counts: when the watchdog itself wakes late, the
        loop was starved (a loaded machine), frames waited in the sockets unread, and that
        lag is not the stream's silence (under load, false stalls used to reconnect every
        stream again and again)."""
        loop = asyncio.get_running_loop()
        period = min(self.stall_timeout / 4, 0.25)
        while self._running:
            before = loop.time()
            await asyncio.sleep(period)
            now = loop.time()
            lag = now - before - period
            if lag > period:
                self.loop_paused(lag)
            for st in self._streams.values():
                since = st.since
                if since is not None and now - since > self.stall_timeout and not st.stalled:
                    st.since = None
                    st.stalled = True
                    if st.task is not None:
                        st.task.cancel()

    async def _reset_socket(self, kind: str, symbol: str) -> None:
        """Tear down the socket a stream uses, so the next watch dials a new one."""
        marker = self.derivatives.spec.marker if self.derivatives and kind == "derivative" else None
        await reset_socket(self.exchange, kind, symbol, self.book_guard, marker)
        self.validator.record((kind, symbol), "reconnect")

    def _deliver(self, events: Sequence[FeedEvent], st: StreamState | None = None) -> None:
        funding = self.funding
        if funding is not None and events:
            due = funding.due(events)
            if due:  # a funding time passed: its settlement goes first (see .derivative)
                self._deliver(due)
        # (the validator checks a derivative event's time; its prices: LiveDerivatives)
        validate = cast("Callable[[FeedEvent], bool]", self.validator.validate)
        ok = [e for e in events if validate(e)]
        if not ok:
            if events and events[0].channel_type == "tick":
                self.trades.delivered(events[0].channel_name)  # (rejected, and counted)
            return
        if self.writer is not None:
            for e in ok:
                self.writer.write(e.channel_type, e.channel_name, (e,))
        # one watch call's events are of one channel: the engine runs them without a look-up
        first = ok[0]
        key = channel_key(first.channel_type, first.channel_name, self.venue)
        n = self.queue.push_many(ok, key)  # type: ignore[union-attr, arg-type]
        self.delivered += n
        if st is None:
            st = self._streams[(first.channel_type, first.channel_name)]
        st.events += n
        if first.channel_type == "tick":
            self.trades.delivered(first.channel_name)
        elif funding is not None and first.channel_type == "derivative":
            funding.delivered(cast("list[DerivativeEvent]", ok))
        if self._main_task is not None:  # on the engine's thread: let it dispatch now
            if self._running and self._wake:
                self._loop.stop()  # type: ignore[union-attr]
        else:
            # Hand the GIL over: the woken engine would otherwise wait up to a switch interval
            # (feed receipt -> callback p50 520 -> 170 us at 10k trades/s, test_live.py)
            time.sleep(0)

    def _from_cache(self, kind: str, symbol: str) -> Sequence[FeedEvent]:
        """Updates waiting in ccxt's caches that no watch call has returned yet."""
        recv = time.time_ns()
        ex = self.exchange
        if kind == "tick":
            last = self.trades.last_id.get(symbol)
            cached = list(getattr(ex, "trades", {}).get(symbol) or [])
            new = [t for t in cached if last is None or (int_id(t.get("id")) or 0) > last]
            return self.trades.from_cache(new, symbol, recv)
        if kind == "orderbook":
            return self.latest.book_from_cache(ex, symbol, recv)
        if kind == "derivative":
            assert self.derivatives is not None
            return self.derivatives.from_cache(ex, symbol, recv)
        return self.latest.quote_from_cache(ex, symbol, recv)

    # ---- conversions -------------------------------------------------------------------------
    async def _watch_trades(self, symbol: str) -> Sequence[MarketEvent]:
        st = self._streams[("tick", symbol)]
        if not st.down:
            trades = await self.exchange.watch_trades(symbol)
        else:  # after a reconnect: subscribe, then ask what was missed while the stream gathers
            trades = await watch_catching_up(self.exchange, self.trades, symbol, self._deliver, st)
        return await self.trades.from_watch(trades, symbol, time.time_ns())

    async def _watch_book(self, symbol: str) -> Sequence[MarketEvent]:
        ob = await self.exchange.watch_order_book(symbol)
        return self.latest.book_event(ob, symbol, time.time_ns())

    async def _watch_quote(self, symbol: str) -> Sequence[MarketEvent]:
        tickers = await self.exchange.watch_bids_asks([symbol])
        recv = time.time_ns()
        q = tickers.get(symbol) or next(iter(tickers.values()))
        return self.latest.quote_event(q, symbol, recv)

    async def _watch_derivative(self, symbol: str) -> Sequence[FeedEvent]:
        return await self.derivatives.watch(self.exchange, symbol)  # type: ignore[union-attr]
