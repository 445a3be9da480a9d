"""Adapters onto backtrader lines: bridges and their groups, bars from ticks, instruments."""
