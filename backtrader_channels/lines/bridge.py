"""ChannelBridge: one field of a channel as a backtrader line, for stock indicators.

Create it in ``Strategy.__init__`` like a data line::

    self.price = btch.ChannelBridge(channel=("tick", "BTC/USDT"), field="price")
    self.sma = bt.ind.SMA(self.price, period=20)

The bridge advances (gets one more value) each time its channel applies an event; indicators on it
advance with it. ``[0]`` is the value after the channel's latest event, ``[-1]`` the value after
the event before, and an indicator's minimum period counts events of that channel. See
``docs/bridge.md`` for the rules when channels tick at different rates.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Integral
from operator import attrgetter
from typing import TYPE_CHECKING, TypeAlias

import backtrader as bt
from backtrader.metabase import findowner

from ..btypes import BtLine
from ..channels.base import Channel
from ..errors import ChannelError
from ..events import ChannelType

if TYPE_CHECKING:
    import numpy as np

#: how many past values a bridge keeps by default (``lookback=``)
LOOKBACK = 4096

#: how a field is computed from native columns: one column, or two and the function of them
ColumnSpec: TypeAlias = "str | tuple[str, str, Callable[[np.ndarray, np.ndarray], np.ndarray]]"

#: field -> how to compute it from native columns (for precomputing tick and quote bridges)
COLUMN_FIELDS: dict[str, dict[str, ColumnSpec]] = {
    ChannelType.TICK: {
        "price": "price",
        "volume": "volume",
        "timestamp": "timestamp",
        "recv_timestamp": "recv_timestamp",
        "trade_id": "trade_id",
        "last_price": "price",
    },
    ChannelType.QUOTE: {
        "bid_price": "bid_price",
        "bid_size": "bid_size",
        "ask_price": "ask_price",
        "ask_size": "ask_size",
        "best_bid.price": "bid_price",
        "best_bid.size": "bid_size",
        "best_ask.price": "ask_price",
        "best_ask.size": "ask_size",
        "timestamp": "timestamp",
        "recv_timestamp": "recv_timestamp",
        "mid_price": ("bid_price", "ask_price", lambda b, a: (b + a) * 0.5),
        "spread": ("bid_price", "ask_price", lambda b, a: a - b),
    },
}

_TOP = ("best_bid.price", "best_bid.size", "best_ask.price", "best_ask.size")
#: the numeric fields a bridge can read, per channel type (docs/bridge.md lists them)
FIELDS: dict[str, tuple[str, ...]] = {
    ChannelType.TICK: ("price", "volume", "last_price", "trade_id", "timestamp", "recv_timestamp"),
    ChannelType.QUOTE: (
        "bid_price",
        "bid_size",
        "ask_price",
        "ask_size",
        *_TOP,
        "mid_price",
        "spread",
        "update_id",
        "timestamp",
        "recv_timestamp",
    ),
    ChannelType.ORDERBOOK: (
        "mid_price",
        "spread",
        "microprice",
        "imbalance",
        *_TOP,
        "best_bid_price",
        "best_ask_price",
        "first_update_id",
        "last_update_id",
        "timestamp",
        "recv_timestamp",
    ),
}


def channel_fields(channel: Channel) -> tuple[str, ...]:
    """The fields a bridge on ``channel`` can read: those of its channel type, then the
    properties a user's subclass of a channel adds."""
    own = sorted(
        name
        for cls in type(channel).__mro__
        if not cls.__module__.startswith(("backtrader_channels.", "builtins"))
        for name, value in vars(cls).items()
        if isinstance(value, property) and not name.startswith("_")
    )
    return (*FIELDS.get(channel.channel_type, ()), *own)


def check_field(channel: Channel, field: object) -> str:
    """``field`` if a bridge on ``channel`` can read it, else a ChannelError that names the
    field, the channel and the fields it has."""
    fields = channel_fields(channel)
    if isinstance(field, str) and field in fields:
        return field
    raise ChannelError(
        f"ChannelBridge field={field!r}: the {channel.channel_type} channel "
        f"{channel.key} has no such field; its fields: {', '.join(fields)}"
    )


def field_reader(channel: Channel, field: str) -> Callable[[], float]:
    """A function of no arguments returning ``field`` of ``channel`` now (NaN when unknown).

    The field is looked up on the channel first (``mid_price``, ``spread``, ``microprice``,
    ``imbalance``, ``best_bid.price``, ...), then on its latest event (``price``, ``volume``).
    """
    head = field.split(".")[0]
    on_channel = hasattr(type(channel), head)
    get = attrgetter(field)
    nan = math.nan

    if on_channel:

        def read() -> float:
            try:
                value = get(channel)
            except AttributeError:  # e.g. best_bid is None on an empty side
                return nan
            return nan if value is None else float(value)
    else:

        def read() -> float:
            latest = channel.latest
            if latest is None:
                return nan
            value = get(latest)
            return nan if value is None else float(value)

    return read


