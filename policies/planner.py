"""The next question worth asking: the unknown fact that decides the most policies.

Only facts some still-possible policy needs are candidates (never a question no possible
policy needs), and never one the user declined. A fact's worth is how many possible policies
would be decided by it on each of its likely answers — estimated by trying the answers
(choices, booleans, each band's middle) and counting the policies that leave ``possible`` —
weighted by how often enterprises give each answer (``priors``: field → answer key → count,
learned by :mod:`policies.priors`, keys by :func:`policies.answers.answer_key`; each count + 1,
so an answer never seen still weighs, and no counts at all weigh every answer equally). Only
the ``MAX_CANDIDATES`` facts most possible policies wait for are weighed, each against the
policies waiting for it, which bounds the work (make bench: 500 policies). Ties go to the fact
more possible policies need, then to the name, so the order is stable.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from policies.answers import answer_key
from policies.conditions import atoms_of
from policies.evaluator import CheckResult, Policy, Resolver, check
from policies.facts import Facts, Interval
from policies.fields import Dictionary, Field, default_dictionary

MAX_CANDIDATES = 4


@dataclass(frozen=True)
class Question:
    field: str
    text: str
    worth: float  # expected number of policies it decides

    def to_dict(self) -> dict:
        return {"field": self.field, "text": self.text}


def _answers(f: Field) -> list[Any]:
    """Likely answers to try: every choice, yes/no, each band as an interval."""
    if f.type == "boolean":
        return [True, False]
    if f.choices:
        return list(f.choices)
    if f.bands:
        return [Interval(lo, hi) for lo, hi in f.bands]
    return []


def _probe_values(f: Field, policies: list[Policy]) -> list[Any]:
    """For a field with no answers listed (a date, a code): the policies' own thresholds."""
    values = [v for p in policies if p.conditions is not None
              for a in atoms_of(p.conditions) if a.field == f.name and a.value is not None
              for v in (a.value if isinstance(a.value, tuple) else (a.value,))]
    if f.type == "code":
        return list(dict.fromkeys(values)) + ["Z"]  # a code outside every prefix
    return list(dict.fromkeys(values))


def next_question(policies: list[Policy], facts: Facts, day: dt.date, *,
                  declined: set[str] | frozenset[str] = frozenset(),
                  dictionary: Dictionary | None = None,
                  priors: dict[str, dict[str, float]] | None = None,
                  result: CheckResult | None = None) -> Question | None:
    """The most deciding question, or None when no published policy is still undecided (or
    every fact still needed was declined). ``result``: the check of these facts, when the
    caller has it already."""
    dictionary = dictionary or default_dictionary()
    if result is None:
        result = check(policies, facts, day, declined=declined, dictionary=dictionary)
    possible_ids = {r.id for r in result.of("possible")}
    if not possible_ids:
        return None
    possible = [p for p in policies if p.id in possible_ids]
    needed: dict[str, int] = {}
    for r in result.of("possible"):
        for name in r.unknown:
            if name not in declined and name in dictionary and not dictionary[name].derived:
                needed[name] = needed.get(name, 0) + 1
    if not needed:
        return None
    best: Question | None = None
    best_key: tuple = ()
    # The facts most policies still need are tried (a fact few need decides few): a bound on
    # the work of one question whatever the size of the store.
    candidates = sorted(needed.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_CANDIDATES]
    waiting = {r.id: set(r.unknown) for r in result.of("possible")}
    for name, need in candidates:
        f = dictionary[name]
        answers = _answers(f) or _probe_values(f, possible)
        counts = (priors or {}).get(name, {})
        weights = [1.0 + counts.get(answer_key(f, a) or "", 0.0) for a in answers]
        total = sum(weights) or 1.0
        # Only the policies that depend on this fact can be decided by it.
        affected = [p for p in possible if name in waiting[p.id]]
        worth = 0.0
        for answer, weight in zip(answers, weights, strict=True):
            resolve = Resolver({**facts, name: answer}, day, dictionary, frozenset(declined))
            decided = sum(p.value(resolve) is not None for p in affected)
            worth += decided * weight / total
        key = (worth, need, _neg(name))
        if best is None or key > best_key:
            best, best_key = Question(name, f.question or f"请提供：{f.label}", worth), key
    return best


def _neg(name: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in name)  # earlier names win a tie
