"""A live broker's perpetual futures, on the engine's thread: fills, the venue's funding and
liquidations, and its positions (an :class:`~.apply.Applier`'s part for perpetual data).

A perpetual position is the account's, so the venue's position is the strategy's:

* fills move the position and the wallet as the tick broker's margin account does
  (``broker/perpetual.py``: realized profit and the venue's fee into the wallet; opening moves
  no cash); the broker's own funding and liquidation rules are off (``venue_driven``);
* each funding payment the venue reports (its income history) goes into the wallet once, the
  run report (``last_run["funding"]``) and the strategies' ``notify_funding``;
* each liquidation the venue reports (its forced orders, or an ``autoclose-`` order on the
  private stream) closes the position at the venue's price, notified as a ``Completed`` order
  with ``order.info.liquidation`` True, listed in ``last_run["liquidations"]``, journaled, and
  counted by the kill switch;
* positions are compared with the venue's at each reconciliation: at start, a venue position
  the store cannot explain is reported and its symbol is not traded unless the broker adopts
  it (``CCXTBroker(adopt=[...])``: the position becomes the strategy's); later, a difference
  seen on two sweeps in a row is corrected to the venue's (the venue wins).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..broker.fills import pseudo_update
from ..btypes import BtData
from ..events import CcxtDict, VenueSnapshot
from ..log import logger
from .states import LiveOrder

if TYPE_CHECKING:
    from ..broker.perpetual import PerpAccount, _Perp
    from .apply import Applier

_TOL = 1e-9
#: the client order id prefix of Binance's liquidation orders
LIQUIDATION_PREFIX = "autoclose-"
#: Bybit's ``createType`` of liquidation orders: a laddered close at the mark, the takeover at
#: the bankruptcy price
BYBIT_LIQUIDATIONS = ("CreateByLiq", "CreateByTakeOverPassThrough")


def signed_position(p: CcxtDict) -> float:
    """A ccxt position's signed size (contracts, negative when short)."""
    size = float(p.get("contracts") or 0.0)
    return -size if p.get("side") == "short" else size


