"""Perpetual futures through an unmodified ``ccxt.pro.binanceusdm`` against the loopback Binance
USDⓈ-M (its own margin account, funding and liquidation rules), and CCXTBroker on it: leverage
and margin mode at start, orders refused by the venue's codes, funding and a liquidation taken
from the venue, and the same decisions as the backtest of the same recording."""

from __future__ import annotations

import asyncio

import backtrader as bt
import ccxt
import ccxt.pro as ccxtpro
import pytest

import backtrader_channels as btch
from backtrader_channels.broker import Bracket, Instrument
from backtrader_channels.brokers import CCXTBroker
from backtrader_channels.datasets import binance_ethusdt_perp_sample
from backtrader_channels.execution.perp_session import venue_code
from backtrader_channels.feeds import CCXTLiveFeed
from backtrader_channels.loopback import BinanceFuturesLoopback, point_binance_futures_at

KEY, SECRET = "loopback-key", "loopback-secret"
SYMBOL = "ETH/USDT:USDT"
#: the bundled brackets' first tiers (the loopback serves the same)
ETH = Instrument(
    SYMBOL,
    "linear",
    (Bracket(0, 50_000, 125, 0.004, 0.0), Bracket(50_000, 500_000, 100, 0.005, 50.0)),
    margin_asset="USDT",
)


@pytest.fixture
def usdm():
    srv = BinanceFuturesLoopback(wallet=1_000.0)
    srv.start()
    yield srv
    srv.stop()


def keyed(srv, **config):
    """A keyed client of the loopback; ccxt's pacing to Binance's request weights is not
    needed on loopback (a perpetual's sweep weighs ~70: 3.5 s at the default 50 ms)."""
    config = {"apiKey": KEY, "secret": SECRET, "rateLimit": 5, **config}
    return point_binance_futures_at(ccxtpro.binanceusdm(config), srv.port)


def test_unmodified_ccxt_trades_usdm_on_the_loopback(usdm):
    async def go():
        ex = keyed(usdm)
        try:
            await ex.load_markets()
            assert ex.markets[SYMBOL]["swap"]
            book = await ex.watch_order_book(SYMBOL)
            assert book["bids"][0][0] < book["asks"][0][0]
            mark = await ex.watch_mark_price(SYMBOL)
            assert mark["markPrice"] > 0
            assert (await ex.fetch_position_mode(SYMBOL))["hedged"] is False
            with pytest.raises(ccxt.ExchangeError) as already:
                await ex.set_margin_mode("cross", SYMBOL)
            assert venue_code(already.value) == -4046
            await ex.set_leverage(10, SYMBOL)
            order = await ex.create_order(SYMBOL, "market", "buy", 0.1)
            assert order["status"] == "closed"
            assert order["filled"] == pytest.approx(0.1)
            (pos,) = [p for p in await ex.fetch_positions([SYMBOL]) if p["contracts"]]
            assert pos["side"] == "long"
            assert pos["contracts"] == pytest.approx(0.1)
            with pytest.raises(ccxt.ExchangeError) as reduce_only:
                await ex.create_order(SYMBOL, "market", "buy", 0.1, None, {"reduceOnly": True})
            assert venue_code(reduce_only.value) == -2022
            ask = book["asks"][0][0]
            with pytest.raises(ccxt.ExchangeError) as post_only:
                await ex.create_order(SYMBOL, "limit", "buy", 0.1, ask + 5, {"postOnly": True})
            assert venue_code(post_only.value) == -5022
            with pytest.raises(ccxt.ExchangeError) as margin:
                await ex.create_order(SYMBOL, "market", "buy", 10)
            assert venue_code(margin.value) == -2019
            closed = await ex.create_order(
                SYMBOL, "market", "sell", 0.1, None, {"reduceOnly": True}
            )
            assert closed["filled"] == pytest.approx(0.1)
        finally:
            await ex.close()

    asyncio.run(go())


class HoldOverFunding(bt.Strategy):
    """Buys 1 ETH on the 200th trade and holds it over the funding time; records decisions,
    fills and funding."""

    params = (("size", 1.0),)

    def start(self):
        self.n, self.decisions, self.fills, self.funding, self.liquidated = 0, [], [], [], []

    def on_tick(self, t):
        if not self.broker.trading if hasattr(self.broker, "trading") else False:
            return
        self.n += 1
        if self.n == 200:
            self.decisions.append(("buy", self.p.size))
            self.buy(size=self.p.size)

    def notify_order(self, order):
        if order.status == order.Completed:
            liq = bool(order.info.get("liquidation"))
            self.fills.append((order.isbuy(), order.executed.size, liq))
            if liq:
                self.liquidated.append(order.executed.price)

    def notify_funding(self, data, rate, payment, mark):
        self.funding.append((rate, payment, mark))
        self.env.runstop()  # what was to see is seen (the recording ends a second later)


