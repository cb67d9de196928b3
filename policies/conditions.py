"""Condition trees and their three-valued evaluation.

A condition is ``{"all": [...]}``, ``{"any": [...]}``, ``{"not": {...}}``,
``{"at_least": {"k": 2, "of": [...]}}`` or an atom ``{"field", "op", "value"}`` (optional
``clause``, and the sentences ``text`` / ``met`` / ``not_met`` / ``unknown``). An atom on a fact
not given is *unknown* (None), never false: ``all`` is false if any part is false, else unknown
if any part is; ``any`` the dual; ``not`` keeps unknown; ``at_least`` decides as soon as the
count allows. An :class:`Outcome` carries why: the atoms that failed, or the base facts whose
values would decide it.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from policies.facts import FactError, Interval, normalise_code, parse_value
from policies.fields import NUMERIC, Dictionary, Field
from xiaobao.errors import XiaobaoError

OPS = ("eq", "ne", "in", "not_in", "lt", "le", "gt", "ge", "between", "is_true", "is_false",
       "has_prefix")
_WORDS = {"eq": "为", "ne": "不为", "in": "属于", "not_in": "不属于", "lt": "低于", "le": "不超过",
          "gt": "超过", "ge": "不低于", "between": "在", "is_true": "是", "is_false": "不是",
          "has_prefix": "属于"}
_ORDER_OPS = {"lt", "le", "gt", "ge"}


class ConditionError(XiaobaoError, ValueError):
    """A condition that cannot be evaluated: every problem as (path, reason)."""

    status = 422
    code = "invalid_condition"

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{p}: {r}" for p, r in problems))
        self.problems = problems


@dataclass(frozen=True)
class Atom:
    field: str
    op: str
    value: Any = None
    clause: str = ""
    text: str = ""
    met_text: str = ""
    not_met_text: str = ""
    unknown_text: str = ""

    def describe(self, dictionary: Dictionary) -> str:
        """The atom in one Chinese sentence: 从业人数不超过300人."""
        if self.text:
            return self.text
        f = dictionary.fields.get(self.field)
        label, unit = (f.label, f.unit) if f else (self.field, "")
        if self.op == "is_true":
            return label
        if self.op == "is_false":
            return f"非{label}"
        if self.op == "between":
            low, high = self.value
            return f"{label}在{_show(low)}{unit}至{_show(high)}{unit}之间"
        if self.op in ("in", "not_in", "has_prefix"):
            return f"{label}{_WORDS[self.op]}{'、'.join(_show(v) for v in self.value)}"
        return f"{label}{_WORDS[self.op]}{_show(self.value)}{unit}"


def _show(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass
class Outcome:
    value: bool | None
    failed: list[Atom] = field(default_factory=list)  # why it is false
    met: list[Atom] = field(default_factory=list)  # why it is true
    unknown: list[str] = field(default_factory=list)  # base facts that would decide it

    def __post_init__(self) -> None:
        self.unknown = list(dict.fromkeys(self.unknown))


# What the evaluation asks of the facts: a field's value (None when unknown) and, when unknown,
# the base facts that would make it known (for a derived field, its missing inputs).
Resolve = Callable[[str], tuple[Any, list[str]]]


# --- checking a tree ------------------------------------------------------------------------------

def parse_condition(raw: Any, dictionary: Dictionary, path: str = "conditions") -> Any:
    """The tree with its atoms as :class:`Atom` (values typed by their fields); ConditionError
    listing every problem."""
    problems: list[tuple[str, str]] = []
    tree = _parse(raw, dictionary, path, problems)
    if problems:
        raise ConditionError(problems)
    return tree


def _parse(raw: Any, dictionary: Dictionary, path: str, problems: list) -> Any:
    if not isinstance(raw, dict) or not raw:
        problems.append((path, "应为条件对象 / must be a condition object"))
        return None
    if "field" in raw:
        return _parse_atom(raw, dictionary, path, problems)
    if len(raw) != 1:
        problems.append((path, "组合条件只能有一个键 all/any/not/at_least / one key only"))
        return None
    [(key, body)] = raw.items()
    if key in ("all", "any"):
        if not isinstance(body, list) or not body:
            problems.append((f"{path}.{key}", "应为非空列表 / must be a non-empty list"))
            return None
        return {key: [_parse(p, dictionary, f"{path}.{key}[{i}]", problems)
                      for i, p in enumerate(body)]}
    if key == "not":
        return {"not": _parse(body, dictionary, f"{path}.not", problems)}
    if key == "at_least":
        k = body.get("k") if isinstance(body, dict) else None
        parts = body.get("of") if isinstance(body, dict) else None
        if not isinstance(parts, list) or not parts or not isinstance(k, int) \
                or isinstance(k, bool) or not 1 <= k <= len(parts):
            problems.append((f"{path}.at_least", "需要 k（1 到 of 的项数）和非空的 of / "
                                                 "needs k in 1..len(of) and a non-empty of"))
            return None
        return {"at_least": {"k": k, "of": [_parse(p, dictionary, f"{path}.at_least.of[{i}]",
                                                   problems) for i, p in enumerate(parts)]}}
    problems.append((path, f"未知的组合 {str(key)[:20]} / unknown combinator"))
    return None


def _parse_atom(raw: dict, dictionary: Dictionary, path: str, problems: list) -> Atom | None:
    name, op = raw.get("field"), raw.get("op")
    if not isinstance(name, str) or name not in dictionary:
        problems.append((f"{path}.field", f"未知字段 {str(name)[:40]} / unknown field"))
        return None
    if op not in OPS:
        problems.append((f"{path}.op", f"未知运算 {str(op)[:20]} / unknown op"))
        return None
    f = dictionary[name]
    try:
        value = _typed_value(f, op, raw.get("value"))
    except (FactError, ValueError) as exc:
        problems.append((f"{path}.value", getattr(exc, "message", str(exc))))
        return None
    return Atom(name, op, value, str(raw.get("clause") or ""), str(raw.get("text") or ""),
                str(raw.get("met") or ""), str(raw.get("not_met") or ""),
                str(raw.get("unknown") or ""))


def _typed_value(f: Field, op: str, value: Any) -> Any:
    if op in ("is_true", "is_false"):
        if f.type != "boolean":
            raise ValueError(f"{op} 只用于是/否字段 / only for boolean fields")
        return None
    if op in _ORDER_OPS and f.type not in NUMERIC | {"date"}:
        raise ValueError(f"{op} 只用于数值或日期字段 / only for numbers and dates")
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise ValueError("between 需要 [下限, 上限] / needs [low, high]")
        low, high = (_scalar(f, v) for v in value)
        if low > high:
            raise ValueError("between 的下限大于上限 / low above high")
        return (low, high)
    if op in ("in", "not_in", "has_prefix"):
        if not isinstance(value, list) or not value:
            raise ValueError(f"{op} 需要非空列表 / needs a non-empty list")
        if op == "has_prefix":
            if f.type != "code":
                raise ValueError("has_prefix 只用于行业代码 / only for industry codes")
            return tuple(normalise_code(v) for v in value)
        return tuple(_scalar(f, v) for v in value)
    return _scalar(f, value)


def _scalar(f: Field, value: Any) -> Any:
    if isinstance(value, (dict, list)):
        raise ValueError("应为单个值 / must be a single value")
    return parse_value(f, value)


# --- evaluating -----------------------------------------------------------------------------------

def evaluate(tree: Any, resolve: Resolve) -> Outcome:
    """The tree's value on the facts ``resolve`` gives, with its reasons."""
    value, failed, met, unknown = _outcome(tree, resolve)
    return Outcome(value, failed=failed, met=met, unknown=unknown)


