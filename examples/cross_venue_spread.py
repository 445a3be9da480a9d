"""The cross-venue spread on two venues' recordings: the bundled Binance sample and its copy in
Bybit's archive formats (150 ms later). Read-only signals, then the same with paper hedges.

    python examples/cross_venue_spread.py
"""

import backtrader_channels as btch
from backtrader_channels.spread import SpreadStrategy


def run(hedge: bool):
    cerebro = btch.Cerebro()
    for sample in (btch.datasets.binance_btcusdt_sample(), btch.datasets.bybit_btcusdt_sample()):
        cerebro.add_channel("tick", "BTC/USDT", sample.trades, venue=sample.venue)
        cerebro.add_channel("orderbook", "BTC/USDT", sample.orderbook, venue=sample.venue)
    cerebro.addstrategy(SpreadStrategy, fees=0.0001, threshold_bps=1.0, hedge=hedge, size=0.01)
    strat = cerebro.run(mode=btch.RunMode.TICK)[0]
    return strat, cerebro.last_run


strat, _ = run(hedge=False)
for s in strat.signals[:3]:
    print(f"buy {s.buy_venue} {s.buy_price:.2f}  sell {s.sell_venue} {s.sell_price:.2f}  "
          f"net {s.net_bps:.2f} bps")  # fmt: skip
strat, last = run(hedge=True)
print(
    f"signals: {strat.signal_count}  hedges: {strat.hedges}  fills: {last['fills']}  "
    f"net BTC exposure: {last['exposure']['BTC']:.4f}  pnl: {last['pnl']:.2f}"
)
