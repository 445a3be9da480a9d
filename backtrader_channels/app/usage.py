"""What the command line shares: usage errors, loading a user's strategy, ``--param`` values."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import sys
from typing import Any


class UsageError(ValueError):
    """A bad command-line argument (exit code 2)."""


def load_strategy(spec: str) -> Any:
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


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """``["period=20", "name=x"]`` -> ``{"period": 20, "name": "x"}``."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--param {item!r}: use key=value")
        try:
            out[key] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            out[key] = raw
    return out
