"""Live derivative streams: ccxt.pro's mark-price tickers as :class:`DerivativeEvent` s, and the
funding settlements they reveal.

Which venues have a mark-price stream, and how ccxt.pro hands it over (:data:`VENUES`, by ccxt
id):

* **Binance** USDⓈ-M / COIN-M (``binanceusdm``, ``binancecoinm``; ``binance`` for its contract
  symbols): ``watch_mark_price(symbol)`` subscribes ``<id>@markPrice@1s`` and returns one ticker
  whose ``info`` is the ``markPriceUpdate`` frame: ``E`` event time, ``p`` mark, ``i`` index,
  ``r`` funding rate (empty for delivery contracts), ``T`` next funding time (ms). Every frame
  is an event, as the capture reader makes it (``venues/binance/capture.py``).
* **Bybit** linear and inverse (``bybit``): ``watch_ticker(symbol)`` on ``tickers.<ID>``; ccxt
  merges each delta into the ticker's ``info`` (``markPrice``, ``indexPrice``, ``fundingRate``,
  ``nextFundingTime`` ms) and stamps the ticker with the frame's ``ts``. An event is made only
  when one of those four changed, as the tickers reader does (``venues/bybit/tickers.py``):
  most deltas only move the best bid/ask or the last price.

Times: ``timestamp`` is the exchange time (ccxt's ``timestamp``, ms, in ns), ``recv_timestamp``
the local receive time (ns), as in the other live kinds.

**Settlements** (:class:`FundingClock`). A recorded run settles a funding time ``T`` in the
broker when the first event of the symbol at or after ``T`` arrives (at the rate in force before
it and the channel's mark; ``broker/perpetual.py``). Live, the feed emits that settlement
itself, as a :class:`DerivativeEvent` with ``funding_ts=T``, just before the first event of the
symbol that passes ``T`` (a trade, a book, a quote or the mark-price update, whichever comes
first), or before the mark-price update whose next funding time moved past ``T``. It carries
what the broker's own rule would have used (the rate last in force; the last mark before the
event that passes ``T``: the mark in force at the funding time, as the venue settles), so that a
live paper run pays the same funding as the recorded run of the same frames and the broker's own
rule, finding ``T`` settled, neither settles it again nor counts an ``ignored`` settlement.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..events import NAN, CcxtDict, ChannelType, DerivativeEvent
from .validator import LiveDataValidator
from .venue_parts import CcxtExchange, live_parts

_MS = 1_000_000
DERIVATIVE = ChannelType.DERIVATIVE

#: ``(ccxt ticker, symbol, receive ns, venue) -> event`` (None: the ticker carries no mark data)
Convert = Callable[[CcxtDict, str, int, str], "DerivativeEvent | None"]


class _Stamped(Protocol):
    """Any event a feed delivers, as the funding clock reads it."""

    @property
    def channel_type(self) -> str: ...

    @property
    def channel_name(self) -> str: ...

    def __getitem__(self, i: int, /) -> object: ...


def _number(value: object) -> float:
    """A venue's number (text or number) as a float; NaN when missing or empty."""
    if value is None or value == "":
        return NAN
    return float(value)  # type: ignore[arg-type]


def _ms_to_ns(value: object) -> int | None:
    """A venue's time in ms (text or number) as ns; None when missing, empty or 0."""
    if value is None or value == "":
        return None
    ms = int(value)  # type: ignore[call-overload]
    return ms * _MS if ms > 0 else None


def _exchange_ns(ticker: CcxtDict, recv: int) -> int:
    """ccxt's ``timestamp`` (the exchange time, ms) in ns; the receive time without one."""
    ts = ticker.get("timestamp")
    return int(ts) * _MS if ts else recv


def binance_mark(
    ticker: CcxtDict, symbol: str, recv: int, venue: str = ""
) -> DerivativeEvent | None:
    """A Binance ``markPriceUpdate`` ticker (``watch_mark_price``) as an event: mark ``p``,
    index ``i``, funding rate ``r`` (NaN when empty: delivery contracts), next funding ``T``
    (None when 0), at the event time ``E``. None when the ticker is not a mark-price update."""
    info = ticker.get("info") or {}
    mark = info.get("p", info.get("mp"))
    if mark is None:
        mark = ticker.get("markPrice")
    if mark is None:
        return None
    return DerivativeEvent(
        _exchange_ns(ticker, recv),
        _number(mark),
        _number(info.get("i", ticker.get("indexPrice"))),
        _number(info.get("r")),
        _ms_to_ns(info.get("T")),
        symbol,
        recv,
        venue,
    )