class BridgeRegistry:
    """The bridges each strategy created in its ``__init__``, kept by the tick-mode Cerebro (a
    bridge finds it through ``strategy.cerebro.bridges``) until the run wires them."""

    def __init__(self) -> None:
        self._by_owner: dict[int, list[ChannelBridge]] = {}

    def add(self, owner: object, bridge: ChannelBridge) -> None:
        """Record that ``owner`` (a strategy) created ``bridge``."""
        self._by_owner.setdefault(id(owner), []).append(bridge)

    def of(self, owner: object) -> list[ChannelBridge]:
        """The bridges ``owner`` created, in creation order."""
        return list(self._by_owner.get(id(owner), ()))

    def clear(self) -> None:
        """Forget every bridge (a new run creates new strategies)."""
        self._by_owner.clear()


class ChannelBridge(bt.LineSeries):
    """One field of a channel as a line (``lines.value``), usable by stock indicators.

    Create it in ``Strategy.__init__``, like a data line.

    Parameters
    ----------
    channel : Channel or tuple of (str, str)
        The channel, or its key ``(channel_type, symbol)``.
    field : str, default "price"
        An event attribute (``price``, ``volume``, ``bid_price``), a nested one
        (``best_bid.price``) or a derived book field (``mid_price``, ``spread``, ``microprice``,
        ``imbalance``).
    clock : ChannelBridge, optional
        Advance with this other bridge instead, reading this channel's latest value, so that
        bridges of two channels can feed one indicator.
    precompute : bool, default True
        In backtests, fill tick and quote bridges and their indicators ahead from the recorded
        columns, block by block (same values, faster); False advances them event by event.
    lookback : int, default 4096
        How many past values ``[-k]`` can read on the bridge and its indicators (at least their
        minimum period is kept). Older values are dropped as the run goes, so memory stays flat;
        a read further back may give NaN.

    Raises
    ------
    ChannelError
        Outside a Strategy's ``__init__``, for an unknown channel, a field the channel does not
        have (the message lists its fields), a ``clock`` that is not a bridge or a ``lookback``
        below 1.
    """

    lines = ("value",)
    params = (
        ("channel", None),
        ("field", "price"),
        ("clock", None),
        ("precompute", True),
        ("lookback", LOOKBACK),
    )

    def __init__(self) -> None:
        owner = findowner(self, bt.Strategy)
        if owner is None:
            raise ChannelError("create ChannelBridge inside a Strategy's __init__")
        registry = getattr(owner.cerebro, "bridges", None)
        if not isinstance(registry, BridgeRegistry):
            raise ChannelError("ChannelBridge needs the package's Cerebro (btch.Cerebro)")
        channel = self.p.channel
        if isinstance(channel, tuple):
            channels = owner.cerebro.channels
            if channel not in channels:
                raise ChannelError(f"no channel {channel}; channels: {sorted(channels)}")
            channel = channels[channel]
        if not isinstance(channel, Channel):
            raise ChannelError(f"ChannelBridge needs a channel or a channel key, got {channel!r}")
        clock = self.p.clock
        if clock is not None and not isinstance(clock, ChannelBridge):
            raise ChannelError("ChannelBridge clock= must be another ChannelBridge")
        lookback = self.p.lookback
        if isinstance(lookback, bool) or not isinstance(lookback, Integral) or lookback < 1:
            raise ChannelError(f"ChannelBridge lookback={lookback!r}: must be an int >= 1")
        self.channel: Channel = channel
        self.field: str = check_field(channel, self.p.field)
        self.read = field_reader(channel, self.field)
        self.strategy = owner
        registry.add(owner, self)

    @property
    def value_line(self) -> BtLine:
        """The bridge's line buffer."""
        return self.lines[0]

    @property
    def clock_bridge(self) -> ChannelBridge:
        """The bridge whose channel advances this one (itself unless ``clock=`` was given)."""
        return self.p.clock.clock_bridge if self.p.clock is not None else self

    def column_spec(self) -> ColumnSpec | None:
        """How to compute this field from native columns, or None if it cannot be."""
        return COLUMN_FIELDS.get(self.channel.channel_type, {}).get(self.field)

    def column_names(self) -> list[str]:
        """The native columns this field is computed from (empty if it cannot be)."""
        spec = self.column_spec()
        if spec is None:
            return []
        return [spec] if isinstance(spec, str) else list(spec[:2])

    def values_from(self, columns: dict[str, np.ndarray]) -> np.ndarray:
        """This field's values from a block of native columns (:meth:`column_names`)."""
        spec = self.column_spec()
        if isinstance(spec, str):
            return columns[spec]
        # (called only for a field that has a column spec: ``column_spec()`` is not None)
        return spec[2](columns[spec[0]], columns[spec[1]])  # type: ignore[index]
