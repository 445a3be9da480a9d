"""A venue is one place: no code outside ``venues/`` and the loopback servers branches on an
exchange id. Every string that names a venue (a registered venue, one of its ccxt ids or one
of Tardis.dev's names for it) is looked for where code branches on it: comparisons, dict
keys, the members of a literal collection, subscripts. Docstrings, call arguments (format
names such as ``format="bybit"``, CLI defaults, dataset fields) and ``Literal[...]`` types
are fine."""

from __future__ import annotations

import ast
import pathlib

import backtrader_channels
from backtrader_channels.sources import registry
from backtrader_channels.venues import PROFILES

ROOT = pathlib.Path(backtrader_channels.__file__).parent
#: where venue knowledge belongs: the venues' modules and the servers that speak a venue
EXEMPT = ("venues", "loopback", "testing")


def _venue_names() -> set[str]:
    names = set(PROFILES)
    for p in PROFILES.values():
        names.update(p.ccxt_ids)
        names.update(p.tardis)
    names.update(registry._TARDIS)
    names.update(registry._CCXT_IDS)
    return names


def _is_literal_type(node: ast.Subscript) -> bool:
    value = node.value
    return (isinstance(value, ast.Name) and value.id == "Literal") or (
        isinstance(value, ast.Attribute) and value.attr == "Literal"
    )


def _branching_strings(tree: ast.AST) -> list[tuple[int, str]]:
    """``(line, value)`` of every string constant in a comparison, a dict key, a literal
    collection or a subscript (a ``Literal[...]`` type aside)."""
    found: list[tuple[int, str]] = []

    def strings(node: ast.AST | None) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append((node.lineno, node.value))
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            for elt in node.elts:
                strings(elt)

    for node in ast.walk(tree):
        for part in _branch_parts(node):
            strings(part)
    return found


def _branch_parts(node: ast.AST) -> list[ast.AST | None]:
    """The parts of ``node`` a branch on a name would put a string in."""
    if isinstance(node, ast.Compare):
        return [node.left, *node.comparators]
    if isinstance(node, ast.Dict):
        return list(node.keys)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return list(node.elts)
    if isinstance(node, ast.Subscript) and not _is_literal_type(node):
        return [node.slice]
    return []


def _in_literal_types(tree: ast.AST) -> set[int]:
    """Lines of ``Literal[...]`` types (their members are names, not branches)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and _is_literal_type(node):
            for sub in ast.walk(node.slice):
                if isinstance(sub, ast.Constant):
                    lines.add(sub.lineno)
    return lines


def test_no_code_outside_venues_branches_on_an_exchange_id():
    names = _venue_names()
    assert {"binance", "bybit", "binanceusdm", "binance-futures", "okx"} <= names
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in EXEMPT:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typed = _in_literal_types(tree)
        for line, value in _branching_strings(tree):
            if value in names and line not in typed:
                offenders.append(f"{rel}:{line}: {value!r}")
    assert offenders == [], "venue ids outside venues/:\n" + "\n".join(offenders)


def test_the_check_finds_what_it_looks_for():
    code = (
        'if ex.id == "bybit": pass\n'
        'PARTS = {"binance": 1}\n'
        'IDS = ("okx", "kraken")\n'
        'x = table["bitmex"]\n'
        'def f(format="bybit"): """about binance"""\n'
        'F = Literal["binance", "bybit"]\n'
    )
    tree = ast.parse(code)
    got = {v for line, v in _branching_strings(tree) if line not in _in_literal_types(tree)}
    assert got == {"bybit", "binance", "okx", "kraken", "bitmex"}


def test_every_venue_format_and_part_is_found_through_the_registries():
    from backtrader_channels.execution.dialects import UnifiedDialect, dialect_for
    from backtrader_channels.live.venue_parts import live_parts

    class Ex:
        def __init__(self, cid):
            self.id = cid

    assert set(registry.format_names()) >= {"native", "tardis", "binance", "binance_ws", "bybit"}
    assert {f.venue for f in registry.file_formats()} == {"binance", "bybit"}
    assert live_parts(Ex("bybit")).book_guard is not None
    assert live_parts(Ex("binance")).book_guard is None
    assert live_parts(Ex("binance")).frame_kind is not None
    assert live_parts(Ex("kraken")).trade_source is None
    assert type(dialect_for(Ex("bybit"))).__name__ == "BybitDialect"
    assert type(dialect_for(Ex("kraken"))) is UnifiedDialect
    loopbacks = {n for n, p in PROFILES.items() if p.loopback is not None}
    assert loopbacks == {"binance", "bybit"}
