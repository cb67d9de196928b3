"""Boundary cases: for every threshold and date a policy tests, the enterprise at it, just
below, just above and unknown, with the result the check gives each.

The cases start from a base profile — the editor's sample, or when none is given an enterprise
that meets the conditions (:func:`policies.satisfy.witness`), so each case shows what moving
one fact does — and change one fact: a number by one step (1 for a count, 0.01 for an amount
or a rate), a date by a day. ``years_since_founded`` is also moved through ``founded_on``: the
anniversary day (which counts as the full year) and the day before it. The policy's validity
is tested the same way, on its first and last days and the days outside them.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from policies.conditions import Atom, atoms_of, evaluate
from policies.evaluator import Policy, Resolver, check_policy, shown_value
from policies.facts import Facts, fact_json
from policies.fields import NUMERIC, Dictionary
from policies.satisfy import shift, witness
from policies.trial import STATES

MAX_CASES = 200
_THRESHOLD_OPS = ("lt", "le", "gt", "ge", "between", "eq", "ne")
_SIDES = (("below", -1), ("at", 0), ("above", 1))


def base_profile(policy: Policy, sample: Facts, dictionary: Dictionary) -> Facts:
    """The sample when one is given, else an enterprise meeting the conditions (or none)."""
    if sample or policy.conditions is None:
        return dict(sample)
    return dict(witness(policy.conditions, dictionary).facts or {})


def _anniversary(day: dt.date, years: int) -> dt.date | None:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February: the anniversary falls on 28 February
        try:
            return dt.date(day.year - years, 2, 28)
        except ValueError:
            return None
    except OverflowError:
        return None


def boundary_cases(policy: Policy, base: Facts, day: dt.date, dictionary: Dictionary,
                   declined: frozenset[str] = frozenset()) -> list[dict]:
    """Every case, in the order of the atoms, then the validity dates."""
    out: list[dict] = []
    seen: set[tuple] = set()

    def result(facts: Facts, on: dt.date, atom: Atom | None) -> tuple[str, str | None]:
        resolve = Resolver(facts, on, dictionary, declined)
        state = STATES[evaluate(atom, resolve).value] if atom is not None else None
        return check_policy(policy, resolve).status, state

    def add(atom: Atom | None, name: str, case: str, value: Any, facts: Facts,
            on: dt.date = day, note: str = "") -> None:
        key = (name, case, repr(value), id(atom) if atom else None)
        if key in seen or len(out) >= MAX_CASES:
            return
        seen.add(key)
        f = dictionary.fields.get(name)
        status, state = result(facts, on, atom)
        out.append({"field": name, "label": f.label if f else "核对日期", "case": case,
                    "value": fact_json(value),
                    "shown": "（未知）" if value is None else shown_value(value, f.unit if f
                                                                         else ""),
                    "condition": (atom.describe(dictionary) + (f"（{note}）" if note else "")
                                  if atom else note),
                    "atom": state, "expected": status})

    for atom in atoms_of(policy.conditions) if policy.conditions is not None else ():
        f = dictionary[atom.field]
        if atom.op not in _THRESHOLD_OPS or (f.type not in NUMERIC and f.type != "date"):
            continue
        thresholds = list(atom.value) if atom.op == "between" else [atom.value]
        for threshold in thresholds:
            for case, times in _SIDES:
                value = shift(f, threshold, times)
                if value is not None:
                    add(atom, atom.field, case, value, {**base, atom.field: value})
            if atom.field == "years_since_founded":
                _by_founding(atom, int(threshold), base, day, add)
        unknown = {k: v for k, v in base.items()
                   if k != atom.field and k not in f.derived_from}
        add(atom, atom.field, "unknown", None, unknown)
    _validity(policy, base, day, add)
    return out


def _by_founding(atom: Atom, years: int, base: Facts, day: dt.date, add: Any) -> None:
    founded = _anniversary(day, years)
    if founded is None:
        return
    without = {k: v for k, v in base.items() if k != "years_since_founded"}
    add(atom, "founded_on", "at", founded, {**without, "founded_on": founded},
        note=f"成立满{years}年当天")
    later = founded + dt.timedelta(days=1)
    add(atom, "founded_on", "below", later, {**without, "founded_on": later},
        note=f"差一天满{years}年")


def _validity(policy: Policy, base: Facts, day: dt.date, add: Any) -> None:
    for bound, word in ((policy.valid_from, "施行"), (policy.valid_to, "截止")):
        if bound is None:
            continue
        for case, days in _SIDES:
            try:
                on = bound + dt.timedelta(days=days)
            except OverflowError:
                continue
            add(None, "date", case, on, base, on=on, note=f"核对日期在{word}日{bound.isoformat()}"
                f"{'前一天' if days < 0 else '后一天' if days > 0 else '当天'}")
