"""The demo: an order-book scalper backtested on the bundled Binance BTC/USDT sample."""

from __future__ import annotations

from typing import TYPE_CHECKING

import backtrader as bt

from ..btypes import BtOrder
from ..cerebro import Cerebro, RunMode
from ..channels import OrderBookChannel, TickChannel
from ..datasets import binance_btcusdt_sample

if TYPE_CHECKING:
    from ..events import TickEvent
    from .report import StrategyReport


class BookImbalanceScalper(bt.Strategy):
    """Buy when aggressive buying meets a bid-heavy book; exit on a fixed edge or time.

    Enters long with a market order when a buy trade prints while top-of-book imbalance is above
    ``entry_imbalance``; exits at ``take_profit``/``stop_loss`` (in price units) from the fill
    price or after ``max_hold_ns``.
    """

    params = (
        ("size", 0.01),
        ("entry_imbalance", 0.6),
        ("take_profit", 5.0),
        ("stop_loss", 5.0),
        ("max_hold_ns", 20_000_000_000),
    )

    def start(self) -> None:
        self.book = self.channels[("orderbook", self.data._name)]
        self.entry_price: float | None = None
        self.entry_ns = 0
        self.pending = False

    def on_tick(self, tick: TickEvent) -> None:
        if self.pending:
            return
        if not self.position:
            imb = self.book.imbalance
            if tick.direction == "buy" and imb is not None and imb > self.p.entry_imbalance:
                self.buy(size=self.p.size)
                self.pending = True
        elif self.entry_price is not None:
            move = tick.price - self.entry_price
            held = tick.timestamp - self.entry_ns
            if move >= self.p.take_profit or move <= -self.p.stop_loss or held > self.p.max_hold_ns:
                self.close()
                self.pending = True

    def notify_order(self, order: BtOrder) -> None:
        if order.status in (order.Submitted, order.Accepted):
            return
        self.pending = False
        if order.status == order.Completed and order.isbuy():
            self.entry_price = order.executed.price
            self.entry_ns = self.book.latest.timestamp if self.book.latest else 0


def build_demo(cash: float = 10_000.0, commission: float = 0.0001) -> Cerebro:
    """A Cerebro with the bundled sample's trades and book, the scalper and analyzers."""
    sample = binance_btcusdt_sample()
    cerebro = Cerebro(stdstats=False)
    cerebro.broker.setcash(cash)
    cerebro.broker.setcommission(commission=commission)
    cerebro.add_channel(TickChannel, symbol=sample.symbol, dataname=sample.trades)
    cerebro.add_channel(OrderBookChannel, symbol=sample.symbol, dataname=sample.orderbook)
    cerebro.addstrategy(BookImbalanceScalper)
    cerebro.addanalyzer(bt.analyzers.TradeAnalyzer, _name="trades")
    cerebro.addanalyzer(bt.analyzers.DrawDown, _name="drawdown")
    return cerebro


def run_demo() -> StrategyReport:
    """Run the demo and return its report (:func:`~backtrader_channels.report.strategy_report`)."""
    from .report import strategy_report

    cerebro = build_demo()
    strats = cerebro.run(mode=RunMode.TICK)
    return strategy_report(cerebro, strats[0])
