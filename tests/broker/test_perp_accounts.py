"""Perpetual positions in the tick broker, computed by hand to the cent: fees, equity at mark,
funding, margin refusals and liquidation, for long and short, linear and inverse contracts."""

from __future__ import annotations

import math

import backtrader as bt
import pytest

import backtrader_channels as btch
from backtrader_channels import QuoteEvent, TickEvent
from backtrader_channels.events import DerivativeEvent

LIN_SYM = "ETH/USDT:USDT"
INV_SYM = "ETH/USD:ETH"
LINEAR = btch.Instrument(
    LIN_SYM,
    "linear",
    (btch.Bracket(0, 50_000, 50, 0.004, 0.0), btch.Bracket(50_000, 250_000, 25, 0.005, 50.0)),
    margin_asset="USDT",
)
INVERSE = btch.Instrument(
    INV_SYM, "inverse", (btch.Bracket(0, 1e9, 75, 0.004, 0.0),), contract_size=10.0,
    margin_asset="ETH",
)  # fmt: skip
NAN = math.nan


def Q(ts, bid, ask, size=5.0, symbol=LIN_SYM):
    return QuoteEvent(ts, bid, size, ask, size, symbol, ts)


def T(ts, price, volume=100.0, symbol=LIN_SYM):
    return TickEvent(ts, price, volume, "buy", None, symbol, ts)


def D(ts, mark, rate=NAN, nxt=None, fts=None, symbol=LIN_SYM):
    """A derivative event: a mark (and rate, next funding), or a settlement (``fts``)."""
    return DerivativeEvent(ts, mark, NAN, rate, nxt, symbol, ts, "", fts)


class Perp(bt.Strategy):
    """Runs ``actions[n](self)`` at the n-th event; records notifications, funding, probes."""

    params = (("actions", {}),)

    def start(self):
        self.n = 0
        self.log = []
        self.funding = []
        self.seen = []  # (event number, cash, value) after each event
        self.closed = []

    def on_event(self, ev):
        self.n += 1
        action = self.p.actions.get(self.n)
        if action:
            action(self)
        self.seen.append((self.n, self.broker.getcash(), self.broker.getvalue()))

    def notify_order(self, order):
        self.log.append(
            (
                order.getstatusname(),
                order.executed.price,
                order.executed.size,
                bool(order.info.get("liquidation")),
            )
        )

    def notify_trade(self, trade):
        if trade.isclosed:
            self.closed.append((trade.pnl, trade.pnlcomm))

    def notify_funding(self, data, rate, payment, mark):
        self.funding.append((data._name, rate, payment, mark))


def run_perp(
    actions,
    *,
    quotes=(),
    ticks=(),
    derivs=(),
    inst=LINEAR,
    cash=1000.0,
    leverage=10.0,
    maker=0.0002,
    taker=0.0005,
    **broker_kw,
):
    c = btch.Cerebro(stdstats=False)
    c.setbroker(btch.TickBroker(**broker_kw))
    c.broker.setcash(cash)
    ci = btch.PerpetualCommInfo(inst, leverage=leverage, maker=maker, taker=taker)
    c.broker.addcommissioninfo(ci, name=inst.symbol)
    if quotes:
        c.add_channel("quote", symbol=inst.symbol, dataname=list(quotes))
    if ticks:
        c.add_channel("tick", symbol=inst.symbol, dataname=list(ticks))
    if derivs:
        c.add_channel("derivative", symbol=inst.symbol, dataname=list(derivs))
    c.addstrategy(Perp, actions=actions)
    strat = c.run(mode=btch.RunMode.TICK)[0]
    return c, strat


def cents(x):
    return pytest.approx(x, abs=0.005)


def snap(store):
    """An action keeping (cash, value, perp position) at that event."""
    return lambda s: store.append(
        (s.broker.getcash(), s.broker.getvalue(), s.broker.perp_position(s.data))
    )


