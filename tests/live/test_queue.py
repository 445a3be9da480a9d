"""LiveEventQueue against a reference model: any mix of in-order and late batches, keyed or not,
several event types, interleaved pops and both overflow policies."""

import heapq

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtrader_channels import Event, QuoteEvent, TickEvent
from backtrader_channels.live.queue import LiveEventQueue


def make(kind, ts, n):
    if kind == "tick":
        return TickEvent(ts, 1.0, 1.0, "buy", n, "X")
    if kind == "quote":
        return QuoteEvent(ts, 1.0, 1.0, 2.0, 1.0, "X")
    return Event(ts, 40 + n % 3, "custom", f"e{n}")


batch = st.tuples(
    st.sampled_from(["tick", "quote", "event", "mixed"]),
    st.lists(st.integers(0, 30), min_size=1, max_size=8),
    st.booleans(),  # keyed
    st.booleans(),  # sorted
)
step = st.one_of(batch, st.integers(1, 10))  # a push, or a pop of up to n events


@settings(max_examples=300, deadline=None)
@given(
    st.lists(step, max_size=40),
    st.integers(3, 25),
    st.sampled_from(["drop_oldest", "drop_newest"]),
)
def test_queue_matches_a_reference_heap(steps, maxsize, overflow):
    q = LiveEventQueue(maxsize=maxsize, overflow=overflow)
    ref: list = []
    seq = 0
    dropped = 0
    got, want = [], []
    for s in steps:
        if isinstance(s, int):
            got.extend(q.pop_many(s, 0))
            want.extend(heapq.heappop(ref)[3] for _ in range(min(s, len(ref))))
            continue
        kind, stamps, keyed, ordered = s
        if ordered:
            stamps = sorted(stamps)
        kinds = ["tick", "quote"] if kind == "mixed" else [kind]
        evs = [make(kinds[i % len(kinds)], t, seq + i) for i, t in enumerate(stamps)]
        key = ("tick", "X") if keyed and kind == "tick" else None
        q.push_many(evs, key)
        if overflow == "drop_newest":
            room = max(maxsize - len(ref), 0)
            dropped += max(len(evs) - room, 0)
            evs = evs[:room]
        for ev in evs:
            heapq.heappush(ref, (ev[0], int(ev.priority), seq, ev))
            seq += 1
        while len(ref) > maxsize:
            heapq.heappop(ref)
            dropped += 1
        assert len(q) == len(ref)
    got.extend(q.pop_many(1000, 0))
    want.extend(heapq.heappop(ref)[3] for _ in range(len(ref)))
    assert got == want
    assert q.dropped == dropped


def test_a_wrong_channel_key_is_refused():
    q = LiveEventQueue()
    evs = [TickEvent(1, 1.0, 1.0, "buy", 1, "X"), TickEvent(2, 1.0, 1.0, "buy", 2, "Y")]
    with pytest.raises(ValueError, match="tick:Y"):
        q.push_many(evs, ("tick", "X"))
    with pytest.raises(ValueError, match="tick:Y"):
        q.push_many(evs[1:], ("tick", "X"))  # one event: checked once
    assert len(q) == 0


def test_keyed_batches_come_out_whole_and_pushed_lists_are_copied():
    q = LiveEventQueue()
    evs = [TickEvent(t, 1.0, 1.0, "buy", t, "X") for t in range(5)]
    q.push_many(evs, ("tick", "X"))
    evs.clear()  # the caller reuses its list
    ((segment, key),) = q.pop_segments(10, 0)
    assert key == ("tick", "X")
    assert [e.timestamp for e in segment] == [0, 1, 2, 3, 4]
