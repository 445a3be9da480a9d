"""The venue session: a CCXTBroker's asyncio side, talking to the exchange through ccxt.

It runs where live feeds run (on the engine thread's driven loop, or in a thread of its own) and
never touches backtrader state: everything it learns goes into the run's LiveEventQueue as
:class:`~backtrader_channels.events.BrokerUpdate` events, which the engine hands to the broker on
its own thread. What it does:

* at start: ``load_markets``, then the reconciliation snapshot (balances, open orders, recent
  fills, and every order the store says is unfinished, by client id);
* the private WebSocket (``watch_orders``, ``watch_my_trades``) for speed; after each
  (re)subscription, a REST sweep, and another every ``sweep_interval`` seconds, for truth;
* submits: a reply is an ack, a venue error a rejection, and everything else (a timeout, a
  disconnect, a 5xx) an **unknown** outcome, resolved by querying the client id, never by
  sending the order again; a "duplicate order" answer means it is already placed;
* cancels, and cancel-all for the kill switch and the end of the run.
"""

from __future__ import annotations

import asyncio
import copy
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Literal

import ccxt

from ..events import (
    BrokerUpdate,
    CcxtDict,
    OrdersUpdate,
    OrderUpdate,
    Outcome,
    PrivateStream,
    Reconciliation,
    TradesUpdate,
    VenueFault,
    VenueNews,
    VenueSnapshot,
)
from ..live.driver import close_loop
from ..live.faults import describe_error
from ..live.queue import LiveEventQueue
from ..live.streams import Backoff
from ..live.validator import AnomalyReport
from ..live.venue_parts import CcxtExchange
from ..log import logger
from .dialects import dialect_for
from .perp_session import (
    DUPLICATES,
    REFUSALS,
    StartRefused,
    perp_snapshot,
    perp_symbols,
    prepare_perps,
    venue_code,
)

#: the first pause of the start and private-stream retry loops (seconds; doubling)
_FIRST_RETRY_S = 0.25
#: the exchange attributes a session's own client copies from the user's instance
_COPIED = ("apiKey", "secret", "password", "uid", "timeout", "enableRateLimit", "rateLimit")


def own_client(exchange: CcxtExchange) -> CcxtExchange:
    """A new instance of ``exchange``'s class with its keys, URLs and options: the session's
    sockets and HTTP session belong to its own loop, whatever loop the user's instance uses."""
    # (a False enableRateLimit is copied too: only what the instance does not have is left)
    config = {k: getattr(exchange, k) for k in _COPIED if getattr(exchange, k, None) is not None}
    config["options"] = copy.deepcopy(getattr(exchange, "options", {}) or {})
    clone = type(exchange)(config)
    clone.urls = copy.deepcopy(exchange.urls)
    return clone


def outcome_of(exc: BaseException) -> str:
    """What a failed submit means: ``"duplicate"`` (already placed), ``"rejected"`` (the venue
    refused it) or ``"unknown"`` (it may or may not be placed)."""
    if isinstance(exc, ccxt.InvalidOrder) and "uplicate" in str(exc):
        return "duplicate"
    code = venue_code(exc)
    if code in DUPLICATES and "uplicate" in str(exc):
        return "duplicate"
    if isinstance(exc, (ccxt.NetworkError, ccxt.BadResponse, ccxt.NullResponse)):
        return "unknown"
    if isinstance(exc, ccxt.ExchangeError):
        return "rejected"
    return "unknown"


@dataclass(frozen=True)
class SessionConfig:
    """How a :class:`VenueSession` works (the :class:`~.broker.CCXTBroker` parameters of the
    same names).

    Parameters
    ----------
    sweep_interval : float, default 10.0
        Seconds between REST sweeps.
    unknown_retries : int, default 5
        Queries of an unknown submit's client id before it is declared not placed.
    unknown_retry_s : float, default 0.5
        The first pause between those queries (doubling, up to ``backoff_max``).
    backoff_max : float, default 10.0
        The longest pause of every retry loop (start, private streams, queries).
    cancel_on_stop : bool, default True
        Cancel the run's working orders when the run ends.
    leverage : dict, optional
        Perpetuals: the leverage to set per symbol at start.
    """

    sweep_interval: float = 10.0
    unknown_retries: int = 5
    unknown_retry_s: float = 0.5
    backoff_max: float = 10.0
    cancel_on_stop: bool = True
    leverage: dict[str, float] = field(default_factory=dict)


