"""SpreadScanner: the best cross-venue trade of one instrument, net of each venue's fees, and a
signal each time it passes a threshold."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from .quotes import QuoteEngine


class Signal(NamedTuple):
    """Buy on ``buy_venue`` at its ask, sell on ``sell_venue`` at its bid: ``net_bps`` is what is
    left of the spread after both taker fees, in basis points of the ask."""

    timestamp: int
    buy_venue: str
    sell_venue: str
    buy_price: float
    sell_price: float
    size: float
    gross_bps: float
    net_bps: float


class SpreadScanner:
    """Scans a :class:`QuoteEngine` after each update.

    Parameters
    ----------
    fees : float or mapping of venue to float, default 0.001
        Taker fee per venue as a fraction (0.001 = 10 bps); one number for every venue.
    threshold_bps : float, default 0.0
        A signal when the net spread reaches this many bps (edge-triggered: once per crossing,
        per venue pair, until it falls below again).
    """

    def __init__(self, fees: float | Mapping[str, float] = 0.001, threshold_bps: float = 0.0):
        self.fees = fees
        self.threshold_bps = float(threshold_bps)
        self.active: tuple[str, str] | None = None  # the pair above the threshold now
        self.best: Signal | None = None  # the last scan's best pair (above or not)
        self.scans = 0
        self.max_net_bps = float("-inf")

    def fee(self, venue: str) -> float:
        """The taker fee (fraction) of ``venue``."""
        fees = self.fees
        if isinstance(fees, Mapping):
            return float(fees.get(venue, fees.get("*", 0.001)))
        return float(fees)

    def scan(self, engine: QuoteEngine) -> Signal | None:
        """The new signal, if the best fresh pair just passed the threshold; else None."""
        self.scans += 1
        quotes = engine.fresh()
        best: Signal | None = None
        for buy in quotes:
            cost = buy.ask * (1.0 + self.fee(buy.venue))
            for sell in quotes:
                if sell is buy:
                    continue
                net = (sell.bid * (1.0 - self.fee(sell.venue)) - cost) / buy.ask * 1e4
                if best is None or net > best.net_bps:
                    best = Signal(
                        engine.now,
                        buy.venue,
                        sell.venue,
                        buy.ask,
                        sell.bid,
                        min(buy.ask_size, sell.bid_size),
                        (sell.bid - buy.ask) / buy.ask * 1e4,
                        net,
                    )
        self.best = best
        if best is None or best.net_bps < self.threshold_bps:
            self.active = None
            return None
        if best.net_bps > self.max_net_bps:
            self.max_net_bps = best.net_bps
        pair = (best.buy_venue, best.sell_venue)
        if pair == self.active:
            return None
        self.active = pair
        return best
