"""Properties of the perpetual account for any prices, rates and sizes: funding moves equity
from one side to the other (what longs pay shorts receive), no position opens beyond what the
margin and the allowed leverage permit, and liquidation comes exactly when equity falls to the
maintenance margin, never before."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backtrader_channels.broker.margin import maintenance_margin

from .test_perp_accounts import INVERSE, LINEAR, D, Perp, T, run_perp

PROPS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
marks = st.floats(1500, 2500, allow_nan=False)
rates = st.floats(-0.003, 0.003, allow_nan=False)


def _sym(inst):
    return inst.symbol


@PROPS
@given(
    inst=st.sampled_from([LINEAR, INVERSE]),
    size=st.integers(1, 5),
    path=st.lists(st.tuples(marks, rates), min_size=1, max_size=8),
)
def test_funding_conserves_equity_between_a_long_and_a_short(inst, size, path):
    s_ = _sym(inst)
    cash = 1_000_000.0 if inst is LINEAR else 1000.0
    ticks = [T(1, 2000, symbol=s_), T(2, 2000, symbol=s_)]
    derivs = [
        D(10 + 10 * i, mark, rate, 15 + 10 * i, symbol=s_) for i, (mark, rate) in enumerate(path)
    ]
    derivs.append(D(20 + 10 * len(path), path[-1][0], symbol=s_))  # passes the last time
    runs = [
        run_perp(
            {1: lambda s, side=side: s.buy(size=size) if side else s.sell(size=size)},
            ticks=ticks,
            derivs=derivs,
            inst=inst,
            cash=cash,
            leverage=1,
            maker=0,
            taker=0,
        )
        for side in (True, False)
    ]
    (cl, sl), (cs, ss) = runs
    paid_long = cl.last_run["funding"][s_]["paid"]
    paid_short = cs.last_run["funding"][s_]["paid"]
    assert cl.last_run["funding"][s_]["count"] == len(path)
    assert paid_long == pytest.approx(-paid_short, abs=1e-9)
    # what one side lost the other gained: the two wallets and the two equities add up
    assert cl.broker.getcash() + cs.broker.getcash() == pytest.approx(2 * cash, abs=1e-6)
    assert cl.broker.getvalue() + cs.broker.getvalue() == pytest.approx(2 * cash, abs=1e-6)
    assert not cl.last_run["liquidations"]
    assert not cs.last_run["liquidations"]
    assert [f[2] for f in sl.funding] == pytest.approx([-f[2] for f in ss.funding])


class Checked(Perp):
    """Checks the margin at each fill that opened a position, when the mark is the fill's
    trade price (a fill that only reduces needs no margin)."""

    def start(self):
        super().start()
        self.checked = 0

    def notify_order(self, order):
        super().notify_order(order)
        if order.status in (order.Partial, order.Completed) and order.executed.exbits[-1].opened:
            pos = self.broker.getposition(self.data)
            ci = self.broker.getcommissioninfo(self.data)
            inst, lev = ci.instrument, ci.leverage
            notional = inst.notional(pos.size, pos.price) if pos.size else 0.0
            equity = self.broker.getvalue()
            assert notional / lev <= equity * (1 + 1e-9) + 1e-9
            assert lev <= inst.allowed_leverage(notional)
            self.checked += 1


@PROPS
@given(
    lev=st.sampled_from([1, 5, 20, 30, 50]),
    orders=st.lists(st.tuples(st.booleans(), st.integers(1, 40)), min_size=1, max_size=8),
    prices=st.lists(st.floats(1800, 2200, allow_nan=False), min_size=10, max_size=10),
)
def test_no_position_beyond_the_margin_or_the_allowed_leverage(lev, orders, prices):
    import backtrader_channels as btch

    c = btch.Cerebro(stdstats=False)
    c.broker.setcash(5000.0)
    c.broker.addcommissioninfo(
        btch.PerpetualCommInfo(LINEAR, leverage=lev, taker=0.0005), name=LINEAR.symbol
    )
    ticks = [T(i + 1, p) for i, p in enumerate(prices * 2)]
    c.add_channel("tick", symbol=LINEAR.symbol, dataname=ticks)
    actions = {
        2 * i + 1: (lambda s, b=buy, q=q: s.buy(size=q) if b else s.sell(size=q))
        for i, (buy, q) in enumerate(orders)
    }
    c.addstrategy(Checked, actions=actions)
    s = c.run(mode=btch.RunMode.TICK)[0]
    # a flip whose opening part does not fit: the closing part fills (Partial), then Margin
    statuses = {e[0] for e in s.log}
    assert statuses <= {"Submitted", "Accepted", "Partial", "Completed", "Margin", "Canceled"}
    assert s.checked <= sum(e[0] in ("Partial", "Completed") for e in s.log)


@PROPS
@given(
    inst=st.sampled_from([LINEAR, INVERSE]),
    long=st.booleans(),
    lev=st.sampled_from([5, 10, 20, 50]),
    path=st.lists(st.floats(1000, 3000, allow_nan=False), min_size=1, max_size=15),
)
def test_liquidation_exactly_when_equity_reaches_the_maintenance_margin(inst, long, lev, path):
    s_ = _sym(inst)
    cash = 1000.0 if inst is LINEAR else 1.0
    size = (4 if inst is LINEAR else 800) * (1 if long else -1)
    # the position uses most of its margin: size x 2000 / lev of the wallet
    size = size * lev / 10
    derivs = [D(3, 2000, symbol=s_)] + [D(10 + i, m, symbol=s_) for i, m in enumerate(path)]
    c, s = run_perp(
        {1: lambda s: s.buy(size=size) if long else s.sell(size=-size)},
        ticks=[T(1, 2000, 1e9, symbol=s_), T(2, 2000, 1e9, symbol=s_)],
        derivs=derivs, inst=inst, cash=cash, leverage=lev, maker=0, taker=0,
    )  # fmt: skip
    assert c.broker.getposition(c.datas[0]).size == size or c.last_run["liquidations"]
    expected = None
    for i, m in enumerate(path):
        equity = cash + inst.pnl(size, 2000, m)
        if equity <= maintenance_margin(inst, size, m):
            expected = 10 + i
            break
    liqs = c.last_run["liquidations"]
    if expected is None:
        assert not liqs
        assert c.broker.getposition(c.datas[0]).size == size
    else:
        [liq] = liqs
        assert liq["ts"] == expected
        assert c.broker.getcash() == 0.0
        assert liq["price"] > 0
        assert any(e[3] for e in s.log)  # the liquidation fill was notified


def test_the_liquidation_fill_reaches_notify_order_with_its_flag():
    c, s = run_perp(
        {1: lambda s: s.buy(size=4)},
        ticks=[T(1, 2000), T(2, 2000)],
        derivs=[D(3, 2000), D(4, 1760)],
        taker=0,
    )
    # equity 1000 - 4 x 240 = 40 <= 4 x 1760 x 0.4% = 28.16? no: kept
    assert not c.last_run["liquidations"]
    c, s = run_perp(
        {1: lambda s: s.buy(size=4)},
        ticks=[T(1, 2000), T(2, 2000)],
        derivs=[D(3, 2000), D(4, 1755)],
        taker=0,
    )
    # equity 1000 - 980 = 20 <= 28.08: closed at 2000 - 1000 / 4 = 1750
    assert s.log[-1] == ("Completed", 1750.0, -4, True)
    assert c.broker.getcash() == 0.0
    assert c.broker.getposition(c.datas[0]).size == 0
