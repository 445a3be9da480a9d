"""ChannelMap: the channels of a run by ``(channel_type, symbol)`` or
``(channel_type, symbol, venue)``, found by any spelling of the symbol (``BTC/USDT``,
``BTCUSDT``, ``btcusdt``: :mod:`backtrader_channels.symbols`)."""

from __future__ import annotations

from typing import TypeVar, overload

from ..events import key_label
from ..symbols import same_symbol
from .base import Channel

#: what ``ChannelMap.get`` returns when no channel is found: the caller's ``default``
DefaultT = TypeVar("DefaultT")


class ChannelMap(dict[tuple[str, ...], Channel]):
    """A dict of channels where ``("tick", "BTC/USDT")`` also finds the channel a file named
    ``BTCUSDT`` (and the other way round). Exact keys cost a plain dict lookup.

    With venues, ``("quote", "BTC/USDT", "bybit")`` names one venue's channel; the two-part key
    ``("quote", "BTC/USDT")`` finds the channel of no venue, else the only venue that has the
    symbol, and is ambiguous (a ``KeyError`` listing them) when several have it."""

    def _matches(self, key: object) -> list[Channel]:
        if not (isinstance(key, tuple) and len(key) in (2, 3)):
            return []
        kind, symbol = key[0], key[1]
        venue = key[2] if len(key) == 3 else None
        found = [
            ch
            for (k, s, *v), ch in self.items()
            if k == kind and same_symbol(s, symbol) and (venue is None or (v and v[0] == venue))
        ]
        if venue is None and len(found) > 1:
            plain = [ch for ch in found if not ch.venue]
            return plain or found
        return found

    def find(self, key: object) -> Channel | None:
        """The channel ``key`` names under any spelling of its symbol, or None (also when a
        two-part key fits several venues)."""
        found = self._matches(key)
        return found[0] if len(found) == 1 else None

    def __missing__(self, key: tuple[str, ...]) -> Channel:
        found = self._matches(key)
        if len(found) == 1:
            return found[0]
        if found:
            raise KeyError(
                f"{key} is on several venues: name one, e.g. "
                + ", ".join(repr(ch.key) for ch in found)
            )
        raise KeyError(f"no channel {key}; channels: {sorted(key_label(k) for k in self)}")

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or self.find(key) is not None

    @overload
    def get(self, key: tuple[str, ...], default: None = None) -> Channel | None: ...

    @overload
    def get(self, key: tuple[str, ...], default: Channel) -> Channel: ...

    @overload
    def get(self, key: tuple[str, ...], default: DefaultT) -> Channel | DefaultT: ...

    def get(self, key: tuple[str, ...], default: object = None) -> object:
        """``self[key]`` by any spelling of the symbol, else ``default``."""
        channel = dict.get(self, key)
        if channel is None:
            channel = self.find(key)
        return default if channel is None else channel

    def venues(self) -> list[str]:
        """The venues named by the run's channels (empty in a single-venue run)."""
        return sorted({ch.venue for ch in self.values() if ch.venue})
