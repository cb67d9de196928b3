"""A condition tree over columns: the three-valued evaluation of :mod:`policies.conditions`,
one numpy operation per atom and combinator over every enterprise at once.

Values are int8: 1 true, 0 false, -1 unknown (Kleene). An atom on a text, choice, code or
boolean field is decided once per distinct value, then looked up by code: by
:func:`policies.conditions.compare` itself for a short list of values, by compare's string
rules as arrays for a long one (industry codes); numbers (with their bands) and dates are
compared as arrays by the rules of ``compare`` and ``Interval``. tests/policies/test_batch.py
holds every one of them to the evaluator.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from policies.columns import (
    BatchError,
    CategoryColumn,
    Column,
    DateColumn,
    NumberColumn,
    above,
    column_or_empty,
)
from policies.conditions import Atom, compare
from policies.fields import Dictionary

TRUE, FALSE, UNKNOWN = np.int8(1), np.int8(0), np.int8(-1)
# Kleene logic in arithmetic and bitwise operations on the int8 values: numpy does those at
# memory speed, while a where() or a table look-up on a random mask is tens of times slower.


def not3(x: np.ndarray) -> np.ndarray:
    """1 ↔ 0, -1 stays: x XOR (x ≠ -1)."""
    return x ^ (x != UNKNOWN).view(np.int8)


class Evaluator:
    """Trees over one view of the table (:meth:`policies.columns.ProfileTable.view`); an atom
    shared by several policies (the same field, op and value) is computed once."""

    def __init__(self, view: dict[str, Column], n: int, dictionary: Dictionary) -> None:
        self.view, self.n, self.dictionary = view, n, dictionary
        self.cache: dict[tuple, np.ndarray] = {}

    def value(self, tree: Any) -> np.ndarray:
        if isinstance(tree, Atom):
            key = (tree.field, tree.op, tree.value)
            if key not in self.cache:
                self.cache[key] = self.atom(tree)
            return self.cache[key]
        [(key, body)] = tree.items()
        if key == "not":
            return not3(self.value(body))
        parts = [self.value(p) for p in (body["of"] if key == "at_least" else body)]
        if key == "all":
            return _all(parts)
        if key == "any":
            return _any(parts)
        return _at_least(parts, body["k"])

    def atom(self, atom: Atom) -> np.ndarray:
        kind = self.dictionary[atom.field].type
        col = column_or_empty(self.view, atom.field, kind, self.n)
        if isinstance(col, CategoryColumn):
            return _category(atom, col)
        if isinstance(col, DateColumn):
            return _date(atom, col)
        return _number(atom, col)


def _all(parts: list[np.ndarray]) -> np.ndarray:
    """False if any part is, else unknown if any part is, else true: the least of the parts,
    made 0 where their product is (some part false)."""
    if len(parts) == 1:
        return parts[0]
    low, product = np.minimum(parts[0], parts[1]), parts[0] * parts[1]
    for p in parts[2:]:
        np.minimum(low, p, out=low)
        np.multiply(product, p, out=product)
    return low * (product * product)


def _any(parts: list[np.ndarray]) -> np.ndarray:
    """True if any part is, else unknown if any part is, else false: the greatest part where
    it is true, the least elsewhere."""
    if len(parts) == 1:
        return parts[0]
    low, high = np.minimum(parts[0], parts[1]), np.maximum(parts[0], parts[1])
    for p in parts[2:]:
        np.minimum(low, p, out=low)
        np.maximum(high, p, out=high)
    return low + (high == TRUE).view(np.int8) * (TRUE - low)


def _at_least(parts: list[np.ndarray], k: int) -> np.ndarray:
    """True once k parts are, false once fewer than k can be: 2·(true ≥ k) − (true + unknown
    ≥ k)."""
    if k == len(parts):
        return _all(parts)
    if k == 1:
        return _any(parts)
    true = np.zeros(parts[0].shape, np.int8)
    open_ = np.zeros(parts[0].shape, np.int8)
    for p in parts:
        true += p == TRUE
        open_ += p == UNKNOWN
    return (true >= k).view(np.int8) * np.int8(2) - (true + open_ >= k).view(np.int8)


def _category(atom: Atom, col: CategoryColumn) -> np.ndarray:
    """The atom once per distinct value, then looked up by code."""
    op, target = atom.op, atom.value
    if len(col.vocab) <= 64 or not isinstance(col.vocab[0], str):
        decided = [compare(atom, v) for v in col.vocab]
        table = np.array([-1 if d is None else int(d) for d in decided] + [-1], np.int8)
    else:  # many distinct strings (industry codes): compare's string rules as arrays
        words = col.words
        if op == "has_prefix":
            hit = np.zeros(len(words), bool)
            for prefix in target:
                hit |= np.char.startswith(words, prefix)
        elif op in ("eq", "ne", "in", "not_in"):
            hit = np.isin(words, np.array([target] if op in ("eq", "ne") else list(target),
                                          dtype=str))
            hit = ~hit if op in ("ne", "not_in") else hit
        elif op == "between":
            hit = (words >= target[0]) & (words <= target[1])
        else:
            raise BatchError(f"运算 {op} 不适用于该字段。 / op {op} does not apply to this field.")
        table = np.append(hit.astype(np.int8), UNKNOWN)
    return table[col.codes]  # code -1 (unknown) reads the last entry


def _decided(col: NumberColumn | DateColumn, result: np.ndarray) -> np.ndarray:
    """A comparison's 0/1 where known, -1 where not."""
    return result.view(np.int8) | col.unknown8


