"""The tick scalper of tick_scalper.py, run live through ccxt.pro against the bundled loopback
exchange (a local server replaying the real recording), with the paper broker. No account and no
network needed.

Run: python examples/live_replay.py
"""

import ccxt.pro as ccxtpro
from tick_scalper import Scalper

import backtrader_channels as btch
from backtrader_channels.feeds import CCXTLiveFeed, ReplayExchange, point_ccxt_at


def main():
    server = ReplayExchange(rate=2000, start_when=2)  # replay once both streams subscribed
    port = server.start()
    try:
        exchange = point_ccxt_at(ccxtpro.binance(), port)  # an unmodified ccxt.pro client
        feed = CCXTLiveFeed(exchange, ["BTC/USDT"], channels=("tick", "orderbook"))
        cerebro = btch.Cerebro()
        cerebro.broker.setcash(10_000)
        cerebro.add_live_feed(feed)
        cerebro.addstrategy(Scalper)
        cerebro.run(mode=btch.RunMode.TICK, duration=8)
    finally:
        server.stop()
    counts = {f"{k[0]}": n for k, n in cerebro.last_run["events_by_channel"].items()}
    print(
        f"live events: {counts}  orders: {cerebro.last_run['orders']}  "
        f"final value: {cerebro.broker.getvalue():,.2f}  anomalies: {feed.anomaly_report()}"
    )


if __name__ == "__main__":
    main()
