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
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import backtrader as bt

from ..broker.tickbroker import TickBroker
from ..errors import ChannelError
from ..log import logger
from .apply import Applier
from .ids import IdStore, client_order_id
from .journal import Journal, order_summary
from .risk import KillSwitch, RiskLimits, check_order
from .states import LiveOrder, OrderState
from .venue import VenueSession

_LIVE_TYPES = {bt.Order.Market: "market", bt.Order.Close: "market", bt.Order.Limit: "limit"}


class CCXTBroker(TickBroker):
    """A broker that trades on a real venue through ccxt (see module doc and ``docs/live.md``).

    Parameters
    ----------
    exchange : ccxt.pro.Exchange
        A ccxt.pro instance with API keys (``apiKey``/``secret``); without them the broker
        refuses to start. The broker works on its own copy of it.
    journal : str, optional
        The JSON-lines order journal (appended to); None keeps it in memory.
    store : str, optional
        The SQLite file of client ids already sent (default: ``journal`` + ``".ids"``, or in
        memory without a journal). Keep it: it is what stops a restarted run from placing an
        order twice.
    risk : RiskLimits, optional
        Limits checked before every order, and the kill switch.
    sweep_interval : float, default 10.0
        Seconds between REST reconciliations (also run after every private reconnect).
    unknown_retries : int, default 5
        Queries of an unknown submit's client id before it is declared not placed (REJECTED).
    cancel_on_stop : bool, default True
        Cancel the orders still working when the run ends.
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
    )

    def __init__(self, exchange: Any = None, **params: Any) -> None:
        # backtrader's metaclass took the parameters out of ``params`` already
        self.exchange = exchange
        super().__init__()

    def init(self) -> None:
        super().init()
        self.session: VenueSession | None = None
        self.journal: Journal | None = None
        self.store: IdStore | None = None
        self._feeds: list[Any] = []
        self._stop_run: Callable[[], None] | None = None
        #: why new orders are refused now (empty: trading)
        self.protection: dict[str, str] = {}
        #: live orders by client id, and by the backtrader order's ref
        self.live: dict[str, LiveOrder] = {}
        self._by_ref: dict[int, LiveOrder] = {}
        self._data: dict[str, Any] = {}  # symbol -> its data feed
        self._nth: tuple[Any, int] = (None, 0)
        self.kill: KillSwitch | None = None
        self.applier = Applier(self)

    # ---- wiring -----------------------------------------------------------------------------
    def live_sessions(self, stop: Callable[[], None] | None, feeds: list[Any]) -> list[Any]:
        """The venue session, run beside the market feeds (called by Cerebro at run start)."""
        if not feeds:
            raise ChannelError(
                "CCXTBroker sends real orders: run it on live feeds (cerebro.add_live_feed); "
                "backtests use the default TickBroker"
            )
        ex = self.exchange
        if ex is None or not getattr(ex, "apiKey", None) or not getattr(ex, "secret", None):
            raise ChannelError(
                "CCXTBroker needs API keys: give the exchange apiKey and secret (or run "
                "without a CCXTBroker: the paper broker trades on the same live data)"
            )
        symbols = sorted({key[1] for f in feeds for key in f.channel_keys})
        self._feeds, self._stop_run = list(feeds), stop
        path = self.p.journal
        self.journal = Journal(path)
        store = self.p.store or (f"{path}.ids" if path else ":memory:")
        if store != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(store)), exist_ok=True)
        self.store = IdStore(store)
        risk: RiskLimits | None = self.p.risk
        self.kill = KillSwitch(*risk.kill_after) if risk and risk.kill_after else None
        self.protection = {
            "reconcile": "reconciliation pending (start)",
            "private": "private stream connecting",
        }
        self.applier.resume(self.store.unfinished())
        self.session = VenueSession(
            ex,
            symbols,
            self.unfinished,
            self.p.sweep_interval,
            self.p.unknown_retries,
            self.p.unknown_retry_s,
            cancel_on_stop=self.p.cancel_on_stop,
        )
        return [self.session]

    @property
    def trading(self) -> bool:
        """Whether new orders go out now: no protection engaged (:meth:`blocked`)."""
        return self.blocked() is None

    def blocked(self, symbol: str | None = None) -> str | None:
        """Why new orders (on ``symbol``, or on any) are refused now, or None: the broker's
        own protection (:attr:`protection`: start or sweep reconciliation, private stream,
        kill switch) or market data that is down, stale or resyncing."""
        if self.protection:
            return "protection: " + "; ".join(self.protection.values())
        for feed in self._feeds:
            health = getattr(feed, "health", None)
            sick = health() if health is not None else {}
            bad = [
                f"{k}: {v}"
                for k, v in sick.items()
                if symbol is None or k.partition(":")[2].partition("@")[0] == symbol
            ]
            if bad:
                return "protection: market data " + "; ".join(bad)
        return None

    def unfinished(self) -> list[tuple[str, str]]:
        """``(client_id, symbol)`` of every order not terminal (any thread)."""
        return [(o.client_id, o.symbol) for o in list(self.live.values()) if not o.state.terminal]

    def set_trade_source(self, data: Any, channel: Any) -> None:
        super().set_trade_source(data, channel)
        self._data[channel.symbol] = data

    def set_price_source(self, data: Any, channel: Any) -> None:
        super().set_price_source(data, channel)
        self._data[channel.symbol] = data

    # ---- order entry (strategy) -------------------------------------------------------------
    def submit(self, order: Any, check: bool = True) -> Any:
        """Check the order and send it to the venue; the venue's answer comes later."""
        if not self.tick_mode:
            return super().submit(order, check)
        order.status, order.broker = order.Submitted, self
        self.notifs.append(order.clone())
        kind = _LIVE_TYPES.get(order.exectype)
        symbol = order.data._name.partition("@")[0]  # "BTC/USDT@binance": the venue's symbol
        side = "buy" if order.isbuy() else "sell"
        amount = abs(order.size)
        price = order.created.price if kind == "limit" else None
        if kind is None:
            return self._refuse(order, f"{bt.Order.ExecTypes[order.exectype]} orders are not "
                                "sent live (Market, Close and Limit are)")  # fmt: skip
        reason = self._refusal(symbol, side, amount, price, order.data)
        if reason is not None:
            return self._refuse(order, reason)
        cid = self._client_id(order, symbol, side, amount, price)
        assert self.store is not None
        assert self.session is not None
        if not self.store.claim(cid, symbol, side, kind, amount, price):
            return self._refuse(order, f"already sent as {cid}: a decision is placed once")
        live = LiveOrder(cid, symbol, side, kind, amount, price, bt_order=order)
        self.live[cid] = live
        self._by_ref[order.ref] = live
        live.to(OrderState.SUBMITTING, "local")
        self.write(live, "submit", "local")
        if self.p.risk is not None:
            self.p.risk.note_sent(time.monotonic())
        self.session.call(self.session.submit, cid, symbol, kind, side, amount, price)
        self.orders_submitted += 1
        return order

    def _client_id(self, order: Any, symbol: str, side: str, amount: float, price: Any) -> str:
        clock = self.clock
        ev = clock.latest if clock is not None else None
        if ev is not None:
            event: tuple[Any, ...] = (clock.channel_type, symbol, ev[0], _event_id(ev))
        else:
            event = ("pushed", self.now_ns or time.time_ns())
        last, n = self._nth
        n = n + 1 if last == event else 0
        self._nth = (event, n)
        return client_order_id(type(order.owner).__name__, symbol, side, amount, price, event, n)

    def _refusal(
        self, symbol: str, side: str, amount: float, price: float | None, data: Any
    ) -> str | None:
        why = self.blocked(symbol)
        if why is not None:
            return why
        bid, ask, _, _ = self._book_prices(data)
        ref = (ask if side == "buy" else bid) or (
            data.close[0] if data.close[0] == data.close[0] else None
        )
        working = [o for o in self.live.values() if not o.state.terminal]
        pending = sum(
            (o.remaining if o.side == "buy" else -o.remaining)
            for o in working
            if o.symbol == symbol
        )
        position = self.getposition(data).size + pending
        markets = self.applier.markets
        return check_order(
            markets.get(symbol), self.p.risk, symbol, side, amount, price, ref, position,
            len(working),
        )  # fmt: skip

    def _refuse(self, order: Any, reason: str) -> Any:
        order.addinfo(reason=reason)
        order.reject(self)
        self.notify(order)
        logger.warning("order refused: %s", reason)
        if self.kill is not None and not reason.startswith("protection"):
            self.fault(f"refused: {reason}")
        return order

    def cancel(self, order: Any, bracket: bool = False) -> bool:
        """Ask the venue to cancel ``order``; Canceled is notified once it confirms."""
        if not self.tick_mode:
            return super().cancel(order, bracket)
        live = self._by_ref.get(order.ref)
        if live is None or live.state.terminal or self.session is None:
            return False
        if live.state in (OrderState.NEW, OrderState.SUBMITTING, OrderState.UNKNOWN):
            # a cancel racing its own submit would find nothing: it goes once the venue has it
            live.cancel_wanted = True
            live.note("local", "cancel requested (sent once the venue has the order)")
            self.write(live, "cancel requested", "local")
            return True
        self.send_cancel(live)
        return True

    def send_cancel(self, live: LiveOrder) -> None:
        """Ask the venue to cancel ``live`` (journaled)."""
        if self.session is None:
            return
        live.cancel_wanted = False
        live.note("local", "cancel sent")
        self.write(live, "cancel", "local")
        self.session.call(self.session.cancel, live.client_id, live.symbol)

    def live_order(self, order: Any) -> LiveOrder | None:
        """The venue side of a backtrader order: client id, state, history, fills."""
        return self._by_ref.get(order.ref)

    def get_orders_open(self, safe: bool = False) -> list[Any]:
        if not self.tick_mode:
            return super().get_orders_open(safe)
        out = [o.bt_order for o in self.live.values() if not o.state.terminal and o.bt_order]
        return [o.clone() for o in out] if safe else out

    def activate(self) -> None:
        """Nothing to activate: orders are matched by the venue."""
        self._new.clear()

    # ---- from the venue (engine thread) -----------------------------------------------------
    def on_update(self, ev: Any) -> None:
        """Apply one ``BrokerUpdate`` (see :mod:`.apply`)."""
        self.applier.apply(ev.kind, ev.payload)

    def write(self, live: LiveOrder, event: str, source: str, **details: Any) -> None:
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
        if self.session is not None:
            self.session.call(self.session.cancel_all, reason)
        if self._stop_run is not None:
            self._stop_run()

    def stop(self) -> None:
        session = self.session
        if session is not None:
            for ev in session.late:  # what arrived after the loop ended
                self.on_update(ev)
            session.late.clear()
        super().stop()
        if self.journal is not None:
            self.journal.close()
        if self.store is not None:
            self.store.close()

    def run_report(self) -> dict[str, Any]:
        """The run report's execution section (from the journal)."""
        lines = self.journal.lines if self.journal is not None else []
        return {
            "execution": {
                **order_summary(lines),
                "protection": dict(self.protection),
                "kill_switch": self.kill.tripped if self.kill is not None else None,
                "foreign_orders": list(self.applier.foreign),
            }
        }


def _event_id(ev: Any) -> Any:
    for name in ("trade_id", "last_update_id", "update_id"):
        value = getattr(ev, name, None)
        if value is not None:
            return value
    return None
