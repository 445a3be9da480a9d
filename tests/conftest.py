"""Shared fixtures: the bundled real recording (raw capture and its native conversion).

Nothing here reads ``../shared``: a user's fresh clone has only what the package bundles."""

from __future__ import annotations

import os

import pytest

# Ray replaces a loopback cluster address with this machine's outward IP unless told not to;
# the sweep tests start their clusters on 127.0.0.1 (it must be set before ray is imported)
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

import backtrader_channels as btch


@pytest.fixture(scope="session")
def capture_path() -> str:
    """The raw Binance capture (real data), bundled in the package."""
    return btch.datasets.binance_btcusdt_capture()


@pytest.fixture(scope="session")
def capture_tables(capture_path):
    """The capture converted to native tables (tick, quote, orderbook)."""
    return btch.sources.read_binance_capture(capture_path)


@pytest.fixture(scope="session")
def sample():
    """The bundled sample's paths."""
    return btch.datasets.binance_btcusdt_sample()