def _perp_cerebro(strategy, **kwargs):
    cerebro = btch.Cerebro()
    cerebro.broker.setcash(1_000.0)
    cerebro.broker.addcommissioninfo(
        btch.PerpetualCommInfo(ETH, leverage=10, maker=0.0002, taker=0.0005), name=SYMBOL
    )
    cerebro.addstrategy(strategy, **kwargs)
    return cerebro


def _real(srv, strategy, tmp_path, duration=60, **kwargs):
    feed = CCXTLiveFeed(
        point_binance_futures_at(ccxtpro.binanceusdm(), srv.port), [SYMBOL],
        channels=("tick", "derivative"), stall_timeout=10.0,
    )  # fmt: skip
    cerebro = _perp_cerebro(strategy, **kwargs)
    cerebro.add_live_feed(feed)
    broker = CCXTBroker(keyed(srv), journal=str(tmp_path / "journal.jsonl"), sweep_interval=1.0)
    broker.addcommissioninfo(
        btch.PerpetualCommInfo(ETH, leverage=10, maker=0.0002, taker=0.0005), name=SYMBOL
    )
    cerebro.setbroker(broker)
    strat = cerebro.run(mode=btch.RunMode.TICK, duration=duration)[0]
    return cerebro, strat


def _paper(srv, strategy, duration=30):
    """The same strategy paper-traded (the tick broker's margin account) on the loopback's
    live feed."""
    feed = CCXTLiveFeed(
        point_binance_futures_at(ccxtpro.binanceusdm(), srv.port), [SYMBOL],
        channels=("tick", "derivative"), stall_timeout=10.0,
    )  # fmt: skip
    cerebro = _perp_cerebro(strategy)
    cerebro.add_live_feed(feed)
    return cerebro, cerebro.run(mode=btch.RunMode.TICK, duration=duration)[0]


def test_paper_on_the_live_feed_holds_over_funding_as_the_backtest(tmp_path):
    sample = binance_ethusdt_perp_sample()
    back = _perp_cerebro(HoldOverFunding)
    back.add_channel("tick", SYMBOL, sample.trades)
    back.add_channel("derivative", SYMBOL, sample.derivative)
    bt_strat = back.run(mode=btch.RunMode.TICK)[0]
    srv = BinanceFuturesLoopback(wallet=1_000.0, speed=20.0, start_when=2)
    srv.start()
    try:
        cerebro, strat = _paper(srv, HoldOverFunding, duration=20)
    finally:
        srv.stop()
    assert strat.decisions == bt_strat.decisions
    assert strat.fills == bt_strat.fills
    # one settlement, at the backtest's rate; the mark: the live feed settles at the mark of
    # the update that shows the next funding time (the broker's rule for marks without
    # settlement rows), the bundled sample's settlement row at the mark a second before
    assert len(strat.funding) == 1
    assert strat.funding[0][0] == bt_strat.funding[0][0]
    assert strat.funding[0][2] == pytest.approx(bt_strat.funding[0][2], abs=0.5)
    assert strat.funding[0][1] == pytest.approx(bt_strat.funding[0][1], rel=1e-3)
    assert cerebro.last_run["funding"][SYMBOL]["count"] == 1
    assert cerebro.last_run["funding"][SYMBOL]["ignored"] == 0


