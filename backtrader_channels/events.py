"""Event types and priorities: the plain, immutable values that travel through the loop.

Every market event is a ``NamedTuple`` (built in C, no per-event dict) that carries the exchange
timestamp and the receive timestamp as integer nanoseconds since the Unix epoch, and its
``venue`` (``""`` when the run has one venue and did not name it; see :func:`channel_key`).
Each payload type also answers to the envelope interface of :class:`Event` (``priority``,
``channel_type``, ``channel_name``, ``data``), so the loop never wraps a recorded event in a
second object.

A live broker's news from its venue travels as a :class:`BrokerUpdate` holding one typed record
per kind (:data:`VenueNews`: :class:`OrderUpdate`, :class:`TradesUpdate`,
:class:`Reconciliation`, :class:`Outcome`, ...), built by the venue session and applied by the
broker on the engine's thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Literal, NamedTuple, TypedDict, overload

NS_PER_DAY = 86_400_000_000_000
NAN = float("nan")
#: backtrader's float-day value (``date2num``) of 1970-01-01T00:00:00.
BT_EPOCH_DAYS = 719163.0


def ns_to_num(ts_ns: int) -> float:
    """Convert integer ns since the epoch to backtrader's float days (about 10 us resolution)."""
    return ts_ns / NS_PER_DAY + BT_EPOCH_DAYS


class EventPriority(IntEnum):
    """Order of events that share a timestamp: lower first (book updates before trades)."""

    DERIVATIVE = 15
    ORDERBOOK = 20
    QUOTE = 25
    TICK = 30
    BAR = 40
    TIMER = 50
    CUSTOM = 60


class ChannelType:
    """Names of the built-in channel types (the first half of a channel key)."""

    TICK = "tick"
    QUOTE = "quote"
    ORDERBOOK = "orderbook"
    DERIVATIVE = "derivative"


def channel_key(channel_type: str, symbol: str, venue: str | None = None) -> tuple[str, ...]:
    """The key of a channel: ``(type, symbol)``, or ``(type, symbol, venue)`` for a named venue
    (the same symbol on two venues is two channels)."""
    return (channel_type, symbol, venue) if venue else (channel_type, symbol)


def instrument_name(symbol: str, venue: str | None = None) -> str:
    """The name of the data feed standing for ``symbol`` on ``venue``: ``"BTC/USDT"``, or
    ``"BTC/USDT@bybit"`` for a named venue (what ``self.getdatabyname`` takes)."""
    return f"{symbol}@{venue}" if venue else symbol


def event_key(ev: object) -> tuple[str, ...]:
    """The key of the channel an event belongs to (its venue's, when it carries one)."""
    venue = getattr(ev, "venue", "")
    kind, name = ev.channel_type, ev.channel_name  # type: ignore[attr-defined]
    return (kind, name, venue) if venue else (kind, name)


def key_label(key: tuple[str, ...]) -> str:
    """A channel key as text: ``"quote:BTC/USDT"`` or ``"quote:BTC/USDT@bybit"``."""
    return f"{key[0]}:{instrument_name(key[1], key[2] if len(key) > 2 else None)}"


class Event(NamedTuple):
    """A generic event envelope, for timers and user events pushed into a queue.

    Recorded and live market events are the payload types below; they expose the same
    attributes, with ``data`` returning the event itself.
    """

    timestamp: int
    priority: int
    channel_type: str
    channel_name: str
    data: object = None
    recv_timestamp: int | None = None


class Level(NamedTuple):
    """One price level of a book side."""

    price: float
    size: float


class _TickFields(NamedTuple):
    timestamp: int
    price: float
    volume: float
    direction: str = "buy"
    trade_id: int | None = None
    symbol: str = ""
    recv_timestamp: int | None = None
    venue: str = ""


class TickEvent(_TickFields):
    """One trade. ``direction`` is the aggressor side, ``"buy"`` or ``"sell"``."""

    __slots__ = ()
    priority = int(EventPriority.TICK)
    channel_type = ChannelType.TICK

    @property
    def channel_name(self) -> str:
        """The symbol (envelope interface)."""
        return self.symbol

    @property
    def data(self) -> TickEvent:
        """The event itself (envelope interface)."""
        return self


class _QuoteFields(NamedTuple):
    timestamp: int
    bid_price: float
    bid_size: float
    ask_price: float
    ask_size: float
    symbol: str = ""
    recv_timestamp: int | None = None
    update_id: int | None = None
    venue: str = ""


