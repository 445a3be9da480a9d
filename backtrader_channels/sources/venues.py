"""Venue and market: which exchange and which of its markets recorded data comes from.

The venue is the ccxt exchange id (``binance``, ``bybit``, ``okx``); one exchange's spot and
futures markets are one venue (ccxt's ``binanceusdm`` and ``binancecoinm`` are ``binance``), told
apart by the market: ``spot``, ``linear`` (futures and swaps margined and settled in the quote,
USDT or USDC) or ``inverse`` (margined and settled in the base coin, quoted in USD). What a file
cannot tell is ``unknown``. Every table of names is here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Literal, get_args

from ..errors import ChannelError, check_choice
from ..symbols import plain_symbol

#: a venue's market: its spot market, or its linear or inverse derivatives
Market = Literal["spot", "linear", "inverse"]
MARKETS: tuple[Market, ...] = get_args(Market)
#: what is written (folder and column) for a venue or market nobody said
UNKNOWN = "unknown"

#: ccxt ids that are one market of a venue: ``(venue, market)``
_CCXT_IDS: dict[str, tuple[str, Market | None]] = {
    "binanceusdm": ("binance", "linear"),
    "binancecoinm": ("binance", "inverse"),
    "okex": ("okx", None),
    "okex5": ("okx", None),
    "huobi": ("htx", None),
    "coinbasepro": ("coinbase", None),
    "coinbaseexchange": ("coinbase", None),
}

#: Tardis.dev exchange ids (the ``exchange`` column): ``(venue, market)``; a None market is
#: read from the symbol (:func:`derivative_market`)
TARDIS_EXCHANGES: dict[str, tuple[str, Market | None]] = {
    "binance": ("binance", "spot"),
    "binance-us": ("binanceus", "spot"),
    "binance-futures": ("binance", "linear"),
    "binance-delivery": ("binance", "inverse"),
    "bybit-spot": ("bybit", "spot"),
    "bybit": ("bybit", None),
    "okex": ("okx", "spot"),
    "okex-swap": ("okx", None),
    "okex-futures": ("okx", None),
    "deribit": ("deribit", None),
    "bitmex": ("bitmex", None),
    "coinbase": ("coinbase", "spot"),
    "kraken": ("kraken", "spot"),
    "bitstamp": ("bitstamp", "spot"),
    "bitfinex": ("bitfinex", "spot"),
    "gemini": ("gemini", "spot"),
    "kucoin": ("kucoin", "spot"),
    "huobi": ("htx", "spot"),
}

_VENUE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_LINEAR_QUOTES = ("USDT", "USDC", "BUSD", "FDUSD", "PERP")
#: a quote of USD, perhaps followed by a futures month code and year (``BTCUSDH25``)
_INVERSE = re.compile(r"USD([FGHJKMNQUVXZ]\d{2})?$")


def venue_key(venue: str) -> str:
    """A venue as the layout would write it, for matching (no check: a channel's venue may be
    any label, ``"Binance spot"`` included, and simply matches no folder)."""
    name = venue.strip().lower()
    return _CCXT_IDS.get(name, (name, None))[0]


def venue_name(venue: str) -> str:
    """A venue as the layout writes it: the ccxt id, lower case (``binanceusdm`` is
    ``binance``); a ChannelError for a name that is not one."""
    name = venue.strip().lower()
    name = _CCXT_IDS.get(name, (name, None))[0]
    if not _VENUE_NAME.match(name):
        raise ChannelError(
            f"venue={venue!r}: a venue is a ccxt exchange id such as 'binance' or 'bybit'"
        )
    return name


def market_name(market: str) -> Market:
    """``market`` checked: one of ``spot``, ``linear``, ``inverse``."""
    return check_choice("market", market, MARKETS, ChannelError)


def ccxt_market(exchange_id: str, market: dict[str, object] | None = None) -> tuple[str, str]:
    """``(venue, market)`` of a ccxt exchange id and, if loaded, one of its markets (the
    ``exchange.markets[symbol]`` dict: ``type``, ``linear``, ``inverse``)."""
    venue = venue_name(exchange_id)
    known = _CCXT_IDS.get(exchange_id.strip().lower(), (venue, None))[1]
    if market:
        if market.get("spot") or market.get("type") == "spot":
            return venue, "spot"
        if market.get("linear"):
            return venue, "linear"
        if market.get("inverse"):
            return venue, "inverse"
    return venue, known or UNKNOWN


def market_of(exchange: Any) -> Callable[[str], str]:
    """A function giving a symbol's market on a ccxt exchange object (from its loaded
    ``markets``; ``unknown`` before they are): ``PartitionedWriter(market=...)`` of a feed."""

    def market(symbol: str) -> str:
        markets = getattr(exchange, "markets", None) or {}
        return ccxt_market(str(getattr(exchange, "id", "")), markets.get(symbol))[1]

    return market


def derivative_market(symbol: str, venue: str = "") -> Market | None:
    """Linear or inverse, from a derivative's symbol: settled in USDT/USDC (``BTCUSDT``,
    ``BTC-USDT-SWAP``, ``BTCPERP``) is linear, in the coin (``BTCUSD``, ``BTCUSD_PERP``,
    ``BTC-USD-SWAP``, Deribit's ``BTC-PERPETUAL``) inverse; None when the symbol does not say."""
    raw = symbol.upper()
    if venue == "deribit":
        return "linear" if "_USDC" in raw or "_USDT" in raw else "inverse"
    for suffix in ("-SWAP", "_PERP", "-PERPETUAL"):
        raw = raw.removesuffix(suffix)
    raw = re.sub(r"[-_]\d{6}$", "", raw)  # a delivery date: BTCUSD_240927, BTC-USD-240927
    plain = plain_symbol(raw)
    if plain.endswith(_LINEAR_QUOTES):
        return "linear"
    if _INVERSE.search(plain):
        return "inverse"
    return None


def tardis_market(exchange: str, symbol: str) -> tuple[str, str]:
    """``(venue, market)`` of a Tardis ``exchange`` column value and a symbol; an exchange not
    in :data:`TARDIS_EXCHANGES` keeps its id as the venue, its market unknown."""
    venue, market = TARDIS_EXCHANGES.get(exchange, (exchange, None))
    if market is None and exchange in TARDIS_EXCHANGES:
        market = derivative_market(symbol, venue)
    return venue, market or UNKNOWN
