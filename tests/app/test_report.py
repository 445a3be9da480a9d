"""The run report's annualised Sharpe: hand-computed, and refused on too few returns."""

import math

import pytest

from backtrader_channels.app.report import MINUTES_PER_YEAR, annualized_sharpe


def test_hand_computed_sharpe():
    returns = [0.001, -0.0005, 0.002, 0.0] * 10  # 40 one-minute returns
    mean = 0.000625
    var = sum((r - mean) ** 2 for r in returns) / 39
    value, why = annualized_sharpe(returns, MINUTES_PER_YEAR)
    assert why == ""
    assert value == pytest.approx(mean / math.sqrt(var) * math.sqrt(525_600))


def test_too_few_or_flat_returns_give_no_number():
    assert annualized_sharpe([0.01] * 5, MINUTES_PER_YEAR) == (
        None,
        "5 one-period returns, needs 30",
    )
    assert annualized_sharpe([0.0] * 40, MINUTES_PER_YEAR) == (None, "returns do not vary")