class QuoteEvent(_QuoteFields):
    """Best bid and ask with their sizes (a bookTicker / BBO update)."""

    __slots__ = ()
    priority = int(EventPriority.QUOTE)
    channel_type = ChannelType.QUOTE

    @property
    def channel_name(self) -> str:
        """The symbol (envelope interface)."""
        return self.symbol

    @property
    def data(self) -> QuoteEvent:
        """The event itself (envelope interface)."""
        return self

    @property
    def best_bid(self) -> Level:
        """Best bid as a :class:`Level`."""
        return Level(self.bid_price, self.bid_size)

    @property
    def best_ask(self) -> Level:
        """Best ask as a :class:`Level`."""
        return Level(self.ask_price, self.ask_size)

    @property
    def mid_price(self) -> float:
        """Midpoint of best bid and ask."""
        return (self.bid_price + self.ask_price) * 0.5

    @property
    def spread(self) -> float:
        """Best ask minus best bid."""
        return self.ask_price - self.bid_price


class Levels(Sequence[tuple[float, float]]):
    """One side of a book message kept as two float arrays, read as the tuple of ``(price,
    size)`` pairs it stands for (indexing, iteration, ``len``, ``==`` and ``hash`` with that
    tuple, ``+``, ``repr``, pickling): the ``bids``/``asks`` of the messages a columnar book
    channel (``hear=``) hands its strategies. The pairs are built when first read, so a strategy
    that only looks at the channel pays nothing for a message of hundreds of levels.

    Parameters
    ----------
    price, size : numpy.ndarray
        The side's prices and sizes (float64, one per level, owned by this object).
    """

    __slots__ = ("_pairs", "_price", "_size")

    def __init__(self, price: Any, size: Any) -> None:
        self._price, self._size = price, size
        self._pairs: tuple[tuple[float, float], ...] | None = None

    def pairs(self) -> tuple[tuple[float, float], ...]:
        """The levels as a tuple of ``(price, size)`` (built once)."""
        p = self._pairs
        if p is None:
            p = self._pairs = tuple(zip(self._price.tolist(), self._size.tolist()))
        return p

    def __len__(self) -> int:
        return len(self._price)

    @overload
    def __getitem__(self, i: int) -> tuple[float, float]: ...

    @overload
    def __getitem__(self, i: slice) -> tuple[tuple[float, float], ...]: ...

    def __getitem__(self, i: int | slice) -> tuple[float, float] | tuple[tuple[float, float], ...]:
        return self.pairs()[i]

    def __iter__(self) -> Iterator[tuple[float, float]]:
        return iter(self.pairs())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Levels):
            other = other.pairs()
        elif not isinstance(other, tuple):
            return NotImplemented
        return self.pairs() == other

    def __hash__(self) -> int:
        return hash(self.pairs())

    def __add__(self, other: object) -> tuple[tuple[float, float], ...]:
        if not isinstance(other, (tuple, Levels)):
            return NotImplemented
        return self.pairs() + tuple(other)

    def __radd__(self, other: object) -> tuple[tuple[float, float], ...]:
        if not isinstance(other, tuple):
            return NotImplemented
        return other + self.pairs()

    def __repr__(self) -> str:
        return repr(self.pairs())

    def __reduce__(self) -> tuple[type, tuple[tuple[tuple[float, float], ...]]]:
        return (tuple, (self.pairs(),))


class _BookFields(NamedTuple):
    timestamp: int
    bids: Sequence[tuple[float, float]]
    asks: Sequence[tuple[float, float]]
    is_snapshot: bool = False
    symbol: str = ""
    recv_timestamp: int | None = None
    first_update_id: int | None = None
    last_update_id: int | None = None
    venue: str = ""


class OrderBookEvent(_BookFields):
    """An L2 book update: a full snapshot or a delta of absolute sizes (size 0 deletes).

    ``bids``/``asks`` are tuples of ``(price, size)`` pairs (a columnar channel's messages hold
    :class:`Levels`, which read as those tuples). ``first_update_id`` and
    ``last_update_id`` are the exchange's sequence ids (Binance ``U``/``u``); ``None`` when the
    source has none, which turns gap checks off for that stream.
    """

    __slots__ = ()
    priority = int(EventPriority.ORDERBOOK)
    channel_type = ChannelType.ORDERBOOK

    @property
    def channel_name(self) -> str:
        """The symbol (envelope interface)."""
        return self.symbol

    @property
    def data(self) -> OrderBookEvent:
        """The event itself (envelope interface)."""
        return self


class _DerivativeFields(NamedTuple):
    timestamp: int
    mark_price: float = NAN
    index_price: float = NAN
    funding_rate: float = NAN
    next_funding_ts: int | None = None
    symbol: str = ""
    recv_timestamp: int | None = None
    venue: str = ""
    funding_ts: int | None = None


