"""Venues the package knows by name only: the ccxt ids that are one of their markets and what
Tardis.dev calls them, so that data from them is filed under the right venue and market. A
venue with more to say (streams, orders, formats) gets a module of its own (``binance``,
``bybit``)."""

from __future__ import annotations

from ..sources.registry import Market
from .profile import VenueProfile, register


def _deribit_market(symbol: str) -> Market:
    """Deribit's perpetuals and futures are inverse unless named for USDC/USDT
    (``BTC-PERPETUAL`` inverse, ``BTC_USDC-PERPETUAL`` linear)."""
    return "linear" if "_USDC" in symbol or "_USDT" in symbol else "inverse"


#: ``(venue, its ccxt ids and their markets, its Tardis.dev names and their markets)``
_NAMED: tuple[tuple[str, dict[str, Market | None], dict[str, Market | None]], ...] = (
    ("okx", {"okx": None, "okex": None, "okex5": None}, {"okex": "spot", "okex-swap": None,
                                                        "okex-futures": None}),
    ("htx", {"htx": None, "huobi": None}, {"huobi": "spot"}),
    ("coinbase", {"coinbase": None, "coinbasepro": None, "coinbaseexchange": None},
     {"coinbase": "spot"}),
    ("bitmex", {"bitmex": None}, {"bitmex": None}),
    ("kraken", {"kraken": None}, {"kraken": "spot"}),
    ("bitstamp", {"bitstamp": None}, {"bitstamp": "spot"}),
    ("bitfinex", {"bitfinex": None}, {"bitfinex": "spot"}),
    ("gemini", {"gemini": None}, {"gemini": "spot"}),
    ("kucoin", {"kucoin": None}, {"kucoin": "spot"}),
)  # fmt: skip

for _name, _ids, _tardis in _NAMED:
    register(VenueProfile(name=_name, ccxt_ids=_ids, tardis=_tardis, live_ids=()))
DERIBIT = register(
    VenueProfile(
        name="deribit",
        ccxt_ids={"deribit": None},
        markets=("linear", "inverse"),
        tardis={"deribit": None},
        symbol_market=_deribit_market,
        live_ids=(),
    )
)
