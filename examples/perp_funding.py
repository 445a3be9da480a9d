"""A funding-aware quoter on a perpetual (Binance USDⓈ-M ETH/USDT:USDT), backtested on the
bundled sample, or run live against the loopback Binance USDⓈ-M replaying the same sample.

The strategy quotes post-only limit orders around the book: a bid that adds ``size`` ETH up to
``max_position`` and an ask that sells back down to the ``keep`` ETH it keeps between round
trips. ``guard_s`` seconds before the next funding time (the derivative channel's
``next_funding_ts``) it stops quoting, and when the funding rate in force (``funding_rate``)
would make its position pay (a long pays when the rate is positive) it flattens with a
reduce-only market order; after the funding time it quotes again. With ``--hold`` it stops
quoting too but keeps the position, and pays the funding.

The sample's trades, book and quotes are Binance's (2024-08-08 23:58:21 to 2024-08-09 00:00:01
UTC); its mark prices and funding (0.01% at 00:00:00 UTC) are GENERATED (the capture has none;
see ``backtrader_channels/data/README.md``).

Run:
    python examples/perp_funding.py            # backtest on the bundled sample
    python examples/perp_funding.py --hold     # the same, keeping the position over funding
    python examples/perp_funding.py --live     # paper, live on the loopback Binance USDⓈ-M
    python examples/perp_funding.py --real     # CCXTBroker on the loopback's own account
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import threading
import time
from typing import Any

import backtrader as bt

import backtrader_channels as btch
from backtrader_channels.broker.instruments import Instrument, brackets_from_binance
from backtrader_channels.datasets import binance_ethusdt_perp_sample

SYMBOL = "ETH/USDT:USDT"
CASH = 1_000.0  # USDT: the backtest's and paper wallet, and the loopback account's
LEVERAGE = 10
MAKER, TAKER = 0.0002, 0.0005
KEY, SECRET = "loopback-key", "loopback-secret"
GENERATED = "marks and funding of the sample are GENERATED (trades, book and quotes are real)"


def clock(ns: int | None) -> str:
    """An event time as HH:MM:SS.mmm UTC."""
    if ns is None:
        return "--:--:--"
    t = dt.datetime.fromtimestamp(ns / 1e9, tz=dt.timezone.utc)
    return t.strftime("%H:%M:%S.%f")[:-3]


def eth_instrument() -> Instrument:
    """ETH/USDT:USDT with Binance's leverage brackets, as bundled (the loopback serves them)."""
    path = os.path.join(
        os.path.dirname(btch.__file__), "data", "binance_usdm_leverage_brackets.json"
    )
    with open(path, encoding="utf-8") as fh:
        (rows,) = [r["brackets"] for r in json.load(fh) if r["symbol"] == "ETHUSDT"]
    return Instrument(SYMBOL, "linear", brackets_from_binance(rows), margin_asset="USDT")


def perp_scheme() -> btch.PerpetualCommInfo:
    """The commission scheme that makes the data a perpetual: one for the backtest's broker
    and the same for a CCXTBroker."""
    return btch.PerpetualCommInfo(eth_instrument(), leverage=LEVERAGE, maker=MAKER, taker=TAKER)