def test_backtest_and_real_hold_over_funding_alike(tmp_path):
    sample = binance_ethusdt_perp_sample()
    back = _perp_cerebro(HoldOverFunding)
    back.add_channel("tick", SYMBOL, sample.trades)
    back.add_channel("derivative", SYMBOL, sample.derivative)
    bt_strat = back.run(mode=btch.RunMode.TICK)[0]
    assert bt_strat.decisions == [("buy", 1.0)]
    assert len(bt_strat.funding) == 1

    srv = BinanceFuturesLoopback(wallet=1_000.0, speed=20.0, start_when=3)
    srv.start()
    try:
        cerebro, strat = _real(srv, HoldOverFunding, tmp_path, duration=30)
    finally:
        srv.stop()
    assert strat.decisions == bt_strat.decisions
    broker = cerebro.broker
    run = cerebro.last_run
    assert broker.getposition(strat.datas[0]).size == pytest.approx(1.0)
    venue_pos = srv.account.position_risk(srv.market_id)
    assert float(venue_pos[0]["positionAmt"]) == pytest.approx(1.0)
    (paid,) = [s for s in srv.account.income(None, "FUNDING_FEE", None, None, 100)]
    assert run["funding"][SYMBOL]["count"] == 1
    assert run["funding"][SYMBOL]["paid"] == pytest.approx(-float(paid["income"]), abs=1e-6)
    # the venue's wallet and the broker's cash agree to the cent
    wallet = float(srv.account.account()["totalWalletBalance"])
    assert broker.getcash() == pytest.approx(wallet, abs=0.01)
    # the same payment as the backtest's, but for the entry (the live fill's own price)
    assert run["funding"][SYMBOL]["paid"] == pytest.approx(bt_strat.funding[0][1], rel=0.01)


def _moved_sample(tmp_path, delta, after_s):
    """The bundled sample with every mark ``after_s`` seconds into it moved by ``delta``."""
    import dataclasses

    import pyarrow.parquet as pq

    from backtrader_channels.events import ChannelType
    from backtrader_channels.sources.formats import open_source
    from backtrader_channels.sources.writer import events_table

    sample = binance_ethusdt_perp_sample()
    events = [e for _, c in open_source(sample.derivative, ChannelType.DERIVATIVE, SYMBOL)
              for e in c]  # fmt: skip
    t0 = events[0].timestamp + int(after_s * 1e9)
    moved = [
        e._replace(mark_price=e.mark_price + delta, index_price=e.index_price + delta)
        if e.timestamp >= t0 and e.funding_ts is None else e
        for e in events
    ]  # fmt: skip
    path = str(tmp_path / "derivative.parquet")
    pq.write_table(events_table(moved, ChannelType.DERIVATIVE, "binance", "linear"), path)
    return dataclasses.replace(sample, derivative=path)


class HoldToLiquidation(HoldOverFunding):
    def notify_order(self, order):
        super().notify_order(order)
        if self.liquidated:
            self.env.runstop()

    def notify_funding(self, data, rate, payment, mark):
        self.funding.append((rate, payment, mark))


def test_backtest_and_real_are_liquidated_alike_by_a_mark_move(tmp_path):
    sample = _moved_sample(tmp_path, -1_100.0, after_s=60)
    back = _perp_cerebro(HoldToLiquidation)
    back.add_channel("tick", SYMBOL, sample.trades)
    back.add_channel("derivative", SYMBOL, sample.derivative)
    bt_strat = back.run(mode=btch.RunMode.TICK)[0]
    assert len(bt_strat.liquidated) == 1
    assert back.broker.getcash() == 0.0
    assert len(back.last_run["liquidations"]) == 1

    srv = BinanceFuturesLoopback(sample=sample, wallet=1_000.0, speed=20.0, start_when=3)
    srv.start()
    try:
        cerebro, strat = _real(srv, HoldToLiquidation, tmp_path, duration=30)
    finally:
        srv.stop()
    assert strat.decisions == bt_strat.decisions
    assert len(strat.liquidated) == 1  # notified once, as a Completed order
    assert len(srv.account.liquidations) == 1
    venue_price = float(srv.account.liquidations[0]["price"])
    assert strat.liquidated[0] == pytest.approx(venue_price)
    broker = cerebro.broker
    assert broker.getposition(strat.datas[0]).size == 0.0
    assert (
        float(srv.account.position_risk(srv.market_id)[0]["positionAmt"]) == 0.0
        if (srv.account.position_risk(srv.market_id))
        else True
    )
    wallet = float(srv.account.account()["totalWalletBalance"])
    assert wallet == 0.0
    assert broker.getcash() == pytest.approx(wallet, abs=0.01)
    (liq,) = cerebro.last_run["liquidations"]
    assert liq["source"] == "venue"
    # the broker's own rule (the backtest's) and the venue's put the price at the bankruptcy
    # price of their own entries
    assert bt_strat.liquidated[0] == pytest.approx(venue_price, rel=0.01)


class BuyOnce(HoldOverFunding):
    def notify_order(self, order):
        super().notify_order(order)
        if order.status in (order.Rejected, order.Margin):
            self.refused = order.info.get("reason")
            self.env.runstop()


