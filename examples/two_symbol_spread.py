"""A two-symbol spread strategy: trade the ratio of two prices back to its moving average.

The bundled recording has one symbol, so the second one here is made from it: "XBT/USDT" is the
BTC/USDT trade stream shifted by 2.5 s with a small random premium (seeded). Replace the two
datanames with your own recordings of two related symbols.

Run: python examples/two_symbol_spread.py
"""

import backtrader as bt
import numpy as np
import pyarrow.parquet as pq

import backtrader_channels as btch


class RatioReversion(bt.Strategy):
    params = (("window", 200), ("z", 2.0))

    def start(self):
        self.a = self.channels[("tick", "BTC/USDT")]
        self.b = self.channels[("tick", "XBT/USDT")]
        self.ratios = []

    def on_tick(self, tick):
        if self.a.latest is None or self.b.latest is None:
            return
        r = self.a.latest.price / self.b.latest.price
        self.ratios.append(r)
        hist = self.ratios[-self.p.window :]
        if len(hist) < self.p.window or self.broker.get_orders_open():
            return  # warming up, or orders still on their way
        mean, std = float(np.mean(hist)), float(np.std(hist)) or 1e-12
        z = (r - mean) / std
        a, b = self.getdatabyname("BTC/USDT"), self.getdatabyname("XBT/USDT")
        if not self.getposition(a) and z > self.p.z:  # A rich: sell A, buy B
            self.sell(data=a, size=0.01)
            self.buy(data=b, size=0.01)
        elif not self.getposition(a) and z < -self.p.z:
            self.buy(data=a, size=0.01)
            self.sell(data=b, size=0.01)
        elif self.getposition(a) and abs(z) < 0.2:
            self.close(data=a)
            self.close(data=b)


def second_symbol(path):
    t = pq.read_table(path).to_pandas()
    rng = np.random.default_rng(3)
    t["timestamp"] = t["timestamp"] + 2_500_000_000
    t["recv_timestamp"] = t["recv_timestamp"] + 2_500_000_000
    t["price"] = (t["price"] * (1.0005 + rng.normal(0, 0.0002, len(t)))).round(2)
    t["symbol"] = "XBT/USDT"
    return t


def main():
    sample = btch.datasets.binance_btcusdt_sample()
    cerebro = btch.Cerebro()
    cerebro.broker.setcash(10_000)
    cerebro.add_channel(btch.TickChannel, symbol="BTC/USDT", dataname=sample.trades)
    cerebro.add_channel(btch.TickChannel, symbol="XBT/USDT", dataname=second_symbol(sample.trades))
    cerebro.addstrategy(RatioReversion)
    strat = cerebro.run(mode=btch.RunMode.TICK)[0]
    print(
        f"ratios: {len(strat.ratios):,}  orders: {cerebro.last_run['orders']}  "
        f"final value: {cerebro.broker.getvalue():,.2f}"
    )


if __name__ == "__main__":
    main()
