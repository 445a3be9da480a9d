"""Fill models the tick broker can be given: fees by liquidity side, and queue position for
resting limit orders on book data. Each is a small class behind a runtime-checkable protocol (the
broker checks what it is given with ``isinstance``); the broker's defaults (no model) reproduce
the fills of earlier versions exactly. Latency models are in :mod:`.latency`.

Queue position (``TickBroker(queue=...)``), for a resting limit order on a symbol with an order
book channel:

* When the order starts resting, it joins the back of the queue at its price: the size shown on
  its side at that price is ahead of it.
* A trade at its price consumes the queue ahead first; what is left of the trade fills the order
  (all of it, or that much with ``partial_fills=True``). A trade through its price fills it, as
  without a model.
* When the size shown at its price shrinks, the model says how much of the decrease was ahead
  of the order. :class:`RiskAverseQueue` (the default model) assumes none: cancellations come
  off the back, so the queue ahead only shrinks to the size shown. :class:`ProbQueue` assumes a
  share that grows with the queue behind the order.
* Without a book (trade data only) the touch/through rules apply.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..errors import check_choice


@runtime_checkable
class FeeModel(Protocol):
    """The commission of one fill (``TickBroker(fees=...)``)."""

    def commission(self, size: float, price: float, maker: bool) -> float:
        """Commission (in quote currency, >= 0) for ``size`` (unsigned) at ``price``; ``maker``
        is True for a resting limit order's fill (it added liquidity)."""
        ...


class MakerTaker:
    """Maker and taker rates as fractions of the fill's value (``0.0002`` = 2 bp).

    Parameters
    ----------
    maker : float
        Rate for fills of resting limit orders (negative for a rebate).
    taker : float
        Rate for market orders, stops and marketable limit orders.
    """

    __slots__ = ("maker", "taker")

    def __init__(self, maker: float, taker: float) -> None:
        self.maker, self.taker = float(maker), float(taker)

    def commission(self, size: float, price: float, maker: bool) -> float:
        return abs(size) * price * (self.maker if maker else self.taker)

    def __repr__(self) -> str:
        return f"MakerTaker(maker={self.maker}, taker={self.taker})"


@runtime_checkable
class QueueModel(Protocol):
    """How a decrease of the size shown at a resting order's price moves the order up
    (``TickBroker(queue=...)``)."""

    def on_decrease(self, ahead: float, before: float, after: float) -> float:
        """The queue ahead after the size at the price went from ``before`` to ``after``
        (``after < before``), with ``ahead`` in front of the order before."""
        ...


class RiskAverseQueue:
    """Decreases come off the back: the queue ahead shrinks only to the size shown."""

    __slots__ = ()

    def on_decrease(self, ahead: float, before: float, after: float) -> float:
        return min(ahead, after)

    def __repr__(self) -> str:
        return "RiskAverseQueue()"


class ProbQueue:
    """A decrease comes from ahead of the order with probability ``f(back) / (f(back) +
    f(ahead))``, ``f(x) = x ** power``: the more is queued behind the order, the more of a
    cancellation is taken to be in front of it (the power-law model of the queue-position
    literature, as in hftbacktest's ``PowerProbQueueFunc``).

    Parameters
    ----------
    power : float, default 2.0
        The exponent; larger favours the front less.
    """

    __slots__ = ("power",)

    def __init__(self, power: float = 2.0) -> None:
        if power <= 0:
            raise ValueError(f"power={power}: must be > 0")
        self.power = float(power)

    def on_decrease(self, ahead: float, before: float, after: float) -> float:
        back = max(before - ahead, 0.0)
        fa, fb = ahead**self.power, back**self.power
        share = fb / (fa + fb) if fa + fb > 0 else 0.0
        return max(0.0, min(ahead - share * (before - after), after))

    def __repr__(self) -> str:
        return f"ProbQueue(power={self.power})"


#: names a broker accepts for ``queue=``
QUEUE_MODELS = {"risk_averse": RiskAverseQueue, "prob": ProbQueue}


def queue_model_of(queue: object) -> QueueModel | None:
    """``TickBroker(queue=...)`` as a model: None, a name of :data:`QUEUE_MODELS`, or a
    :class:`QueueModel`; else a ValueError naming the parameter."""
    if queue is None or isinstance(queue, str):
        name = check_choice("queue", queue, (None, *QUEUE_MODELS))
        return None if name is None else QUEUE_MODELS[name]()
    if not isinstance(queue, QueueModel):
        raise ValueError(f"queue={queue!r}: must be None, 'risk_averse', 'prob' or a QueueModel")
    return queue


def fee_model_of(fees: object) -> FeeModel | None:
    """``TickBroker(fees=...)``: None or a :class:`FeeModel`; else a ValueError naming it."""
    if fees is not None and not isinstance(fees, FeeModel):
        raise ValueError(f"fees={fees!r}: must be None or a FeeModel (e.g. MakerTaker)")
    return fees