class FundingAwareQuoter(bt.Strategy):
    """Quotes post-only around the best bid/ask, keeps a small long position, and flattens it
    (reduce-only) before a funding time whose rate would make it pay (module doc)."""

    params = (
        ("size", 0.5),  # ETH per quote
        ("keep", 0.5),  # ETH kept between round trips (the ask sells only what is above it)
        ("max_position", 1.0),  # ETH
        ("offset", 0.3),  # USDT: the bid below the best bid, the ask above the best ask
        ("requote", 1.0),  # USDT: a quote this far from where it should be is replaced
        ("guard_s", 15.0),  # seconds before the funding time: stop quoting (and flatten)
        ("hold", False),  # keep the position over the funding time
        ("verbose", True),
    )

    def start(self) -> None:
        name = self.data._name
        self.quotes = self.channels[("quote", name)]
        self.deriv = self.channels[("derivative", name)]
        self.bid: Any = None
        self.ask: Any = None
        self.flat: Any = None
        self.guarded: int | None = None  # the funding time guarded against
        self.funding_ts: int | None = None  # the last funding time seen coming
        self.now = 0
        self.orders = self.fills = 0
        self.payments: list[tuple[float, float, float]] = []
        self.position_at_funding: float | None = None
        self.flattened_at: int | None = None
        self.cancelling: set[int] = set()  # refs of orders asked to cancel (a venue takes time)

    # ---- helpers --------------------------------------------------------------------------
    def say(self, text: str) -> None:
        if self.p.verbose:
            print(f"{clock(self.now)}  {text}")

    def pos(self) -> float:
        return float(self.getposition(self.data).size)

    def alive(self, order: Any) -> bool:
        return order is not None and order.alive()

    def withdraw(self, order: Any) -> None:
        """Cancel ``order`` once."""
        if self.alive(order) and order.ref not in self.cancelling:
            self.cancelling.add(order.ref)
            self.cancel(order)

    def place(self, side: str, size: float, price: float, **flags: Any) -> Any:
        send = self.buy if side == "buy" else self.sell
        order = send(size=size, price=price, exectype=bt.Order.Limit, tif="post_only", **flags)
        self.orders += 1
        flag = ", reduce_only" if flags else ""
        self.say(f"quote {side} {size:g} @ {price:,.2f} (post_only{flag})")
        return order

    # ---- events ---------------------------------------------------------------------------
    def on_tick(self, t: Any) -> None:
        self.now = t.timestamp  # (fills happen on trades too: their time is printed)

    def on_quote(self, q: Any) -> None:
        self.now = q.timestamp
        if not getattr(self.broker, "trading", True):  # a CCXTBroker not ready yet
            return
        nxt, rate = self.deriv.next_funding_ts, self.deriv.funding_rate
        if nxt is not None and rate == rate and nxt - q.timestamp <= self.p.guard_s * 1e9:
            self.guard(nxt, rate)
            return
        if self.guarded is not None and (nxt is None or nxt > self.guarded):
            self.say(f"funding time {clock(self.guarded)} passed: quoting again")
            self.guarded = None
        self.quote(q.bid_price, q.ask_price)

    def quote(self, best_bid: float, best_ask: float) -> None:
        pos = self.pos()
        want_bid = round(best_bid - self.p.offset, 2)
        want_ask = round(best_ask + self.p.offset, 2)
        for side, want in (("bid", want_bid), ("ask", want_ask)):
            order = getattr(self, side)
            if self.alive(order) and abs(order.created.price - want) >= self.p.requote:
                self.withdraw(order)
        if not self.alive(self.bid) and pos + self.p.size <= self.p.max_position + 1e-9:
            self.bid = self.place("buy", self.p.size, want_bid)
        above = round(pos - self.p.keep, 8)
        if not self.alive(self.ask) and above > 0:
            self.ask = self.place("sell", min(self.p.size, above), want_ask, reduce_only=True)

    def guard(self, funding_ts: int, rate: float) -> None:
        """Inside the window before a funding time: no quotes; flatten what would pay."""
        pos = self.pos()
        if self.guarded != funding_ts:
            self.guarded = self.funding_ts = funding_ts
            mark = self.deriv.mark_price
            pay = pos * mark * rate  # linear: size x mark x rate; > 0 is paid
            if not pos:
                what = "flat: nothing to pay"
            elif self.p.hold:
                what = f"--hold: keep it, pay {pay:,.4f} USDT"
            elif pay > 0:
                what = f"it would pay {pay:,.4f} USDT: flatten (reduce_only)"
            else:
                what = f"it would receive {-pay:,.4f} USDT: keep it"
            self.say(
                f"funding at {clock(funding_ts)} in {(funding_ts - self.now) / 1e9:.1f} s, "
                f"rate {rate:+.4%}, mark {mark:,.2f}, position {pos:+g}: stop quoting; {what}"
            )
        for order in (self.bid, self.ask):
            self.withdraw(order)
        if pos and not self.p.hold and pos * rate > 0 and not self.alive(self.flat):
            send = self.sell if pos > 0 else self.buy
            self.flat = send(size=abs(pos), reduce_only=True)
            self.orders += 1
            self.say(f"flatten: {'sell' if pos > 0 else 'buy'} {abs(pos):g} market, reduce_only")

    def notify_order(self, order: Any) -> None:
        if not order.alive():
            self.cancelling.discard(order.ref)
        if order.status == order.Completed:
            self.fills += 1
            side = "bought" if order.isbuy() else "sold"
            liq = " (LIQUIDATION)" if order.info.get("liquidation") else ""
            self.say(f"filled: {side} {order.executed.size:+g} @ {order.executed.price:,.2f}{liq}")
            self.show_position()
            if self.flat is not None and order.ref == self.flat.ref and not self.pos():
                self.flattened_at = self.now
        elif order.status in (order.Rejected, order.Margin, order.Expired):
            self.say(f"order {order.getstatusname()}: {order.info.get('reason', '')}".rstrip(": "))

    def notify_funding(self, data: Any, rate: float, payment: float, mark: float) -> None:
        self.payments.append((rate, payment, mark))
        self.position_at_funding = self.pos()
        verb = "paid" if payment > 0 else "received"
        self.say(
            f"FUNDING of {clock(self.funding_ts)}: {verb} {abs(payment):,.4f} USDT at rate "
            f"{rate:+.4%}, mark {mark:,.2f} (position {self.pos():+g})"
        )

    def show_position(self) -> None:
        pp = self.broker.perp_position(self.data)
        if pp is None or not pp.size:
            self.say("position: flat")
            return
        liq = pp.liquidation_price
        liq_text = "-" if liq is None or liq in (float("inf"), float("-inf")) else f"{liq:,.2f}"
        self.say(
            f"position {pp.size:+g} ETH, entry {pp.entry_price:,.2f}, {pp.leverage:g}x, "
            f"liquidation {liq_text}, mark {pp.mark_price:,.2f}, "
            f"unrealized {pp.unrealized_pnl:+,.4f} {pp.margin_asset}"
        )


