"""The commission scheme of a perpetual contract: its instrument, leverage and maker/taker fees.

``cerebro.broker.addcommissioninfo(PerpetualCommInfo(inst, leverage=10, maker=0.0002,
taker=0.0005), name="ETH/USDT:USDT")`` makes the tick broker keep that data as a one-way,
cross-margined perpetual position (:mod:`.perpetual`): the wallet (``getcash()``) moves only by
realized profit, fees and funding, in the contract's margin asset; the value (``getvalue()``) is
the wallet plus the unrealized profit at the mark price.
"""

from __future__ import annotations

import math

import backtrader as bt

from .instruments import Instrument


class PerpetualCommInfo(bt.CommInfoBase):
    """A perpetual contract's scheme for one data (``addcommissioninfo(..., name=symbol)``).

    Parameters
    ----------
    instrument : Instrument
        The contract (linear or inverse, its brackets: ``broker.instruments.Instrument``).
    leverage : float, default 1.0
        The symbol's leverage (> 0, at most the instrument's first bracket's maximum).
    maker, taker : float, default 0.0
        Fee rates, fractions of the fill's notional in the margin asset (negative: a rebate).

    Raises
    ------
    ValueError
        A leverage above the instrument's maximum, or not > 0.

    Examples
    --------
    >>> cerebro.broker.addcommissioninfo(
    ...     btch.PerpetualCommInfo(inst, leverage=10, maker=0.0002, taker=0.0005),
    ...     name="ETH/USDT:USDT",
    ... )
    """

    params = (
        ("stocklike", False),
        ("commtype", bt.CommInfoBase.COMM_PERC),
        ("percabs", True),
        ("leverage", 1.0),
        ("maker", 0.0),
        ("taker", 0.0),
    )

    def __init__(self, instrument: Instrument, **kwargs: float) -> None:
        # (backtrader's metaclass has taken leverage, maker and taker out of kwargs)
        super().__init__(**kwargs)
        if not isinstance(instrument, Instrument):
            raise ValueError(f"instrument={instrument!r}: must be an Instrument")
        lev = self.p.leverage
        if not isinstance(lev, (int, float)) or not math.isfinite(lev) or lev <= 0:
            raise ValueError(f"leverage={lev!r}: must be a number > 0")
        if lev > instrument.max_leverage:
            raise ValueError(
                f"leverage={lev!r}: {instrument.symbol} allows at most {instrument.max_leverage:g}x"
            )
        #: the contract
        self.instrument = instrument
        #: the symbol's leverage
        self.leverage = float(lev)
        self.maker, self.taker = float(self.p.maker), float(self.p.taker)

    def fee(self, size: float, price: float, maker: bool) -> float:
        """The fee of a fill of ``size`` at ``price`` in the margin asset."""
        return self.instrument.notional(size, price) * (self.maker if maker else self.taker)

    # backtrader's hooks: a perpetual position holds no asset, its worth is its unrealized
    # profit (added by the broker at the mark), and its cash never moves with the price
    def getvaluesize(self, size: float, price: float) -> float:
        """0: the position's worth is its unrealized profit (the broker adds it at mark)."""
        return 0.0

    def getoperationcost(self, size: float, price: float) -> float:
        """The initial margin of ``size`` at ``price``."""
        return self.instrument.notional(size, price) / self.leverage

    def profitandloss(self, size: float, price: float, newprice: float) -> float:
        """The profit of ``size`` entered at ``price``, at ``newprice`` (``Instrument.pnl``)."""
        if not size or not price or not newprice:
            return 0.0
        return self.instrument.pnl(size, price, newprice)

    def cashadjust(self, size: float, price: float, newprice: float) -> float:
        """0: the wallet moves only on realized profit, fees and funding."""
        return 0.0

    def getcommission(self, size: float, price: float) -> float:
        """The taker fee of ``size`` at ``price``."""
        return self.fee(size, price, False)

    def getsize(self, price: float, cash: float) -> float:
        """The size ``cash`` of margin opens at ``price`` and the leverage (down to the lot)."""
        inst = self.instrument
        per = inst.notional(1.0, price) / self.leverage
        size = cash / per if per > 0 else 0.0
        lot = inst.lot_size
        if lot and math.isfinite(size):
            size = math.floor(size / lot + 1e-9) * lot
        return size
