"""The tick broker's perpetual account: one-way, cross-margined positions of the data that have a
:class:`~.perpcomm.PerpetualCommInfo`, with funding and liquidation (``docs/perpetuals.md``).

* The wallet is the broker's cash, in the margin asset: it moves by realized profit, fees and
  funding only. Equity (``getvalue()``) = wallet + unrealized profit at the mark price.
* The mark is the symbol's derivative channel's mark price; without one, the book's mid (fresh
  book) or the last trade (``mark_source`` in the run report says which, and it is logged once).
* Available balance = equity - initial margin of the positions (at mark) - initial margin of
  the open orders (per symbol, the larger of what its buy and its sell orders would open). An
  order that would open more than that is refused with backtrader's ``Margin`` status, when it
  is submitted and again when it fills (its opening part).
* Funding: each funding time of a symbol is settled once, when a settlement event comes or when
  the event stream passes the symbol's ``next_funding_ts`` (at the last rate in force).
* Liquidation: when equity <= total maintenance margin, open orders of the perpetual data are
  cancelled and every position is closed; the last one (the largest maintenance margin) at its
  bankruptcy price, so that the wallet ends at 0 (the rest at the mark). The fills are order
  notifications with ``order.info.liquidation`` True, and are listed in ``liquidations``.

The engine reaches it through :meth:`PerpAccount.hook` (one per channel of a perpetual data,
wired once per run): nothing here runs for spot data.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import backtrader as bt

from ..btypes import BtData, BtOrder, JsonDict
from ..events import ChannelType, DerivativeEvent, ns_to_num
from ..log import logger
from .fills import pseudo_update, record_execution
from .instruments import Instrument
from .latency import MarketEvent
from .margin import bankruptcy_price, funding_payment, liquidation_price, maintenance_margin
from .orders import TickBuyOrder, TickSellOrder, new_order
from .perpcomm import PerpetualCommInfo

if TYPE_CHECKING:
    from .tickbroker import TickBroker

#: what a perpetual data's channels give its per-event step
PerpEvent = MarketEvent | DerivativeEvent
#: a strategy's ``notify_funding(data, rate, payment, mark)``
FundingListener = Callable[[BtData, float, float, float], object]
_Market = bt.Order.Market


@runtime_checkable
class SourceChannel(Protocol):
    """A channel of a perpetual data, as the account sees it (its type)."""

    @property
    def channel_type(self) -> str: ...


@runtime_checkable
class MarkChannel(Protocol):
    """A derivative channel (``channels.DerivativeChannel``): the last mark price (NaN
    before one)."""

    @property
    def channel_type(self) -> str: ...

    @property
    def mark_price(self) -> float: ...


@dataclass(frozen=True)
class PerpPosition:
    """A perpetual position as the broker sees it (:meth:`TickBroker.perp_position`).

    ``size`` in contracts (negative: short); amounts in ``margin_asset``.
    """

    size: float
    entry_price: float
    leverage: float
    mark_price: float
    unrealized_pnl: float
    initial_margin: float
    maintenance_margin: float
    #: the mark at which the account is liquidated, this position's margin being the wallet
    #: minus the other positions' maintenance margin plus their unrealized profit (None: flat
    #: or none; inf: a short that cannot be)
    liquidation_price: float | None
    margin_asset: str


class _Perp:
    """One perpetual data's state."""

    __slots__ = (
        "count",
        "data",
        "deriv",
        "ignored",
        "inst",
        "last_mark",
        "lev",
        "name",
        "next_ts",
        "owner",
        "paid",
        "rate",
        "scheme",
        "settled",
        "source",
    )

    def __init__(self, data: BtData, scheme: PerpetualCommInfo) -> None:
        self.data, self.scheme, self.name = data, scheme, str(data._name)
        self.inst: Instrument = scheme.instrument
        self.lev = scheme.leverage
        self.deriv: MarkChannel | None = None
        self.source = "last trade"
        self.next_ts: int | None = None
        self.rate = math.nan
        self.last_mark = math.nan  # the derivative channel's mark before its latest event
        self.settled: set[int] = set()
        self.paid = 0.0
        self.count = self.ignored = 0
        self.owner: object = None