# ---- linear ------------------------------------------------------------------------------------
def test_linear_long_fee_equity_funding_and_liquidation_by_hand():
    probes = []
    c, s = run_perp(
        {1: lambda s: s.buy(size=2), 3: snap(probes), 4: snap(probes)},
        quotes=[Q(1, 1999, 2000), Q(2, 1999, 2000), Q(20, 1509, 1511)],
        derivs=[D(3, 2050, 0.0001, 8), D(9, 2050), D(21, 1510), D(22, 1505)],
    )
    assert s.log[:3] == [
        ("Submitted", 0.0, 0, False),
        ("Accepted", 0.0, 0, False),
        ("Completed", 2000.0, 2, False),
    ]
    # bought 2 at 2000, taker 0.05%: 4000 x 0.0005 = 2.00 of fee
    cash, value, pos = probes[0]  # at the mark 2050
    assert cash == cents(998.00)
    assert value == cents(998.00 + 2 * 50)  # 1098.00: unrealized at the mark
    assert pos.size == 2
    assert pos.entry_price == 2000
    assert pos.leverage == 10
    assert pos.unrealized_pnl == cents(100.00)
    assert pos.initial_margin == cents(410.00)  # 2 x 2050 / 10
    assert pos.maintenance_margin == cents(16.40)  # 4100 x 0.4%
    # (998 - 4000) / (2 x 0.004 - 2)
    assert pos.liquidation_price == pytest.approx(1507.0281, abs=1e-4)
    # funding at 8 (passed at 9): 2 x 2050 x 0.01% = 0.41 paid
    assert s.funding == [(LIN_SYM, 0.0001, pytest.approx(0.41), 2050)]
    cash, value, _ = probes[1]
    assert cash == cents(997.59)
    assert c.last_run["funding"][LIN_SYM] == {"paid": pytest.approx(0.41), "count": 1, "ignored": 0}
    # mark 1510: equity 997.59 - 980 = 17.59 > 2 x 1510 x 0.4% = 12.08: no liquidation
    # mark 1505: equity 7.59 <= 12.04: closed at the bankruptcy price 2000 - 997.59 / 2
    assert s.log[-1] == ("Completed", pytest.approx(1501.205), -2, True)
    [liq] = c.last_run["liquidations"]
    assert liq["ts"] == 22
    assert liq["price"] == pytest.approx(1501.205)
    assert liq["wallet_after"] == 0.0
    assert c.broker.getcash() == 0.0
    assert c.broker.getvalue() == cents(0.0)
    assert c.broker.getposition(c.datas[0]).size == 0
    assert s.closed == [(pytest.approx(-997.59), pytest.approx(-999.59))]  # pnl, after the fee
    assert c.last_run["mark_source"] == {LIN_SYM: "derivative"}


def test_linear_short_receives_funding_and_is_liquidated_at_bankruptcy_by_hand():
    probes = []
    c, s = run_perp(
        {1: lambda s: s.sell(size=2), 3: snap(probes)},
        quotes=[Q(1, 1999, 2000), Q(2, 1999, 2000)],
        derivs=[D(3, 2050, 0.0001, 8), D(8, 2050, 0.0001, fts=8), D(30, 2480), D(31, 2490)],
    )
    # sold 2 at the bid 1999: fee 3998 x 0.0005 = 1.999
    cash, value, pos = probes[0]
    assert cash == pytest.approx(998.001)
    assert value == cents(998.001 - 2 * 51)  # 896.00 at the mark 2050
    assert pos.unrealized_pnl == cents(-102.00)
    # the settlement at 8: a short receives 2 x 2050 x 0.01% = 0.41
    assert s.funding == [(LIN_SYM, 0.0001, pytest.approx(-0.41), 2050)]
    # 2480: equity 998.411 - 962 = 36.41 > 19.84; 2490: 16.41 <= 19.92: liquidated at
    # 1999 + 998.411 / 2 = 2498.2055
    [liq] = c.last_run["liquidations"]
    assert liq["ts"] == 31
    assert liq["mark"] == 2490
    assert liq["price"] == pytest.approx(2498.2055)
    assert liq["wallet_before"] == pytest.approx(998.411)
    assert c.broker.getcash() == 0.0
    assert s.log[-1] == ("Completed", pytest.approx(2498.2055), 2, True)