def backtest(hold: bool, verbose: bool) -> tuple[btch.Cerebro, FundingAwareQuoter]:
    """The strategy on the bundled sample: trades, best bid/ask, mark and funding."""
    sample = binance_ethusdt_perp_sample()
    assert sample.quotes is not None
    assert sample.derivative is not None
    cerebro = btch.Cerebro()
    cerebro.broker.setcash(CASH)
    cerebro.broker.addcommissioninfo(perp_scheme(), name=SYMBOL)
    cerebro.add_channel("tick", symbol=SYMBOL, dataname=sample.trades)
    cerebro.add_channel("quote", symbol=SYMBOL, dataname=sample.quotes)
    cerebro.add_channel("derivative", symbol=SYMBOL, dataname=sample.derivative)
    cerebro.addstrategy(FundingAwareQuoter, hold=hold, verbose=verbose)
    strat = cerebro.run(mode=btch.RunMode.TICK)[0]
    return cerebro, strat


def live(
    hold: bool, verbose: bool, real: bool, speed: float, duration: float, journal: str | None
) -> tuple[btch.Cerebro, FundingAwareQuoter]:
    """The strategy live on the loopback Binance USDⓈ-M replaying the same sample at ``speed``:
    the paper broker (the tick broker's margin account), or a CCXTBroker on the loopback's
    account (``real``). Ends when the replay is done, or after ``duration`` seconds."""
    import ccxt.pro as ccxtpro

    from backtrader_channels.brokers import CCXTBroker
    from backtrader_channels.feeds import CCXTLiveFeed
    from backtrader_channels.loopback import BinanceFuturesLoopback, point_binance_futures_at

    channels = ("tick", "quote", "derivative")
    # the replay starts once every stream is subscribed (and the broker's user socket is open)
    server = BinanceFuturesLoopback(
        wallet=CASH, speed=speed, start_when=len(channels) + int(real), leverage=LEVERAGE
    )
    port = server.start()
    print(f"loopback Binance USDⓈ-M on 127.0.0.1:{port}, replaying the sample at {speed:g}x")
    cerebro = btch.Cerebro()
    ended = threading.Event()

    def stop_when_replayed() -> None:  # then the settlements are seen: stop
        while not ended.is_set():
            if server.done.wait(0.2):
                time.sleep(3.0 if real else 1.0)  # a real run reads funding at its sweeps
                if not ended.is_set():
                    cerebro.runstop()
                return

    try:
        feed = CCXTLiveFeed(
            point_binance_futures_at(ccxtpro.binanceusdm(), port), [SYMBOL],
            channels=channels, stall_timeout=10.0,
        )  # fmt: skip
        cerebro.add_live_feed(feed)
        if real:
            # rateLimit 1 ms: a local server needs none of ccxt's pacing to Binance's weights
            keyed = {"apiKey": KEY, "secret": SECRET, "rateLimit": 1}
            ex = point_binance_futures_at(ccxtpro.binanceusdm(keyed), port)
            broker = CCXTBroker(ex, journal=journal, sweep_interval=1.0)
            broker.addcommissioninfo(perp_scheme(), name=SYMBOL)
            cerebro.setbroker(broker)
        else:
            cerebro.broker.setcash(CASH)
            cerebro.broker.addcommissioninfo(perp_scheme(), name=SYMBOL)
        cerebro.addstrategy(FundingAwareQuoter, hold=hold, verbose=verbose)
        threading.Thread(target=stop_when_replayed, daemon=True).start()
        strat = cerebro.run(mode=btch.RunMode.TICK, duration=duration)[0]
    finally:
        ended.set()
        server.stop()
    if real:
        account = server.account.account()
        print(f"the loopback account: wallet {float(account['totalWalletBalance']):,.2f} USDT")
    return cerebro, strat


