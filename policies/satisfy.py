"""Can a condition tree hold at all? A search for an enterprise that meets it.

The truth of a tree depends only on where each field's value lies among the values its atoms
name (thresholds, listed values, code prefixes), so a few representative values per field —
each named value, just below and just above it, a point between two of them, every choice, yes
and no — stand for every possible value. :func:`witness` assigns them field by field and
evaluates the tree three-valued after each step (an unassigned field is unknown), dropping a
branch as soon as the tree is false: a tree no assignment makes true can never hold. The search
is bounded (:data:`BUDGET` steps); past it the answer is "not known" rather than a guess.

The derived fields (``years_since_founded``, ``scale``) are taken as given facts here, as an
enterprise may give them; their inputs are not tied to them.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from policies.conditions import Atom, atoms_of, compile_value
from policies.fields import NUMERIC, Dictionary, Field

BUDGET = 4000  # evaluations of the tree before the search gives up
MAX_ATOMS = 200  # a larger tree is not searched (its answer: not known)
CODE_LETTERS = "ABCDEFGHIJKLMNOPQRST"  # GB/T 4754's sections
OTHER_TEXT = "（其他）"  # a text value no atom names


@dataclass(frozen=True)
class Search:
    # A profile meeting the tree (only the facts that decide it: the rest may be anything), or
    # None.
    facts: dict[str, Any] | None
    exhaustive: bool  # True: the answer is certain (None facts: the tree can never hold)


def step(f: Field) -> Any:
    """The smallest change of a value that a person would call "just above": 1 for a count,
    0.01 for an amount or a rate, a day for a date."""
    if f.type == "date":
        return dt.timedelta(days=1)
    return 1 if f.type == "integer" else 0.01


def shift(f: Field, value: Any, times: int) -> Any:
    """``value`` moved by ``times`` steps; None when that leaves the calendar."""
    try:
        moved = value + step(f) * times
    except OverflowError:
        return None
    return round(moved, 6) if f.type == "number" else moved


def named_values(atom: Atom) -> list[Any]:
    """The values an atom compares with."""
    if atom.op in ("is_true", "is_false"):
        return []
    if isinstance(atom.value, tuple):
        return list(atom.value)
    return [atom.value]


def candidates(f: Field, named: list[Any]) -> list[Any]:
    """Values of ``f`` that between them meet every combination of its atoms that any value
    meets (the representatives described above)."""
    if f.type == "boolean":
        return [True, False]
    if f.type == "choice" and f.choices:
        return list(f.choices)
    if f.type in NUMERIC or f.type == "date":
        points = sorted(set(named))
        out = set(points)
        for value in points:
            out |= {v for v in (shift(f, value, -1), shift(f, value, 1)) if v is not None}
        for low, high in zip(points, points[1:], strict=False):
            middle = _between(f, low, high)
            if middle is not None:
                out.add(middle)
        return sorted(out) or ([0] if f.type in NUMERIC else [dt.date(2000, 1, 1)])
    if f.type == "code":
        out_codes = {str(v) for v in named}
        for value in list(out_codes):
            if len(value) < 5:
                out_codes |= {value + d for d in "0123456789"}
        out_codes |= set(CODE_LETTERS) | {letter + "0" for letter in CODE_LETTERS}
        return sorted(out_codes)
    return sorted({str(v) for v in named}) + [OTHER_TEXT]


def _between(f: Field, low: Any, high: Any) -> Any:
    if f.type == "date":
        days = (high - low).days
        return low + dt.timedelta(days=days // 2) if days > 1 else None
    if f.type == "integer":
        return low + 1 if high - low > 1 else None
    return low / 2 + high / 2  # no overflow at the ends of the floats


def witness(tree: Any, dictionary: Dictionary, budget: int = BUDGET) -> Search:
    """A profile meeting ``tree``, or None when none can (or the search gave up)."""
    atoms = atoms_of(tree)
    if len(atoms) > MAX_ATOMS:
        return Search(None, False)
    named: dict[str, list[Any]] = {}
    for atom in atoms:
        named.setdefault(atom.field, []).extend(named_values(atom))
    # Most-tested fields first: the tree is decided (or refuted) sooner.
    order = sorted(named, key=lambda name: (-sum(a.field == name for a in atoms), name))
    values = {name: candidates(dictionary[name], named[name]) for name in order}
    facts: dict[str, Any] = {}
    left = [budget]
    tree_value = compile_value(tree)  # the search evaluates it up to ``budget`` times

    def resolve(name: str) -> tuple[Any, list[str]]:
        return facts.get(name), []

    def search(depth: int) -> bool | None:  # True found, False none, None out of budget
        if left[0] <= 0:
            return None
        left[0] -= 1
        verdict = tree_value(resolve)
        if verdict is not None or depth == len(order):
            return verdict is True
        name = order[depth]
        ran_out = False
        for value in values[name]:
            facts[name] = value
            found = search(depth + 1)
            if found:
                return True
            ran_out = ran_out or found is None
            del facts[name]
        return None if ran_out else False

    found = search(0)
    if not found:
        return Search(None, found is False)
    return Search(dict(facts), True)
