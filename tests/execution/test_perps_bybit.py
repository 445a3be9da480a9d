"""CCXTBroker on Bybit linear perpetuals, through an unmodified ``ccxt.pro.bybit`` against the
loopback Bybit's ``linear`` side (its own account: funding, liquidation): the same decisions,
funding and liquidation as the backtest of the same recording, the broker's cash the venue's
wallet."""

from __future__ import annotations

import ccxt.pro as ccxtpro
import pytest

import backtrader_channels as btch
from backtrader_channels.brokers import CCXTBroker
from backtrader_channels.datasets import binance_ethusdt_perp_sample
from backtrader_channels.feeds import CCXTLiveFeed
from backtrader_channels.loopback import BybitLinearLoopback, point_bybit_linear_at

from .test_perps_binance import (
    ETH,
    KEY,
    SECRET,
    SYMBOL,
    HoldOverFunding,
    HoldToLiquidation,
    _moved_sample,
    _perp_cerebro,
)


def _real(srv, strategy, tmp_path, duration=30):
    feed = CCXTLiveFeed(
        point_bybit_linear_at(ccxtpro.bybit(), srv.port), [SYMBOL],
        channels=("tick", "derivative"), stall_timeout=10.0,
    )  # fmt: skip
    cerebro = _perp_cerebro(strategy)
    cerebro.add_live_feed(feed)
    config = {"apiKey": KEY, "secret": SECRET, "rateLimit": 5}  # (no pacing on loopback)
    ex = point_bybit_linear_at(ccxtpro.bybit(config), srv.port)
    broker = CCXTBroker(ex, journal=str(tmp_path / "journal.jsonl"), sweep_interval=1.0)
    broker.addcommissioninfo(
        btch.PerpetualCommInfo(ETH, leverage=10, maker=0.0002, taker=0.00055), name=SYMBOL
    )
    cerebro.setbroker(broker)
    return cerebro, cerebro.run(mode=btch.RunMode.TICK, duration=duration)[0]


def _backtest(sample, strategy):
    back = _perp_cerebro(strategy)
    back.add_channel("tick", SYMBOL, sample.trades)
    back.add_channel("derivative", SYMBOL, sample.derivative)
    return back, back.run(mode=btch.RunMode.TICK)[0]


def test_bybit_linear_holds_over_funding_as_the_backtest(tmp_path):
    _, bt_strat = _backtest(binance_ethusdt_perp_sample(), HoldOverFunding)
    srv = BybitLinearLoopback(wallet=1_000.0, speed=20.0, start_when=3)
    srv.start()
    try:
        cerebro, strat = _real(srv, HoldOverFunding, tmp_path)
    finally:
        srv.stop()
    assert strat.decisions == bt_strat.decisions
    broker, run = cerebro.broker, cerebro.last_run
    assert broker.getposition(strat.datas[0]).size == pytest.approx(1.0)
    assert run["funding"][SYMBOL]["count"] == 1
    assert run["funding"][SYMBOL]["paid"] == pytest.approx(bt_strat.funding[0][1], rel=0.01)
    wallet = float(srv.account.account()["totalWalletBalance"])
    assert broker.getcash() == pytest.approx(wallet, abs=0.01)


def test_bybit_linear_liquidation_as_the_backtest(tmp_path):
    sample = _moved_sample(tmp_path, -1_100.0, after_s=60)
    _back, bt_strat = _backtest(sample, HoldToLiquidation)
    assert len(bt_strat.liquidated) == 1
    srv = BybitLinearLoopback(sample=sample, wallet=1_000.0, speed=20.0, start_when=3)
    srv.start()
    try:
        cerebro, strat = _real(srv, HoldToLiquidation, tmp_path)
    finally:
        srv.stop()
    assert strat.decisions == bt_strat.decisions
    assert len(strat.liquidated) == 1
    assert len(srv.account.liquidations) == 1
    assert strat.liquidated[0] == pytest.approx(float(srv.account.liquidations[0]["price"]))
    assert cerebro.broker.getposition(strat.datas[0]).size == 0.0
    assert float(srv.account.account()["totalWalletBalance"]) == 0.0
    assert cerebro.broker.getcash() == pytest.approx(0.0, abs=0.01)
    (liq,) = cerebro.last_run["liquidations"]
    assert liq["source"] == "venue"
    assert bt_strat.liquidated[0] == pytest.approx(strat.liquidated[0], rel=0.01)


def test_bybit_linear_paper_holds_over_funding_as_the_backtest():
    _, bt_strat = _backtest(binance_ethusdt_perp_sample(), HoldOverFunding)
    srv = BybitLinearLoopback(wallet=1_000.0, speed=20.0, start_when=2)
    srv.start()
    try:
        feed = CCXTLiveFeed(
            point_bybit_linear_at(ccxtpro.bybit(), srv.port), [SYMBOL],
            channels=("tick", "derivative"), stall_timeout=10.0,
        )  # fmt: skip
        cerebro = _perp_cerebro(HoldOverFunding)
        cerebro.add_live_feed(feed)
        strat = cerebro.run(mode=btch.RunMode.TICK, duration=20)[0]
    finally:
        srv.stop()
    assert strat.decisions == bt_strat.decisions
    assert strat.fills == bt_strat.fills
    assert len(strat.funding) == 1
    assert strat.funding[0][0] == bt_strat.funding[0][0]
    assert strat.funding[0][1] == pytest.approx(bt_strat.funding[0][1], rel=1e-3)
    assert cerebro.last_run["funding"][SYMBOL]["ignored"] == 0