def bybit_ticker(
    ticker: CcxtDict, symbol: str, recv: int, venue: str = ""
) -> DerivativeEvent | None:
    """A Bybit linear or inverse ticker (``watch_ticker``, ccxt's merge of the ``tickers``
    snapshot and deltas) as an event: ``markPrice``, ``indexPrice``, ``fundingRate``,
    ``nextFundingTime`` of its ``info``, at the frame's ``ts``. None for a ticker without a mark
    price (spot)."""
    info = ticker.get("info") or {}
    mark = info.get("markPrice")
    if mark is None or mark == "":
        return None
    return DerivativeEvent(
        _exchange_ns(ticker, recv),
        _number(mark),
        _number(info.get("indexPrice")),
        _number(info.get("fundingRate")),
        _ms_to_ns(info.get("nextFundingTime")),
        symbol,
        recv,
        venue,
    )


@dataclass(frozen=True)
class DerivativeVenue:
    """How a venue's mark-price stream is watched and read.

    Parameters
    ----------
    watch : str
        The ccxt.pro method watching one symbol's stream (``watch_mark_price``).
    convert : callable
        Its ticker as a :class:`DerivativeEvent` (:data:`Convert`).
    changes_only : bool
        Make an event only when the mark, index, rate or next funding time changed (a stream
        whose frames mostly carry other fields: Bybit's ``tickers``).
    marker : str
        A word of ccxt's subscription keys for the stream (lower case), to find its socket.
    """

    watch: str
    convert: Convert
    changes_only: bool
    marker: str


#: the mark-price streams ccxt.pro reads the same way on every venue that has them
BINANCE_MARK = DerivativeVenue("watch_mark_price", binance_mark, False, "markprice")
BYBIT_TICKER = DerivativeVenue("watch_ticker", bybit_ticker, True, "ticker:")


def derivative_venue(exchange: CcxtExchange | str, symbol: str) -> DerivativeVenue:
    """The mark-price stream of ``symbol`` on ``exchange``'s venue (its ``mark_stream``, from
    its venue module); a ValueError naming both when the venue has none or ``symbol`` is not a
    contract (a unified contract symbol names its settle asset: ``BTC/USDT:USDT``)."""
    exchange_id = str(getattr(exchange, "id", exchange))
    venue = live_parts(exchange).mark_stream
    if venue is None:
        raise ValueError(
            f"channels: 'derivative' for {symbol!r} on {exchange_id!r}: the feed knows no "
            "mark-price stream there (a venue module says how its stream is read: "
            "LiveParts.mark_stream)"
        )
    if ":" not in symbol:
        raise ValueError(
            f"channels: 'derivative' for {symbol!r} on {exchange_id!r}: a spot symbol has no "
            "mark price or funding; give the contract's symbol (e.g. 'BTC/USDT:USDT')"
        )
    return venue


def is_contract(market: CcxtDict | None) -> bool:
    """Whether a ccxt market is a contract with a mark price (a swap or a future)."""
    return bool(market) and bool(market.get("contract") or market.get("swap"))  # type: ignore[union-attr]


