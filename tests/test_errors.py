"""Mode strings are checked where they are given: a ValueError naming the parameter and choices."""

import pytest

import backtrader_channels as btch
from backtrader_channels.errors import check_choice
from backtrader_channels.live.queue import LiveEventQueue


def test_check_choice_names_the_parameter_and_the_choices():
    assert check_choice("mode", "a", ("a", "b")) == "a"
    with pytest.raises(ValueError, match=r"mode='c': must be one of 'a', 'b'"):
        check_choice("mode", "c", ("a", "b"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"market_fill": "bok"}, r"market_fill='bok': must be one of 'auto', 'book', 'trade'"),
        ({"limit_fill": "thru"}, r"limit_fill='thru': must be one of 'through', 'touch'"),
    ],
)
def test_tick_broker_refuses_unknown_modes(kwargs, message):
    with pytest.raises(ValueError, match=message):
        btch.TickBroker(**kwargs)


def test_live_queue_refuses_an_unknown_overflow_policy():
    with pytest.raises(ValueError, match=r"overflow='drop_all'"):
        LiveEventQueue(overflow="drop_all")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"format": "csv"}, r"format='csv': must be one of 'native', 'tardis'"),
        ({"on_error": "ignore"}, r"on_error='ignore': must be one of 'raise', 'skip'"),
    ],
)
def test_add_channel_refuses_unknown_modes(kwargs, message):
    cerebro = btch.Cerebro()
    with pytest.raises(btch.ChannelError, match=message):
        cerebro.add_channel("tick", "X", dataname="x.csv", **kwargs)
    assert isinstance(btch.ChannelError("x"), ValueError)


def test_run_mode_is_checked():
    with pytest.raises(ValueError, match="RunMode"):
        btch.Cerebro().run(mode="ticks")


def _package_exceptions() -> list[type[BaseException]]:
    """Every exception class the package defines, in every module that imports here (a
    module needing an optional extra that is not installed is left out)."""
    import importlib
    import inspect
    import pkgutil

    found = []
    for info in pkgutil.walk_packages(btch.__path__, "backtrader_channels."):
        if info.name.endswith("__main__"):
            continue
        try:
            module = importlib.import_module(info.name)
        except ModuleNotFoundError as exc:  # an optional extra (ray, optuna, ...)
            if (exc.name or "").startswith("backtrader_channels"):
                raise
            continue
        found.extend(
            obj
            for _, obj in inspect.getmembers(module, inspect.isclass)
            if issubclass(obj, BaseException) and obj.__module__ == info.name
        )
    return found


def test_every_exception_of_the_package_derives_from_one_base():
    found = _package_exceptions()
    names = {cls.__name__ for cls in found}
    assert {"DataError", "ChannelError", "NotReady", "FeedError", "SweepError"} <= names
    assert {"SmokeError", "UsageError"} <= names
    outside = sorted(
        f"{cls.__module__}.{cls.__name__}"
        for cls in found
        if not issubclass(cls, btch.BacktraderChannelsError)
    )
    assert outside == []


@pytest.mark.parametrize(
    ("name", "builtin"),
    [
        ("backtrader_channels.errors.DataError", ValueError),
        ("backtrader_channels.errors.ChannelError", ValueError),
        ("backtrader_channels.dispatch.hold.NotReady", RuntimeError),
    ],
)
def test_each_keeps_the_builtin_base_it_had(name, builtin):
    import importlib

    module, _, cls = name.rpartition(".")
    error = getattr(importlib.import_module(module), cls)
    assert issubclass(error, builtin)
    assert issubclass(error, btch.BacktraderChannelsError)
