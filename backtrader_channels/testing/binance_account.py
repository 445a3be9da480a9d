"""Kept for compatibility: the matching engine both loopback venues share is now
:mod:`backtrader_channels.loopback.account`."""

from ..loopback.account import TERMINAL, Account, FeeAsset, VenueError, public_order

__all__ = ["TERMINAL", "Account", "FeeAsset", "VenueError", "public_order"]
