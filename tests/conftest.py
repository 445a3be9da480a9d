"""Shared fixtures: the real recording in ../shared/data and the bundled sample."""

from __future__ import annotations

import os

import pytest

import backtrader_channels as btch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CAPTURE = os.path.join(
    ROOT, "..", "shared", "data", "binance_spot_btcusdt_20240808_ws_capture.jsonl.gz"
)


@pytest.fixture(scope="session")
def capture_path() -> str:
    """The raw Binance capture (real data); tests that need it skip when it is absent."""
    if not os.path.exists(CAPTURE):
        pytest.skip("../shared/data capture not available")
    return CAPTURE


@pytest.fixture(scope="session")
def capture_tables(capture_path):
    """The capture converted to native tables (tick, quote, orderbook)."""
    return btch.sources.read_binance_capture(capture_path)


@pytest.fixture(scope="session")
def sample():
    """The bundled sample's paths."""
    return btch.datasets.binance_btcusdt_sample()
