"""Applying what the venue says to the live orders, the backtrader orders and the account.

Runs on the engine's thread (``CCXTBroker.on_update``). The rules:

* fills come from trades only, counted once per (symbol, trade id) whichever channel brings
  them; an order update that says more is filled than the trades seen asks for a sweep;
* order updates move the state forward only (:mod:`.states`): a late CANCELED after FILLED is
  recorded and ignored; a fill after a cancel still counts (the fill wins);
* positions are the run's, as in a backtest: its fills (kept in the id store, so a restart
  resumes them and never counts a fill twice), net of fees the venue takes in the base asset (a
  buyer's fee in BTC: selling the position never asks for more than the account received);
  what the account holds is reported apart (``holdings``);
* a reconciliation is the venue's word: orders found are followed, unfinished orders the venue
  does not know were never placed (REJECTED), a cash balance that stays different from ours
  across two sweeps is corrected to the venue's, a position larger than what the account holds
  (coins sold by hand) is cut to it, and every correction is a journal line;
* orders that are not ours (not in the store) are reported and left alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..broker.fills import execute_fill
from ..btypes import BtData
from ..events import (
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
    ns_to_num,
)
from ..log import logger
from .alerting import start_alerts, stop_alerts  # noqa: F401 - broker.py's (at its size limit)
from .amend import amend_failed, on_venue_terms, replaced, replacement_missing
from .perps import PerpApplier
from .states import CCXT_STATUS, LiveOrder, OrderState, Source

if TYPE_CHECKING:
    from .broker import CCXTBroker
    from .ids import StoredOrder
    from .venue import VenueSession

_TOL = 1e-9


class _VenueFee:
    """A FeeModel charging the venue's fee of the fill being applied (in the quote currency)."""

    __slots__ = ("fee", "size")

    def __init__(self) -> None:
        self.fee, self.size = 0.0, 1.0

    def commission(self, size: float, price: float, maker: bool) -> float:
        return self.fee * abs(size) / self.size if self.size else 0.0


def _cid_of(o: CcxtDict) -> str | None:
    info = o.get("info") or {}
    return (
        info.get("origClientOrderId") or info.get("C") or o.get("clientOrderId")
        or info.get("c") or info.get("orderLinkId")
    )  # fmt: skip


