"""sliding_means gives backtrader's Average values bit for bit (any finite doubles)."""

import math
from array import array

from hypothesis import given, settings
from hypothesis import strategies as st

from backtrader_channels.lines.exact_mean import sliding_means

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
prices = st.floats(min_value=1e-8, max_value=1e7, allow_nan=False)


def fsum_means(src, period, start, end):
    return [math.fsum(src[i - period + 1 : i + 1]) / period for i in range(start, end)]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(finite, prices), min_size=1, max_size=60), st.integers(1, 25))
def test_equals_fsum_over_every_window(values, period):
    src = array("d", values)
    start = period - 1
    got = sliding_means(src, period, start, len(src))
    if start >= len(src):
        assert got is None
        return
    if got is None:  # values near the float limit: left to backtrader
        assert max(abs(v) for v in values) >= 2.0**1000
        return
    want = fsum_means(src, period, start, len(src))
    # bit for bit (NaN cannot occur: finite inputs; an overflowing window sum gives inf in both)
    assert [x.hex() for x in got] == [x.hex() for x in want]


def test_non_finite_windows_are_left_to_backtrader():
    src = array("d", [1.0, float("nan"), 3.0, 4.0])
    assert sliding_means(src, 2, 1, 4) is None
    assert sliding_means(src, 2, 3, 4) == [3.5]  # the window [3.0, 4.0] is clean