def test_margin_refusal_above_the_available_balance():
    c, s = run_perp(
        {1: lambda s: s.buy(size=6), 2: lambda s: s.buy(size=4.9)},
        quotes=[Q(1, 1999, 2000), Q(2, 1999, 2000), Q(3, 1999, 2000)],
    )
    # 6 x 2000 / 10 = 1200 of initial margin > 1000 available: Margin at submission
    assert [e[0] for e in s.log[:2]] == ["Submitted", "Margin"]
    # 4.9 x 2000 / 10 = 980 fits: filled, fee 9800 x 0.0005 = 4.90
    assert s.log[-1] == ("Completed", pytest.approx(2000.0), 4.9, False)
    assert c.broker.getcash() == cents(995.10)
    # no derivative channel: marked to the book's mid 1999.5 (and said so)
    assert c.broker.getvalue() == cents(995.10 - 4.9 * 0.5)
    assert c.last_run["mark_source"] == {LIN_SYM: "book mid"}


def test_open_orders_take_margin_too():
    _c, s = run_perp(
        {1: lambda s: s.buy(size=3, price=1900, exectype=bt.Order.Limit),
         2: lambda s: s.buy(size=3, price=1900, exectype=bt.Order.Limit)},
        quotes=[Q(1, 1999, 2000), Q(2, 1999, 2000), Q(3, 1999, 2000)],
    )  # fmt: skip
    # the first rests with 3 x 1900 / 10 = 570 of margin; the second needs 570 > 430
    statuses = [e[0] for e in s.log]
    assert statuses == ["Submitted", "Accepted", "Submitted", "Margin"]


def test_leverage_above_the_bracket_or_the_instrument_is_refused():
    with pytest.raises(ValueError, match="at most 50x"):
        btch.PerpetualCommInfo(LINEAR, leverage=51)
    # 30x is allowed below 50,000 of notional (50x), not above (25x)
    _c, s = run_perp(
        {1: lambda s: s.buy(size=30), 2: lambda s: s.buy(size=20)},
        quotes=[Q(1, 1999, 2000), Q(2, 1999, 2000), Q(3, 1999, 2000)],
        cash=10_000.0,
        leverage=30,
    )
    assert [e[0] for e in s.log[:2]] == ["Submitted", "Margin"]  # 60,000 of notional
    assert s.log[-1] == ("Completed", 2000.0, 20, False)  # 40,000


def test_marked_to_the_last_trade_without_book_or_derivative():
    c, _s = run_perp(
        {1: lambda s: s.buy(size=1)},
        ticks=[T(1, 2000), T(2, 2000), T(3, 2100)],
        taker=0.0,
    )
    assert c.broker.getvalue() == cents(1100.00)
    assert c.last_run["mark_source"] == {LIN_SYM: "last trade"}
    assert c.last_run["funding"][LIN_SYM]["count"] == 0


def test_a_funding_time_is_settled_once():
    c, _s = run_perp(
        {1: lambda s: s.buy(size=1)},
        quotes=[Q(1, 1999, 2000), Q(2, 1999, 2000), Q(9, 1999, 2000)],
        derivs=[
            D(3, 2000, 0.0002, 8),
            D(8, 2000, 0.0001, fts=8),  # the settlement: at its own rate
            D(8, 2000, 0.0001, fts=8),  # the same time again: ignored
            D(10, 2000, 0.0003, 16),  # passes 8 (settled): nothing more
        ],
        taker=0.0,
    )
    assert c.last_run["funding"][LIN_SYM] == {"paid": pytest.approx(0.2), "count": 1, "ignored": 1}
    assert c.broker.getcash() == cents(999.80)


