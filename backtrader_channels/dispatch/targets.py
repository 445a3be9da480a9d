"""What the dispatch loop knows of one source: its channel, data feed, orders and hooks."""

from __future__ import annotations

from collections.abc import Callable, MutableSequence
from typing import Final

from ..btypes import BtData, BtOrder
from ..channels.base import Channel, ChannelKey, MarketEvent
from ..events import TickEvent

#: what a source's events are to the loop: trades (the data feed's price; matched as trades)
TICK: Final = 0
#: quotes and order book updates (matched against the symbol's book)
BOOK: Final = 1
#: a quote is a book update to the loop (the name stays importable)
QUOTE: Final = BOOK
#: what a book's ``trades`` is when nothing trades its symbol: a channel that never gets an
#: event (its ``latest`` stays None), so the book's mid prices the data feed all run long
NO_TRADES: Final[Channel[TickEvent]] = Channel("no trades")
#: a per-event hook: a strategy's callbacks, bars and bridges (``SourceTarget.advance``)
EventHook = Callable[[MarketEvent], object]
#: (close array, close index, datetime array, datetime index) of a data feed's current slot
LineSlots = tuple[MutableSequence[float], int, MutableSequence[float], int]


class SourceTarget:
    """What the loop needs to know about one recorded or live source.

    Parameters
    ----------
    kind : {TICK, BOOK}
        :data:`TICK` for trades, :data:`BOOK` for quotes and order book updates.
    channel : Channel
        The channel the events are applied to.
    data : data feed
        The symbol's data feed (``InstrumentData``): its price and time follow the events.
    pending : list of orders
        The broker's live list of active orders on ``data`` (``broker.pending_list``).
    callback : callable or None
        Called with each event applied (the strategies' ``on_tick``, ``on_event``, ...).
    """

    __slots__ = (
        "advance",
        "callback",
        "channel",
        "columnar",
        "data",
        "inline_push",
        "kind",
        "lines",
        "pending",
        "trades",
    )

    def __init__(
        self,
        kind: int,
        channel: Channel,
        data: BtData,
        pending: list[BtOrder],
        callback: EventHook | None,
    ):
        self.kind, self.channel, self.data = kind, channel, data
        self.pending, self.callback = pending, callback
        #: trades the loop applies to the channel itself, as ``Channel.push`` would: the
        #: channel's class has no ``push`` of its own (``Channel.plain_push``), nor the channel
        #: (looked at through the bound method: reading the instance's ``__dict__`` would make
        #: every later attribute write on the channel slower)
        self.inline_push = (
            kind == TICK
            and channel.plain_push
            and getattr(channel.push, "__func__", None) is Channel.push
        )
        #: per-event hook: bars built from this channel, bridges (and their indicators) on it
        self.advance: EventHook | None = None
        #: (close array, close idx, datetime array, datetime idx) of ``data``, bound at first use
        self.lines: LineSlots | None = None
        #: a book's: the channel whose trades price ``data`` (the loop finds it at the first
        #: run; :data:`NO_TRADES` when there is none). Until its first trade, the book's mid
        #: is the data feed's price
        self.trades: Channel | None = None
        #: a book kept in the compiled L2 book and fed columns (``channels.columnar``): the
        #: loop hands its runs to ``book_run.book_columns_run``
        self.columnar = hasattr(type(channel), "apply_columns")

    def bind_lines(self) -> LineSlots:
        """The buffers the loop writes per event (the data feed's one rewritten slot)."""
        lines = self.data.lines
        self.lines = (lines.close.array, lines.close.idx, lines.datetime.array, lines.datetime.idx)
        return self.lines


#: the dispatch targets of a run, by channel key
Targets = dict[ChannelKey, SourceTarget]
