"""The engines and the retry loop, on plain functions (no Cerebro)."""

from __future__ import annotations

import os

import pytest

from backtrader_channels.parallel import (
    ProcessEngine,
    SequentialEngine,
    SweepError,
    make_engine,
    run_all,
)


def square_plus(payload, item):
    return payload["k"] + item * item


def fail_once(payload, item):
    marker = os.path.join(payload, f"m{item}")
    if item % 2 and not os.path.exists(marker):
        open(marker, "w").close()
        raise ValueError(f"first try of {item}")
    return item


def always_fails(payload, item):
    if item == 3:
        raise ValueError("item 3 never works")
    return item


def dies(payload, item):
    if item == 2:
        os._exit(7)  # the worker process dies mid-task
    return item


@pytest.mark.parametrize("engine", [SequentialEngine(), ProcessEngine(2)], ids=["seq", "proc"])
def test_results_come_back_in_item_order(engine):
    results, failures = run_all(engine, square_plus, {"k": 1}, list(range(10)))
    assert results == [1 + i * i for i in range(10)]
    assert failures == []


@pytest.mark.parametrize("engine", [SequentialEngine(), ProcessEngine(2)], ids=["seq", "proc"])
def test_a_task_that_fails_once_is_retried_and_succeeds(engine, tmp_path):
    results, failures = run_all(engine, fail_once, str(tmp_path), list(range(6)), retries=1)
    assert results == list(range(6))
    assert failures == []
    assert sorted(os.listdir(tmp_path)) == ["m1", "m3", "m5"]  # each odd one failed once


@pytest.mark.parametrize("engine", [SequentialEngine(), ProcessEngine(2)], ids=["seq", "proc"])
def test_a_task_that_always_fails_is_reported_with_its_label(engine):
    labels = [{"n": i} for i in range(5)]
    results, failures = run_all(engine, always_fails, None, list(range(5)), labels, retries=2)
    assert results == [0, 1, 2, None, 4]
    [f] = failures
    assert (f.index, f.label, f.attempts) == (3, {"n": 3}, 3)
    assert f.error.startswith("ValueError: item 3 never works (")
    assert "test_engines.py" in f.error  # where it failed
    err = SweepError(failures, results)
    assert "1 of 5 runs failed" in str(err)
    assert "{'n': 3}" in str(err)


def test_a_dying_worker_fails_its_task_not_the_sweep():
    results, failures = run_all(ProcessEngine(2), dies, None, list(range(5)), retries=1)
    assert [f.index for f in failures] == [2]
    assert "BrokenProcessPool" in failures[0].error or "terminated" in failures[0].error
    assert [r for i, r in enumerate(results) if i != 2] == [0, 1, 3, 4]


def test_unknown_engine_names_the_choices():
    with pytest.raises(ValueError, match=r"engine='spark': must be one of 'local', 'ray'"):
        make_engine("spark")  # type: ignore[arg-type]
    assert isinstance(make_engine("local", jobs=1), SequentialEngine)
    assert make_engine("local", jobs=3).jobs == 3