class PerpAccount:
    """The perpetual positions of one :class:`TickBroker` (built at ``start`` when one of its
    commission schemes is a :class:`PerpetualCommInfo`)."""

    def __init__(self, broker: TickBroker) -> None:
        self.broker = broker
        self._states: dict[BtData, _Perp | None] = {}
        #: strategies' ``notify_funding`` (wired by the Cerebro)
        self.listeners: list[FundingListener] = []
        #: the run's liquidations
        self.liquidations: list[JsonDict] = []
        #: a live broker's account: the venue settles funding and liquidates, and says so
        #: (:meth:`venue_funding`, :meth:`venue_liquidation`); marks and rates are still kept
        self.venue_driven = False
        insts = [
            ci.instrument for ci in broker.comminfo.values() if isinstance(ci, PerpetualCommInfo)
        ]
        assets = {i.margin_asset for i in insts if i.margin_asset}
        kinds = {i.kind for i in insts}
        if len(assets) > 1 or len(kinds) > 1:
            raise ValueError(
                f"perpetuals margined in different assets ({', '.join(sorted(assets | kinds))}) "
                "cannot share one wallet: use one broker (one run) per margin asset"
            )

    @classmethod
    def create(cls, broker: TickBroker) -> PerpAccount | None:
        """An account when a scheme of ``broker`` is perpetual, else None (a spot run)."""
        if any(isinstance(ci, PerpetualCommInfo) for ci in broker.comminfo.values()):
            return cls(broker)
        return None

    def state_of(self, data: BtData) -> _Perp | None:
        """``data``'s state when its scheme is perpetual (cached), else None."""
        try:
            return self._states[data]
        except KeyError:
            ci = self.broker.getcommissioninfo(data)
            st = self._states[data] = _Perp(data, ci) if isinstance(ci, PerpetualCommInfo) else None
            return st

    # ---- wiring -------------------------------------------------------------------------------
    def hook(self, data: BtData, channel: SourceChannel) -> Callable[[PerpEvent], None] | None:
        """The per-event step of ``channel``'s events for ``data`` (None: not a perpetual)."""
        st = self.state_of(data)
        if st is None:
            return None
        if channel.channel_type == ChannelType.DERIVATIVE and isinstance(channel, MarkChannel):
            st.deriv, st.source = channel, "derivative"

            def on_derivative(ev: PerpEvent) -> None:
                self.on_derivative(st, ev)

            return on_derivative

        if st.deriv is None and channel.channel_type != ChannelType.TICK:
            st.source = "book mid"

        def on_market(ev: PerpEvent) -> None:
            self.on_market(st, int(ev[0]))

        return on_market

    def wired(self) -> None:
        """Say once per symbol that it is marked without a derivative channel."""
        for st in self._states.values():
            if st is not None and st.deriv is None:
                logger.warning(
                    "%s: no derivative channel: marked to the %s (no funding)", st.name, st.source
                )

    # ---- marks and margins --------------------------------------------------------------------
    def mark(self, st: _Perp) -> float:
        """``st``'s mark price: derivative mark, else the fresh book's mid, else last trade."""
        ch = st.deriv
        if ch is not None and ch.mark_price == ch.mark_price:
            return ch.mark_price
        top = self.broker.prices.top(st.data)
        if top.bid is not None and top.ask is not None:
            return (top.bid + top.ask) / 2.0
        close = st.data.close[0]
        return close if close == close else self.broker.positions[st.data].price

    def _open(self) -> list[tuple[_Perp, float, float, float]]:
        """(state, size, entry, mark) of each open perpetual position."""
        positions = self.broker.positions
        out = []
        for st in self._states.values():
            if st is not None:
                pos = positions[st.data]
                if pos.size:
                    out.append((st, pos.size, pos.price, self.mark(st)))
        return out

    def unrealized(self) -> float:
        """The positions' unrealized profit at mark."""
        return sum(st.inst.pnl(size, entry, m) for st, size, entry, m in self._open())

    def equity(self) -> float:
        """Wallet + unrealized profit at mark (the margin balance)."""
        return self.broker.cash + self.unrealized()

    def maintenance(self) -> float:
        """The positions' maintenance margin at mark."""
        return sum(maintenance_margin(st.inst, size, m) for st, size, _, m in self._open())

    def _orders_im(self, exclude: BtOrder | None = None) -> float:
        """Initial margin of the open orders: per symbol, the larger of its buy and sell
        sides' opening parts (what goes beyond closing the position)."""
        sides: dict[_Perp, list[float]] = {}  # buy qty, buy notional, sell qty, sell notional
        for o in self.broker.get_orders_open():
            st = self.state_of(o.data)
            if st is None or o is exclude or not o.alive():
                continue
            rem = abs(o.executed.remsize)
            px = o.created.price
            if not px or px != px:
                px = self.mark(st)
            acc = sides.setdefault(st, [0.0, 0.0, 0.0, 0.0])
            i = 0 if o.ordtype == 0 else 2
            acc[i] += rem
            acc[i + 1] += st.inst.notional(rem, px)
        total = 0.0
        for st, (bq, bn, sq, sn) in sides.items():
            q = self.broker.positions[st.data].size
            ob = max(0.0, bq - max(0.0, -q))
            os_ = max(0.0, sq - max(0.0, q))
            im_b = bn * ob / bq if bq else 0.0
            im_s = sn * os_ / sq if sq else 0.0
            total += max(im_b, im_s) / st.lev
        return total

    def _positions_im(self, skip: _Perp | None = None) -> float:
        return sum(
            st.inst.notional(size, m) / st.lev for st, size, _, m in self._open() if st is not skip
        )

    def available(self) -> float:
        """Equity - initial margin of the positions and of the open orders."""
        return self.equity() - self._positions_im() - self._orders_im()

    def admit(self, order: BtOrder) -> bool:
        """Whether the account can take ``order`` (a perpetual's) now: its opening part's
        initial margin within the available balance, and its leverage allowed at the
        position's notional."""
        st = self.state_of(order.data)
        if st is None:
            return True
        pos = self.broker.positions[st.data]
        px = order.created.price
        if not px or px != px:
            px = self.mark(st)
        if not px or px != px:
            return True  # no price yet: checked when it fills
        psize, _, opened, _ = pseudo_update(pos.size, pos.price, order.size, px)
        if not opened:
            return True
        if st.lev > st.inst.allowed_leverage(st.inst.notional(psize, px)):
            return False
        return st.inst.notional(opened, px) / st.lev <= self.available() + 1e-12

    def _fits(self, st: _Perp, order: BtOrder, psize: float, pprice: float, cash: float) -> bool:
        """Whether the account after a fill (``st`` at ``psize`` entered at ``pprice``, the
        wallet moved by ``cash``) still has its initial margin, at the allowed leverage."""
        inst = st.inst
        notional = inst.notional(psize, pprice)
        if st.lev > inst.allowed_leverage(notional):
            return False
        m = self.mark(st)
        equity = self.broker.cash + cash + inst.pnl(psize, pprice, m if m == m else pprice)
        for other, size, entry, mk in self._open():
            if other is not st:
                equity += other.inst.pnl(size, entry, mk)
        need = notional / st.lev + self._positions_im(skip=st) + self._orders_im(exclude=order)
        return need <= equity * (1.0 + 1e-12)

    # ---- fills --------------------------------------------------------------------------------
    def fill(
        self,
        st: _Perp,
        order: BtOrder,
        size: float,
        price: float,
        dtnum: float,
        maker: bool,
        checked: bool = True,
        fee: float | None = None,
    ) -> None:
        """Fill ``size`` (unsigned) of ``order`` at ``price``: realized profit and fees into the
        wallet; what opens must fit the margin (``checked``), else it gets ``Margin``. ``fee``:
        the venue's fee of the fill (a live broker's), instead of the scheme's."""
        broker = self.broker
        signed = -size if order.ordtype else size
        position = broker.positions[st.data]
        old, entry = position.size, position.price
        psize, pprice, opened, closed = pseudo_update(old, entry, signed, price)
        inst, lev, scheme = st.inst, st.lev, st.scheme
        if inst.inverse and opened and old and opened * old > 0:  # coin-margined: harmonic
            pprice = psize / (old / entry + opened / price)
        pnl = inst.pnl(-closed, entry, price) if closed else 0.0
        closedcomm = scheme.fee(closed, price, maker) if closed and checked else 0.0
        if fee is not None:
            closedcomm = fee * abs(closed) / size if size else 0.0
        closedvalue = inst.notional(closed, entry) / lev if closed else 0.0
        popened, openedcomm, openedvalue = opened, 0.0, 0.0
        if opened:
            openedcomm = scheme.fee(opened, price, maker)
            if fee is not None:
                openedcomm = fee * abs(opened) / size
            if checked and not self._fits(st, order, psize, pprice, pnl - closedcomm - openedcomm):
                opened, openedcomm = 0, 0.0
                psize, pprice, _, _ = pseudo_update(old, entry, closed, price)
            else:
                openedvalue = inst.notional(opened, price) / lev
        execsize = closed + opened
        if execsize:
            broker.cash += pnl - closedcomm - openedcomm
            position.update(execsize, price)
            position.price = pprice if psize else 0.0
            record_execution(
                order, scheme, dtnum, execsize, price, closed, closedvalue, closedcomm,
                opened, openedvalue, openedcomm, pnl, psize, pprice,
            )  # fmt: skip
            broker.fees_paid += closedcomm + openedcomm
            st.owner = order.owner
            if broker.fill_hook is not None:
                broker.fill_hook(order, order.executed.exbits[-1])
            broker.notify(order)
            if broker._oco_groups:
                broker._ococheck(order)
        if popened and not opened:
            order.margin()
            broker.notify(order)
            broker._ococheck(order)

    # ---- events -------------------------------------------------------------------------------
    def on_market(self, st: _Perp, ts: int) -> None:
        """A trade or book event of ``st``'s symbol: a funding time passed is settled; without
        a derivative channel the mark moved, so liquidation is checked."""
        if self.venue_driven:
            return
        nxt = st.next_ts
        if nxt is not None and ts >= nxt and nxt not in st.settled:
            self.settle(st, nxt, st.rate, math.nan, ts)
        if st.deriv is None:
            self.check(ts)

    def on_derivative(self, st: _Perp, ev: PerpEvent) -> None:
        """A derivative event (already applied to its channel): a settlement, or the mark and
        the next funding (a funding time passed is settled at the rate in force before)."""
        assert isinstance(ev, DerivativeEvent)
        ts = ev.timestamp
        if self.venue_driven:
            if ev.next_funding_ts is not None:
                st.next_ts = ev.next_funding_ts
            if ev.funding_rate == ev.funding_rate and ev.funding_ts is None:
                st.rate = ev.funding_rate
            return
        if ev.funding_ts is not None:
            self.settle(st, ev.funding_ts, ev.funding_rate, ev.mark_price, ts)
        else:
            nxt = st.next_ts
            if nxt is not None and ts >= nxt and nxt not in st.settled:
                # at the mark in force before this update: the one at the funding time
                self.settle(st, nxt, st.rate, st.last_mark, ts)
            if ev.next_funding_ts is not None:
                st.next_ts = ev.next_funding_ts
            if ev.funding_rate == ev.funding_rate:
                st.rate = ev.funding_rate
        if ev.mark_price == ev.mark_price:
            st.last_mark = ev.mark_price
        self.check(ts)

    def settle(self, st: _Perp, fts: int, rate: float, mark: float, ts: int) -> None:
        """Funding time ``fts`` of ``st`` at ``rate``: once (a time already settled is counted
        in ``ignored``); the position pays ``funding_payment`` (negative: receives)."""
        if fts in st.settled:
            st.ignored += 1
            return
        st.settled.add(fts)
        size = self.broker.positions[st.data].size
        if not size or rate != rate:
            return
        if mark != mark:
            mark = self.mark(st)
        payment = funding_payment(st.inst, size, mark, rate)
        self.broker.cash -= payment
        st.paid += payment
        st.count += 1
        for cb in self.listeners:
            cb(st.data, rate, payment, mark)
        self.check(ts)

    def venue_funding(self, data: BtData, rate: float, payment: float, mark: float) -> bool:
        """A funding payment the venue made (``payment`` paid, negative: received): into the
        wallet, the symbol's totals and the strategies' ``notify_funding``. False: ``data``
        is not a perpetual."""
        st = self.state_of(data)
        if st is None:
            return False
        self.broker.cash -= payment
        st.paid += payment
        st.count += 1
        for cb in self.listeners:
            cb(st.data, rate, payment, mark)
        return True

    def forced_close(
        self, st: _Perp, size: float, price: float, ts: int, fee: float | None = None
    ) -> BtOrder:
        """Close ``size`` (the signed position closed) of ``st`` at ``price``, as a market
        order the strategy did not place, filled without a margin check and notified with
        ``order.info.liquidation`` True (a liquidation: the backtest's, or the venue's)."""
        broker = self.broker
        cls = TickSellOrder if size > 0 else TickBuyOrder
        data, dtnum = st.data, ns_to_num(ts)
        order = new_order(
            cls, st.owner, data, abs(size), None, None, _Market, None, 0, ts, dtnum,
            data.close[0],
        )  # fmt: skip
        order.info.liquidation = True
        order.status, order.broker = order.Accepted, broker
        self.fill(st, order, abs(size), price, dtnum, False, checked=False, fee=fee)
        broker.fills += 1
        return order

    def venue_liquidation(self, record: JsonDict) -> None:
        """A liquidation the venue carried out (its fill already applied), for the report."""
        self.liquidations.append(record)

    # ---- liquidation --------------------------------------------------------------------------
    def check(self, ts: int) -> None:
        """Liquidate when equity <= total maintenance margin (with an open position)."""
        opened = self._open()
        if not opened:
            return
        equity = self.broker.cash
        mm = 0.0
        for st, size, entry, m in opened:
            equity += st.inst.pnl(size, entry, m)
            mm += maintenance_margin(st.inst, size, m)
        if equity <= mm:
            self.liquidate(ts, opened, equity, mm)

    def liquidate(
        self, ts: int, opened: list[tuple[_Perp, float, float, float]], equity: float, mm: float
    ) -> None:
        """Cancel the perpetual data's open orders and close every position (see the module
        doc); each close is a notified fill with ``order.info.liquidation`` True."""
        broker = self.broker
        for o in broker.get_orders_open():
            if self.state_of(o.data) is not None:
                broker.cancel(o)
        opened = sorted(opened, key=lambda o: maintenance_margin(o[0].inst, o[1], o[3]))
        for i, (st, size, entry, m) in enumerate(opened):
            before = broker.cash
            price = m
            if i == len(opened) - 1:
                bp = bankruptcy_price(st.inst, size, entry, broker.cash)
                price = bp if bp is not None else m
            self.forced_close(st, size, price, ts)
            self.liquidations.append(
                {
                    "symbol": st.name,
                    "ts": ts,
                    "size": size,
                    "entry": entry,
                    "mark": m,
                    "price": price,
                    "equity": equity,
                    "maintenance": mm,
                    "wallet_before": before,
                    "wallet_after": broker.cash,
                }
            )
        if broker.cash < 1e-9 * max(1.0, abs(equity)):
            broker.cash = 0.0  # the margin balance is lost (the insurance fund takes a deficit)
            if self.liquidations:
                self.liquidations[-1]["wallet_after"] = 0.0

    def after_order(
        self, data: BtData, signed: float, price: float | None
    ) -> tuple[float, float | None] | None:
        """If ``signed`` of ``data`` filled at ``price`` (None: the mark): the account's
        effective leverage (the positions' notional at the mark over the equity) and how far
        ``data``'s position would be from its liquidation price, as a fraction of the mark
        (None: no liquidation price). None: not a perpetual, or no mark yet."""
        st = self.state_of(data)
        if st is None:
            return None
        mark = self.mark(st)
        at = price if price is not None else mark
        if not (mark == mark and at == at and mark > 0):
            return None
        pos = self.broker.positions[data]
        size, entry, _, _ = pseudo_update(pos.size, pos.price, signed, at)
        notional = st.inst.notional(size, mark) if size else 0.0
        w = self.broker.cash
        for other, osize, oentry, om in self._open():
            if other is not st:
                notional += other.inst.notional(osize, om)
                w += other.inst.pnl(osize, oentry, om) - maintenance_margin(other.inst, osize, om)
        equity = self.equity()
        leverage = notional / equity if equity > 0 else float("inf")
        liq = liquidation_price(st.inst, size, entry, w) if size else None
        far = abs(mark - liq) / mark if liq is not None and liq != float("inf") else None
        return leverage, far

    # ---- what the broker shows ----------------------------------------------------------------
    def position(self, data: BtData) -> PerpPosition | None:
        """``data``'s perpetual position (None: not a perpetual)."""
        st = self.state_of(data)
        if st is None:
            return None
        pos = self.broker.positions[data]
        size, entry = pos.size, pos.price
        m = self.mark(st)
        inst = st.inst
        upnl = inst.pnl(size, entry, m) if size and m == m else 0.0
        w = self.broker.cash
        for other, osize, oentry, om in self._open():
            if other is not st:
                w += other.inst.pnl(osize, oentry, om) - maintenance_margin(other.inst, osize, om)
        return PerpPosition(
            size=size,
            entry_price=entry,
            leverage=st.lev,
            mark_price=m,
            unrealized_pnl=upnl,
            initial_margin=inst.notional(size, m) / st.lev if size else 0.0,
            maintenance_margin=maintenance_margin(inst, size, m) if size else 0.0,
            liquidation_price=liquidation_price(inst, size, entry, w),
            margin_asset=inst.margin_asset,
        )

    def revalue(self) -> None:
        """Add the unrealized profit at mark to the broker's value (backtrader's
        ``_get_value`` counts a perpetual position as 0)."""
        broker = self.broker
        broker._value += self.unrealized()
        broker._fundval = broker._value / broker._fundshares

    def report(self) -> JsonDict:
        """``mark_source``, ``funding`` (paid, count, ignored settlements) per symbol and
        ``liquidations`` for ``cerebro.last_run``."""
        states = [st for st in self._states.values() if st is not None]
        return {
            "mark_source": {st.name: st.source for st in states},
            "funding": {
                st.name: {"paid": st.paid, "count": st.count, "ignored": st.ignored}
                for st in states
            },
            "liquidations": list(self.liquidations),
        }