class DerivativeEvent(_DerivativeFields):
    """A perpetual contract's mark price, index price and funding (Binance ``markPrice``,
    Bybit ``tickers``, Tardis ``derivative_ticker``, Binance's ``markPriceKlines``).

    A field the source does not give is NaN (``next_funding_ts``: None). ``funding_rate`` is
    the rate in force for the next funding (``next_funding_ts``, ns). An event with
    ``funding_ts`` set is a *settlement*: funding paid at ``funding_ts`` at ``funding_rate``
    (Binance's ``fundingRate`` history); a broker settles each funding time once, at that
    rate if a settlement comes, else at the last rate in force when the time passes.
    Derivative events go before book updates and trades of the same timestamp.
    """

    __slots__ = ()
    priority = int(EventPriority.DERIVATIVE)
    channel_type = ChannelType.DERIVATIVE

    @property
    def channel_name(self) -> str:
        """The symbol (envelope interface)."""
        return self.symbol

    @property
    def data(self) -> DerivativeEvent:
        """The event itself (envelope interface)."""
        return self

    @property
    def is_settlement(self) -> bool:
        """A funding settlement (``funding_ts`` set), not a mark or funding-estimate update."""
        return self.funding_ts is not None


# ---- a live broker's news from its venue ---------------------------------------------------------
#: a ccxt structure (an order, a trade, a balance, a market) as ccxt returns it: the venue's JSON
CcxtDict = dict[str, Any]
#: where the venue's word came from: its private WebSocket stream, or a REST reply
UpdateSource = Literal["ws", "rest"]
#: what became of a submit, query or cancel that brought no order back
OutcomeKind = Literal["rejected", "unknown", "not_found", "cancel_failed", "amend_failed", "note"]


class VenueSnapshot(TypedDict, total=False):
    """What the venue says at a reconciliation: the markets traded, the balances, the open
    orders, recent fills, each unfinished order of ours found by client id (``orders``) and the
    client ids it does not know (``not_found``)."""

    markets: dict[str, CcxtDict | None]
    balance: CcxtDict
    open: list[CcxtDict]
    trades: list[CcxtDict]
    orders: list[CcxtDict]
    not_found: list[str]
    #: perpetuals: the venue's positions, wallet balance (in the margin asset), and the
    #: funding payments and liquidations since the run started
    positions: list[CcxtDict]
    wallet: float
    funding: list[CcxtDict]
    liquidations: list[CcxtDict]


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """One order as the venue reports it (a create or cancel reply, a query's answer)."""

    order: CcxtDict
    source: UpdateSource


@dataclass(frozen=True, slots=True)
class OrdersUpdate:
    """Orders from the private stream (``watch_orders``)."""

    orders: tuple[CcxtDict, ...]
    source: UpdateSource


@dataclass(frozen=True, slots=True)
class TradesUpdate:
    """Our fills from the private stream (``watch_my_trades``)."""

    trades: tuple[CcxtDict, ...]
    source: UpdateSource


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """A REST sweep's snapshot; ``first``: the start's (it sets the venue's cash)."""

    snapshot: VenueSnapshot
    first: bool


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of a request about order ``client_id`` that brought no order back:
    ``"rejected"`` (``margin``: for lack of funds, backtrader's Margin), ``"unknown"`` (a
    submit that may or may not be placed), ``"not_found"`` (a cancel's query),
    ``"cancel_failed"``, ``"amend_failed"`` or a ``"note"`` for the order's history; ``why``
    says why."""

    kind: OutcomeKind
    client_id: str
    why: str = ""
    margin: bool = False


@dataclass(frozen=True, slots=True)
class PrivateStream:
    """The private stream is subscribed (``up``) or down (``why``)."""

    up: bool
    why: str = ""


@dataclass(frozen=True, slots=True)
class VenueFault:
    """A failure of the venue session (a failed sweep, a failed cancel-all), for the kill
    switch and the reports."""

    what: str


@dataclass(frozen=True, slots=True)
class EngineCall:
    """Not a venue's news: ``fn()`` to be run on the engine's thread, between two events (the
    dashboard's controls: pause, resume, cancel all, stop). Carried by a ``BrokerUpdate``
    through the live queue, so that it runs where the broker and the strategies run."""

    fn: Callable[[], None]


#: one piece of a venue's news, a record per kind (or a call for the engine's thread)
VenueNews = (
    OrderUpdate | OrdersUpdate | TradesUpdate | Reconciliation | Outcome | PrivateStream
    | VenueFault | EngineCall
)  # fmt: skip


class _BrokerUpdateFields(NamedTuple):
    timestamp: int
    news: VenueNews
    venue: str = ""  # the session's venue ("" for a single-venue broker)


class BrokerUpdate(_BrokerUpdateFields):
    """What a live broker's venue session learnt (``news``: an ack, a fill, a reconciliation,
    ...), carried through the live queue to the engine, which hands it to ``broker.on_update``.
    ``timestamp`` is the local receive time (ns); strategies never see these events."""

    __slots__ = ()
    priority = 10  # before market events of the same instant
    channel_type = "broker"
    channel_name = ""

    @property
    def data(self) -> BrokerUpdate:
        return self
