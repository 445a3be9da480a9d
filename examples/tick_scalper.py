"""A tick scalper on the bundled Binance BTC/USDT sample: trades + order book, market orders.

Run: python examples/tick_scalper.py
"""

import backtrader as bt

import backtrader_channels as btch


class Scalper(bt.Strategy):
    """Buy when a trade prints above the book's mid; sell when one prints below it."""

    def start(self):
        self.book = self.channels[("orderbook", "BTC/USDT")]

    def on_tick(self, tick):
        mid = self.book.mid_price
        if mid is None:
            return
        if not self.position and tick.price > mid and self.book.imbalance > 0.5:
            self.buy(size=0.01)
        elif self.position and tick.price < mid:
            self.close()

    def notify_trade(self, trade):
        if trade.isclosed:
            self.closed = getattr(self, "closed", 0) + 1


def main():
    sample = btch.datasets.binance_btcusdt_sample()
    cerebro = btch.Cerebro()
    cerebro.broker.setcash(10_000)
    cerebro.add_channel(btch.TickChannel, symbol="BTC/USDT", dataname=sample.trades)
    cerebro.add_channel(btch.OrderBookChannel, symbol="BTC/USDT", dataname=sample.orderbook)
    cerebro.addstrategy(Scalper)
    cerebro.addanalyzer(bt.analyzers.TradeAnalyzer, _name="trades")
    strat = cerebro.run(mode=btch.RunMode.TICK)[0]
    ta = strat.analyzers.trades.get_analysis()
    print(
        f"events: {cerebro.last_run['events']:,}  orders: {cerebro.last_run['orders']}  "
        f"closed trades: {ta.total.closed}  final value: {cerebro.broker.getvalue():,.2f}"
    )


if __name__ == "__main__":
    main()
