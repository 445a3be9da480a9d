"""Kept for compatibility: now :mod:`backtrader_channels.loopback.private_side`."""

from ..loopback.private_side import PrivateFaults, PrivateSide, drain

__all__ = ["PrivateFaults", "PrivateSide", "drain"]