class VenueSession:
    """The asyncio side of a :class:`~.broker.CCXTBroker` (see module doc).

    Parameters
    ----------
    exchange : ccxt.pro.Exchange
        The user's keyed instance; the session works on its own copy (:func:`own_client`).
    symbols : list of str
        The symbols traded.
    unfinished : callable
        Returns ``[(client_id, symbol), ...]`` of orders not yet terminal (read at each sweep).
    config : SessionConfig, optional
        Sweep interval, retries, back-off, cancel on stop.
    venue : str, default ""
        Stamped on every update, for a broker trading several venues.
    """

    error: BaseException | None = None

    def __init__(
        self,
        exchange: CcxtExchange,
        symbols: list[str],
        unfinished: Callable[[], list[tuple[str, str]]],
        config: SessionConfig | None = None,
        venue: str = "",
    ):
        self.ex = own_client(exchange)  # queries, sweeps, the private stream (rate-limited)
        #: creates and cancels: no client-side throttle, so an order never waits behind a
        #: sweep's weight (ccxt's limiter added ~10 ms per order, ~200 ms after a sweep);
        #: the order rate is RiskLimits.max_orders_per_second's to bound
        self.fast = own_client(exchange)
        self.fast.enableRateLimit = False
        #: what ccxt leaves venue-specific (client-id queries and cancels, the stream's login)
        self.dialect = dialect_for(self.ex)
        self.symbols = list(symbols)
        self.unfinished = unfinished
        self.config = config = config if config is not None else SessionConfig()
        self.venue = venue  # stamped on every update (a broker trading several venues)
        #: updates that came after the run's queue closed (applied by the broker's stop)
        self.late: list[BrokerUpdate] = []
        self.queue: LiveEventQueue | None = None
        self.private_up = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._driven = False
        self._thread: threading.Thread | None = None
        self._main: asyncio.Future[None] | None = None
        self._tasks: list[asyncio.Future[None]] = []
        self._inflight: set[asyncio.Future[None]] = set()
        self._ready = threading.Event()
        self._running = False
        self._wake = True  # stop the driven loop after each update (until detach())
        self._login = asyncio.Lock()  # the private streams' logins, one at a time
        self._since_ms: dict[str, int] = {}  # per symbol: the last trade time seen (sweeps)
        self.perps: list[str] = []  # the perpetual symbols traded (known after load_markets)
        #: the sweep asked for while one runs (its waiters), and whether one runs
        self._next_sweep: asyncio.Future[None] | None = None
        self._sweep_why = ""
        self._sweeping = False
        self._start_ms = 0  # funding and liquidations are the run's from here on

    # ---- LiveFeed / DrivenFeed ------------------------------------------------------------
    channel_keys: list[tuple[str, ...]] = []  # noqa: RUF012 - no market channels

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def attach(self, queue: LiveEventQueue, loop: asyncio.AbstractEventLoop) -> None:
        self.queue, self._loop, self._driven, self._running = queue, loop, True, True
        self._main = loop.create_task(self._run())

    def detach(self) -> None:
        """The run is ending: updates no longer stop the driven loop."""
        self._wake = False

    def start(self, queue: LiveEventQueue) -> None:
        self.queue, self._running = queue, True
        self._thread = threading.Thread(target=self._thread_main, name="venue", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            logger.warning("venue session: loop not started after 10 s")

    def _thread_main(self) -> None:
        """The session's own loop, until :meth:`stop` has finished with it."""
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._main = loop.create_task(self._run())
        self._main.add_done_callback(self._main_done)
        try:
            loop.run_forever()
        finally:
            self._ready.set()
            close_loop(loop)

    def _main_done(self, task: asyncio.Future[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.error = task.exception()  # surfaced to the engine
            self._ready.set()

    def loop_paused(self, seconds: float) -> None:
        pass

    def anomaly_report(self) -> AnomalyReport:
        return {}

    def silent_streams(self) -> dict[str, str]:
        return {}

    def stop(self, timeout: float = 10.0) -> None:
        """Let in-flight requests finish (up to ``timeout``), then close the sockets."""
        self._running = False
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if self._driven:
            loop.run_until_complete(self._finish(timeout))
        elif self._thread is not None:
            try:
                asyncio.run_coroutine_threadsafe(self._finish(timeout), loop).result(timeout + 5)
            except Exception:  # noqa: BLE001 - shutting down anyway
                pass
            if not loop.is_closed():  # now the thread's loop may end
                loop.call_soon_threadsafe(loop.stop)
            self._thread.join(5)

    async def _finish(self, timeout: float) -> None:
        """In-flight requests end; working orders are cancelled (``cancel_on_stop``)."""
        if self._inflight:
            await asyncio.wait(list(self._inflight), timeout=timeout)
        if self.ex.markets:
            # cancel_all sweeps after cancelling; a sweep alone finds the fills of the run's
            # last moments that the private stream did not bring before the loop ended (an
            # order the create reply said was filled, whose trades had not come yet)
            cancel = self.config.cancel_on_stop and self.unfinished()
            last = self.cancel_all if cancel else self.sweep
            try:
                await asyncio.wait_for(last("end of run"), timeout)
            except TimeoutError:
                self._push(VenueFault(f"end of run: the venue did not answer in {timeout:g} s"))
        await self._shutdown()

    async def _shutdown(self) -> None:
        for task in [*self._tasks, *self._inflight]:  # what outlived stop()'s wait
            task.cancel()
        if self._main is not None:
            self._main.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for client in (self.ex, self.fast):
            try:
                await client.close()
            except Exception:  # noqa: BLE001 - already closing
                pass

    # ---- to the engine ----------------------------------------------------------------------
    def _push(self, news: VenueNews) -> None:
        update = BrokerUpdate(time.time_ns(), news, self.venue)
        if self.queue is None or self.queue.stopped or not self.queue.push(update):
            self.late.append(update)
            return
        if self._driven and self._loop is not None and self._running and self._wake:
            self._loop.stop()  # let the engine apply it now

    # ---- from the engine (any thread) -------------------------------------------------------
    def call(self, coro_fn: Callable[..., Coroutine[object, object, None]], *args: object) -> None:
        """Run ``coro_fn(*args)`` on the session's loop (tracked until it ends)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            self._push(VenueFault(f"venue session not running: {coro_fn.__name__} not sent"))
            return

        def spawn() -> None:
            task = asyncio.ensure_future(coro_fn(*args))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

        if self._driven:
            loop.call_soon(spawn)
        else:
            loop.call_soon_threadsafe(spawn)

    async def submit(self, cid: str, symbol: str, kind: str, side: str, amount: float,
                     price: float | None, flags: CcxtDict | None = None) -> None:  # fmt: skip
        """Place one order with client id ``cid`` (and ``flags``: ccxt's ``reduceOnly``,
        ``timeInForce``, ``postOnly``); the outcome goes to the engine."""
        try:
            order = await self.fast.create_order(
                symbol, kind, side, amount, price, {**(flags or {}), "clientOrderId": cid}
            )
        except Exception as exc:  # noqa: BLE001 - every outcome is reported
            outcome = outcome_of(exc)
            why = describe_error(exc, self.ex)
            if outcome == "rejected":  # not enough funds: backtrader's Margin status
                # by the venue's code: ccxt types Binance's futures codes only on its hosts
                what, margin = REFUSALS.get(venue_code(exc) or 0, ("", False))
                margin = margin or isinstance(exc, ccxt.InsufficientFunds)
                self._push(Outcome("rejected", cid, f"{what}: {why}" if what else why, margin))
                return
            if outcome == "unknown":
                self._push(Outcome("unknown", cid, why))
            else:
                self._push(Outcome("note", cid, f"duplicate: {why}"))
            if isinstance(exc, ccxt.InvalidNonce):
                await self._resync_clock()
            await self.resolve(cid, symbol)
            return
        self._push(OrderUpdate(dict(order), "rest"))

    async def resolve(self, cid: str, symbol: str) -> None:
        """Find an order of unknown outcome by its client id; not found after the retries:
        it was not placed."""
        config = self.config
        backoff = Backoff(config.unknown_retry_s, config.backoff_max, jitter=False)
        misses = 0
        while misses < config.unknown_retries:
            await backoff.wait()
            try:
                order = await self.dialect.fetch_by_client_id(self.ex, cid, symbol)
            except ccxt.OrderNotFound:
                misses += 1
            except Exception as exc:  # noqa: BLE001 - a failed query is not an answer
                logger.warning("query of %s failed: %s", cid, describe_error(exc, self.ex))
                if isinstance(exc, ccxt.InvalidNonce):
                    await self._resync_clock()
            else:
                self._push(OrderUpdate(dict(order), "rest"))
                return
        self._push(Outcome("rejected", cid, f"not found at the venue after {misses} queries"))

    async def cancel(self, cid: str, symbol: str) -> None:
        try:
            order = await self.dialect.cancel_by_client_id(self.fast, cid, symbol)
        except ccxt.OrderNotFound:  # already closed, or never placed: ask what it is
            await self._query(cid, symbol)
        except Exception as exc:  # noqa: BLE001 - the sweep will tell what happened
            self._push(Outcome("cancel_failed", cid, describe_error(exc, self.ex)))
            await self._query(cid, symbol)
        else:
            self._push(OrderUpdate(order, "rest"))

    async def amend(
        self,
        cid: str,
        xid: str,
        symbol: str,
        side: str,
        amount: float,
        price: float | None,
        new_cid: str | None = None,
        flags: CcxtDict | None = None,
    ) -> None:
        """Amend order ``xid`` (client id ``cid``) to ``amount`` at ``price``: in place, or
        by a cancel-replace whose new order gets ``new_cid`` (and the order's ``flags``, e.g.
        ccxt's ``postOnly``). Sent once; a lost reply is answered by querying the order (and
        its replacement): what the venue has tells."""
        params = dict(flags or {})
        if new_cid is not None:
            params["newClientOrderId"] = new_cid
        try:
            order = await self.fast.edit_order(xid, symbol, "limit", side, amount, price, params)
        except Exception as exc:  # noqa: BLE001 - every outcome is reported
            self._push(Outcome("amend_failed", cid, describe_error(exc, self.ex)))
            if isinstance(exc, ccxt.InvalidNonce):
                await self._resync_clock()
            if new_cid is not None:
                await self._query(new_cid, symbol)
            await self._query(cid, symbol)
        else:
            self._push(OrderUpdate(dict(order), "rest"))

    async def cancel_all(self, reason: str) -> None:
        for symbol in self.symbols:
            try:
                await self.ex.cancel_all_orders(symbol)
            except Exception as exc:  # noqa: BLE001 - reported; the orders are queried next
                why = describe_error(exc, self.ex)
                self._push(VenueFault(f"cancel_all_orders({symbol}) failed: {why}"))
        await self.sweep("cancel_all")

    async def _query(self, cid: str, symbol: str) -> None:
        try:
            order = await self.dialect.fetch_by_client_id(self.ex, cid, symbol)
        except ccxt.OrderNotFound:
            self._push(Outcome("not_found", cid))
        except Exception as exc:  # noqa: BLE001 - the next sweep asks again
            logger.warning("query of %s failed: %s", cid, describe_error(exc, self.ex))
        else:
            self._push(OrderUpdate(dict(order), "rest"))

    async def _resync_clock(self) -> None:
        try:
            await self.ex.load_time_difference()
            self.fast.options["timeDifference"] = self.ex.options.get("timeDifference", 0)
        except Exception as exc:  # noqa: BLE001 - the next request tells again
            logger.warning("clock resync failed: %s", describe_error(exc, self.ex))

    # ---- the session's own work -------------------------------------------------------------
    async def _run(self) -> None:
        ex = self.ex
        backoff = Backoff(_FIRST_RETRY_S, self.config.backoff_max)
        while self._running:
            try:
                await ex.load_markets()
                self.fast.set_markets(ex.markets, ex.currencies)
                await self.dialect.prepare(ex, self.fast)
                self.perps = perp_symbols(ex, self.symbols)
                if self.perps:
                    await prepare_perps(ex, self.perps, self.config.leverage)
                    self._start_ms = self._start_ms or int(ex.milliseconds())
                await self._warm()
                snapshot = await self._snapshot()
                break
            except (ccxt.AuthenticationError, ccxt.PermissionDenied) as exc:
                self.error = RuntimeError(
                    f"{ex.id}: the API key was refused ({describe_error(exc, ex)})"
                )
                self._ready.set()
                return
            except StartRefused as exc:
                self.error = RuntimeError(str(exc))
                self._ready.set()
                return
            except Exception as exc:  # noqa: BLE001 - retried; protection stays on meanwhile
                why = describe_error(exc, ex)
                self._push(VenueFault(f"start reconciliation failed: {why}"))
                if isinstance(exc, ccxt.InvalidNonce):  # a keyed load_markets signs too
                    await self._resync_clock()
                await backoff.wait()
        else:
            return
        self._push(Reconciliation(snapshot, True))
        self._ready.set()
        self._tasks = [
            asyncio.ensure_future(self._private("orders")),
            asyncio.ensure_future(self._private("trades")),
            asyncio.ensure_future(self._sweeper()),
        ]
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _warm(self) -> None:
        """One cheap request on the order client, so that the first order does not pay for
        the connection (TCP, TLS: +20-30 ms on loopback, more over the internet)."""
        try:
            await self.fast.fetch_time()
        except Exception:  # noqa: BLE001 - only a warm-up: the orders will say what is wrong
            pass

    async def _snapshot(self) -> VenueSnapshot:
        """What the venue says now: markets, balances, open orders, recent fills, and each
        unfinished order of ours by client id."""
        ex = self.ex
        out: VenueSnapshot = {"markets": {s: ex.markets.get(s) for s in self.symbols}}
        out["balance"] = await ex.fetch_balance()
        out["open"] = [dict(o) for s in self.symbols for o in await ex.fetch_open_orders(s)]
        trades: list[CcxtDict] = []
        for s in self.symbols:
            since = self._since_ms.get(s)
            got = await ex.fetch_my_trades(s, since)
            trades.extend(dict(t) for t in got)
            if got:
                self._since_ms[s] = max(int(t["timestamp"] or 0) for t in got)
        out["trades"] = trades
        known = {o.get("clientOrderId") for o in out["open"]}
        orders = []
        for cid, symbol in self.unfinished():
            if cid in known:
                continue
            try:
                orders.append(await self.dialect.fetch_by_client_id(ex, cid, symbol))
            except ccxt.OrderNotFound:
                out.setdefault("not_found", []).append(cid)
        out["orders"] = orders
        if self.perps:
            await perp_snapshot(ex, self.perps, self._start_ms, self.dialect, out)
        return out

    async def sweep(self, why: str) -> None:
        """A reconciliation snapshot, pushed to the engine. Sweeps asked for while one runs are
        one more sweep after it (each caller returns once a sweep that started after its call
        has ended): a sweep weighs tens of requests, and one per order awaiting its fills, on
        top of the periodic ones, queued up behind the rate limiter."""
        loop = asyncio.get_running_loop()
        waiter = self._next_sweep
        if waiter is None or waiter.done():
            waiter = self._next_sweep = loop.create_future()
            self._sweep_why = why
        if self._sweeping:
            await asyncio.shield(waiter)
            return
        self._sweeping = True
        current: asyncio.Future[None] | None = None
        try:
            while self._next_sweep is not None and not self._next_sweep.done():
                current, reason = self._next_sweep, self._sweep_why
                self._next_sweep = None
                await self._sweep_once(reason)
                current.set_result(None)
        finally:
            self._sweeping = False
            # this runner stopped (cancelled at the end of the run): nobody waits for ever
            for pending in (current, self._next_sweep):
                if pending is not None and not pending.done():
                    pending.set_result(None)

    async def _sweep_once(self, why: str) -> None:
        try:
            snapshot = await self._snapshot()
        except Exception as exc:  # noqa: BLE001 - the next sweep tries again
            self._push(VenueFault(f"sweep ({why}) failed: {describe_error(exc, self.ex)}"))
            return
        self._push(Reconciliation(snapshot, False))

    async def _sweeper(self) -> None:
        while self._running:
            await asyncio.sleep(self.config.sweep_interval)
            await self.sweep("periodic")
            await self._warm()  # keeps the order connection open (aiohttp closes idle ones)

    async def _private(self, what: Literal["orders", "trades"]) -> None:
        """One private stream; after each (re)subscription a sweep recovers what was missed."""
        ex = self.ex
        watch = ex.watch_orders if what == "orders" else ex.watch_my_trades
        news = OrdersUpdate if what == "orders" else TradesUpdate
        backoff = Backoff(_FIRST_RETRY_S, self.config.backoff_max)
        while self._running:
            try:
                async with self._login:  # one login at a time (the dialect relies on it)
                    await self.dialect.authenticate(ex)
                # the watch is waiting before the sweep: nothing falls between the two
                pending = asyncio.ensure_future(watch())
                if what == "orders" and not self.private_up:
                    await self.sweep("subscribed")
                    self.private_up = True
                    self._push(PrivateStream(True))
                backoff.reset()
                while self._running:
                    items = await pending
                    self._push(news(tuple(dict(x) for x in items), "ws"))
                    pending = asyncio.ensure_future(watch())
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - reconnected after a pause
                why = describe_error(exc, ex)
                if isinstance(exc, KeyError) and exc.__context__ is not None:
                    why = describe_error(exc.__context__, ex)  # ccxt hides a refused subscribe
                if self.private_up or what == "orders":
                    self.private_up = False
                    self._push(PrivateStream(False, why))
                await backoff.wait()
