"""Venue and market: which exchange and which of its markets recorded data comes from.

The venue is the ccxt exchange id (``binance``, ``bybit``, ``okx``); one exchange's spot and
futures markets are one venue (ccxt's ``binanceusdm`` and ``binancecoinm`` are ``binance``), told
apart by the market: ``spot``, ``linear`` (futures and swaps margined and settled in the quote,
USDT or USDC) or ``inverse`` (margined and settled in the base coin, quoted in USD). What a file
cannot tell is ``unknown``. The names (which ccxt ids are which venue's market, what Tardis.dev
calls each venue) are the venues' own: each venue's module registers them (:mod:`.registry`).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..errors import ChannelError, check_choice
from ..symbols import plain_symbol
from .registry import (
    MARKETS,
    UNKNOWN,
    Market,
    ccxt_id,
    symbol_market_rule,
    tardis_exchange,
)

__all__ = [
    "MARKETS",
    "UNKNOWN",
    "Market",
    "ccxt_market",
    "derivative_market",
    "market_name",
    "market_of",
    "tardis_market",
    "venue_key",
    "venue_name",
]

#: Tardis.dev exchange ids and ccxt ids of venues' markets: registered by the venues' modules
#: (``backtrader_channels/venues``), read through :mod:`.registry`
_VENUE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_LINEAR_QUOTES = ("USDT", "USDC", "BUSD", "FDUSD", "PERP")
#: a quote of USD, perhaps followed by a futures month code and year (``BTCUSDH25``)
_INVERSE = re.compile(r"USD([FGHJKMNQUVXZ]\d{2})?$")


def venue_key(venue: str) -> str:
    """A venue as the layout would write it, for matching (no check: a channel's venue may be
    any label, ``"Binance spot"`` included, and simply matches no folder)."""
    name = venue.strip().lower()
    return (ccxt_id(name) or (name, None))[0]


def venue_name(venue: str) -> str:
    """A venue as the layout writes it: the ccxt id, lower case (``binanceusdm`` is
    ``binance``); a ChannelError for a name that is not one."""
    name = venue.strip().lower()
    name = (ccxt_id(name) or (name, None))[0]
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
    known = (ccxt_id(exchange_id.strip().lower()) or (venue, None))[1]
    if market:
        if market.get("spot") or market.get("type") == "spot":
            return venue, "spot"
        if market.get("linear"):
            return venue, "linear"
        if market.get("inverse"):
            return venue, "inverse"
    return venue, known or UNKNOWN


def market_of(exchange: object) -> Callable[[str], str]:
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
    rule = symbol_market_rule(venue)
    if rule is not None:  # the venue's own naming (Deribit's BTC-PERPETUAL: inverse)
        return rule(raw)
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
    """``(venue, market)`` of a Tardis ``exchange`` column value and a symbol; an exchange no
    venue registered keeps its id as the venue, its market unknown."""
    known = tardis_exchange(exchange)
    if known is None:
        return exchange, UNKNOWN
    venue, market = known
    return venue, market or derivative_market(symbol, venue) or UNKNOWN
