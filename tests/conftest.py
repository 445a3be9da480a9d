"""Shared fixtures: the bundled real recording (raw capture and its native conversion).

Nothing here reads ``../shared``: a user's fresh clone has only what the package bundles."""

from __future__ import annotations

import pytest

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