# (value, failed, met, unknown): the inner nodes' outcomes as plain tuples (the check walks
# every node of every policy; an Outcome per node, deduplicated each time, was half its cost).
_Reasons = tuple[bool | None, list[Atom], list[Atom], list[str]]


def _outcome(tree: Any, resolve: Resolve) -> _Reasons:
    if isinstance(tree, Atom):
        value, missing = resolve(tree.field)
        result = None if value is None else compare(tree, value)
        if result is None:  # unknown, or a band that straddles the threshold
            return None, [], [], missing or [tree.field]
        return (True, [], [tree], []) if result else (False, [tree], [], [])
    [(key, body)] = tree.items()
    if key == "not":
        value, failed, met, unknown = _outcome(body, resolve)
        if value is None:
            return None, [], [], unknown
        return not value, met, failed, []
    parts = body["of"] if key == "at_least" else body
    need = len(parts) if key == "all" else 1 if key == "any" else body["k"]
    outcomes = [_outcome(p, resolve) for p in parts]
    true = sum(o[0] is True for o in outcomes)
    unknown_count = sum(o[0] is None for o in outcomes)
    if true >= need:
        return True, [], [a for o in outcomes if o[0] is True for a in o[2]], []
    if true + unknown_count < need:
        return False, [a for o in outcomes if o[0] is False for a in o[1]], [], []
    return None, [], [], [u for o in outcomes if o[0] is None for u in o[3]]


