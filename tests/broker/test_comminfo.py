"""FractionalCommInfo: sizes in fractions of a unit, rounded down to the market's amount step."""

from __future__ import annotations

from decimal import Decimal

import backtrader as bt
import pytest
from hypothesis import given
from hypothesis import strategies as st

import backtrader_channels as btch
from backtrader_channels.execution.risk import market_rule


def test_sizes_round_down_to_the_lot_by_hand():
    ci = btch.FractionalCommInfo(commission=0.001, lot=0.00001)
    # 5,000 / 61,828.35 = 0.0808690511...
    assert ci.getsize(61828.35, 5000) == 0.08086
    assert ci.getsize(100.0, 808.1) == 8.081  # exact in decimal, 8.080999... in binary
    assert btch.FractionalCommInfo(lot=0.5).getsize(10.0, 34.9) == 3.0
    assert btch.FractionalCommInfo(lot=25).getsize(1.0, 99.0) == 75.0
    assert btch.FractionalCommInfo().getsize(61828.35, 5000) == 5000 / 61828.35
    assert btch.FractionalCommInfo(lot=0.001, leverage=2.0).getsize(100.0, 50.0) == 1.0
    # the commission is CommissionInfo's: a fraction of the value
    assert ci.getcommission(0.08086, 61828.35) == pytest.approx(0.08086 * 61828.35 * 0.001)
    # stock backtrader sizes the same order to nothing
    assert bt.CommissionInfo(commission=0.001).getsize(61828.35, 5000) == 0


@pytest.mark.parametrize("lot", [-0.001, float("nan"), float("inf"), "0.001"])
def test_a_bad_lot_is_refused_by_name(lot):
    with pytest.raises(ValueError, match="lot="):
        btch.FractionalCommInfo(lot=lot)


@given(
    price=st.floats(0.01, 1e6),
    cash=st.floats(0.0, 1e8),
    lot=st.sampled_from([0.1, 0.01, 0.001, 0.0001, 0.00001, 1e-8, 0.5, 5.0, 25.0]),
)
def test_the_size_is_the_largest_whole_number_of_lots_cash_buys(price, cash, lot):
    size = btch.FractionalCommInfo(lot=lot).getsize(price, cash)
    exact = Decimal(cash) / Decimal(price)
    assert size >= 0
    assert Decimal(repr(size)) <= exact * (1 + Decimal("1e-9"))
    assert Decimal(repr(size)) + Decimal(repr(lot)) > exact * (1 - Decimal("1e-9"))
    # and the venue's own rule (what the execution layer checks before sending) accepts it
    assert market_rule({"precision": {"amount": lot}}, "X/Y", size, None, None) is None


class _Targets(bt.Strategy):
    def start(self):
        self.n, self.done = 0, []

    def on_tick(self, tick):
        self.n += 1
        if self.n == 100:
            self.order_target_percent(target=0.5)
        elif self.n == 300:
            self.order_target_value(target=1000)

    def notify_order(self, order):
        if order.status == order.Completed:
            self.done.append((order.executed.size, order.executed.price, order.executed.comm))


def _run(comminfo):
    sample = btch.datasets.binance_btcusdt_sample()
    cerebro = btch.Cerebro(stdstats=False)
    cerebro.add_channel(btch.TickChannel, symbol="BTC/USDT", dataname=sample.trades)
    if comminfo is not None:
        cerebro.broker.addcommissioninfo(comminfo)
    cerebro.addstrategy(_Targets)
    (strat,) = cerebro.run(mode=btch.RunMode.TICK)
    return strat, cerebro


def test_target_orders_on_the_sample_size_in_lots():
    strat, cerebro = _run(btch.FractionalCommInfo(commission=0.001, lot=0.00001))
    broker = cerebro.broker
    (buy_size, buy_price, buy_comm), (sell_size, sell_price, sell_comm) = strat.done
    # half of the 10,000 cash at the 100th trade's price (the fill is at the next trade's)
    assert buy_size == 0.08086
    assert buy_comm == pytest.approx(0.08086 * buy_price * 0.001)
    # then down to 1,000 of value: the excess, in whole lots, rounded down
    assert sell_size < 0
    assert Decimal(repr(-sell_size)) % Decimal("0.00001") == 0
    assert broker.getposition(strat.data).size == pytest.approx(buy_size + sell_size)
    assert broker.getposition(strat.data).size * sell_price == pytest.approx(1000, rel=1e-3)
    # the run's fees: both fills' commission, though no trade has closed
    assert cerebro.last_run["fees"] == pytest.approx(buy_comm + sell_comm)
    assert broker.getvalue() == pytest.approx(10000 + cerebro.last_run["pnl"])


def test_stock_commission_info_sends_nothing_at_this_price():
    strat, cerebro = _run(None)
    assert strat.done == []
    assert cerebro.broker.getvalue() == 10000.0
    assert cerebro.last_run["fees"] == 0.0
