"""A commission scheme that sizes orders in fractions of a unit, as crypto amounts are.

backtrader's ``CommInfoBase.getsize`` returns whole units (``int(cash // price)``). Sizers and
``order_target_value`` / ``order_target_percent`` go through it, so at BTC's price they size
every order to 0 and send nothing. :class:`FractionalCommInfo` rounds down to the market's
amount step instead, so that what a backtest sizes is what the venue accepts.
"""

from __future__ import annotations

import math
from decimal import Decimal

import backtrader as bt


class FractionalCommInfo(bt.CommissionInfo):
    """backtrader's ``CommissionInfo`` (percentage commission, ``commission=0.001`` is 0.1%),
    with sizes in fractions of a unit rounded down to ``lot``.

    Parameters
    ----------
    lot : float, default 0.0
        The amount step: sizes are whole multiples of it (use the market's amount precision,
        ccxt's ``exchange.market(symbol)["precision"]["amount"]``, so that live orders pass the
        venue's rules). ``0`` leaves sizes unrounded.
    **kwargs
        ``CommissionInfo``'s own parameters (``commission``, ``leverage``, ``margin``,
        ``stocklike``, ``mult``...).

    Examples
    --------
    >>> cerebro.broker.addcommissioninfo(btch.FractionalCommInfo(commission=0.001, lot=0.00001))
    """

    params = (("lot", 0.0),)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # (the metaclass has taken the parameters out of kwargs)
        lot = self.p.lot
        if not isinstance(lot, (int, float)) or not math.isfinite(lot) or lot < 0:
            raise ValueError(f"lot={lot!r}: must be a finite number >= 0 (0: no rounding)")
        self._lot = Decimal(repr(float(lot))) if lot else None

    def getsize(self, price: float, cash: float) -> float:
        """The largest size, a multiple of ``lot``, that ``cash`` buys at ``price``."""
        per_unit = price if self._stocklike else self.get_margin(price)
        size = self.p.leverage * cash / per_unit
        if self._lot is None or not math.isfinite(size):
            return size
        lot = self._lot
        # the step count, forgiving the last bits of float division (8081 - 1e-12 is 8081)
        steps = math.floor(Decimal(repr(size)) / lot + Decimal("1e-9"))
        return float(steps * lot)  # the decimal product: 0.08081, not 0.08081000000000001
