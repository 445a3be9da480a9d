"""A market maker on the fast L2 path: post-only quotes around a mid skewed by inventory,
amended in place when the book moves. Bundled Binance USDⓈ-M ETH/USDT:USDT sample.

The book channel is added with ``hear="best"``: its updates are applied in the compiled L2
book, and ``on_orderbook`` runs only when the best bid or ask moves (the broker still sees
every change that can fill an order). Quotes are ``post_only`` (refused rather than taking),
and a quote whose price moved is amended (``broker.amend``: one order, the venue's queue rule)
instead of cancelled and placed again. Fills follow hftbacktest's rules
(``fill_profile="hftbacktest"``: aggressor side, same-timestamp ordering, a risk-averse queue).

Run: python examples/market_maker.py [--plain-requotes]
"""

import sys

import backtrader as bt

import backtrader_channels as btch

SYMBOL = "ETH/USDT:USDT"
TICK = 0.01


class SkewedMaker(bt.Strategy):
    """Quotes ``size`` on each side, ``half_spread`` ticks from a mid moved against the
    inventory by ``skew`` ticks per unit held; no new bid above ``max_pos``, no new ask below
    ``-max_pos``."""

    params = (
        ("size", 0.01),
        ("half_spread", 2),
        ("skew", 20.0),
        ("max_pos", 0.1),
        ("amend", True),
    )

    def start(self):
        self.book = self.channels[("orderbook", SYMBOL)]
        self.quotes = {"buy": None, "sell": None}
        self.amends = self.replaced = self.refused = 0

    def notify_order(self, order):
        if order.status == order.Rejected:
            self.refused += 1  # a post-only quote that would have taken

    def on_orderbook(self, event):
        bid, ask = self.book.best_bid_price, self.book.best_ask_price
        if bid is None or ask is None:
            return
        pos = self.position.size
        mid = (bid + ask) / 2 - self.p.skew * pos * TICK
        want = {
            "buy": min(round(mid / TICK) - self.p.half_spread, round(bid / TICK)) * TICK,
            "sell": max(round(mid / TICK) + self.p.half_spread, round(ask / TICK)) * TICK,
        }
        room = {"buy": pos < self.p.max_pos - 1e-9, "sell": pos > -self.p.max_pos + 1e-9}
        for side, price in want.items():
            price = round(price, 2)
            order = self.quotes[side]
            live = order is not None and order.alive()
            if live and not room[side]:
                self.cancel(order)
            elif live and order.price != price:
                if self.p.amend:
                    self.broker.amend(order, price=price)
                    self.amends += 1
                else:
                    self.cancel(order)
                    self.quotes[side] = self._quote(side, price)
                    self.replaced += 1
            elif not live and room[side]:
                self.quotes[side] = self._quote(side, price)

    def _quote(self, side, price):
        place = self.buy if side == "buy" else self.sell
        return place(size=self.p.size, price=price, exectype=bt.Order.Limit, tif="post_only")


def main(amend=True):
    sample = btch.datasets.binance_ethusdt_perp_sample()
    cerebro = btch.Cerebro(stdstats=False)
    cerebro.setbroker(
        btch.TickBroker(
            fill_profile="hftbacktest",
            fees=btch.MakerTaker(maker=0.0002, taker=0.0005),
        )
    )
    cerebro.broker.setcash(10_000)
    cerebro.add_channel("orderbook", SYMBOL, dataname=sample.orderbook, hear="best")
    cerebro.add_channel("tick", SYMBOL, dataname=sample.trades)
    cerebro.addstrategy(SkewedMaker, amend=amend)
    strat = cerebro.run(mode=btch.RunMode.TICK)[0]
    run = cerebro.last_run
    print(
        f"orders: {run['orders']}  fills: {run['fills']}  amends: {strat.amends}  "
        f"cancel+replace: {strat.replaced}  post-only refusals: {strat.refused}  "
        f"position: {strat.position.size:+.2f}  fees: {cerebro.broker.fees_paid:.4f}  "
        f"final value: {cerebro.broker.getvalue():,.2f}"
    )
    return strat


if __name__ == "__main__":
    main(amend="--plain-requotes" not in sys.argv[1:])
