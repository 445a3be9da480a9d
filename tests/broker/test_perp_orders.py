"""Order flags of the tick broker: reduce_only, post_only, ioc, fok, gtc (on perpetual and
spot data alike), and the refusal of an unknown time in force."""

from __future__ import annotations

import backtrader as bt
import pytest

from .test_perp_accounts import Q, T, run_perp

LIMIT = bt.Order.Limit


def statuses(s):
    return [e[0] for e in s.log]


def test_reduce_only_without_a_position_is_rejected():
    c, s = run_perp({1: lambda s: s.buy(size=1, reduce_only=True)}, quotes=[Q(1, 99, 100)] * 3)
    assert statuses(s) == ["Submitted", "Rejected"]
    assert c.broker.getposition(c.datas[0]).size == 0


def test_reduce_only_reduces_and_refuses_to_flip():
    c, s = run_perp(
        {
            1: lambda s: s.buy(size=2),
            2: lambda s: s.sell(size=3, reduce_only=True),  # would flip: rejected
            3: lambda s: s.sell(size=1, reduce_only=True),
        },
        quotes=[Q(ts, 99, 100) for ts in range(1, 6)],
    )
    assert statuses(s) == [
        "Submitted", "Accepted", "Completed", "Submitted", "Rejected",
        "Submitted", "Accepted", "Completed",
    ]  # fmt: skip
    assert c.broker.getposition(c.datas[0]).size == 1


def test_reduce_only_is_cut_to_the_position_at_its_fill():
    # two reduce-only sells of 2 against a long of 3: the second fills 1 when it fills, and
    # the rest is cancelled
    c, s = run_perp(
        {
            1: lambda s: s.buy(size=3),
            2: lambda s: [s.sell(size=2, reduce_only=True), s.sell(size=2, reduce_only=True)],
        },
        quotes=[Q(ts, 99, 100) for ts in range(1, 6)],
    )
    assert c.broker.getposition(c.datas[0]).size == 0
    assert [e[:3] for e in s.log if e[2]] == [
        ("Completed", 100, 3), ("Completed", 99, -2), ("Partial", 99, -1), ("Canceled", 99, -1),
    ]  # fmt: skip


def test_post_only_is_rejected_when_it_would_take():
    _c, s = run_perp(
        {
            1: lambda s: s.buy(size=1, price=100, exectype=LIMIT, tif="post_only"),
            2: lambda s: s.buy(size=1, price=98, exectype=LIMIT, tif="post_only"),
            3: lambda s: s.buy(size=1, tif="post_only"),  # a market order: always takes
        },
        quotes=[Q(ts, 99, 100) for ts in range(1, 6)],
    )
    assert statuses(s) == [
        "Submitted", "Accepted", "Rejected",  # at the ask
        "Submitted", "Accepted",  # rests at 98
        "Submitted", "Accepted", "Rejected",
    ]  # fmt: skip


def test_ioc_expires_what_its_first_event_does_not_fill():
    _c, s = run_perp(
        {
            1: lambda s: s.buy(size=1, price=98, exectype=LIMIT, tif="ioc"),
            3: lambda s: s.buy(size=1, tif="ioc"),
        },
        quotes=[Q(ts, 99, 100) for ts in range(1, 6)],
    )
    assert statuses(s) == ["Submitted", "Accepted", "Expired", "Submitted", "Accepted", "Completed"]


def test_ioc_and_fok_with_partial_fills():
    # 10 wanted, 5 shown: ioc takes 5 and expires, fok takes nothing and expires
    c, s = run_perp(
        {1: lambda s: s.buy(size=10, tif="ioc"), 3: lambda s: s.buy(size=10, tif="fok")},
        quotes=[Q(ts, 99, 100) for ts in range(1, 6)],
        partial_fills=True,
        cash=100_000.0,
    )
    assert statuses(s) == [
        "Submitted", "Accepted", "Partial", "Expired", "Submitted", "Accepted", "Expired",
    ]  # fmt: skip
    assert c.broker.getposition(c.datas[0]).size == 5


def test_gtc_is_the_default_and_an_unknown_tif_names_the_allowed_ones():
    _c, s = run_perp(
        {1: lambda s: s.buy(size=1, price=98, exectype=LIMIT, tif="gtc")},
        ticks=[T(1, 99), T(2, 99), T(3, 97)],
    )
    assert statuses(s) == ["Submitted", "Accepted", "Completed"]
    with pytest.raises(ValueError, match="tif='day': must be one of 'gtc', 'ioc', 'fok'"):
        run_perp({1: lambda s: s.buy(size=1, tif="day")}, quotes=[Q(1, 99, 100)] * 2)


def test_flags_work_on_spot_data_too():
    import backtrader_channels as btch

    from .test_perp_accounts import Perp

    c = btch.Cerebro(stdstats=False)
    c.broker.setcash(1000.0)
    c.add_channel("quote", symbol="X", dataname=[Q(ts, 99, 100, symbol="X") for ts in (1, 2, 3)])
    c.addstrategy(Perp, actions={1: lambda s: s.sell(size=1, reduce_only=True)})
    s = c.run(mode=btch.RunMode.TICK)[0]
    assert statuses(s) == ["Submitted", "Rejected"]
    assert "funding" not in c.last_run  # a spot run reports no perpetuals