# ---- inverse -----------------------------------------------------------------------------------
def test_inverse_long_pnl_and_funding_in_the_coin_by_hand():
    probes = []
    s_ = INV_SYM
    c, s = run_perp(
        {1: lambda s: s.buy(size=100), 3: snap(probes)},
        quotes=[Q(1, 1999, 2000, 500, s_), Q(2, 1999, 2000, 500, s_)],
        derivs=[D(3, 2500, 0.0001, 8, symbol=s_), D(9, 2500, symbol=s_)],
        inst=INVERSE,
        cash=1.0,
    )
    # 100 contracts of 10 USD at 2000: 0.5 ETH of notional, fee 0.5 x 0.0005 = 0.00025 ETH
    cash, value, pos = probes[0]
    assert cash == pytest.approx(0.99975)
    # unrealized at 2500: 1000 x (1/2000 - 1/2500) = 0.1 ETH
    assert pos.unrealized_pnl == pytest.approx(0.1)
    assert value == pytest.approx(1.09975)
    assert pos.initial_margin == pytest.approx(0.04)  # 1000 / 2500 / 10
    # funding: 1000 / 2500 x 0.01% = 0.00004 ETH paid
    assert s.funding == [(s_, 0.0001, pytest.approx(0.00004), 2500)]
    assert c.broker.getcash() == pytest.approx(0.99971)


def test_inverse_short_liquidation_at_bankruptcy_by_hand():
    s_ = INV_SYM
    c, _s = run_perp(
        {1: lambda s: s.sell(size=1000)},
        quotes=[Q(1, 2000, 2001, 5000, s_), Q(2, 2000, 2001, 5000, s_)],
        derivs=[D(3, 2000, symbol=s_), D(4, 2480, symbol=s_), D(5, 2490, symbol=s_)],
        inst=INVERSE,
        cash=1.0,
    )
    # short 10,000 USD at 2000: 5 ETH of notional, fee 0.0025 ETH, wallet 0.9975
    # 2480: equity 0.9975 - 5 + 10000/2480 = 0.02976 > 0.01613 (maintenance): kept
    # 2490: 0.01356 <= 0.01606: closed at 1 / (1/2000 - 0.9975/10000) = 2498.4385
    [liq] = c.last_run["liquidations"]
    assert liq["ts"] == 5
    assert liq["wallet_before"] == pytest.approx(0.9975)
    assert liq["price"] == pytest.approx(1 / (1 / 2000 - 0.9975 / 10000))
    assert liq["price"] == pytest.approx(2498.4385, abs=1e-4)
    assert c.broker.getcash() == 0.0


def test_analyzers_see_funding_through_the_value():
    c = btch.Cerebro(stdstats=False)
    c.broker.setcash(1000.0)
    c.broker.addcommissioninfo(btch.PerpetualCommInfo(LINEAR, leverage=10), name=LIN_SYM)
    c.add_channel("tick", symbol=LIN_SYM, dataname=[T(1, 2000), T(2, 2000)])
    c.add_channel(
        "derivative",
        symbol=LIN_SYM,
        dataname=[D(3, 2000, 0.0001, 8), D(2_000_000_000, 2000)],
    )
    c.addstrategy(Perp, actions={1: lambda s: s.buy(size=2)})
    c.addanalyzer(bt.analyzers.TimeReturn, timeframe=bt.TimeFrame.NoTimeFrame, _name="tr")
    s = c.run(mode=btch.RunMode.TICK)[0]
    # no fee, the mark at the entry: the only change is 2 x 2000 x 0.01% = 0.40 of funding
    assert c.broker.getvalue() == cents(999.60)
    [ret] = s.analyzers.tr.get_analysis().values()
    assert ret == pytest.approx(-0.0004)


def test_one_wallet_one_margin_asset():
    c = btch.Cerebro(stdstats=False)
    c.broker.addcommissioninfo(btch.PerpetualCommInfo(LINEAR), name=LIN_SYM)
    c.broker.addcommissioninfo(btch.PerpetualCommInfo(INVERSE), name=INV_SYM)
    c.add_channel("tick", symbol=LIN_SYM, dataname=[T(1, 2000)])
    c.addstrategy(Perp)
    with pytest.raises(ValueError, match="cannot share one wallet"):
        c.run(mode=btch.RunMode.TICK)


