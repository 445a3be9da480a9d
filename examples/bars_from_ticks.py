"""A strategy on 1-second bars built from ticks, that also sees every tick.

Run: python examples/bars_from_ticks.py
"""

import backtrader as bt

import backtrader_channels as btch


class BarMomentum(bt.Strategy):
    def __init__(self):
        self.bars = self.datas[1]  # datas[0] is the symbol's InstrumentData
        self.rsi = bt.ind.RSI(self.bars.close, period=14)
        self.ticks = 0

    def on_tick(self, tick):
        self.ticks += 1

    def next(self):  # once per closed 1-second bar
        if self.rsi[0] < 30 and not self.position:
            self.buy(size=0.01)
        elif self.rsi[0] > 70 and self.position:
            self.close()


def main():
    sample = btch.datasets.binance_btcusdt_sample()
    cerebro = btch.Cerebro()
    cerebro.broker.setcash(10_000)
    cerebro.add_channel(btch.TickChannel, symbol="BTC/USDT", dataname=sample.trades)
    bars = cerebro.add_bars("BTC/USDT", every="1s")
    cerebro.addstrategy(BarMomentum)
    cerebro.addanalyzer(bt.analyzers.DrawDown, _name="dd")
    strat = cerebro.run(mode=btch.RunMode.TICK)[0]
    print(
        f"ticks: {strat.ticks:,}  bars: {bars.count}  orders: {cerebro.last_run['orders']}  "
        f"max drawdown: {strat.analyzers.dd.get_analysis().max.drawdown:.4f}%  "
        f"final value: {cerebro.broker.getvalue():,.2f}"
    )


if __name__ == "__main__":
    main()
