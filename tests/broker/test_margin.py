"""Perpetual contracts' margin rules, computed by hand (Binance's formulas: see
``broker/margin.py``), and the properties they must keep for any position."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backtrader_channels.broker.instruments import (
    Bracket,
    Instrument,
    InstrumentError,
    Instruments,
    brackets_from_binance,
    load_instruments,
)
from backtrader_channels.broker.margin import (
    bankruptcy_price,
    funding_payment,
    initial_margin,
    liquidation_price,
    maintenance_margin,
)
from backtrader_channels.errors import DataError

LINEAR = Instrument(
    "ETH/USDT:USDT",
    "linear",
    (Bracket(0, 10_000, 75, 0.005, 0.0), Bracket(10_000, 100_000, 50, 0.01, 50.0)),
    margin_asset="USDT",
)
INVERSE = Instrument(
    "ETH/USD:ETH", "inverse", (Bracket(0, 1e9, 75, 0.005, 0.0),), contract_size=10.0
)


def test_linear_notional_pnl_and_margins_by_hand():
    assert LINEAR.notional(-2, 2500) == 5000
    assert LINEAR.pnl(2, 2000, 2100) == 200  # 2 ETH up 100
    assert LINEAR.pnl(-2, 2000, 2100) == -200
    assert initial_margin(LINEAR, 2, 2500, 10) == 500
    assert maintenance_margin(LINEAR, 2, 2500) == pytest.approx(25.0)  # 5000 x 0.5%
    # 20,000 of notional is in the second tier: 20,000 x 1% - 50
    assert maintenance_margin(LINEAR, 8, 2500) == pytest.approx(150.0)
    assert LINEAR.allowed_leverage(20_000) == 50


def test_inverse_notional_and_pnl_in_the_coin_by_hand():
    # 10 contracts of 10 USD at 2000 USD: 100 USD = 0.05 ETH
    assert INVERSE.notional(10, 2000) == pytest.approx(0.05)
    # long 100 USD from 2000 to 2500: 100/2000 - 100/2500 = 0.01 ETH
    assert INVERSE.pnl(10, 2000, 2500) == pytest.approx(0.01)
    assert INVERSE.pnl(-10, 2000, 2500) == pytest.approx(-0.01)


def test_funding_longs_pay_a_positive_rate_by_hand():
    assert funding_payment(LINEAR, 1, 2000, 0.0001) == pytest.approx(0.2)  # 2000 x 0.01%
    assert funding_payment(LINEAR, -1, 2000, 0.0001) == pytest.approx(-0.2)
    assert funding_payment(LINEAR, 1, 2000, -0.0003) == pytest.approx(-0.6)
    assert funding_payment(INVERSE, 10, 2000, 0.0001) == pytest.approx(0.05 * 0.0001)


def test_liquidation_prices_by_hand():
    # long 1 ETH at 2000 on a 1000 USDT wallet: (1000 - 2000) / (0.005 - 1) = 1005.03
    assert liquidation_price(LINEAR, 1, 2000, 1000) == pytest.approx(1000 / 0.995)
    # short: (1000 + 2000) / (0.005 + 1) = 2985.07
    assert liquidation_price(LINEAR, -1, 2000, 1000) == pytest.approx(3000 / 1.005)
    # inverse long: (10 x 0.005 + 10) x 10 / (0.05 + 10 x 10 / 2000) = 1005
    assert liquidation_price(INVERSE, 10, 2000, 0.05) == pytest.approx(1005.0)
    # an inverse short margined 1:1 is never liquidated
    assert liquidation_price(INVERSE, -10, 2000, 0.05) == float("inf")
    assert liquidation_price(LINEAR, 0, 2000, 1000) is None
    assert bankruptcy_price(LINEAR, 1, 2000, 1000) == pytest.approx(1000)
    assert bankruptcy_price(INVERSE, 10, 2000, 0.05) == pytest.approx(1000)


@given(
    size=st.floats(0.01, 20).flatmap(lambda q: st.sampled_from([q, -q])),
    entry=st.floats(100, 10_000),
    leverage=st.floats(1.5, 50),
)
def test_at_the_liquidation_price_the_margin_balance_is_the_maintenance_margin(
    size, entry, leverage
):
    for inst in (LINEAR, INVERSE):
        wallet = initial_margin(inst, size, entry, leverage)
        price = liquidation_price(inst, size, entry, wallet)
        assert price is not None
        assert price > 0
        if price == float("inf"):
            continue
        balance = wallet + inst.pnl(size, entry, price)
        assert balance == pytest.approx(maintenance_margin(inst, size, price), rel=1e-6, abs=1e-9)
        # the position is liquidated on the losing side of its entry
        assert (price < entry) if size > 0 else (price > entry)


def test_instruments_load_binance_brackets_and_name_what_is_missing(tmp_path):
    rows = [
        {
            "bracket": 1,
            "initialLeverage": 75,
            "notionalCap": 10000,
            "notionalFloor": 0,
            "maintMarginRatio": 0.005,
            "cum": 0.0,
        }
    ]
    assert brackets_from_binance(rows) == (Bracket(0, 10000, 75, 0.005, 0.0),)
    path = tmp_path / "instruments.json"
    path.write_text(json.dumps([{"symbol": "ETH/USDT:USDT", "kind": "linear", "brackets": rows}]))
    known = Instruments.load(path)
    assert known.get("ETH/USDT:USDT").max_leverage == 75
    with pytest.raises(
        InstrumentError, match=r"'BTC/USDT:USDT': its contract rules .* ETH/USDT:USDT"
    ):
        known.get("BTC/USDT:USDT")
    path.write_text(json.dumps([{"symbol": "X", "kind": "linear"}]))
    with pytest.raises(DataError, match=r"instruments\.json: instrument 'X': no 'brackets'"):
        load_instruments(path)
    path.write_text("[{")
    with pytest.raises(DataError, match=r"instruments\.json, line 1: not valid JSON"):
        load_instruments(path)