def test_cross_margin_liquidation_closes_every_position_by_hand():
    btc = btch.Instrument(
        "BTC/USDT:USDT", "linear", (btch.Bracket(0, 50_000, 50, 0.004),), margin_asset="USDT"
    )
    b = btc.symbol
    c = btch.Cerebro(stdstats=False)
    c.broker.setcash(1000.0)
    c.broker.addcommissioninfo(btch.PerpetualCommInfo(LINEAR, leverage=10), name=LIN_SYM)
    c.broker.addcommissioninfo(btch.PerpetualCommInfo(btc, leverage=10), name=b)
    c.add_channel("tick", symbol=LIN_SYM, dataname=[T(1, 2000), T(3, 2000)])
    c.add_channel("tick", symbol=b, dataname=[T(1, 40_000, symbol=b), T(3, 40_000, symbol=b)])
    c.add_channel("derivative", symbol=LIN_SYM, dataname=[D(5, 1520), D(6, 1510)])
    c.add_channel("derivative", symbol=b, dataname=[D(4, 40_000, symbol=b)])

    def enter(s):
        s.buy(data=LIN_SYM, size=2)
        s.sell(data=b, size=0.1)

    c.addstrategy(Perp, actions={2: enter})
    s = c.run(mode=btch.RunMode.TICK)[0]
    # ETH 1520: equity 1000 - 960 = 40 > 12.16 + 16 = 28.16 of maintenance: kept
    # ETH 1510: 20 <= 28.08: ETH (the smaller maintenance margin) closes at the mark 1510
    # (wallet 20), BTC at its bankruptcy price 40,000 + 20 / 0.1 = 40,200 (wallet 0)
    liqs = c.last_run["liquidations"]
    assert [(x["symbol"], x["price"]) for x in liqs] == [
        (LIN_SYM, 1510),
        (b, pytest.approx(40_200.0)),
    ]
    assert liqs[0]["wallet_after"] == cents(20.0)
    assert c.broker.getcash() == 0.0
    assert [e[3] for e in s.log if e[0] == "Completed"] == [False, False, True, True]


def test_a_run_without_derivative_channel_says_how_it_marks_once(caplog):
    with caplog.at_level("WARNING", logger="backtrader_channels"):
        c, _s = run_perp(
            {1: lambda s: s.buy(size=1)},
            quotes=[Q(ts, 1999, 2000) for ts in range(1, 6)],
            ticks=[T(ts, 2000) for ts in range(1, 6)],
        )
    said = [r.getMessage() for r in caplog.records if LIN_SYM in r.getMessage()]
    assert said == [f"{LIN_SYM}: no derivative channel: marked to the book mid (no funding)"]
    assert c.last_run["mark_source"] == {LIN_SYM: "book mid"}


def test_leverage_and_liquidation_distance_after_an_order_by_hand():
    from backtrader_channels.execution.risk import RiskLimits, perp_rule

    seen = []

    def probe(s):
        perp = s.broker.perp
        data = s.datas[0]
        seen.append((perp.after_order(data, 0.0, None), perp.after_order(data, 2.0, None)))

    run_perp(
        {1: lambda s: s.buy(size=2), 3: probe},
        quotes=[Q(1, 1999, 2000), Q(2, 1999, 2000), Q(20, 1509, 1511)],
        derivs=[D(3, 2050, 0.0001, 8)],
    )
    (now, more) = seen[0]
    # 2 ETH at the mark 2050 over the equity 998 + 100: 4100 / 1098
    assert now[0] == pytest.approx(4100 / 1098)
    # liquidated at 1507.03: a (2050 - 1507.03) / 2050 move away
    assert now[1] == pytest.approx((2050 - 1507.0281) / 2050, abs=1e-6)
    # two more at the mark: 4 x 2050 / 1098, liquidated at (998 - 8100) / (4 x 0.004 - 4)
    assert more[0] == pytest.approx(8200 / 1098)
    liq = (998 - 8100) / (4 * 0.004 - 4)
    assert more[1] == pytest.approx((2050 - liq) / 2050, abs=1e-6)
    limits = RiskLimits(max_leverage=5, min_liquidation_distance=0.1)
    assert perp_rule(limits, LIN_SYM, *now) is None
    assert perp_rule(limits, LIN_SYM, *more).startswith("max_leverage: ")
    assert perp_rule(RiskLimits(min_liquidation_distance=0.3), LIN_SYM, *now).startswith(
        "min_liquidation_distance: "
    )
