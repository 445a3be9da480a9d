"""What the command line shares: usage errors, loading a user's strategy, ``--param`` values."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import sys
import traceback
from typing import Any

from ..btypes import BtStrategyClass
from ..errors import BacktraderChannelsError


class UsageError(BacktraderChannelsError, ValueError):
    """A bad command-line argument (exit code 2)."""


def load_strategy(spec: str) -> BtStrategyClass:
    """``module:Class`` or ``path/to/file.py:Class`` -> the class."""
    if ":" not in spec:
        raise UsageError(f"strategy {spec!r}: use module:Class or path.py:Class")
    where, name = spec.rsplit(":", 1)
    if where.endswith(".py"):
        if not os.path.isfile(where):
            raise UsageError(f"strategy file {where} not found")
        name_ = "btch_user_" + os.path.splitext(os.path.basename(where))[0]
        mod_spec = importlib.util.spec_from_file_location(name_, where)
        if mod_spec is None or mod_spec.loader is None:
            raise UsageError(f"cannot load {where}")
        module = importlib.util.module_from_spec(mod_spec)
        sys.modules[name_] = module  # backtrader registers classes in their module
        mod_spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(where)
        except ImportError as exc:
            raise UsageError(f"cannot import {where}: {exc}") from exc
    if not hasattr(module, name):
        raise UsageError(f"{where} has no {name}")
    return getattr(module, name)


def parse_params(
    items: list[str] | None, strategy: BtStrategyClass | None = None
) -> dict[str, object]:
    """``["period=20", "name=x"]`` -> ``{"period": 20, "name": "x"}``.

    With ``strategy`` (a ``bt.Strategy`` class) every name must be one of its parameters and
    each value is converted to the type of that parameter's default; a bad name or value is a
    :class:`UsageError` naming the parameter."""
    defaults = dict(strategy.params._getitems()) if strategy is not None else None
    out: dict[str, object] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--param {item!r}: use name=value")
        if defaults is None:
            out[key] = _literal(raw)
            continue
        if key not in defaults:
            known = ", ".join(defaults) or "none"
            raise UsageError(  # (a strategy is given: defaults is None only without one)
                f"--param {key}: {strategy.__name__} "  # type: ignore[union-attr]
                f"has no parameter {key!r} (its parameters: {known})"
            )
        out[key] = _convert(key, raw, defaults[key])
    return out


def _literal(raw: str) -> object:
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return raw


_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def _convert(key: str, raw: str, default: object) -> Any:
    """``raw`` as the type of ``default`` (a bool, int, float, str; else a Python literal).

    Untyped: a parameter's value is whatever the user's strategy takes (and the sweep does
    arithmetic on the numbers)."""
    kind = type(default)
    try:
        if kind is bool:
            if raw.strip().lower() in _TRUE:
                return True
            if raw.strip().lower() in _FALSE:
                return False
            raise ValueError(raw)
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
        if kind is str:
            return raw
    except ValueError:
        raise UsageError(_wants(key, raw, default)) from None
    value = _literal(raw)
    if default is not None and not isinstance(value, kind):
        raise UsageError(_wants(key, raw, default))
    return value


def _wants(key: str, raw: str, default: object) -> str:
    name = type(default).__name__
    article = "an" if name[0] in "aeiou" else "a"
    return f"--param {key}={raw}: {key} takes {article} {name} (default {default!r})"


def user_frames(exc: BaseException) -> list[traceback.FrameSummary]:
    """The frames of ``exc``'s traceback in the user's own code: not this package's, not an
    installed library's, not the standard library's."""
    import sysconfig

    import backtrader_channels

    ours = os.path.dirname(os.path.abspath(backtrader_channels.__file__))
    skip = [ours] + [
        os.path.abspath(p)
        for p in {sysconfig.get_path(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
        if p
    ]
    frames = traceback.extract_tb(exc.__traceback__)
    return [
        f
        for f in frames
        if not f.filename.startswith("<")
        and not any(os.path.abspath(f.filename).startswith(s + os.sep) for s in skip)
    ]
