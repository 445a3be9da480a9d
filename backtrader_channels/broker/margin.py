"""The margin rules of one-way perpetual positions: initial and maintenance margin, the
liquidation price and funding, as Binance's futures documentation states them.

Every amount is in the contract's margin asset (USDT for a linear contract, the coin for an
inverse one); sizes are in contracts, signed (negative: short). ``wallet`` is the wallet
balance (deposits and realized profit, funding and fees), without unrealized profit; the
*margin balance* is the wallet plus the unrealized profit of the positions it margins.

Liquidation price (Binance, one-way mode, ``side`` +1 long / -1 short, ``q`` = ``|size|``,
``c`` = contract size, ``mmr``/``cum`` the bracket's maintenance rate and amount, ``w`` the
wallet minus the other positions' maintenance margin plus their unrealized profit in cross
margin, or the position's isolated margin):

* linear: ``(w + cum - side * q * c * entry) / (q * c * mmr - side * q * c)``
* inverse: ``(q * mmr + side * q) * c / (w + cum + side * q * c / entry)``

The bracket is the one of the position's notional at the liquidation price (found by trying
each tier, as the price moves the notional).
"""

from __future__ import annotations

from .instruments import Bracket, Instrument


def initial_margin(inst: Instrument, size: float, price: float, leverage: float) -> float:
    """Margin a position (or an order) of ``size`` at ``price`` ties up: notional / leverage."""
    return inst.notional(size, price) / leverage


def maintenance_margin(inst: Instrument, size: float, mark: float) -> float:
    """Maintenance margin of ``size`` at ``mark``: notional x rate - amount of its tier."""
    return inst.maintenance_margin(inst.notional(size, mark))


def funding_payment(inst: Instrument, size: float, mark: float, rate: float) -> float:
    """What a position of ``size`` pays at a funding of ``rate`` with the mark at ``mark``
    (negative: it receives). Longs pay shorts when the rate is positive."""
    if inst.kind == "linear":
        return size * inst.contract_size * mark * rate
    return size * inst.contract_size / mark * rate


def _liq_price(inst: Instrument, size: float, entry: float, w: float, b: Bracket) -> float:
    side = 1.0 if size > 0 else -1.0
    q, c = abs(size), inst.contract_size
    if inst.kind == "linear":
        den = q * c * b.maint_rate - side * q * c
        return (w + b.maint_amount - side * q * c * entry) / den
    den = w + b.maint_amount + side * q * c / entry
    if den <= 0:  # a short whose margin covers any rise: no liquidation price
        return float("inf")
    return (q * b.maint_rate + side * q) * c / den


def liquidation_price(inst: Instrument, size: float, entry: float, wallet: float) -> float | None:
    """The mark price at which a position of ``size`` entered at ``entry`` is liquidated,
    ``wallet`` being what margins it (see the module doc). None for no position, or when no
    price liquidates it (a long whose wallet covers a fall to zero); ``inf`` for a short that
    cannot be liquidated."""
    if size == 0:
        return None
    price = None
    for b in inst.brackets:
        p = _liq_price(inst, size, entry, wallet, b)
        if p <= 0:
            continue
        if p == float("inf"):
            return p
        notional = inst.notional(size, p)
        if b.floor <= notional < b.cap or b is inst.brackets[-1]:
            return p
        price = p if price is None else price
    return price


def bankruptcy_price(inst: Instrument, size: float, entry: float, wallet: float) -> float | None:
    """The mark price at which the margin balance is zero (all of ``wallet`` lost)."""
    if size == 0:
        return None
    c = inst.contract_size
    if inst.kind == "linear":
        price = entry - wallet / (size * c)
        return price if price > 0 else None
    den = 1.0 / entry + wallet / (size * c)
    return 1.0 / den if den > 0 else None
