"""Kept for compatibility: the loopback exchanges and the synthetic data are now
:mod:`backtrader_channels.loopback`; each module here re-exports its names from there."""
