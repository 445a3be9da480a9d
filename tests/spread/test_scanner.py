"""The quote engine and the spread scanner: hand-computed cases and properties."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backtrader_channels.spread import QuoteEngine, SpreadScanner

S = 1_000_000_000


def test_net_spread_by_hand():
    eng = QuoteEngine()
    eng.update("a", 99.0, 1.0, 100.0, 2.0, 1 * S)
    eng.update("b", 100.5, 0.5, 101.0, 1.0, 1 * S)
    sc = SpreadScanner(fees={"a": 0.001, "b": 0.002}, threshold_bps=0.0)
    sig = sc.scan(eng)
    # buy on a at 100 (+0.1%: 100.1), sell on b at 100.5 (-0.2%: 100.299): 19.9 bps of 100
    assert (sig.buy_venue, sig.sell_venue, sig.buy_price, sig.sell_price) == (
        "a",
        "b",
        100.0,
        100.5,
    )
    assert sig.gross_bps == pytest.approx(50.0)
    assert sig.net_bps == pytest.approx(19.9)
    assert sig.size == 0.5


def test_edge_triggered_once_per_crossing():
    eng = QuoteEngine(stale_after_ns=10 * S)
    sc = SpreadScanner(fees=0.0, threshold_bps=10.0)
    eng.update("a", 99.0, 1, 100.0, 1, S)
    eng.update("b", 100.2, 1, 100.3, 1, S)
    assert sc.scan(eng) is not None  # 20 bps
    eng.update("b", 100.3, 1, 100.4, 1, 2 * S)
    assert sc.scan(eng) is None  # still above: no second signal
    eng.update("b", 100.05, 1, 100.1, 1, 3 * S)
    assert sc.scan(eng) is None  # 5 bps: below, re-armed
    eng.update("b", 100.2, 1, 100.3, 1, 4 * S)
    assert sc.scan(eng) is not None


def test_a_stale_venue_is_left_out_until_it_recovers():
    eng = QuoteEngine(stale_after_ns=2 * S)
    sc = SpreadScanner(fees=0.0, threshold_bps=1.0)
    eng.update("a", 99.0, 1, 100.0, 1, 0)
    eng.update("b", 101.0, 1, 102.0, 1, 0)
    assert sc.scan(eng) is not None
    eng.update("a", 99.0, 1, 100.0, 1, 3 * S)  # b silent for 3 s
    assert eng.stale("b")
    assert sc.scan(eng) is None
    assert sc.best is None
    health = eng.health()
    assert health["b"]["stale"]
    assert health["b"]["last_age_s"] == 3.0
    assert not health["a"]["stale"]
    eng.update("b", 101.0, 1, 102.0, 1, 3 * S)
    assert not eng.stale("b")
    assert sc.scan(eng) is not None
    assert eng.health()["b"]["went_stale"] == 1
    assert eng.health()["b"]["longest_gap_s"] == 3.0


def test_messages_per_second():
    eng = QuoteEngine()
    for i in range(30):  # 10 a second for 3 s
        eng.update("a", 1.0, 1, 2.0, 1, i * S // 10)
    eng.update("a", 1.0, 1, 2.0, 1, 3 * S)
    h = eng.health()["a"]
    assert h["per_second"] == 10
    assert h["updates"] == 31


prices = st.floats(1.0, 1e6, allow_nan=False)


@given(
    st.lists(st.tuples(prices, st.floats(0.0, 0.05)), min_size=2, max_size=5),
    st.floats(0.0, 0.01),
)
def test_net_is_the_best_pair_and_never_above_gross(quotes, fee):
    eng = QuoteEngine()
    for i, (mid, half) in enumerate(quotes):
        eng.update(f"v{i}", mid * (1 - half), 1, mid * (1 + half), 1, S)
    sc = SpreadScanner(fees=fee, threshold_bps=-math.inf)
    sig = sc.scan(eng)
    assert sig is not None
    assert sig.buy_venue != sig.sell_venue
    assert sig.net_bps <= sig.gross_bps + 1e-9
    best = max(
        (b.bid * (1 - fee) - a.ask * (1 + fee)) / a.ask * 1e4
        for a in eng.quotes.values()
        for b in eng.quotes.values()
        if a is not b
    )
    assert sig.net_bps == pytest.approx(best)