def _date(atom: Atom, col: DateColumn) -> np.ndarray:
    op, target = atom.op, atom.value
    x = col.values
    if op in ("in", "not_in"):
        inside = np.isin(x, [t.toordinal() for t in target])
        return _decided(col, inside if op == "in" else ~inside)
    if op == "between":
        return _decided(col, (x >= target[0].toordinal()) & (x <= target[1].toordinal()))
    return _decided(col, _ordered(op, x, target.toordinal()))


def _ordered(op: str, x: np.ndarray, t: Any) -> np.ndarray:
    if op == "eq":
        return x == t
    if op == "ne":
        return x != t
    if op == "lt":
        return x < t
    if op == "le":
        return x <= t
    if op == "gt":
        return x > t
    if op == "ge":
        return x >= t
    raise BatchError(f"运算 {op} 不适用于该字段。 / op {op} does not apply to this field.")


def _number(atom: Atom, col: NumberColumn) -> np.ndarray:
    op, target = atom.op, atom.value
    x = col.values
    if op in ("in", "not_in"):
        inside = np.isin(x, np.array(target, np.float64))
        exact = inside if op == "in" else ~inside
    elif op == "between":
        exact = (x >= target[0]) & (x <= target[1])
    else:
        exact = _ordered(op, x, target)
    result = _decided(col, exact)
    if not col.has_bands:
        return result
    at = np.flatnonzero(col.band & col.known)
    result[at] = _band(op, target, col, at)
    return result


def _band(op: str, target: Any, col: NumberColumn, at: np.ndarray) -> np.ndarray:
    """conditions._compare_interval on the bands at ``at``."""
    if op == "ge":
        return above(col, at, target, True)
    if op == "gt":
        return above(col, at, target, False)
    if op == "le":
        return not3(above(col, at, target, False))
    if op == "lt":
        return not3(above(col, at, target, True))
    if op == "between":
        low = above(col, at, target[0], True)
        high = not3(above(col, at, target[1], False))
        return _all([low, high])  # false if either end is, true if both are
    if op in ("eq", "ne", "in", "not_in"):
        points = [target] if op in ("eq", "ne") else list(target)
        inside = np.zeros(at.size, bool)
        for p in points:
            inside |= (above(col, at, p, False) != TRUE) & (above(col, at, p, True) != FALSE)
        outside = TRUE if op in ("ne", "not_in") else FALSE
        return (~inside).view(np.int8) * outside - inside.view(np.int8)  # a point inside: -1
    return np.full(at.size, UNKNOWN, np.int8)
