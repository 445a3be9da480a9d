"""ChannelMap: the channels of a run by ``(channel_type, symbol)``, found by any spelling of the
symbol (``BTC/USDT``, ``BTCUSDT``, ``btcusdt``: :mod:`backtrader_channels.symbols`)."""

from __future__ import annotations

from typing import Any

from ..symbols import same_symbol
from .base import Channel


class ChannelMap(dict[tuple[str, str], Channel]):
    """A dict of channels where ``("tick", "BTC/USDT")`` also finds the channel a file named
    ``BTCUSDT`` (and the other way round). Exact keys cost a plain dict lookup."""

    def find(self, key: Any) -> Channel | None:
        """The channel ``key`` names under any spelling of its symbol, or None."""
        if not (isinstance(key, tuple) and len(key) == 2):
            return None
        kind, symbol = key
        for (k, s), channel in self.items():
            if k == kind and same_symbol(s, symbol):
                return channel
        return None

    def __missing__(self, key: tuple[str, str]) -> Channel:
        channel = self.find(key)
        if channel is None:
            raise KeyError(f"no channel {key}; channels: {sorted(self)}")
        return channel

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or self.find(key) is not None

    def get(self, key: Any, default: Any = None) -> Any:
        """``self[key]`` by any spelling of the symbol, else ``default``."""
        channel = dict.get(self, key)
        if channel is None:
            channel = self.find(key)
        return default if channel is None else channel