class PerpApplier:
    """The perpetual part of one venue's :class:`~.apply.Applier` (see module doc)."""

    def __init__(self, applier: Applier) -> None:
        self.a = applier
        #: symbols not traded, and why (an unexplained venue position, not adopted)
        self.untradable: dict[str, str] = {}
        self._funding_seen: set[str] = set()
        self._liquidated: set[str] = set()
        self._mismatch: tuple[tuple[str, float], ...] | None = None

    @property
    def account(self) -> PerpAccount | None:
        return self.a.b.perp

    def state(self, data: BtData) -> _Perp | None:
        perp = self.account
        return None if perp is None else perp.state_of(data)

    # ---- fills -------------------------------------------------------------------------------
    def follow(self, st: _Perp, signed: float, price: float, fee: float) -> None:
        """A fill without a backtrader order (resumed, or declared rejected before the venue's
        fill came): the position and the wallet follow it alone."""
        b = self.a.b
        pos = b.positions[st.data]
        old, entry = pos.size, pos.price
        psize, pprice, _opened, closed = pseudo_update(old, entry, signed, price)
        pnl = st.inst.pnl(-closed, entry, price) if closed else 0.0
        b.cash += pnl - fee
        b.fees_paid += fee
        pos.update(signed, price)
        pos.price = pprice if psize else 0.0

    def after_order(
        self, data: BtData, side: str, amount: float, price: float | None
    ) -> tuple[float, float | None] | None:
        """The account's effective leverage after an order of ``data`` and the distance of
        the position after it from liquidation (``PerpAccount.after_order``); None: not a
        perpetual, or no mark yet."""
        perp = self.account
        if perp is None:
            return None
        return perp.after_order(data, amount if side == "buy" else -amount, price)

    # ---- liquidations ------------------------------------------------------------------------
    def liquidation_order(self, o: CcxtDict) -> bool:
        """Whether ``o`` is a liquidation order of the venue (then applied once filled)."""
        info = o.get("info") or {}
        cid = str(o.get("clientOrderId") or info.get("c") or info.get("clientOrderId") or "")
        if (
            not cid.startswith(LIQUIDATION_PREFIX)
            and info.get("createType") not in BYBIT_LIQUIDATIONS
        ):
            return False
        filled = float(o.get("filled") or info.get("z") or info.get("executedQty") or 0.0)
        price = float(o.get("average") or info.get("ap") or info.get("avgPrice") or 0.0)
        if filled > 0 and price > 0 and o.get("status") in ("closed", "FILLED", None):
            self._liquidate(str(o.get("id")), str(o.get("symbol")), str(o.get("side")),
                            filled, price, o.get("timestamp"))  # fmt: skip
        return True

    def _liquidate(
        self, xid: str, symbol: str, side: str, qty: float, price: float, ts_ms: object
    ) -> None:
        a, b = self.a, self.a.b
        a._foreign_ids.add(xid)  # its trades are this close, not fills of ours
        a.orphans.pop(xid, None)
        if xid in self._liquidated:
            return
        data = b._data.get((a.venue, symbol))
        st = self.state(data) if data is not None else None
        perp = self.account
        if st is None or perp is None or data is None:
            return
        self._liquidated.add(xid)
        size = qty if side.lower() == "sell" else -qty  # the position it closed
        before = b.cash
        ts = int(ts_ms) * 1_000_000 if isinstance(ts_ms, (int, float)) else time.time_ns()
        perp.forced_close(st, size, price, ts, fee=0.0)
        a.cash += b.cash - before
        record = {"symbol": symbol, "ts": ts, "size": size, "price": price, "order_id": xid,
                  "wallet_before": before, "wallet_after": b.cash, "source": "venue"}  # fmt: skip
        perp.venue_liquidation(record)
        logger.error("%s: liquidated by the venue: %g at %g", symbol, size, price)
        self._journal(symbol, "liquidation", size=size, price=price, order_id=xid)
        if b.store is not None:
            pos = b.positions[data]
            b.store.set_position(a.venue, symbol, pos.size, pos.price)
        b.fault(f"liquidation of {symbol}: {size:g} at {price:g}")

    # ---- reconciliation ----------------------------------------------------------------------
    def reconcile(self, snap: VenueSnapshot, first: bool) -> None:
        """Liquidations, funding and positions of a snapshot (before the balances)."""
        for liq in snap.get("liquidations", []):
            info = liq.get("info") or {}
            xid = str(info.get("orderId") or liq.get("id") or "")
            # Binance's forced orders, Bybit's liquidation executions
            qty = float(info.get("executedQty") or info.get("execQty") or liq.get("contracts") or 0)
            price = float(info.get("avgPrice") or info.get("execPrice") or liq.get("price") or 0)
            if xid and qty > 0 and price > 0:
                side = str(info.get("side") or liq.get("side") or "")
                self._liquidate(xid, str(liq.get("symbol")), side, qty, price,
                                liq.get("timestamp"))  # fmt: skip
        for f in sorted(snap.get("funding", []), key=lambda f: f.get("timestamp") or 0):
            self._funding(f)
        if "positions" in snap:
            self._positions(snap["positions"], first)

    def _funding(self, f: CcxtDict) -> None:
        a, b = self.a, self.a.b
        fid = str(f.get("id") or (f.get("info") or {}).get("tranId") or "")
        if not fid or fid in self._funding_seen:
            return
        self._funding_seen.add(fid)
        symbol = str(f.get("symbol"))
        data = b._data.get((a.venue, symbol))
        st = self.state(data) if data is not None else None
        perp = self.account
        if st is None or perp is None or data is None:
            return
        payment = float(f.get("paid", -float(f.get("amount") or 0.0)))  # the session's sign
        mark = perp.mark(st)
        perp.venue_funding(data, st.rate, payment, mark)
        a.cash -= payment
        self._journal(symbol, "funding", paid=payment, rate=st.rate, id=fid)

    def _positions(self, positions: list[CcxtDict], first: bool) -> None:
        a, b = self.a, self.a.b
        venue = {str(p.get("symbol")): p for p in positions}
        differ: dict[str, tuple[float, float, float]] = {}
        for (v, symbol), data in b._data.items():
            if v != a.venue or self.state(data) is None:
                continue
            p = venue.get(symbol) or {}
            theirs = signed_position(p)
            ours = b.positions[data].size
            if abs(theirs - ours) > _TOL * max(1.0, abs(theirs)):
                differ[symbol] = (ours, theirs, float(p.get("entryPrice") or 0.0))
        if first:
            adopt = set(getattr(b.p, "adopt", None) or ())
            for symbol, (ours, theirs, entry) in differ.items():
                if symbol in adopt:
                    self._set(symbol, theirs, entry, "adopted")
                    a.start_value += 0.0  # valued at entry: no profit of the run's yet
                else:
                    why = (
                        f"the venue holds {theirs:g} {symbol}, the store explains {ours:g}: not "
                        f"traded unless adopted (CCXTBroker(adopt=[{symbol!r}]))"
                    )
                    self.untradable[symbol] = why
                    logger.error("%s", why)
                    self._journal(symbol, "unexplained position", venue=theirs, store=ours)
            return
        for symbol in self.untradable:  # not the run's: reported at start, left alone
            differ.pop(symbol, None)
        seen = tuple(sorted((s, d[1]) for s, d in differ.items()))
        if not differ or self._mismatch != seen:
            self._mismatch = seen or None  # fills may be on their way: correct if it persists
            return
        self._mismatch = None
        for symbol, (_ours, theirs, entry) in differ.items():
            self._set(symbol, theirs, entry, "correction: position")

    def _set(self, symbol: str, size: float, entry: float, event: str) -> None:
        a, b = self.a, self.a.b
        data = b._data[(a.venue, symbol)]
        pos = b.positions[data]
        before = pos.size
        pos.set(size, entry if size else 0.0)
        logger.warning("%s: %s position %g -> %g (the venue's)", event, symbol, before, size)
        self._journal(symbol, event, position=[before, size], entry=entry)
        if b.store is not None:
            b.store.set_position(a.venue, symbol, pos.size, pos.price)

    def _journal(self, symbol: str, event: str, **details: object) -> None:
        b = self.a.b
        if b.journal is not None:
            note = LiveOrder("account", symbol, "", "", 0.0, None, venue=self.a.venue)
            b.journal.write(note, event, "rest", **details)
