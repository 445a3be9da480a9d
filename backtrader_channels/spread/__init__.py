"""Quotes of one instrument on several venues, on one timeline, and the cross-venue spread
scanner (``docs/venues.md``): :class:`QuoteEngine`, :class:`SpreadScanner`,
:class:`SpreadStrategy`."""

from .quotes import QuoteEngine, VenueQuote
from .scanner import Signal, SpreadScanner
from .strategy import SpreadStrategy

__all__ = ["QuoteEngine", "Signal", "SpreadScanner", "SpreadStrategy", "VenueQuote"]