def test_risk_limits_refuse_leverage_and_liquidation_distance(tmp_path):
    from backtrader_channels.execution.risk import RiskLimits

    srv = BinanceFuturesLoopback(wallet=1_000.0, speed=20.0, start_when=3)
    srv.start()
    try:
        feed = CCXTLiveFeed(
            point_binance_futures_at(ccxtpro.binanceusdm(), srv.port), [SYMBOL],
            channels=("tick", "derivative"), stall_timeout=10.0,
        )  # fmt: skip
        cerebro = _perp_cerebro(BuyOnce)
        cerebro.add_live_feed(feed)
        # 1 ETH (~2,680 USDT) on a 1,000 USDT wallet: 2.7x
        broker = CCXTBroker(keyed(srv), risk=RiskLimits(max_leverage=2.0))
        broker.addcommissioninfo(
            btch.PerpetualCommInfo(ETH, leverage=10, maker=0.0002, taker=0.0005), name=SYMBOL
        )
        cerebro.setbroker(broker)
        strat = cerebro.run(mode=btch.RunMode.TICK, duration=20)[0]
    finally:
        srv.stop()
    assert strat.refused.startswith("max_leverage: ETH/USDT:USDT would take the account to 2.")
    assert srv.order_requests == []  # nothing reached the venue


def _open_at_venue(srv, amount):
    """A position opened at the venue before the run (by hand, say)."""

    async def go():
        ex = keyed(srv)
        try:
            await ex.load_markets()
            await ex.create_order(SYMBOL, "market", "buy", amount)
        finally:
            await ex.close()

    asyncio.run(go())


@pytest.mark.parametrize("adopt", [False, True])
def test_a_venue_position_the_store_cannot_explain_is_not_traded_unless_adopted(tmp_path, adopt):
    srv = BinanceFuturesLoopback(wallet=1_000.0, speed=20.0, start_when=3)
    srv.start()
    try:
        # the book is the server's from its start: a market order fills at its best ask
        _open_at_venue(srv, 0.5)
        feed = CCXTLiveFeed(
            point_binance_futures_at(ccxtpro.binanceusdm(), srv.port), [SYMBOL],
            channels=("tick", "derivative"), stall_timeout=10.0,
        )  # fmt: skip
        cerebro = _perp_cerebro(BuyOnce, size=0.1)
        cerebro.add_live_feed(feed)
        broker = CCXTBroker(
            keyed(srv), journal=str(tmp_path / "journal.jsonl"), sweep_interval=1.0,
            adopt=[SYMBOL] if adopt else [],
        )  # fmt: skip
        broker.addcommissioninfo(
            btch.PerpetualCommInfo(ETH, leverage=10, maker=0.0002, taker=0.0005), name=SYMBOL
        )
        cerebro.setbroker(broker)
        strat = cerebro.run(mode=btch.RunMode.TICK, duration=12)[0]
    finally:
        srv.stop()
    data = strat.datas[0]
    if adopt:  # the position is the strategy's, and it trades on
        assert broker.getposition(data).size == pytest.approx(0.6)
        assert not hasattr(strat, "refused")
    else:
        assert strat.refused.startswith("the venue holds 0.5 ETH/USDT:USDT, the store explains 0")
        assert broker.getposition(data).size == 0.0
    assert float(srv.account.position_risk(srv.market_id)[0]["positionAmt"]) == pytest.approx(
        0.6 if adopt else 0.5
    )


def test_paper_on_the_live_feed_is_liquidated_as_the_backtest(tmp_path):
    sample = _moved_sample(tmp_path, -1_100.0, after_s=60)
    back = _perp_cerebro(HoldToLiquidation)
    back.add_channel("tick", SYMBOL, sample.trades)
    back.add_channel("derivative", SYMBOL, sample.derivative)
    bt_strat = back.run(mode=btch.RunMode.TICK)[0]
    srv = BinanceFuturesLoopback(sample=sample, wallet=1_000.0, speed=20.0, start_when=2)
    srv.start()
    try:
        cerebro, strat = _paper(srv, HoldToLiquidation, duration=20)
    finally:
        srv.stop()
    assert strat.decisions == bt_strat.decisions
    assert strat.fills == bt_strat.fills  # the buy, then the liquidation's close
    # the paper broker's own rule on the same marks: the same bankruptcy price, to the cent
    assert strat.liquidated == [pytest.approx(bt_strat.liquidated[0], abs=0.01)]
    assert cerebro.broker.getcash() == 0.0
    assert len(cerebro.last_run["liquidations"]) == 1
