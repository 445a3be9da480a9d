"""SpreadStrategy: the quote engine and the spread scanner as a ``bt.Strategy``, read-only by
default, hedging on both venues with ``hedge=True`` (paper fills in a backtest or paper run,
real orders through the execution layer when the broker is live)."""

from __future__ import annotations

import backtrader as bt

from ..btypes import BtData, BtOrder, JsonDict
from ..events import ChannelType, OrderBookEvent, QuoteEvent, instrument_name
from .quotes import QuoteEngine
from .scanner import Signal, SpreadScanner


class SpreadStrategy(bt.Strategy):
    """Cross-venue spread of one symbol on every venue the run has channels for.

    Parameters (backtrader ``params``): ``symbol`` (None: the run's one symbol), ``fees``
    (taker fee fraction, or a dict venue -> fraction), ``threshold_bps`` (net spread that makes
    a signal), ``stale_after_s`` (a venue silent this long is left out), ``hedge`` (trade the
    signals: buy ``size`` on the cheap venue, sell it on the dear one; close both when the
    spread has closed to ``exit_bps``), ``size``, ``exit_bps``, ``keep_signals`` (how many
    signals ``self.signals`` keeps; all are counted).
    """

    params = (
        ("symbol", None),
        ("fees", 0.001),
        ("threshold_bps", 0.0),
        ("stale_after_s", 2.0),
        ("hedge", False),
        ("size", 0.001),
        ("exit_bps", 0.0),
        ("keep_signals", 100_000),
    )

    def start(self) -> None:
        self.engine = QuoteEngine(int(self.p.stale_after_s * 1e9))
        self.scanner = SpreadScanner(self.p.fees, self.p.threshold_bps)
        self.signals: list[Signal] = []
        self.signal_count = 0
        self.hedges = 0
        self.skipped = 0  # signals not traded: a leg's venue refused orders then
        self.refused: list[str] = []  # orders rejected (by the broker's rules or a venue)
        self.open_pair: tuple[str, str, float] | None = None
        keys = list(self.channels)
        symbols = {k[1] for k in keys}
        symbol = self.p.symbol or (symbols.pop() if len(symbols) == 1 else None)
        if symbol is None:
            raise ValueError(f"SpreadStrategy needs symbol= (the run has {sorted(symbols)})")
        self.symbol = symbol
        quoted = {ch.venue for k, ch in self.channels.items() if k[0] == ChannelType.QUOTE}
        #: venues read from their book (those without a quote channel): (symbol, venue) -> book
        self._books = {
            (ch.symbol, ch.venue): ch
            for k, ch in self.channels.items()
            if k[0] == ChannelType.ORDERBOOK and ch.venue not in quoted
        }

    # ---- market data ---------------------------------------------------------------------
    def on_quote(self, ev: QuoteEvent) -> None:
        self.engine.update(
            ev.venue,
            ev.bid_price,
            ev.bid_size,
            ev.ask_price,
            ev.ask_size,
            ev.timestamp,
            ev.recv_timestamp,
        )
        self._scan()

    def on_orderbook(self, ev: OrderBookEvent) -> None:
        book = self._books.get((ev.symbol, ev.venue))
        if book is None:
            return
        bid, ask = book.best_bid, book.best_ask
        if bid is None or ask is None:
            return
        self.engine.update(
            ev.venue, bid[0], bid[1], ask[0], ask[1], ev.timestamp, ev.recv_timestamp
        )
        self._scan()

    def _scan(self) -> None:
        signal = self.scanner.scan(self.engine)
        if signal is not None:
            self.signal_count += 1
            if len(self.signals) < self.p.keep_signals:
                self.signals.append(signal)
            self.on_signal(signal)
        elif self.open_pair is not None:
            self._maybe_close()

    # ---- trading (hedge=True) ------------------------------------------------------------
    def on_signal(self, signal: Signal) -> None:
        """A new signal: with ``hedge``, buy on the cheap venue and sell on the dear one
        (one pair open at a time). Override to act otherwise."""
        if not self.p.hedge or self.open_pair is not None:
            return
        if self._refused(signal.buy_venue, signal.sell_venue):
            self.skipped += 1  # not both legs can go out now: no half hedge
            return
        size = min(self.p.size, signal.size) if signal.size > 0 else self.p.size
        self.buy(data=self._data(signal.buy_venue), size=size, exectype=bt.Order.Market)
        self.sell(data=self._data(signal.sell_venue), size=size, exectype=bt.Order.Market)
        self.open_pair = (signal.buy_venue, signal.sell_venue, size)
        self.hedges += 1

    def _maybe_close(self) -> None:
        assert self.open_pair is not None
        bought, sold, size = self.open_pair
        qb, qs = self.engine.quotes.get(bought), self.engine.quotes.get(sold)
        if qb is None or qs is None or self.engine.stale(bought) or self.engine.stale(sold):
            return
        if self._refused(bought, sold):
            return  # unwound on both venues or not at all
        # unwinding sells where we bought and buys where we sold
        if (qb.bid - qs.ask) / qs.ask * 1e4 >= self.p.exit_bps:
            # the legs' size, not close(): a venue account may hold more than the hedge
            self.sell(data=self._data(bought), size=size, exectype=bt.Order.Market)
            self.buy(data=self._data(sold), size=size, exectype=bt.Order.Market)
            self.open_pair = None

    def notify_order(self, order: BtOrder) -> None:
        if order.status in (order.Rejected, order.Margin):
            why = (order.info.get("reason") if order.info else None) or order.getstatusname()
            self.refused.append(f"{order.data._name}: {why}")

    def _refused(self, *venues: str) -> bool:
        """Whether a real broker refuses new orders on one of ``venues`` now (protection)."""
        blocked = getattr(self.broker, "blocked", None)
        return blocked is not None and any(blocked(self.symbol, v) for v in venues)

    def _data(self, venue: str) -> BtData:
        return self.getdatabyname(instrument_name(self.symbol, venue))

    # ---- report --------------------------------------------------------------------------
    def report(self) -> JsonDict:
        """Signals (count, the first few), the best net spread seen, hedges and each venue's
        feed health."""
        best = self.scanner.max_net_bps
        return {
            "symbol": self.symbol,
            "signals": self.signal_count,
            "first_signals": [s._asdict() for s in self.signals[:5]],
            "max_net_bps": None if best == float("-inf") else best,
            "hedges": self.hedges,
            "skipped": self.skipped,
            "refused": list(self.refused),
            "health": self.engine.health(),
        }
