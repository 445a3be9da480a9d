"""Order-book imbalance with limit orders: join the bid when the book leans to the buy side,
take profit with a resting limit sell, cancel what goes stale. Bundled Binance sample.

Run: python examples/imbalance_limit_orders.py
"""

import backtrader as bt

import backtrader_channels as btch


class ImbalanceMaker(bt.Strategy):
    params = (("threshold", 0.5), ("edge", 2.0), ("max_wait_ns", 5_000_000_000))

    def start(self):
        self.book = self.channels[("orderbook", "BTC/USDT")]
        self.entry = None
        self.exit = None

    def on_orderbook(self, event):
        imb, bid = self.book.imbalance, self.book.best_bid
        if imb is None or bid is None:
            return
        now = event.timestamp
        if self.entry is not None and self.entry.alive():
            if now - self.entry.created_ns > self.p.max_wait_ns:
                self.cancel(self.entry)  # a bid that did not fill in time
            return
        if not self.position and imb > self.p.threshold:
            self.entry = self.buy(size=0.01, price=bid.price, exectype=bt.Order.Limit)

    def notify_order(self, order):
        if order.status != order.Completed:
            return
        if order.isbuy():  # filled: rest a take-profit above the entry
            self.exit = self.sell(
                size=order.executed.size,
                price=order.executed.price + self.p.edge,
                exectype=bt.Order.Limit,
            )


def main():
    sample = btch.datasets.binance_btcusdt_sample()
    cerebro = btch.Cerebro()
    cerebro.broker.setcash(10_000)
    cerebro.add_channel(btch.TickChannel, symbol="BTC/USDT", dataname=sample.trades)
    cerebro.add_channel(btch.OrderBookChannel, symbol="BTC/USDT", dataname=sample.orderbook)
    cerebro.addstrategy(ImbalanceMaker)
    cerebro.addanalyzer(bt.analyzers.TradeAnalyzer, _name="trades")
    strat = cerebro.run(mode=btch.RunMode.TICK)[0]
    closed = strat.analyzers.trades.get_analysis().total.get("closed", 0)
    print(
        f"orders: {cerebro.last_run['orders']}  fills: {cerebro.last_run['fills']}  "
        f"closed trades: {closed}  final value: {cerebro.broker.getvalue():,.2f}"
    )


if __name__ == "__main__":
    main()
