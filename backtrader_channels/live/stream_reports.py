"""What a live feed tells about its streams: their keys and labels, which are silent or
unhealthy and why, the validator's anomalies and the frames behind the events (the state is
the feed's; this is the part that reads it out)."""

from __future__ import annotations

import asyncio

from ..events import channel_key, key_label
from ..log import logger
from .frames import FrameCounter
from .streams import StreamState
from .validator import AnomalyReport, LiveDataValidator
from .venue_parts import CcxtExchange


class StreamReports:
    """Mixin of :class:`~.ccxt_feed.CCXTLiveFeed`: its streams' reports."""

    exchange: CcxtExchange
    exchange_id: str
    venue: str
    kinds: list[str]
    symbols: list[str]
    validator: LiveDataValidator
    frame_counter: FrameCounter | None
    connect_timeout: float
    _streams: dict[tuple[str, str], StreamState]
    _markets_error: str

    @property
    def channel_keys(self) -> list[tuple[str, ...]]:
        """The ``(channel_type, symbol[, venue])`` keys this feed delivers."""
        return [channel_key(k, s, self.venue) for k in self.kinds for s in self.symbols]

    @property
    def streams(self) -> list[tuple[str, str]]:
        """The ``(channel_type, symbol)`` streams this feed watches."""
        return [(k, s) for k in self.kinds for s in self.symbols]

    def label(self, key: tuple[str, str]) -> str:
        """A stream as the reports name it: ``"quote:BTC/USDT"`` (``"...@venue"`` on a venue)."""
        return key_label(channel_key(key[0], key[1], self.venue))

    def anomaly_report(self) -> AnomalyReport:
        """Per channel: what the validator and the connection saw (counts and details)."""
        report = self.validator.report()
        if not self.venue:
            return report
        return {f"{k}@{self.venue}" if ":" in k else k: v for k, v in report.items()}

    def stream_frames(self) -> dict[str, dict[str, int]]:
        """Per stream: the venue's frames received and the events delivered from them. ccxt.pro
        merges the book and best bid/ask frames that arrive while the feed is busy into its
        next answer, so ``events`` can be far below ``frames`` (see :mod:`.frames`); empty for
        a venue whose frames are not counted."""
        counter = self.frame_counter
        if counter is None:
            return {}
        return {
            self.label(key): {
                "frames": counter.frames(*key),
                "events": self._streams[key].events,
            }
            for key in self.streams
        }

    def health(self) -> dict[str, str]:
        """Streams (``"type:symbol"``) that are not healthy now, with why: never delivered yet,
        failing, or stalled and reconnecting (a live broker sends no order on their symbol)."""
        out = {self.label(k): st.down for k, st in self._streams.items() if st.down}
        for key in self.streams:
            if not self.validator.seen(key):
                out.setdefault(self.label(key), "no data yet")
        return out

    def silent_streams(self) -> dict[str, str]:
        """The streams that have delivered no event yet, each with why (its last error, the
        markets' error, or that nothing arrived: "connecting" while the markets are not loaded)."""
        markets = self._markets_error
        nothing = "no data received" if getattr(self.exchange, "markets", None) else "connecting"
        out = {}
        for key in self.streams:
            if not self.validator.seen(key):
                why = self._streams[key].last_error or (markets and f"load_markets: {markets}")
                out[self.label(key)] = why or nothing
        return out

    async def _connect_watch(self) -> None:
        """After ``connect_timeout`` s, log (once) each stream that has delivered nothing."""
        await asyncio.sleep(self.connect_timeout)
        for stream, why in self.silent_streams().items():
            logger.warning(
                "%s %s: no data after %.0f s (%s); still retrying",
                self.exchange_id,
                stream,
                self.connect_timeout,
                why,
            )
