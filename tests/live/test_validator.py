"""LiveDataValidator's clock rules: one far-future stamp is rejected without blocking what
follows; a consistently skewed venue clock is fine; a stream's clock that really moved is
followed after ``rebase_after`` rejections."""

from backtrader_channels import TickEvent
from backtrader_channels.live.validator import LiveDataValidator

S = 1_000_000_000
NOW = 1_700_000_000 * S


def tick(ts, recv):
    return TickEvent(ts, 100.0, 1.0, "buy", None, "X", recv)


def accepted(v, events):
    return [e[0] for e in events if v.validate(e)]


def test_one_far_future_stamp_is_rejected_and_the_stream_goes_on():
    v = LiveDataValidator()
    evs = [tick(NOW + i * S, NOW + i * S) for i in range(10)]
    evs.insert(5, tick(NOW + 86_400 * S, NOW + 5 * S))  # a day ahead of its receive time
    assert accepted(v, evs) == [NOW + i * S for i in range(10)]
    assert v.report()["tick:X"]["implausible_time"] == 1
    assert "out_of_order" not in v.report()["tick:X"]


def test_a_skewed_venue_clock_is_consistent_and_accepted():
    v = LiveDataValidator()
    day = 86_400 * S
    evs = [tick(NOW - day + i * S, NOW + i * S) for i in range(50)]  # a replay of yesterday
    assert len(accepted(v, evs)) == 50
    assert v.report() == {}


def test_after_a_bad_first_stamp_the_stream_recovers():
    v = LiveDataValidator(rebase_after=100)
    first = tick(NOW + 86_400 * S, NOW)  # the first event is the odd one: no reference yet
    evs = [first] + [tick(NOW + i * S, NOW + i * S) for i in range(1, 201)]
    got = accepted(v, evs)
    assert got[0] == first[0]
    assert got[1:] == [NOW + i * S for i in range(100, 201)]
    report = v.report()["tick:X"]
    assert report["out_of_order"] == 99
    assert report["clock_rebased"] == 1