class LiveDerivatives:
    """Derivative events from each symbol's latest mark-price ticker, each ticker once.

    Parameters
    ----------
    venue_of : DerivativeVenue
        How the feed's venue hands the stream over.
    venue : str
        The venue every event carries.
    validator : LiveDataValidator
        Where a mark or index price that is not positive is recorded (``non_positive_price``).
    """

    def __init__(self, venue_of: DerivativeVenue, venue: str, validator: LiveDataValidator):
        self.spec = venue_of
        self.venue = venue
        self.validator = validator
        #: per symbol: the ccxt ticker converted last (ccxt makes a new dict per frame)
        self._last_ticker: dict[str, CcxtDict] = {}
        #: per symbol: the (mark, index, rate, next) of the last event
        self._last_values: dict[str, tuple[float, float, float, int | None]] = {}

    @classmethod
    def of(
        cls,
        exchange: CcxtExchange,
        symbols: Sequence[str],
        venue: str,
        validator: LiveDataValidator,
    ) -> LiveDerivatives:
        """The stream reader of ``exchange``'s venue for ``symbols`` (a ValueError naming the
        symbol and venue when it has no mark-price stream or a symbol is spot)."""
        spec = None
        for symbol in symbols:
            spec = derivative_venue(exchange, symbol)
        assert spec is not None
        return cls(spec, venue, validator)

    def refusal(self, markets: dict[str, CcxtDict], symbols: Sequence[str]) -> str | None:
        """Why the stream cannot serve ``symbols`` once ``markets`` are loaded (one that is
        not a contract), or None."""
        spot = [s for s in symbols if not is_contract(markets.get(s))]
        if not spot:
            return None
        return (
            f"no mark price or funding for {', '.join(spot)} (not a contract): the derivative "
            "channel needs a swap or future"
        )

    async def watch(self, exchange: CcxtExchange, symbol: str) -> list[DerivativeEvent]:
        """The next events of ``symbol``'s stream (one watch call)."""
        ticker = await getattr(exchange, self.spec.watch)(symbol)
        return self.event(ticker, symbol, time.time_ns())

    def event(self, ticker: CcxtDict, symbol: str, recv: int) -> list[DerivativeEvent]:
        """The ticker as an event (none: not mark data, unchanged where only changes count, or
        a price that is not positive, recorded)."""
        self._last_ticker[symbol] = ticker
        ev = self.spec.convert(ticker, symbol, recv, self.venue)
        if ev is None:
            return []
        if not (ev.mark_price > 0 or ev.mark_price != ev.mark_price) or not (
            ev.index_price > 0 or ev.index_price != ev.index_price
        ):
            self.validator.record((DERIVATIVE, symbol), "non_positive_price")
            return []
        values = (ev.mark_price, ev.index_price, ev.funding_rate, ev.next_funding_ts)
        if self.spec.changes_only and _same(self._last_values.get(symbol), values):
            return []
        self._last_values[symbol] = values
        return [ev]

    def from_cache(self, exchange: CcxtExchange, symbol: str, recv: int) -> list[DerivativeEvent]:
        """ccxt's latest ticker for ``symbol`` (its ``tickers`` cache) if no watch call
        returned it yet."""
        ticker = getattr(exchange, "tickers", {}).get(symbol)
        if ticker is None or ticker is self._last_ticker.get(symbol):
            return []
        return self.event(ticker, symbol, recv)


def _same(
    a: tuple[float, float, float, int | None] | None, b: tuple[float, float, float, int | None]
) -> bool:
    """Equal values, NaN equal to NaN."""
    if a is None:
        return False
    return all(x == y or (x != x and y != y) for x, y in zip(a, b, strict=True))


class _Funding:
    """One symbol's funding as delivered: last time, mark, rate, next funding time, and the
    funding time settled last."""

    __slots__ = ("last_ts", "mark", "next_ts", "rate", "settled")

    def __init__(self) -> None:
        self.last_ts = 0
        self.mark = NAN
        self.rate = NAN
        self.next_ts: int | None = None
        self.settled: int | None = None


class FundingClock:
    """The settlement events of a feed's derivative streams (see module doc): :meth:`due` before
    a batch is delivered, :meth:`delivered` after."""

    def __init__(self, venue: str) -> None:
        self.venue = venue
        self._state: dict[str, _Funding] = {}

    def due(self, events: Sequence[_Stamped]) -> list[DerivativeEvent]:
        """The settlement to deliver before ``events`` (one channel's batch), if they pass the
        symbol's pending funding time; it is then taken as settled (emitted once)."""
        if not events:
            return []
        first = events[0]
        st = self._state.get(first.channel_name)
        if st is None or st.next_ts is None or st.next_ts == st.settled:
            return []
        fts = st.next_ts
        mark = st.mark
        if first.channel_type == DERIVATIVE:
            ev = events[-1]
            assert isinstance(ev, DerivativeEvent)
            if ev.funding_ts is not None or ev.timestamp < st.last_ts:
                return []  # a settlement, or an update the validator will refuse
            moved = ev.next_funding_ts is not None and ev.next_funding_ts > fts
            if ev.timestamp < fts and not moved:
                return []
            ts = min(fts, ev.timestamp)
        else:
            last = events[-1][0]
            assert isinstance(last, int)
            if last < fts:
                return []
            ts = fts
        st.settled = fts
        return [
            DerivativeEvent(
                max(ts, st.last_ts),
                mark,
                NAN,
                st.rate,
                None,
                first.channel_name,
                getattr(events[-1], "recv_timestamp", None),
                self.venue,
                fts,
            )
        ]

    def delivered(self, events: Sequence[DerivativeEvent]) -> None:
        """Derivative events the validator accepted: their values become the symbol's."""
        for ev in events:
            st = self._state.get(ev.symbol)
            if st is None:
                st = self._state[ev.symbol] = _Funding()
            st.last_ts = max(st.last_ts, ev.timestamp)
            if ev.funding_ts is not None:
                st.settled = ev.funding_ts
                continue
            if ev.mark_price == ev.mark_price:
                st.mark = ev.mark_price
            if ev.funding_rate == ev.funding_rate:
                st.rate = ev.funding_rate
            if ev.next_funding_ts is not None:
                st.next_ts = ev.next_funding_ts
