"""RunTrace: what a tick-mode run keeps for ``cerebro.plot()``: every fill, and the portfolio
on the sampling clock.

A tick run's strategy reacts to events, and the run keeps no bars, so a plot after it needs a
record of what happened. This one costs nothing per event: the broker calls :meth:`RunTrace.fill`
once per fill (its time, price, size, the position after it, the realised PnL and commission:
enough to draw the fills, the position and the closed trades), and the loop calls
:meth:`RunTrace.sample` on its sampling clock (``Cerebro(sample_ns=...)``, one second of event
time by default) for the cash, the value, and each symbol's position, last price and best
bid/ask. Both are kept in typed arrays (a few dozen bytes a row). Samples are bounded: past
``max_samples`` every other one is dropped and the step doubles, so a month of data keeps the
same memory as a day. Reading the run never changes it: :func:`portfolio_value` is the broker's
``getvalue()`` without its side effects.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..btypes import BtData, BtExecutionBit, BtOrder, BtStrategy
from ..events import BT_EPOCH_DAYS, NS_PER_DAY, ChannelType

if TYPE_CHECKING:
    from ..broker.tickbroker import TickBroker
    from ..channels.base import Channel
    from ..dispatch.loop import TickLoop

#: the fields of one fill, in the order :meth:`RunTrace.fill_columns` returns them
FILL_FIELDS = (
    "ts",  # ns since the epoch (the execution bit's time)
    "price",
    "size",  # signed: > 0 bought, < 0 sold
    "position",  # the symbol's position after the fill
    "closed",  # the part of ``size`` that closed a position (signed)
    "opened",  # the part that opened one (signed)
    "pnl",  # realised on the closed part
    "closedcomm",
    "openedcomm",
)


def portfolio_value(broker: TickBroker) -> float:
    """``broker.getvalue()`` (backtrader's ``BackBroker._get_value``: positions marked at each
    data's ``close[0]``, long positions unlevered, and a perpetual's unrealized profit at its
    mark; its fund-history mode aside) without its side
    effects: it neither applies pending ``add_cash`` amounts nor refreshes the values
    ``getvalue(mkt=True)`` returns."""
    total = broker.cash
    shortcash = broker.p.shortcash
    for data, position in broker.positions.items():
        if not position.size:
            continue
        comminfo = broker.getcommissioninfo(data)
        price = data.close[0]
        if shortcash:
            value = comminfo.getvaluesize(position.size, price)
        else:
            value = abs(comminfo.getvalue(position, price))
        if value > 0:  # a long position: unlevered, as the broker counts it
            unrealized = comminfo.profitandloss(position.size, position.price, price)
            value = (value - unrealized) / comminfo.get_leverage() + unrealized
        total += value
    perp = broker.perp
    if perp is not None:  # a perpetual counts 0 above: its unrealized profit at the mark
        total += perp.unrealized()
    return total


class RunTrace:
    """The record of one tick-mode run (see the module doc); ``cerebro.trace`` after a run.

    Parameters
    ----------
    broker : TickBroker
        The run's broker (read, never changed).
    strats : list of bt.Strategy
        The run's strategies: a fill's owner is kept as its index in this list.
    instruments : dict of str to InstrumentData
        The run's per-symbol data feeds, by name: their position and last price are sampled.
    channels : dict of key to Channel
        The run's channels: a symbol's book (else quote) channel gives its sampled bid/ask.
    max_samples : int, default 200_000
        Past this many samples, every other one is dropped and the step doubles.
    """

    def __init__(
        self,
        broker: TickBroker,
        strats: list[BtStrategy],
        instruments: Mapping[str, BtData],
        channels: Mapping[tuple[str, ...], Channel],
        max_samples: int = 200_000,
    ) -> None:
        if max_samples < 2:
            raise ValueError(f"max_samples={max_samples!r}: must be at least 2")
        self._broker: TickBroker | None = broker
        self._owners = {id(s): i for i, s in enumerate(strats)}
        #: the strategies' class names, by owner index
        self.strategies = [type(s).__name__ for s in strats]
        #: the symbols' data feed names, by instrument index
        self.names: list[str] = list(instruments)
        self._datas: list[BtData] = list(instruments.values())
        self._index: dict[int, int] = {id(d): i for i, d in enumerate(self._datas)}
        quotes: dict[str, Channel] = {}
        for ch in channels.values():
            if ch.channel_type == ChannelType.ORDERBOOK or (
                ch.channel_type == ChannelType.QUOTE and ch.instrument_name not in quotes
            ):
                quotes[ch.instrument_name] = ch
        self._quotes: list[Channel | None] = [quotes.get(name) for name in self.names]
        #: per instrument index: whether it had a book or quote channel (bid/ask sampled)
        self.quoted = [q is not None for q in self._quotes]
        traded = {
            ch.instrument_name for ch in channels.values() if ch.channel_type == ChannelType.TICK
        }
        #: per instrument index: whether it had a tick channel (its sampled price is a trade's)
        self.traded = [name in traded for name in self.names]
        self.max_samples = max_samples
        #: the shortest event time (ns) between two samples; doubles when samples are thinned
        self.step_ns = 0
        self._next = -(1 << 62)
        self._seen: int | None = None  # the latest time the loop sampled at
        #: sample columns: time (ns), cash and value
        self.sample_ts = array("q")
        self.cash = array("d")
        self.value = array("d")
        n = len(self.names)
        #: per instrument index: position, last price, best bid, best ask at each sample
        self.position = [array("d") for _ in range(n)]
        self.price = [array("d") for _ in range(n)]
        self.bid = [array("d") for _ in range(n)]
        self.ask = [array("d") for _ in range(n)]
        #: fill columns (``FILL_FIELDS``), plus who and what: owner, instrument, tradeid
        self._fills = {name: array("q" if name == "ts" else "d") for name in FILL_FIELDS}
        self.fill_owner = array("i")
        self.fill_instrument = array("i")
        self.fill_tradeid = array("q")

    @classmethod
    def attach(
        cls,
        loop: TickLoop[TickBroker],
        instruments: Mapping[str, BtData],
        channels: Mapping[tuple[str, ...], Channel],
    ) -> RunTrace:
        """A trace of the run ``loop`` (a ``TickLoop``) is about to dispatch, hooked in until
        :meth:`close`: the broker's ``fill_hook`` is :meth:`fill`, the loop's ``tracer``
        :meth:`sample`."""
        trace = cls(loop.broker, loop.strats, instruments, channels)
        loop.broker.fill_hook = trace.fill
        loop.tracer = trace.sample
        return trace

    # ---- recording (called by the broker and the loop) -----------------------------------------
    def fill(self, order: BtOrder, bit: BtExecutionBit) -> None:
        """One fill: ``order``'s new execution bit ``bit`` (the broker's hook, once per fill)."""
        data = order.data
        index = self._index.get(id(data))
        if index is None:  # a feed that is not a symbol's (the broker maps bar feeds to one)
            index = self._index[id(data)] = len(self.names)
            self.names.append(data._name or f"data{index}")
            self._datas.append(data)
            self._quotes.append(None)
            self.quoted.append(False)
            self.traded.append(False)
            for col in (self.position, self.price, self.bid, self.ask):
                col.append(array("d", [float("nan")] * len(self.sample_ts)))
        f = self._fills
        f["ts"].append(round((bit.dt - BT_EPOCH_DAYS) * NS_PER_DAY))
        f["price"].append(bit.price)
        f["size"].append(bit.size)
        f["position"].append(bit.psize)
        f["closed"].append(bit.closed)
        f["opened"].append(bit.opened)
        f["pnl"].append(bit.pnl)
        f["closedcomm"].append(bit.closedcomm)
        f["openedcomm"].append(bit.openedcomm)
        self.fill_owner.append(self._owners.get(id(order.owner), -1))
        self.fill_instrument.append(index)
        self.fill_tradeid.append(int(order.tradeid))

    def sample(self, ts: int) -> None:
        """The portfolio at event time ``ts`` (the loop's hook, on its sampling clock)."""
        self._seen = ts
        times = self.sample_ts
        if times and ts == times[-1]:  # the same instant sampled again: keep the latest state
            self._drop_last()
        elif ts < self._next:
            return
        self._record(ts)

    def _record(self, ts: int) -> None:
        times = self.sample_ts
        broker: TickBroker = self._broker  # type: ignore[assignment]  # (set until close())
        times.append(ts)
        self.cash.append(broker.cash)
        self.value.append(portfolio_value(broker))
        nan = float("nan")
        for i, data in enumerate(self._datas):
            self.position[i].append(broker.getposition(data).size)
            self.price[i].append(data.close[0])
            bid = ask = nan
            ch = self._quotes[i]
            if ch is not None:
                if ch.channel_type == ChannelType.ORDERBOOK:
                    b, a = ch.best_bid_price, ch.best_ask_price  # type: ignore[attr-defined]
                    bid, ask = nan if b is None else b, nan if a is None else a
                elif ch.latest is not None:
                    bid, ask = ch.latest.bid_price, ch.latest.ask_price
            self.bid[i].append(bid)
            self.ask[i].append(ask)
        if len(times) >= self.max_samples:
            self._thin()
        self._next = ts + self.step_ns

    def close(self) -> None:
        """The run is over: its last sample kept (also when thinning had skipped it), the
        broker's fill hook off; let go of the broker and the feeds (the record stays)."""
        if self._broker is None:
            return
        seen = self._seen
        if seen is not None and (not self.sample_ts or self.sample_ts[-1] != seen):
            self._record(seen)
        if self._broker.fill_hook == self.fill:
            self._broker.fill_hook = None
        self._broker = None
        self._datas = []
        self._quotes = []

    def _drop_last(self) -> None:
        for col in self._sample_columns():
            col.pop()

    def _thin(self) -> None:
        """Keep every other sample (the last one too) and double the step."""
        for col in self._sample_columns():
            last = col[-1]
            kept = col[::2]
            if len(col) % 2 == 0:
                kept.append(last)
            col[:] = kept
        times = self.sample_ts
        span = times[-1] - times[0]
        self.step_ns = max(self.step_ns * 2, span // max(len(times) - 1, 1))

    # every sample column, int (times) and float alike: thinning treats them all the same
    def _sample_columns(self) -> list[array[Any]]:
        return [
            self.sample_ts,
            self.cash,
            self.value,
            *self.position,
            *self.price,
            *self.bid,
            *self.ask,
        ]

    # ---- reading (the plot) -------------------------------------------------------------------
    @property
    def fills(self) -> int:
        """The number of fills recorded."""
        return len(self.fill_owner)

    def fill_columns(self) -> dict[str, array[int] | array[float]]:
        """The fill columns by name (``FILL_FIELDS``, plus ``owner``, ``instrument`` and
        ``tradeid``), in fill order."""
        return {
            **self._fills,
            "owner": self.fill_owner,
            "instrument": self.fill_instrument,
            "tradeid": self.fill_tradeid,
        }
