"""The execution building blocks on their own: state machine, client ids, store, risk, journal."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtrader_channels.execution.ids import MAX_LEN, IdStore, client_order_id
from backtrader_channels.execution.journal import Journal, order_summary, read_journal
from backtrader_channels.execution.risk import KillSwitch, RiskLimits, check_order
from backtrader_channels.execution.states import LiveOrder, OrderState, allowed

S = OrderState


def _order():
    return LiveOrder("btch-x", "BTC/USDT", "buy", "limit", 1.0, 100.0)


def test_the_happy_path_and_its_history():
    o = _order()
    assert o.to(S.SUBMITTING, "local")
    assert o.to(S.OPEN, "ws")
    assert o.add_fill("1", 0.4, 100.0, 0.01, "ws")
    assert o.state is S.PARTIALLY_FILLED
    assert o.add_fill("2", 0.6, 100.0, 0.01, "rest")
    assert o.state is S.FILLED
    assert [h[2] for h in o.history] == [
        "SUBMITTING",
        "OPEN",
        "fill",
        "PARTIALLY_FILLED",
        "fill",
        "FILLED",
    ]
    assert [h[1] for h in o.history][-2:] == ["rest", "rest"]


def test_a_fill_wins_over_a_cancel_and_nothing_goes_back():
    o = _order()
    o.to(S.OPEN, "ws")
    assert o.to(S.CANCELLED, "ws")
    assert not o.to(S.OPEN, "rest")  # a late OPEN is ignored, and recorded
    assert o.history[-1][2] == "ignored OPEN"
    assert o.add_fill("9", 1.0, 100.0, 0.0, "rest")
    assert o.state is S.FILLED
    assert not o.to(S.CANCELLED, "ws")


def test_fills_are_counted_once_whichever_channel_brings_them():
    o = _order()
    assert o.add_fill("7", 0.5, 100.0, 0.01, "ws")
    assert not o.add_fill("7", 0.5, 100.0, 0.01, "rest")
    assert o.filled == 0.5
    assert o.fee == pytest.approx(0.01)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(list(S)).map(lambda s: ("state", s)),
            st.tuples(st.just("fill"), st.integers(0, 5)),
        ),
        max_size=30,
    )
)
def test_any_sequence_of_updates_moves_forward_only(updates):
    o = _order()
    seen = set()
    for kind, value in updates:
        before = o.state
        if kind == "state":
            moved = o.to(value, "ws")
        else:
            moved = o.add_fill(str(value), 0.25, 100.0, 0.0, "ws")
            seen.add(value)
        if o.state is not before:
            assert allowed(before, o.state)
        assert moved or o.state is before or kind == "fill"
    assert o.filled == pytest.approx(0.25 * len(seen))
    if o.filled >= o.amount:
        assert o.state is S.FILLED


def test_client_ids_follow_the_decision_and_the_venue_rules():
    a = client_order_id("Scalper", "BTC/USDT", "buy", 0.001, None, ("tick", "BTC/USDT", 1, 7), 0)
    b = client_order_id("Scalper", "BTC/USDT", "buy", 0.001, None, ("tick", "BTC/USDT", 1, 7), 0)
    c = client_order_id("Scalper", "BTC/USDT", "buy", 0.001, None, ("tick", "BTC/USDT", 1, 7), 1)
    d = client_order_id("Scalper", "BTC/USDT", "buy", 0.001, None, ("tick", "BTC/USDT", 1, 8), 0)
    assert a == b
    assert len({a, c, d}) == 3
    assert len(a) <= MAX_LEN
    assert all(ch.isalnum() or ch in "-_" for ch in a)
    with pytest.raises(ValueError, match="at most 9 characters"):
        client_order_id("S", "X", "buy", 1, None, (), 0, prefix="far-too-long-prefix")


def test_the_store_remembers_ids_across_restarts(tmp_path):
    path = str(tmp_path / "ids")
    store = IdStore(path)
    assert store.claim("c1", "BTC/USDT", "buy", "limit", 1.0, 100.0)
    store.update("c1", "OPEN", "42")
    store.close()
    again = IdStore(path)
    assert not again.claim("c1", "BTC/USDT", "buy", "limit", 1.0, 100.0)
    assert again.get("c1")["exchange_id"] == "42"
    assert [r["client_id"] for r in again.unfinished()] == ["c1"]
    again.update("c1", "FILLED", None)
    assert again.unfinished() == []
    assert again.get("c1")["exchange_id"] == "42"


MARKET = {
    "limits": {"amount": {"min": 0.00001}, "cost": {"min": 10.0}},
    "precision": {"amount": 0.00001, "price": 0.01},
}


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"amount": 0.000001}, "market rule: amount 1e-06 below the minimum 1e-05 of BTC/USDT"),
        ({"amount": 0.000015}, "market rule: amount 1.5e-05 is not a multiple of 1e-05"),
        ({"price": 100.005}, "market rule: price 100.005 is not a multiple of the tick 0.01"),
        ({"amount": 0.0001, "price": 100.0}, "market rule: notional 0.01 below the minimum 10"),
        ({"amount": -1.0}, "amount -1.0 must be a positive number"),
    ],
)
def test_market_rules_name_the_rule_and_the_numbers(kw, message):
    args = {"amount": 1.0, "price": 100.0, **kw}
    why = check_order(MARKET, None, "BTC/USDT", "buy", args["amount"], args["price"], 100.0, 0, 0)
    assert why is not None
    assert why.startswith(message)


def test_risk_limits():
    risk = RiskLimits(max_open_orders=2, max_orders_per_second=2, max_position=1.5)
    ok = check_order(None, risk, "X", "buy", 1.0, 10.0, 10.0, 0.0, 1, now=0.0)
    assert ok is None
    assert check_order(None, risk, "X", "buy", 1.0, 10.0, 10.0, 0.0, 2, now=0.0).startswith(
        "max_open_orders: 2 working, limit 2"
    )
    assert check_order(None, risk, "X", "sell", 1.0, 10.0, 10.0, -1.0, 0, now=0.0).startswith(
        "max_position: X position would be -2, limit 1.5"
    )
    risk.note_sent(0.0)
    risk.note_sent(0.5)
    assert check_order(None, risk, "X", "buy", 1.0, 10.0, 10.0, 0, 0, now=0.9).startswith(
        "max_orders_per_second: 2 sent in the last second"
    )
    assert check_order(None, risk, "X", "buy", 1.0, 10.0, 10.0, 0, 0, now=1.6) is None


def test_the_kill_switch_counts_faults_in_its_window():
    kill = KillSwitch(3, 10.0)
    assert not kill.fault("a", now=0.0)
    assert not kill.fault("b", now=5.0)
    assert not kill.fault("c", now=16.0)  # "a" and "b" are out of the window
    assert not kill.fault("d", now=18.0)
    assert kill.fault("e", now=19.0)
    assert kill.tripped.startswith("kill switch: 3 faults within 10 s (last: c; d; e)")
    assert not kill.fault("f", now=19.5)  # trips once
    with pytest.raises(ValueError, match="kill_after"):
        KillSwitch(0, 1)


def test_the_journal_is_json_lines_and_a_cut_line_is_named(tmp_path):
    path = str(tmp_path / "orders.jsonl")
    journal = Journal(path)
    o = _order()
    o.to(S.SUBMITTING, "local")
    journal.write(o, "submit", "local")
    o.add_fill("1", 1.0, 100.0, 0.1, "ws")
    journal.write(o, "fill", "ws", trade_id="1")
    journal.close()
    lines = read_journal(path)
    assert [line["state"] for line in lines] == ["SUBMITTING", "FILLED"]
    assert order_summary(lines) == {
        "orders": 1,
        "states": {"FILLED": 1},
        "fills": 1,
        "fees": pytest.approx(0.1),
        "corrections": 0,
    }
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"ns": 1})[:-3])
    with pytest.raises(ValueError, match=r"orders.jsonl:3: not a journal line"):
        read_journal(path)


def test_several_venues_route_by_the_instrument_name_and_keep_their_own_limits():
    import backtrader_channels as btch
    from backtrader_channels.execution.broker import _concerns
    from backtrader_channels.execution.dialects import UnifiedDialect, dialect_for
    from backtrader_channels.venues.bybit.orders import BybitDialect

    one = btch.brokers.CCXTBroker(object())
    assert not one.several
    assert one._venue_of("BTC/USDT@binance") == ("", "BTC/USDT")  # one venue: names ignored
    limits = {"binance": RiskLimits(max_position=1.0), "bybit": RiskLimits(max_position=0.1)}
    two = btch.brokers.CCXTBroker({"binance": object(), "bybit": object()}, risk=limits)
    assert two.several
    assert two._venue_of("BTC/USDT@bybit") == ("bybit", "BTC/USDT")
    assert two.risk_for("bybit").max_position == 0.1
    assert two.risk_for("okx") is None
    assert set(two.appliers) == {"binance", "bybit"}
    assert two.appliers["bybit"].protection is not two.protection
    two.appliers["bybit"].protection["private"] = "private stream down (reset)"
    assert two.blocked("BTC/USDT", "binance") is None
    assert two.blocked("BTC/USDT", "bybit") == "protection: private stream down (reset) (bybit)"
    assert not two.trading  # not every venue trades
    assert _concerns("tick:BTC/USDT@bybit", "BTC/USDT", "bybit")
    assert not _concerns("tick:BTC/USDT@bybit", "BTC/USDT", "binance")
    assert _concerns("tick:BTC/USDT", "BTC/USDT", "binance")  # a feed without a venue
    assert not _concerns("tick:ETH/USDT@bybit", "BTC/USDT", None)

    class Ex:
        id = "bybit"

    assert isinstance(dialect_for(Ex()), BybitDialect)
    Ex.id = "kraken"
    assert type(dialect_for(Ex())) is UnifiedDialect


def test_the_venues_news_is_one_typed_record_per_kind_applied_on_its_venue():
    import backtrader_channels as btch
    from backtrader_channels.events import (
        BrokerUpdate,
        Outcome,
        PrivateStream,
        Reconciliation,
        VenueFault,
    )

    two = btch.brokers.CCXTBroker({"binance": object(), "bybit": object()})
    bybit = two.appliers["bybit"]
    two.on_update(BrokerUpdate(1, PrivateStream(False, "reset"), "bybit"))
    assert bybit.protection == {"private": "private stream down (reset)"}
    assert two.appliers["binance"].protection == {}
    two.on_update(BrokerUpdate(2, PrivateStream(True), "bybit"))
    assert bybit.protection == {}
    two.on_update(BrokerUpdate(3, VenueFault("sweep (periodic) failed: timeout"), "bybit"))
    assert bybit.last_fault == "sweep (periodic) failed: timeout"
    two.on_update(BrokerUpdate(4, Outcome("not_found", "btch-nobody"), "bybit"))  # not ours
    snapshot = {"markets": {"BTC/USDT": {"base": "BTC", "quote": "USDT"}},
                "balance": {"total": {"USDT": 500.0, "BTC": 0.0}}}  # fmt: skip
    two.on_update(BrokerUpdate(5, Reconciliation(snapshot, True), "bybit"))
    assert (bybit.cash, bybit.started, two.cash) == (500.0, True, 500.0)
    with pytest.raises(AttributeError):  # records are frozen
        VenueFault("x").what = "y"


def test_a_session_client_keeps_a_false_enable_rate_limit():
    import ccxt.pro as ccxtpro

    from backtrader_channels.execution.venue import own_client

    ex = ccxtpro.binance({"apiKey": "k", "secret": "s", "enableRateLimit": False})
    try:
        clone = own_client(ex)
        assert clone.enableRateLimit is False  # was dropped: a False is not "not set"
        assert clone.apiKey == "k"
    finally:
        import asyncio

        asyncio.run(ex.close())


def test_the_accounts_own_journal_lines_are_not_orders():
    from backtrader_channels.execution.journal import order_summary

    def line(cid, event, state="FILLED"):
        return {"client_id": cid, "event": event, "state": state, "fee": 0.0}

    lines = [
        line("a", "submit", "SUBMITTING"),
        line("a", "fill"),
        line("account", "correction: balances", "NEW"),
        line("account", "funding", "NEW"),
    ]
    summary = order_summary(lines)
    assert summary["orders"] == 1
    assert summary["states"] == {"FILLED": 1}
    assert summary["fills"] == 1
    assert summary["corrections"] == 1