class Applier:
    """The engine-side half of a CCXTBroker, for one venue: its news in, state and
    notifications out.

    Parameters
    ----------
    broker : CCXTBroker
        The broker whose orders, positions and cash it keeps.
    venue : str, default ""
        The venue ("" for a single-venue broker).
    protection : dict, optional
        Where this venue's reasons to refuse new orders go (default: a dict of its own).
    """

    def __init__(
        self, broker: CCXTBroker, venue: str = "", protection: dict[str, str] | None = None
    ) -> None:
        self.b = broker
        self.venue = venue
        #: why new orders to this venue are refused now
        self.protection: dict[str, str] = protection if protection is not None else {}
        self.session: VenueSession | None = None
        #: this venue's share of the broker's cash (set by its first reconciliation, then
        #: moved by its fills and corrections)
        self.cash = 0.0
        self.start_cash = 0.0
        self.start_value = 0.0  # the cash and the adopted positions, at the first reconcile
        self.started = False
        self.markets: dict[str, CcxtDict] = {}
        self.by_xid: dict[str, LiveOrder] = {}
        self.seen: set[tuple[str, str]] = set()  # (symbol, trade id) counted
        self.orphans: dict[str, list[tuple[CcxtDict, Source]]] = {}  # order id -> trades
        self.foreign: list[CcxtDict] = []
        self._foreign_ids: set[str] = set()
        self._suspect: float | None = None  # a balance mismatch seen once (corrected if again)
        #: positions above the account's holdings, seen once: ((symbol, (size, held)), ...)
        self._short: tuple[tuple[str, tuple[float, float]], ...] | None = None
        #: what the account holds, by asset (the venue's totals at the last reconciliation,
        #: moved by the fills since)
        self.holdings: dict[str, float] = {}
        #: the venue session's last fault (a failed REST call at start, say), for reports
        self.last_fault = ""
        self._fee = _VenueFee()
        #: perpetual data: the venue's positions, funding and liquidations (:mod:`.perps`)
        self.perp = PerpApplier(self)
        #: cancel-replace amends on their way: the new order's client id -> the order
        self.replacements: dict[str, LiveOrder] = {}
        #: venue ids of orders a cancel-replace replaced: their late news is not the order's
        #: (their fills, which come as trades, still are)
        self.retired: set[str] = set()

    # ---- dispatch -----------------------------------------------------------------------------
    def apply(self, news: VenueNews) -> None:
        """Apply one piece of the venue's news (a record of :data:`~..events.VenueNews`)."""
        match news:
            case OrderUpdate():
                self.order(news.order, news.source)
            case OrdersUpdate():
                for o in news.orders:
                    self.order(o, news.source)
            case TradesUpdate():
                for t in news.trades:
                    self.trade(t, news.source)
            case Reconciliation():
                self.reconcile(news.snapshot, news.first)
            case Outcome():
                self.outcome(news)
            case PrivateStream():
                if news.up:
                    self.protection.pop("private", None)
                else:
                    self.protection["private"] = f"private stream down ({news.why})"
                    self.b.fault(f"private stream down: {news.why}")
            case VenueFault():
                logger.warning("venue: %s", news.what)
                self.last_fault = news.what
                self.b.fault(news.what)

    def outcome(self, news: Outcome) -> None:
        """A request about one of our orders that brought no order back (see :class:`Outcome`)."""
        b = self.b
        live = b.live.get(news.client_id) or self.replacements.get(news.client_id)
        if live is None:
            return
        kind, why = news.kind, news.why
        if kind == "unknown":
            if live.to(OrderState.UNKNOWN, "rest", why=why):
                b.write(live, "unknown", "rest", why=why)
            b.fault(f"unknown outcome of {live.client_id}: {why}")
        elif kind == "rejected":  # the venue refused it, or an unknown submit was not found
            if live.state in (OrderState.SUBMITTING, OrderState.UNKNOWN, OrderState.NEW):
                live.reason = why or "not found at the venue"
                live.to(OrderState.REJECTED, "rest", why=live.reason)
                self._bt(live, "margin" if news.margin else "reject")
                b.write(live, "rejected", "rest")
                b.fault(f"rejected {live.client_id}: {why}")
        elif kind == "amend_failed":
            amend_failed(self, live, why)
        elif kind == "not_found" and replacement_missing(self, live, news.client_id):
            return
        else:  # cancel_failed, not_found (a cancel's query: the next sweep tells), note
            live.note("rest", kind, why=why)
            b.write(live, kind, "rest", why=why)

    # ---- orders -------------------------------------------------------------------------------
    def _ours(self, o: CcxtDict) -> tuple[LiveOrder | None, str | None]:
        """The live order ``o`` is about, and its venue id; None for a foreign order or a
        liquidation (handled here) and for the old half of a cancel-replace amend."""
        xid = str(o.get("id")) if o.get("id") is not None else None
        cid = _cid_of(o)
        live = self.b.live.get(cid or "") or self.replacements.get(cid or "")
        if live is None and xid:
            live = self.by_xid.get(xid)
        if live is None:
            if not self.perp.liquidation_order(o):
                self._foreign(o)
            return None, xid
        if live.replacing is not None and replaced(self, live, o, cid, xid):
            return None, xid
        if xid is not None and xid in self.retired and xid != live.exchange_id:
            return None, xid  # the replaced venue order's late news (its CANCELED)
        return live, xid

    def order(self, o: CcxtDict, source: Source) -> None:
        live, xid = self._ours(o)
        if live is None:
            return
        if xid and live.exchange_id is None:
            live.exchange_id = xid
            self.by_xid[xid] = live
            for t, src in self.orphans.pop(xid, []):
                self.trade(t, src)
        for t in o.get("trades") or []:
            if t.get("id") is not None:
                self.trade(dict(t, order=xid, symbol=t.get("symbol") or live.symbol), source)
        state = CCXT_STATUS.get(str(o.get("status")))
        filled = float(o.get("filled") or 0.0)
        if filled > live.filled + _TOL:
            # the venue has fills we have not seen: ask for them; the order's end (a cancel
            # after a partial fill, or ccxt's "canceled" for a filled order) waits for them
            self._need_trades(live)
            if state is not None and state is not OrderState.OPEN:
                self._accept(live, source)
                live.note(source, f"{state.value} waits for fills", venue_filled=filled)
                return
        if state is None:
            if xid:  # an acknowledgement without a status (Bybit's create reply): it is placed
                self._accept(live, source)
            return
        if state in (OrderState.OPEN, OrderState.FILLED):  # FILLED comes from the trades
            self._accept(live, source)
            on_venue_terms(self, live, o, source)  # (an open limit's price and amount)
        else:
            self._end(live, state, source)

    def _end(self, live: LiveOrder, state: OrderState, source: Source) -> None:
        """The venue says the order ended without (more) fills: cancelled, rejected, expired."""
        if live.state.terminal:
            live.to(state, source)  # recorded as ignored (a fill wins)
            self.b.write(live, f"late {state.value}", source)
            return
        self._accept(live, source)
        if live.to(state, source):
            self._bt(live, {"CANCELLED": "cancel", "EXPIRED": "expire"}.get(state.value, "reject"))
            self.b.write(live, state.value.lower(), source)

    def _accept(self, live: LiveOrder, source: Source) -> None:
        if live.state in (OrderState.NEW, OrderState.SUBMITTING, OrderState.UNKNOWN):
            live.to(OrderState.OPEN, source)
            self._bt(live, "accept")
            self.b.write(live, "open", source)
            if live.cancel_wanted:  # asked for before the venue had it: send it now
                self.b.send_cancel(live)

    def _bt(self, live: LiveOrder, what: str) -> None:
        """The backtrader order follows: accept, cancel, reject, margin (a venue's "insufficient
        funds") or expire, and is notified."""
        order = live.bt_order
        if order is None:
            return
        if what == "accept":
            if order.status in (order.Submitted, order.Created):
                order.accept(self.b)
                self.b.notify(order)
            return
        if not order.alive():
            return
        if live.reason:
            order.addinfo(reason=live.reason)
        getattr(order, what)() if what != "reject" else order.reject(self.b)
        self.b.notify(order)

    def _need_trades(self, live: LiveOrder) -> None:
        session = self.session
        if session is not None and not live.asked:
            live.asked = True
            session.call(session.sweep, f"fills of {live.client_id}")

    # ---- fills --------------------------------------------------------------------------------
    def trade(self, t: CcxtDict, source: Source) -> None:
        b = self.b
        symbol = str(t.get("symbol"))
        key = (symbol, str(t.get("id")))
        if key in self.seen:
            return
        if b.store is not None and b.store.fill_seen(self.venue, symbol, key[1]):
            self.seen.add(key)  # applied by an earlier run: its position has it
            return
        xid = str(t.get("order")) if t.get("order") is not None else None
        live = self.by_xid.get(xid) if xid else None
        if live is None:
            info = t.get("info") or {}
            live = b.live.get(info.get("c") or info.get("orderLinkId") or "")
            if live is not None and xid and live.exchange_id is None:
                live.exchange_id = xid
                self.by_xid[xid] = live
        if live is None:
            if xid and xid not in self._foreign_ids:
                self.orphans.setdefault(xid, []).append((t, source))
            return
        self.seen.add(key)
        amount, price = float(t["amount"]), float(t["price"])
        fee = t.get("fee") or {}
        cost = float(fee.get("cost") or 0.0)
        market = self.markets.get(symbol) or {}
        # the venue's own word on the fee's coin (Bybit's feeCurrency) over ccxt's inference
        currency = (t.get("info") or {}).get("feeCurrency") or fee.get("currency")
        fee_base = 0.0
        if currency and currency == market.get("base"):
            fee_base, cost = cost, 0.0  # taken from the coins the fill brought in
        valued = cost + fee_base * price  # the fee in the quote currency, for the reports
        self._accept(live, source)  # a fill can come before the submit's reply
        live.add_fill(key[1], amount, price, valued, source)
        live.asked = False
        maker = bool(t.get("takerOrMaker") == "maker")
        self._account(live, key[1], amount, price, cost, fee_base, maker, t)
        b.fills += 1
        details = {"fee_base": fee_base} if fee_base else {}
        b.write(live, "fill", source, trade_id=key[1], amount=amount, price=price, fee=valued,
                **details)  # fmt: skip

    def _account(
        self, live: LiveOrder, trade_id: str, amount: float, price: float, fee: float,
        fee_base: float, maker: bool, t: CcxtDict,
    ) -> None:  # fmt: skip
        b = self.b
        signed = amount if live.side == "buy" else -amount
        market = self.markets.get(live.symbol) or {}
        base, quote = market.get("base"), market.get("quote")
        if base and quote and not market.get("contract"):
            self.holdings[base] = self.holdings.get(base, 0.0) + signed - fee_base
            self.holdings[quote] = self.holdings.get(quote, 0.0) - signed * price - fee
        data = b._data.get((self.venue, live.symbol))
        if data is None:
            return
        before = b.cash
        self._execute(live, data, amount, price, fee, maker, t)
        self.cash += b.cash - before
        pos = b.positions[data]
        if fee_base:  # the coins the fee took never reached the account: not the run's either
            pos.size -= fee_base
            b.fees_paid += fee_base * price
        if live.dust and live.remaining <= _TOL:  # a close's remainder below one lot step
            pos.size -= live.dust
            if abs(pos.size) <= _TOL:
                pos.set(0.0, 0.0)
            b.write(live, "dust written off", "local", dust=live.dust)
            live.dust = 0.0
        if b.store is not None:
            b.store.record_fill(self.venue, live.symbol, trade_id, live.client_id, signed,
                                price, fee, fee_base, (pos.size, pos.price))  # fmt: skip

    def _execute(
        self, live: LiveOrder, data: BtData, amount: float, price: float, fee: float,
        maker: bool, t: CcxtDict,
    ) -> None:  # fmt: skip
        b = self.b
        ts = t.get("timestamp")
        dtnum = ns_to_num(int(ts) * 1_000_000) if ts else data.datetime[0]
        order = live.bt_order
        st = self.perp.state(data)
        if order is None or (not order.alive() and order.status != order.Canceled):
            # no backtrader order to execute (resumed from an earlier run, or one declared
            # rejected before the venue's fill came): the account follows the fill alone
            signed = amount if live.side == "buy" else -amount
            if st is not None:
                self.perp.follow(st, signed, price, fee)
                return
            b.positions[data].update(signed, price)
            b.cash -= signed * price + fee
            b.fees_paid += fee
            return
        self._fee.fee, self._fee.size = fee, amount
        if order.status == order.Canceled:  # a fill that beat the cancel: it counts
            order.status = order.Partial
        if st is not None and b.perp is not None:  # the venue checked the margin
            b.perp.fill(st, order, amount, price, dtnum, maker, checked=False, fee=fee)
            return
        execute_fill(b, order, amount, price, dtnum, self._fee, maker)

    # ---- reconciliation -----------------------------------------------------------------------
    def restore_positions(self, positions: dict[str, tuple[float, float]]) -> None:
        """The positions an earlier run left (from the store), on this run's data feeds."""
        b = self.b
        for symbol, (size, price) in positions.items():
            data = b._data.get((self.venue, symbol))
            if data is not None and size:
                b.positions[data].set(size, price)

    def resume(self, rows: list[StoredOrder]) -> None:
        """Orders an earlier run left unfinished (from the store), followed again."""
        for r in rows:
            symbol = r["symbol"].partition("@")[0]  # "BTC/USDT@bybit" on a several-venue broker
            live = LiveOrder(
                r["client_id"], symbol, r["side"], r["kind"], r["amount"], r["price"],
                venue=self.venue,
            )  # fmt: skip
            live.state = OrderState(r["state"])
            live.exchange_id = r["exchange_id"]
            live.note("local", "resumed", state=r["state"])
            self.b.live[live.client_id] = live
            if live.exchange_id:
                self.by_xid[live.exchange_id] = live

    def reconcile(self, snap: VenueSnapshot, first: bool) -> None:
        b = self.b
        self.markets.update({k: v for k, v in snap.get("markets", {}).items() if v})
        for t in sorted(snap.get("trades", []), key=lambda t: t.get("timestamp") or 0):
            self.trade(t, "rest")
        for o in snap.get("open", []) + snap.get("orders", []):
            self.order(o, "rest")
        refuse = []
        for cid in snap.get("not_found", []):
            live = b.live.get(cid)
            if live is None or live.bt_order is not None:
                # placed this run: its submit may still be on its way, and an unknown one is
                # being resolved by its own queries; only resumed orders are corrected here
                continue
            if live.state in (OrderState.OPEN, OrderState.PARTIALLY_FILLED):
                if first:
                    refuse.append(f"{cid} is {live.state.value} in the store, unknown to the venue")
                continue
            live.reason = "not found at the venue (never placed)"
            if live.to(OrderState.REJECTED, "rest"):
                self._bt(live, "reject")
                b.write(live, "correction: rejected", "rest")
        self.perp.reconcile(snap, first)
        self._balances(snap.get("balance") or {}, first, snap.get("wallet"))
        if refuse:
            self.protection["reconcile"] = "start refused: " + "; ".join(refuse)
            logger.error("%s", self.protection["reconcile"])
        elif first or self.protection.get("reconcile", "").startswith("reconciliation pending"):
            self.protection.pop("reconcile", None)

    def _balances(self, balance: CcxtDict, first: bool, wallet: float | None = None) -> None:
        b = self.b
        total = {a: float(x or 0.0) for a, x in (balance.get("total") or {}).items()}
        quotes = {m["quote"] for m in self.markets.values()}
        if len(quotes) != 1:
            return
        (quote,) = quotes
        # a derivatives wallet: the venue's wallet balance (its total counts unrealized profit)
        venue_cash = wallet if wallet is not None else total.get(quote, 0.0)
        v = self.venue
        self.holdings = {a: x for a, x in total.items() if x}  # the venue's word on what is held
        if first:
            self.cash = self.start_cash = self.start_value = venue_cash
            self.started = True
            # the broker's cash is every venue's (one venue: this one's)
            started = [a for a in b.appliers.values() if a.started]
            b.cash = sum(a.cash for a in started)
            b.startingcash = sum(a.start_cash for a in started)
            for s in self.markets:  # a position an earlier run left (the store's)
                data = b._data.get((v, s))
                if data is not None and b.positions[data].size:
                    pos = b.positions[data]
                    last = data.close[0]
                    self.start_value += pos.size * (last if last == last else pos.price)
            return
        self._cut_positions(total)
        if abs(venue_cash - self.cash) <= 1e-6 * max(1.0, abs(venue_cash)):
            self._suspect = None
            return
        if self._suspect != venue_cash:
            self._suspect = venue_cash  # fills may be on their way: correct only if it persists
            return
        self._suspect = None
        where = f" on {v}" if v else ""
        logger.warning("reconciliation%s: cash %s -> %s (the venue wins)", where, self.cash,
                       venue_cash)  # fmt: skip
        if b.journal is not None:
            note = LiveOrder("account", quote, "", "", 0.0, None, venue=v)
            b.journal.write(note, "correction: balances", "rest", cash=[self.cash, venue_cash])
        b.cash += venue_cash - self.cash
        self.cash = venue_cash

    def _cut_positions(self, total: dict[str, float]) -> None:
        """A long position larger than what the account holds of its base asset (coins sold by
        hand, or never received) is cut to the holdings, once it is seen on two sweeps in a
        row: the venue stays the truth about what exists."""
        b, v = self.b, self.venue
        over = {}
        for s, m in self.markets.items():
            data = b._data.get((v, s))
            if data is None or m.get("contract"):  # a contract's position is no holding
                continue
            size, held = b.positions[data].size, max(total.get(m["base"], 0.0), 0.0)
            if size > held + 1e-12 * max(1.0, size):
                over[s] = (size, held)
        seen = tuple(sorted(over.items()))
        if not over or self._short != seen:
            self._short = seen or None  # fills may be on their way: cut only if it persists
            return
        self._short = None
        for s, (size, held) in over.items():
            pos = b.positions[b._data[(v, s)]]
            logger.warning(
                "reconciliation%s: the %s position %g is more than the account holds (%g): cut "
                "to it (the venue wins)", f" on {v}" if v else "", s, size, held,
            )  # fmt: skip
            pos.set(held, pos.price if held else 0.0)
            if b.store is not None:
                b.store.set_position(v, s, pos.size, pos.price)
            if b.journal is not None:
                note = LiveOrder("account", s, "", "", 0.0, None, venue=v)
                b.journal.write(note, "correction: position cut", "rest", position=[size, held])

    def _foreign(self, o: CcxtDict) -> None:
        xid = str(o.get("id"))
        if xid in self._foreign_ids:
            return
        self._foreign_ids.add(xid)
        self.orphans.pop(xid, None)
        summary = {k: o.get(k) for k in ("id", "clientOrderId", "symbol", "side", "type",
                                         "amount", "price", "status")}  # fmt: skip
        self.foreign.append(summary)
        logger.warning("a foreign order at the venue (left alone): %s", summary)
