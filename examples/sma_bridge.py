"""SMA crossover on trade prices through ChannelBridge, on the bundled Binance sample.

Run: python examples/sma_bridge.py
"""

import backtrader as bt

import backtrader_channels as btch


class SmaCross(bt.Strategy):
    params = (("fast", 50), ("slow", 200))

    def __init__(self):
        self.price = btch.ChannelBridge(channel=("tick", "BTC/USDT"), field="price")
        self.fast = bt.ind.SMA(self.price, period=self.p.fast)
        self.slow = bt.ind.EMA(self.price, period=self.p.slow)
        self.cross = bt.ind.CrossOver(self.fast, self.slow)

    def next(self):  # after each trade, once the indicators are defined
        if self.cross > 0 and not self.position:
            self.buy(size=0.01)
        elif self.cross < 0 and self.position:
            self.close()


def main():
    sample = btch.datasets.binance_btcusdt_sample()
    cerebro = btch.Cerebro()
    cerebro.broker.setcash(10_000)
    cerebro.add_channel(btch.TickChannel, symbol="BTC/USDT", dataname=sample.trades)
    cerebro.add_channel(btch.OrderBookChannel, symbol="BTC/USDT", dataname=sample.orderbook)
    cerebro.addstrategy(SmaCross)
    cerebro.addanalyzer(bt.analyzers.TradeAnalyzer, _name="trades")
    strat = cerebro.run(mode=btch.RunMode.TICK)[0]
    closed = strat.analyzers.trades.get_analysis().total.get("closed", 0)
    print(
        f"orders: {cerebro.last_run['orders']}  closed trades: {closed}  "
        f"final value: {cerebro.broker.getvalue():,.2f}"
    )


if __name__ == "__main__":
    main()
