"""The check: one enterprise's facts against a set of policies on a date.

Each policy is ``eligible``, ``possible`` (with the base facts still needed), ``ineligible``
(with the conditions that failed, in words, with their clauses) or ``not_in_force`` on that
date (never eligible, never possible). Derived fields (``years_since_founded``, ``scale``) are
computed when not given and stay unknown while an input they need is unknown; a fact the user
declined (不知道 / 跳过) stays unknown.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from policies import scale
from policies.conditions import (
    Atom,
    Outcome,
    Resolve,
    compile_value,
    evaluate,
    fields_of,
    parse_condition,
)
from policies.facts import Facts, Interval, parse_date
from policies.fields import Dictionary, default_dictionary


@dataclass(frozen=True)
class Policy:
    """What the check needs of a policy item (the store keeps the rest)."""

    id: str
    title: str = ""
    conditions: Any = None  # a parsed tree (policies.conditions), None: no condition
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None  # inclusive; None: no end
    mode: str = ""
    benefit: str = ""
    unmodelled: tuple[str, ...] = ()
    # The base facts its conditions depend on (a derived field's inputs in its place).
    needs: frozenset[str] = frozenset()
    # value_of(conditions) compiled once (policies.conditions.compile_value); built on first
    # use when the policy was made without it.
    compiled: Callable[[Resolve], bool | None] | None = field(
        default=None, compare=False, repr=False)

    def value(self, resolve: Resolve) -> bool | None:
        """The conditions' value alone (True when there are none), as value_of gives it."""
        if self.conditions is None:
            return True
        if self.compiled is None:
            object.__setattr__(self, "compiled", compile_value(self.conditions))
        assert self.compiled is not None
        return self.compiled(resolve)

    def __getstate__(self) -> dict:
        # The closures do not pickle (the batch sends policies to its workers): rebuilt there.
        return {**self.__dict__, "compiled": None}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    def in_force(self, day: dt.date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to)


def policy_from_dict(raw: dict, dictionary: Dictionary | None = None) -> Policy:
    """A policy from its stored or imported form (``conditions`` as the JSON tree)."""
    dictionary = dictionary or default_dictionary()
    conditions = raw.get("conditions")
    tree = parse_condition(conditions, dictionary) if conditions else None
    needs: set[str] = set()
    for name in fields_of(tree) if tree is not None else ():
        needs |= {name, *dictionary[name].derived_from}
    return Policy(
        id=str(raw["id"]), title=str(raw.get("title") or ""), conditions=tree,
        needs=frozenset(needs), compiled=compile_value(tree) if tree is not None else None,
        valid_from=parse_date(raw["valid_from"]) if raw.get("valid_from") else None,
        valid_to=parse_date(raw["valid_to"]) if raw.get("valid_to") else None,
        mode=str(raw.get("mode") or ""), benefit=str(raw.get("benefit") or ""),
        unmodelled=tuple(str(u) for u in raw.get("unmodelled") or ()))


def years_between(start: dt.date, day: dt.date) -> int:
    """Whole years from ``start`` to ``day``; the anniversary counts as a full year (29
    February's is 28 February in other years)."""
    years = day.year - start.year
    try:
        anniversary = start.replace(year=day.year)
    except ValueError:  # 29 February
        anniversary = dt.date(day.year, 2, 28)
    return years if day >= anniversary else years - 1


@dataclass
class Resolver:
    """A field's value for the evaluation: given, derived, or unknown with what is missing."""

    facts: Facts
    day: dt.date
    dictionary: Dictionary
    declined: frozenset[str] = frozenset()
    cache: dict[str, tuple[Any, list[str]]] = field(default_factory=dict)

    def __call__(self, name: str) -> tuple[Any, list[str]]:
        if name not in self.cache:
            self.cache[name] = self._resolve(name)
        return self.cache[name]

    def _resolve(self, name: str) -> tuple[Any, list[str]]:
        if name in self.facts and name not in self.declined:
            return self.facts[name], []
        if name == "years_since_founded":
            founded = self.facts.get("founded_on") if "founded_on" not in self.declined else None
            if founded is None:
                return None, ["founded_on"]
            return years_between(founded, self.day), []
        if name == "scale":
            known = {k: v for k, v in self.facts.items() if k not in self.declined}
            result = scale.classify(known, self.day)
            return result.value, list(result.missing)
        return None, [name]


@dataclass
class PolicyResult:
    id: str
    status: str  # eligible | possible | ineligible | not_in_force
    unknown: list[str] = field(default_factory=list)
    failed: list[Atom] = field(default_factory=list)
    met: list[Atom] = field(default_factory=list)


@dataclass
class CheckResult:
    results: list[PolicyResult]

    def of(self, status: str) -> list[PolicyResult]:
        return [r for r in self.results if r.status == status]

    def to_dict(self) -> dict:
        """The contract of ``xiaobao policy check --json`` (without ``id``/``next_question``)."""
        return {"eligible": [r.id for r in self.of("eligible")],
                "possible": [{"id": r.id, "unknown": r.unknown} for r in self.of("possible")],
                "ineligible": [{"id": r.id, "failed": list(dict.fromkeys(a.field
                                                                       for a in r.failed))}
                               for r in self.of("ineligible")],
                "not_in_force": [r.id for r in self.of("not_in_force")]}


def check_policy(policy: Policy, resolve: Resolver) -> PolicyResult:
    if not policy.in_force(resolve.day):
        return PolicyResult(policy.id, "not_in_force")
    if policy.conditions is None:
        return PolicyResult(policy.id, "eligible")
    outcome: Outcome = evaluate(policy.conditions, resolve)
    if outcome.value is True:
        return PolicyResult(policy.id, "eligible", met=outcome.met)
    if outcome.value is False:
        return PolicyResult(policy.id, "ineligible", failed=outcome.failed)
    declined = [u for u in outcome.unknown if u in resolve.declined]
    return PolicyResult(policy.id, "possible",
                        unknown=[u for u in outcome.unknown if u not in declined] + declined)


def check(policies: list[Policy], facts: Facts, day: dt.date, *,
          declined: set[str] | frozenset[str] = frozenset(),
          dictionary: Dictionary | None = None) -> CheckResult:
    resolve = Resolver(facts, day, dictionary or default_dictionary(), frozenset(declined))
    return CheckResult([check_policy(p, resolve) for p in policies])


def shown_value(value: Any, unit: str = "") -> str:
    """A fact as the explanation quotes it: 320人, 300–1000人, 2020-03-15."""
    if isinstance(value, Interval):
        low = "" if value.low is None else f"{value.low:g}"
        high = "" if value.high is None else f"{value.high:g}"
        return f"{low}–{high}{unit}"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value}{unit}"


def explain_failed(atom: Atom, resolve: Resolver) -> str:
    """Why a condition failed, as the user reads it:
    从业人数不超过300人 —— 您填报 320人（第三条）."""
    dictionary = resolve.dictionary
    said = atom.not_met_text or atom.describe(dictionary)
    value, _ = resolve(atom.field)
    f = dictionary.fields.get(atom.field)
    if value is not None and f is not None:
        given = atom.field in resolve.facts
        said += f" —— {'您填报' if given else '按您填报的信息计算为'} {shown_value(value, f.unit)}"
    return said + (f"（{atom.clause}）" if atom.clause else "")
