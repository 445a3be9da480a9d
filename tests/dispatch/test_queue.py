"""BacktestEventQueue: property tests of the k-way merge, plus pushed events."""

from hypothesis import given, settings
from hypothesis import strategies as st

from backtrader_channels import Event
from backtrader_channels.dispatch.queue import BacktestEventQueue, chunk_events

# a source: (priority, sorted timestamps, chunk size)
source_st = st.tuples(
    st.sampled_from([20, 25, 30]),
    st.lists(st.integers(0, 40), max_size=60).map(sorted),
    st.integers(1, 7),
)


def build(sources):
    q = BacktestEventQueue()
    for idx, (prio, stamps, size) in enumerate(sources):
        evs = [Event(t, prio, "c", str(idx), (idx, seq)) for seq, t in enumerate(stamps)]
        q.add_source(chunk_events(evs, f"s{idx}", size), prio, f"s{idx}")
    return q


@settings(max_examples=300, deadline=None)
@given(st.lists(source_st, max_size=6))
def test_merge_is_sorted_stable_and_complete(sources):
    out = list(build(sources))
    keys = [(e.timestamp, e.priority, e.data[0], e.data[1]) for e in out]
    assert keys == sorted(keys)  # ordered by (timestamp, priority, source, sequence)
    expected = sorted(
        (t, p, i, s) for i, (p, stamps, _) in enumerate(sources) for s, t in enumerate(stamps)
    )
    assert keys == expected  # nothing lost, nothing duplicated


@settings(max_examples=100, deadline=None)
@given(st.lists(source_st, max_size=4), st.lists(st.integers(0, 40), max_size=10))
def test_pushed_events_merge_in_order(sources, pushes):
    q = build(sources)
    pending = sorted(pushes)
    pushed = []
    out = []
    for ev in q:
        out.append(ev)
        # push each pending event once the consumer reaches its time
        while pending and pending[0] >= ev.timestamp and len(out) % 3 == 0:
            pushed.append(pending.pop(0))
            q.push(Event(pushed[-1], 50, "timer", "t"))
    assert len(out) == sum(len(s[1]) for s in sources) + len(pushed)
    # the whole stream, timers included, is ordered by (timestamp, priority), and every timer
    # pushed during the iteration came out exactly once
    keys = [(e.timestamp, e.priority) for e in out]
    assert keys == sorted(keys)
    assert sorted(e.timestamp for e in out if e.channel_type == "timer") == sorted(pushed)


def test_deterministic_runs():
    srcs = [(30, [1, 1, 2, 5], 2), (20, [1, 2, 2, 9], 3), (30, [0, 1, 5, 5], 1)]
    assert [e.data for e in build(srcs)] == [e.data for e in build(srcs)]


def test_runs_are_long_for_a_single_source():
    q = build([(30, list(range(1000)), 250)])
    runs = [(end - start) for _, start, end in q.runs()]
    assert runs == [250, 250, 250, 250]


def test_source_going_back_in_time_is_an_error():
    import pytest

    from backtrader_channels import DataError

    evs = [Event(t, 30, "c", "x") for t in (1, 3, 2)]
    q = BacktestEventQueue()
    q.add_source(chunk_events(evs, "mine"), 30, "mine")
    with pytest.raises(
        DataError, match="mine, row 2, column 'timestamp': timestamp goes backwards"
    ):
        list(q)