def summary(cerebro: btch.Cerebro, strat: FundingAwareQuoter) -> str:
    """The last line: what the run did (the tests read it)."""
    run = cerebro.last_run
    funding = run.get("funding", {}).get(SYMBOL, {"paid": 0.0, "count": 0})
    at = strat.position_at_funding
    return (
        f"orders: {strat.orders}  fills: {strat.fills}  "
        f"flattened before funding: {'yes' if strat.flattened_at else 'no'}  "
        f"position at funding: {'flat' if not at else f'{at:+g}'}  "
        f"funding payments: {funding['count']}  funding paid: {funding['paid']:,.4f} USDT  "
        f"liquidations: {len(run.get('liquidations', []))}  "
        f"final equity: {cerebro.broker.getvalue():,.2f}"
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--hold", action="store_true", help="keep the position over the funding time")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--live", action="store_true", help="paper, live on the loopback")
    mode.add_argument("--real", action="store_true", help="CCXTBroker on the loopback's account")
    ap.add_argument("--speed", type=float, default=8.0, help="replay speed (default 8x)")
    ap.add_argument("--duration", type=float, default=60.0, help="live: at most (default 60 s)")
    ap.add_argument("--journal", help="--real: the order journal (default: in memory)")
    ap.add_argument("--quiet", action="store_true", help="print the summary only")
    args = ap.parse_args(argv)
    print(f"NOTE: {GENERATED}")
    if args.live or args.real:
        cerebro, strat = live(
            args.hold, not args.quiet, args.real, args.speed, args.duration, args.journal
        )
    else:
        cerebro, strat = backtest(args.hold, not args.quiet)
    run = cerebro.last_run
    if not args.quiet:
        strat.show_position()
    print(f"last_run['funding']: {run.get('funding')}  ({GENERATED})")
    print(f"last_run['liquidations']: {run.get('liquidations', [])}")
    print(summary(cerebro, strat))


if __name__ == "__main__":
    main()
