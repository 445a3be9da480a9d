"""Checks before every live order, and the kill switch.

:func:`check_order` applies the market's rules from ``load_markets`` (amount and price
precision, minimum amount, minimum notional) and the user's :class:`RiskLimits`; a refusal names
the rule and the numbers. :class:`KillSwitch` counts faults (rejections, unknown outcomes,
disconnects) and trips when ``n`` fall within ``window`` seconds.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field

from ..events import CcxtDict


@dataclass
class RiskLimits:
    """Limits every live order is checked against (None: no limit).

    Parameters
    ----------
    max_order_notional : float, optional
        Largest ``amount * price`` of one order, in quote currency.
    max_position : float or dict, optional
        Largest absolute position after the order, in base units: one number for every symbol,
        or per symbol (``{"BTC/USDT": 0.05}``; symbols not named are not limited).
    max_open_orders : int, optional
        Orders working at the venue at once (including those being submitted).
    max_orders_per_second : float, optional
        New orders in any one-second window.
    kill_after : tuple of (int, float), optional
        ``(n, seconds)``: after ``n`` faults within ``seconds`` the kill switch cancels every
        open order and stops the run (a liquidation by the venue counts as a fault).
    max_leverage : float, optional
        Perpetuals: largest effective leverage after the order (the perpetual positions'
        notional at the mark over the account's equity).
    min_liquidation_distance : float, optional
        Perpetuals: an order is refused when the position after it would be liquidated by a
        mark move smaller than this fraction of the mark (0.1: a 10% move).
    """

    max_order_notional: float | None = None
    max_position: float | dict[str, float] | None = None
    max_open_orders: int | None = None
    max_orders_per_second: float | None = None
    kill_after: tuple[int, float] | None = None
    max_leverage: float | None = None
    min_liquidation_distance: float | None = None
    _sent: deque[float] = field(default_factory=deque, repr=False)

    def position_limit(self, symbol: str) -> float | None:
        limit = self.max_position
        if isinstance(limit, dict):
            return limit.get(symbol)
        return limit

    def note_sent(self, now: float) -> None:
        self._sent.append(now)

    def rate(self, now: float) -> int:
        sent = self._sent
        while sent and now - sent[0] >= 1.0:
            sent.popleft()
        return len(sent)


def _steps(value: float, step: float | None) -> bool:
    """Whether ``value`` is a whole number of ``step``."""
    if not step:
        return True
    n = value / step
    return abs(n - round(n)) <= 1e-9 * max(1.0, abs(n))


def check_order(
    market: CcxtDict | None,
    limits: RiskLimits | None,
    symbol: str,
    side: str,
    amount: float,
    price: float | None,
    ref_price: float | None,
    position: float,
    open_orders: int,
    now: float | None = None,
) -> str | None:
    """Why the order must not go out, or None (see module doc). ``ref_price`` values a market
    order (the opposite best, else the last trade); ``position`` is the current one (signed)."""
    if not amount > 0 or not math.isfinite(amount):
        return f"amount {amount!r} must be a positive number"
    value_price = price if price is not None else ref_price
    if market is not None:
        why = market_rule(market, symbol, amount, price, value_price)
        if why is not None:
            return why
    if limits is None:
        return None
    return limit_rule(limits, symbol, side, amount, value_price, position, open_orders, now)


def market_rule(
    market: CcxtDict, symbol: str, amount: float, price: float | None, value: float | None
) -> str | None:
    """The market's own rules (ccxt's ``limits`` and ``precision``)."""
    lim = market.get("limits") or {}
    prec = market.get("precision") or {}
    min_amount = (lim.get("amount") or {}).get("min")
    if min_amount and amount < min_amount:
        return f"market rule: amount {amount:g} below the minimum {min_amount:g} of {symbol}"
    if not _steps(amount, prec.get("amount")):
        return f"market rule: amount {amount:g} is not a multiple of {prec['amount']:g}"
    if price is not None and not _steps(price, prec.get("price")):
        return f"market rule: price {price:g} is not a multiple of the tick {prec['price']:g}"
    min_cost = (lim.get("cost") or {}).get("min")
    if min_cost and value is not None and amount * value < min_cost:
        return (
            f"market rule: notional {amount * value:.2f} below the minimum {min_cost:g} of {symbol}"
        )
    return None


def limit_rule(
    limits: RiskLimits,
    symbol: str,
    side: str,
    amount: float,
    value: float | None,
    position: float,
    open_orders: int,
    now: float | None,
) -> str | None:
    """The user's :class:`RiskLimits`."""
    if limits.max_order_notional is not None and value is not None:
        notional = amount * value
        if notional > limits.max_order_notional:
            return (
                f"max_order_notional: {notional:.2f} > {limits.max_order_notional:g} "
                f"({amount:g} {symbol} at {value:g})"
            )
    cap = limits.position_limit(symbol)
    if cap is not None:
        after = position + (amount if side == "buy" else -amount)
        if abs(after) > cap * (1 + 1e-9):
            return f"max_position: {symbol} position would be {after:g}, limit {cap:g}"
    if limits.max_open_orders is not None and open_orders >= limits.max_open_orders:
        return f"max_open_orders: {open_orders} working, limit {limits.max_open_orders}"
    if limits.max_orders_per_second is not None:
        sent = limits.rate(time.monotonic() if now is None else now)
        if sent + 1 > limits.max_orders_per_second:
            return (
                f"max_orders_per_second: {sent} sent in the last second, "
                f"limit {limits.max_orders_per_second:g}"
            )
    return None


class KillSwitch:
    """Trips after ``n`` faults within ``window`` seconds.

    Parameters
    ----------
    n : int
        Faults that trip it.
    window : float
        Seconds the faults must fall within.
    """

    def __init__(self, n: int, window: float):
        if n < 1 or window <= 0:
            raise ValueError(f"kill_after=({n}, {window}): need n >= 1 faults within > 0 s")
        self.n, self.window = n, window
        self._times: deque[float] = deque()
        self.faults: list[str] = []
        self.tripped: str | None = None

    def fault(self, what: str, now: float | None = None) -> bool:
        """Count one fault; True when this one tripped the switch."""
        t = time.monotonic() if now is None else now
        self.faults.append(what)
        times = self._times
        times.append(t)
        while times and t - times[0] > self.window:
            times.popleft()
        if self.tripped is None and len(times) >= self.n:
            recent = self.faults[-len(times) :]
            self.tripped = (
                f"kill switch: {len(times)} faults within {self.window:g} s "
                f"(last: {'; '.join(recent[-3:])})"
            )
            return True
        return False


def perp_rule(
    limits: RiskLimits | None, symbol: str, leverage: float, distance: float | None
) -> str | None:
    """The perpetual limits: ``leverage`` is the account's effective leverage after the order,
    ``distance`` how far (a fraction of the mark) the position after it is from liquidation
    (None: it cannot be liquidated)."""
    if limits is None:
        return None
    cap = limits.max_leverage
    if cap is not None and leverage > cap * (1 + 1e-9):
        return f"max_leverage: {symbol} would take the account to {leverage:.2f}x, limit {cap:g}x"
    floor = limits.min_liquidation_distance
    if floor is not None and distance is not None and distance < floor:
        return (
            f"min_liquidation_distance: {symbol} would be liquidated by a {distance:.2%} mark "
            f"move, limit {floor:.2%}"
        )
    return None
