"""CCXTBroker: the strategy's ``buy``/``sell``/``close``/``cancel`` as real orders through ccxt.

The strategy sees what it sees in a backtest: ``notify_order`` with backtrader's statuses
(Submitted, Accepted, Partial, Completed, Canceled, Rejected, Expired), ``notify_trade``, and
positions and cash that follow the venue's fills and fees. Underneath, each order is a
:class:`~.states.LiveOrder` with an idempotent client id (:mod:`.ids`), a state machine and a
history; every change is a journal line (:mod:`.journal`). The venue side runs in a
:class:`~.venue.VenueSession`; what it learns comes back as ``BrokerUpdate`` events, applied
here on the engine's thread (:mod:`.apply`).

Before an order goes out: protection (no new orders while market data or the private stream is
down, or a reconciliation is pending), the market's rules and the :class:`~.risk.RiskLimits`;
a refused order is Rejected with the reason in ``order.info.reason``. Cancels always go out.

Several venues: ``CCXTBroker({"binance": ex1, "bybit": ex2}, risk={"binance": ..., ...})``
runs one session per venue; an order goes to its data feed's venue (``"BTC/USDT@bybit"``,
the feeds made with ``venue=``). Protection, risk limits, markets and reconciliation are per
venue (a venue whose private stream is down refuses orders; the other keeps trading); the cash
is the sum of the venues' quote balances; the kill switch cancels on every venue.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

import backtrader as bt

from ..broker.tickbroker import TickBroker
from ..btypes import BtData, BtOrder, JsonDict, Kwargs
from ..dispatch.hold import NotReady
from ..errors import ChannelError
from ..events import BrokerUpdate
from ..live.feed import LiveFeed
from ..live.venue_parts import CcxtExchange
from ..log import logger
from .amend import send_amend
from .apply import Applier, start_alerts, stop_alerts
from .dialects import unfed, venue_flags
from .ids import IdStore, client_order_id
from .journal import Journal, order_summary
from .risk import KillSwitch, RiskLimits, check_order, perp_rule
from .states import LiveOrder, OrderState
from .venue import SessionConfig, VenueSession

if TYPE_CHECKING:
    from ..channels.orderbook import OrderBookChannel
    from ..channels.quote import QuoteChannel
    from ..channels.tick import TickChannel

_LIVE_TYPES = {bt.Order.Market: "market", bt.Order.Close: "market", bt.Order.Limit: "limit"}


class CCXTBroker(TickBroker):
    """A broker that trades on a real venue through ccxt (see module doc and ``docs/live.md``).

    Parameters
    ----------
    exchange : ccxt.pro.Exchange or dict of str to ccxt.pro.Exchange
        A ccxt.pro instance with API keys (``apiKey``/``secret``); without them the broker
        refuses to start. The broker works on its own copy of it. Several venues: a dict by
        venue name (the names the live feeds were given with ``venue=``).
    journal : str, optional
        The JSON-lines order journal (appended to); None keeps it in memory.
    store : str, optional
        The SQLite file of client ids already sent (default: ``journal`` + ``".ids"``, or in
        memory without a journal). Keep it: it is what stops a restarted run from placing an
        order twice.
    risk : RiskLimits or dict of str to RiskLimits, optional
        Limits checked before every order, and the kill switch; per venue with several.
    sweep_interval : float, default 10.0
        Seconds between REST reconciliations (also run after every private reconnect).
    unknown_retries : int, default 5
        Queries of an unknown submit's client id before it is declared not placed (REJECTED).
    cancel_on_stop : bool, default True
        Cancel the orders still working when the run ends.
    ready_timeout : float, default 30.0
        Seconds a live run waits for every venue to be ready (start reconciliation done,
        private stream subscribed) before it starts the strategies; market data arriving
        meanwhile keeps the channels current. Not ready by then: the run stops with
        :class:`~backtrader_channels.dispatch.hold.NotReady`, saying what was missing.
    adopt : sequence of str, optional
        Perpetuals: symbols whose venue position at start the store cannot explain and that
        the strategy takes over (``["BTC/USDT:USDT"]``); other such symbols are not traded.
        A perpetual data (its scheme a ``PerpetualCommInfo``) is traded with the scheme's
        leverage, set at the venue at start (``docs/perpetuals.md``).
    """

    live_only = True
    params = (  # type: ignore[assignment]
        ("journal", None),
        ("store", None),
        ("risk", None),
        ("sweep_interval", 10.0),
        ("unknown_retries", 5),
        ("unknown_retry_s", 0.5),
        ("cancel_on_stop", True),
        ("ready_timeout", 30.0),
        ("adopt", ()),
        ("alerts", None),
    )

    def __init__(
        self,
        exchange: CcxtExchange | dict[str, CcxtExchange] | None = None,
        **params: Kwargs,
    ) -> None:
        # backtrader's metaclass took the parameters out of ``params`` already
        self.exchange = exchange
        #: the venues by name ("" alone: a single-venue broker)
        self.exchanges: dict[str, CcxtExchange | None] = (
            dict(exchange) if isinstance(exchange, dict) else {"": exchange}
        )
        super().__init__()

    def init(self) -> None:
        super().init()
        #: why new orders are refused now (empty: trading); per-venue reasons are in
        #: ``appliers[venue].protection`` (one venue: this same dict)
        self.protection: dict[str, str] = {}
        self.sessions: dict[str, VenueSession] = {}
        self.appliers: dict[str, Applier] = {
            v: Applier(self, v, self.protection if v == "" else None) for v in self.exchanges
        }
        self.journal: Journal | None = None
        self.store: IdStore | None = None
        self._feeds: list[LiveFeed] = []
        self._stop_run: Callable[[], None] | None = None
        #: live orders by client id, and by the backtrader order's ref
        self.live: dict[str, LiveOrder] = {}
        self._by_ref: dict[int, LiveOrder] = {}
        self._data: dict[tuple[str, str], BtData] = {}  # (venue, symbol) -> its data feed
        #: the event the last client id was made on, and how many were made on it before
        self._nth: tuple[tuple[object, ...] | None, int] = (None, 0)
        self.kill: KillSwitch | None = None

    @property
    def several(self) -> bool:
        """Whether the broker trades several venues (``exchange`` was a dict)."""
        return "" not in self.exchanges

    @property
    def applier(self) -> Applier:
        """The single venue's applier (the first venue's with several)."""
        return next(iter(self.appliers.values()))

    @property
    def session(self) -> VenueSession | None:
        """The single venue's session (the first venue's with several; None before start)."""
        return next(iter(self.sessions.values()), None)

    def _venue_of(self, name: str) -> tuple[str, str]:
        """``(venue, symbol)`` of an instrument name (``"BTC/USDT@bybit"``)."""
        symbol, _, venue = name.partition("@")
        return (venue if self.several else ""), symbol

    @property
    def starting_value(self) -> float | None:
        """The venues' cash and adopted positions at their first reconciliation (what the run
        report's pnl is measured from; None before any)."""
        started = [a.start_value for a in self.appliers.values() if a.started]
        return sum(started) if started else None

    def risk_for(self, venue: str) -> RiskLimits | None:
        """The risk limits of ``venue``."""
        risk = self.p.risk
        return risk.get(venue) if isinstance(risk, dict) else risk

    # ---- wiring -----------------------------------------------------------------------------
    def live_sessions(  # type: ignore[override]  # (the base takes any feeds: here, live ones)
        self, stop: Callable[[], None] | None, feeds: list[LiveFeed]
    ) -> list[LiveFeed]:
        """The venue sessions, run beside the market feeds (called by Cerebro at run start)."""
        if not feeds:
            raise ChannelError(
                "CCXTBroker sends real orders: run it on live feeds (cerebro.add_live_feed); "
                "backtests use the default TickBroker"
            )
        for venue, ex in self.exchanges.items():
            if ex is None or not getattr(ex, "apiKey", None) or not getattr(ex, "secret", None):
                raise ChannelError(
                    f"CCXTBroker needs API keys{f' for {venue}' if venue else ''}: give the "
                    "exchange apiKey and secret (or run without a CCXTBroker: the paper broker "
                    "trades on the same live data)"
                )
        symbols: dict[str, set[str]] = {v: set() for v in self.exchanges}
        for f in feeds:
            for key in f.channel_keys:
                venue = (key[2] if len(key) > 2 else "") if self.several else ""
                if venue in symbols:
                    symbols[venue].add(key[1])
        missing = sorted(v for v, found in symbols.items() if not found)
        if self.several and missing:
            raise ChannelError(
                f"CCXTBroker: no live feed for venue(s) {missing}: give each venue's "
                f"CCXTLiveFeed venue= one of the broker's names {sorted(self.exchanges)}"
            )
        self._feeds, self._stop_run = list(feeds), stop
        path = self.p.journal
        self.journal = Journal(path)
        store = self.p.store or (f"{path}.ids" if path else ":memory:")
        if store != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(store)), exist_ok=True)
        self.store = IdStore(store)
        limits = [self.risk_for(v) for v in self.exchanges]
        kill_after = next((r.kill_after for r in limits if r is not None and r.kill_after), None)
        self.kill = KillSwitch(*kill_after) if kill_after else None
        rows = self.store.unfinished()
        for venue, applier in self.appliers.items():
            applier.protection.update(
                reconcile="reconciliation pending (start)", private="private stream connecting"
            )
            applier.resume([r for r in rows if self._venue_of(r["symbol"])[0] == venue])
            applier.restore_positions(self.store.positions(venue))
            session = VenueSession(
                self.exchanges[venue],
                sorted(symbols[venue]),
                partial(self.unfinished, venue),
                SessionConfig(
                    self.p.sweep_interval,
                    self.p.unknown_retries,
                    self.p.unknown_retry_s,
                    cancel_on_stop=self.p.cancel_on_stop,
                    leverage=self._leverages(venue),
                ),
                venue=venue,
            )
            applier.session = self.sessions[venue] = session
        start_alerts(self, feeds)  # alerts=: its probe, polled off the engine's thread
        return list(self.sessions.values())

    def _leverages(self, venue: str) -> dict[str, float]:
        """The leverage of each perpetual symbol at ``venue`` (its scheme's)."""
        out = {}
        for name, ci in self.comminfo.items():
            lev = getattr(ci, "leverage", None) if hasattr(ci, "instrument") else None
            v, symbol = self._venue_of(str(name)) if name else ("", "")
            if lev and v == venue:
                out[symbol] = float(lev)
        return out

    @property
    def ready_timeout(self) -> float:  # type: ignore[override]
        return float(self.p.ready_timeout)

    def not_ready(self) -> str | None:
        """What keeps the broker from trading at the start of a run (per venue: the start
        reconciliation, the private stream, the kill switch, with the venue's last error), or
        None once every venue is ready. Raises :class:`NotReady` when waiting cannot help (a
        start the store cannot explain, the kill switch tripped)."""
        missing, final = [], False
        for v, applier in self.appliers.items():
            reasons = list(applier.protection.values())
            if applier.protection is not self.protection:
                reasons += list(self.protection.values())
            if not reasons:
                continue
            final = final or any(r.startswith(("start refused", "kill switch")) for r in reasons)
            text = ("; ".join(dict.fromkeys(reasons))) + (
                f" (last error: {applier.last_fault})" if applier.last_fault else ""
            )
            missing.append(f"{v}: {text}" if v else text)
        missing += [f"market data {k}: {why}" for k, why in unfed(self._feeds).items()]
        if final:
            raise NotReady("; ".join(missing))
        return "; ".join(missing) or None

    @property
    def trading(self) -> bool:
        """Whether new orders go out now: no protection engaged (:meth:`blocked`)."""
        return self.blocked() is None

    def blocked(self, symbol: str | None = None, venue: str | None = None) -> str | None:
        """Why new orders (on ``symbol`` at ``venue``, or on any) are refused now, or None: the
        broker's own protection (:attr:`protection`: start or sweep reconciliation, private
        stream, kill switch; per venue with several) or market data that is down, stale or
        resyncing."""
        reasons = [*self.protection.values(), *([self.paused] if self.paused else [])]
        for v, applier in self.appliers.items():
            if applier.protection is not self.protection and venue in (None, v):
                reasons += [f"{why} ({v})" for why in applier.protection.values()]
        if reasons:
            return "protection: " + "; ".join(reasons)
        for feed in self._feeds:
            health = getattr(feed, "health", None)
            sick = health() if health is not None else {}
            bad = [f"{k}: {v}" for k, v in sick.items() if _concerns(k, symbol, venue)]
            if bad:
                return "protection: market data " + "; ".join(bad)
        return None

    def unfinished(self, venue: str | None = None) -> list[tuple[str, str]]:
        """``(client_id, symbol)`` of every order not terminal (at ``venue``; any thread)."""
        return [
            (o.client_id, o.symbol)
            for o in list(self.live.values())
            if not o.state.terminal and venue in (None, o.venue)
        ]

    # (the base takes any trade or price source; a live broker needs their channels' names)
    def set_trade_source(  # type: ignore[override]
        self, data: BtData, channel: TickChannel
    ) -> None:
        super().set_trade_source(data, channel)
        self._data[self._venue_of(channel.instrument_name)] = data

    def set_price_source(  # type: ignore[override]
        self, data: BtData, channel: OrderBookChannel | QuoteChannel
    ) -> None:
        super().set_price_source(data, channel)
        self._data[self._venue_of(channel.instrument_name)] = data

    def start(self) -> None:
        super().start()
        if self.perp is not None:  # the venue settles funding and liquidates, and says so
            self.perp.venue_driven = True

    # ---- order entry (strategy) -------------------------------------------------------------
    def submit(self, order: BtOrder, check: bool = True) -> BtOrder:
        """Check the order and send it to the venue; the venue's answer comes later."""
        if not self.tick_mode:
            return super().submit(order, check)
        order.status, order.broker = order.Submitted, self
        self.notifs.append(order.clone())
        kind = _LIVE_TYPES.get(order.exectype)
        venue, symbol = self._venue_of(order.data._name)  # "BTC/USDT@bybit"
        side = "buy" if order.isbuy() else "sell"
        amount = abs(order.size)
        price = order.created.price if kind == "limit" else None
        if kind is None:
            return self._refuse(order, f"{bt.Order.ExecTypes[order.exectype]} orders are not "
                                "sent live (Market, Close and Limit are)")  # fmt: skip
        session = self.sessions.get(venue)
        if session is None:
            return self._refuse(order, f"no exchange for venue {venue!r} (the broker has "
                                f"{sorted(self.exchanges)})")  # fmt: skip
        amount, dust = self._whole_lots(venue, symbol, order, amount)
        reason = self.order_refusal(venue, symbol, side, amount, price, order.data)
        if reason is not None:
            return self._refuse(order, reason)
        cid = self._client_id(order, symbol, side, amount, price)
        assert self.store is not None
        stored = f"{symbol}@{venue}" if venue else symbol
        if not self.store.claim(cid, stored, side, kind, amount, price):
            return self._refuse(order, f"already sent as {cid}: a decision is placed once")
        live = LiveOrder(cid, symbol, side, kind, amount, price, bt_order=order, venue=venue)
        live.dust = dust
        self.live[cid] = live
        self._by_ref[order.ref] = live
        live.to(OrderState.SUBMITTING, "local")
        self.write(live, "submit", "local")
        risk = self.risk_for(venue)
        if risk is not None:
            risk.note_sent(time.monotonic())
        session.call(session.submit, cid, symbol, kind, side, amount, price, venue_flags(order))
        self.orders_submitted += 1
        return order

    def _whole_lots(
        self, venue: str, symbol: str, order: BtOrder, amount: float
    ) -> tuple[float, float]:
        """An order closing the whole position sends the whole lot steps of it: a fee taken in
        the base asset leaves a position (0.000999 of 0.001 bought) the venue will not sell to
        the last unit. The order's size becomes that; the rest (below one step: dust the account
        keeps) is written off the position when the order fills. Returns ``(amount, dust)``."""
        position = self.getposition(order.data).size
        closing = (order.size < 0) == (position > 0) and abs(amount - abs(position)) <= 1e-12
        step = ((self.appliers[venue].markets.get(symbol) or {}).get("precision") or {}).get(
            "amount"
        )
        if not closing or not step:
            return amount, 0.0
        whole = math.floor(amount / step + 1e-9) * step
        whole = float(f"{whole:.12g}")
        if whole <= 0 or abs(whole - amount) <= 1e-12:
            return amount, 0.0
        signed = whole if order.size > 0 else -whole
        order.size = order.created.size = order.executed.remsize = signed
        return whole, position - (whole if position > 0 else -whole)

    def _client_id(
        self, order: BtOrder, symbol: str, side: str, amount: float, price: float | None
    ) -> str:
        clock = self.clock
        ev = clock.latest if clock is not None else None
        if clock is not None and ev is not None:
            event: tuple[object, ...] = (clock.channel_type, symbol, ev[0], _event_id(ev))
        else:
            event = ("pushed", self.now_ns or time.time_ns())
        last, n = self._nth
        n = n + 1 if last == event else 0
        self._nth = (event, n)
        return client_order_id(type(order.owner).__name__, symbol, side, amount, price, event, n)

    def order_refusal(
        self,
        venue: str,
        symbol: str,
        side: str,
        amount: float,
        price: float | None,
        data: BtData,
        amending: LiveOrder | None = None,
    ) -> str | None:
        """Why an order (or what an amend of ``amending`` adds) may not be sent: the kill
        switch, protection, the market's rules, the risk limits; None when it may."""
        why = self.blocked(symbol, venue)
        if why is not None:
            return why
        perps = self.appliers[venue].perp
        why = perps.untradable.get(symbol)
        if why is not None:
            return why
        after = perps.after_order(data, side, amount, price)
        if after is not None:
            why = perp_rule(self.risk_for(venue), symbol, *after)
            if why is not None:
                return why
        top = self.book_top(data)
        ref = (top.ask if side == "buy" else top.bid) or (
            data.close[0] if data.close[0] == data.close[0] else None
        )
        working = [
            o
            for o in self.live.values()
            if not o.state.terminal and o.venue == venue and o is not amending
        ]
        pending = sum(
            (o.remaining if o.side == "buy" else -o.remaining)
            for o in working
            if o.symbol == symbol
        )
        position = self.getposition(data).size + pending
        markets = self.appliers[venue].markets
        return check_order(
            markets.get(symbol), self.risk_for(venue), symbol, side, amount, price, ref, position,
            len(working),
        )  # fmt: skip

    def _refuse(self, order: BtOrder, reason: str) -> BtOrder:
        order.addinfo(reason=reason)
        order.reject(self)
        self.notify(order)
        logger.warning("order refused: %s", reason)
        if self.kill is not None and not reason.startswith("protection"):
            self.fault(f"refused: {reason}")
        return order

    def cancel(self, order: BtOrder, bracket: bool = False) -> bool:
        """Ask the venue to cancel ``order``; Canceled is notified once it confirms."""
        if not self.tick_mode:
            return super().cancel(order, bracket)
        live = self._by_ref.get(order.ref)
        if live is None or live.state.terminal or live.venue not in self.sessions:
            return False
        if live.state in (OrderState.NEW, OrderState.SUBMITTING, OrderState.UNKNOWN):
            # a cancel racing its own submit would find nothing: it goes once the venue has it
            live.cancel_wanted = True
            live.note("local", "cancel requested (sent once the venue has the order)")
            self.write(live, "cancel requested", "local")
            return True
        self.send_cancel(live)
        return True

    def amend(self, order: BtOrder, price: float | None = None, size: float | None = None) -> bool:
        """Ask the venue to change ``order``'s price and/or total size in place (its
        ``edit_order``), checked and journaled (:mod:`.amend`); False when not sent."""
        if not self.tick_mode:
            return False
        return send_amend(self, order, price, size)

    def send_cancel(self, live: LiveOrder) -> None:
        """Ask the venue to cancel ``live`` (journaled)."""
        session = self.sessions.get(live.venue)
        if session is None:
            return
        live.cancel_wanted = False
        live.note("local", "cancel sent")
        self.write(live, "cancel", "local")
        session.call(session.cancel, live.client_id, live.symbol)

    def holdings(self, venue: str | None = None) -> dict[str, float]:
        """What the account holds at ``venue`` (default: the single, or first, venue), by asset:
        the venue's totals at the last reconciliation, moved by the run's fills since. Not the
        strategy's position: ``getposition`` counts the run's fills, as a backtest does."""
        applier = self.appliers[venue] if venue is not None else self.applier
        return dict(applier.holdings)

    def live_order(self, order: BtOrder) -> LiveOrder | None:
        """The venue side of a backtrader order: client id, state, history, fills."""
        return self._by_ref.get(order.ref)

    def get_orders_open(self, safe: bool = False) -> list[BtOrder]:
        if not self.tick_mode:
            return super().get_orders_open(safe)
        out = [o.bt_order for o in self.live.values() if not o.state.terminal and o.bt_order]
        return [o.clone() for o in out] if safe else out

    def activate(self) -> None:
        """Nothing to activate: orders are matched by the venue."""
        self._new.clear()

    # ---- from the venue (engine thread) -----------------------------------------------------
    def on_update(self, ev: BrokerUpdate) -> None:
        """Apply one ``BrokerUpdate`` (see :mod:`.apply`), on its venue's applier."""
        self.appliers[ev.venue].apply(ev.news)

    def write(self, live: LiveOrder, event: str, source: str, **details: object) -> None:
        if self.journal is not None:
            self.journal.write(live, event, source, **details)
        if self.store is not None and event != "submit":
            self.store.update(live.client_id, live.state.value, live.exchange_id)

    def fault(self, what: str) -> None:
        """Count a fault; when the kill switch trips, cancel everything and stop the run."""
        if self.kill is None or not self.kill.fault(what):
            return
        reason = self.kill.tripped or "kill switch"
        self.protection["kill"] = reason
        logger.error("%s: cancelling every open order and stopping the run", reason)
        for session in self.sessions.values():  # every venue
            session.call(session.cancel_all, reason)
        if self._stop_run is not None:
            self._stop_run()

    def stop(self) -> None:
        for session in self.sessions.values():
            for ev in session.late:  # what arrived after the loop ended
                self.on_update(ev)
            session.late.clear()
        super().stop()
        stop_alerts(self)
        if self.journal is not None:
            self.journal.close()
        if self.store is not None:
            self.store.close()

    def protection_reasons(self) -> dict[str, str]:
        """Every protection reason engaged now: the broker's, and each venue's as ``key@venue``
        (any thread: copies)."""
        out = dict(self.protection)
        for v, applier in list(self.appliers.items()):
            if applier.protection is not self.protection:
                out.update({f"{k}@{v}": why for k, why in dict(applier.protection).items()})
        return out

    def report_section(self) -> JsonDict:
        """The run report's execution section (from the journal)."""
        lines = self.journal.lines if self.journal is not None else []
        protection = self.protection_reasons()
        out = {
            **order_summary(lines),
            #: what the account holds (not the run's positions: ``open_positions``)
            "holdings": self.holdings(),
            "protection": protection,
            "kill_switch": self.kill.tripped if self.kill is not None else None,
            "foreign_orders": [o for a in self.appliers.values() for o in a.foreign],
        }
        if self.several:
            out["by_venue"] = {
                v: {
                    **order_summary([line for line in lines if line.get("venue") == v]),
                    "cash": a.cash,
                    "holdings": dict(a.holdings),
                    "protection": dict(a.protection),
                }
                for v, a in self.appliers.items()
            }
        perps = super().report_section()  # the perpetuals' funding and liquidations
        return {"execution": out, **perps}


def _concerns(key: str, symbol: str | None, venue: str | None) -> bool:
    """Whether a feed health key (``"tick:BTC/USDT@bybit"``) is about ``symbol`` at
    ``venue`` (None: any)."""
    sym, _, at = key.partition(":")[2].partition("@")
    return (symbol is None or sym == symbol) and (not venue or not at or at == venue)


def _event_id(ev: object) -> object:
    """The id of the event a decision was made on (a trade's, a book's or quote's update id),
    or None."""
    for name in ("trade_id", "last_update_id", "update_id"):
        value = getattr(ev, name, None)
        if value is not None:
            return value
    return None