def value_of(tree: Any, resolve: Resolve) -> bool | None:
    """The tree's value alone, without its reasons, short-circuiting (:func:`evaluate` gives
    the same value). One evaluation: a caller evaluating one tree many times compiles it once
    with :func:`compile_value`."""
    return compile_value(tree)(resolve)


ValueFn = Callable[[Resolve], "bool | None"]


def compile_value(tree: Any) -> ValueFn:
    """The tree's three-valued value as one closure per node, built once per policy: the
    planner evaluates every waiting policy on each answer it tries, and walking the dicts
    again each time was most of a question's cost. Same values as :func:`evaluate`
    (tests/policies)."""
    if isinstance(tree, Atom):
        atom, name = tree, tree.field

        def atom_value(resolve: Resolve) -> bool | None:
            value = resolve(name)[0]
            return None if value is None else compare(atom, value)
        return atom_value
    [(key, body)] = tree.items()
    if key == "not":
        inner = compile_value(body)

        def negated(resolve: Resolve) -> bool | None:
            value = inner(resolve)
            return None if value is None else not value
        return negated
    parts = tuple(compile_value(p) for p in (body["of"] if key == "at_least" else body))
    if key in ("all", "any"):
        decisive = key == "any"  # any: one true part decides; all: one false part

        def first_decides(resolve: Resolve) -> bool | None:
            unknown = False
            for part in parts:
                value = part(resolve)
                if value is decisive:
                    return decisive
                if value is None:
                    unknown = True
            return None if unknown else not decisive
        return first_decides
    need, count = body["k"], len(parts)

    def at_least(resolve: Resolve) -> bool | None:
        true = unknown = 0
        for i, part in enumerate(parts):
            value = part(resolve)
            if value is True:
                true += 1
                if true >= need:
                    return True
            elif value is None:
                unknown += 1
            if true + unknown + (count - i - 1) < need:
                return False
        return None
    return at_least


def compare(atom: Atom, value: Any) -> bool | None:
    """The atom on a known value (None: a band that does not decide it)."""
    op, target = atom.op, atom.value
    if op == "is_true":
        return value is True
    if op == "is_false":
        return value is False
    if isinstance(value, Interval):
        return _compare_interval(op, target, value)
    if op == "has_prefix":
        return any(str(value).startswith(p) for p in target)
    if op == "between":
        return target[0] <= value <= target[1]
    if op in ("in", "not_in"):
        return (value in target) == (op == "in")
    if isinstance(value, dt.date) != isinstance(target, dt.date):
        return None
    return {"eq": value == target, "ne": value != target, "lt": value < target,
            "le": value <= target, "gt": value > target, "ge": value >= target}[op]


def _compare_interval(op: str, target: Any, value: Interval) -> bool | None:
    if op == "ge":
        return value.above(target, inclusive=True)
    if op == "gt":
        return value.above(target, inclusive=False)
    if op == "le":
        return value.below(target, inclusive=True)
    if op == "lt":
        return value.below(target, inclusive=False)
    if op == "between":
        low, high = value.above(target[0], inclusive=True), value.below(target[1],
                                                                         inclusive=True)
        if low is False or high is False:
            return False
        return True if low and high else None
    if op in ("eq", "ne", "in", "not_in"):
        points = [target] if op in ("eq", "ne") else list(target)
        inside = [p for p in points if value.above(p, inclusive=False) is not True
                  and value.below(p, inclusive=False) is not True]
        if not inside:
            return op in ("ne", "not_in")
        return None
    return None


def atoms_of(tree: Any) -> list[Atom]:
    """Every atom of the tree, in order."""
    if isinstance(tree, Atom):
        return [tree]
    [(key, body)] = tree.items()
    if key == "not":
        return atoms_of(body)
    return [a for part in (body["of"] if key == "at_least" else body) for a in atoms_of(part)]


def fields_of(tree: Any) -> set[str]:
    """Every field the tree tests."""
    return {a.field for a in atoms_of(tree)}
