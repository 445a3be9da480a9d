"""The venues: one module (or small package) per venue declares its profile, everything the
package knows of it (:mod:`.profile`): Binance (:mod:`.binance`), Bybit (:mod:`.bybit`), and the
venues known by name only (:mod:`.catalog`). Importing this package registers them; the package
does so when it is imported. ``docs/venues.md`` ("Adding a venue") says how to add one.
"""

from __future__ import annotations

from . import binance, bybit, catalog
from .profile import PROFILES, Loopback, VenueProfile, profile, register

__all__ = [
    "PROFILES",
    "Loopback",
    "VenueProfile",
    "binance",
    "bybit",
    "catalog",
    "profile",
    "register",
]
