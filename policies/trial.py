"""The editors' test panel: one policy against a sample enterprise, every condition marked.

:func:`trial` gives the policy's result on the sample (as the check gives it) and each node of
its condition tree — groups and atoms, in order, with their depth — met ✅, failed ❌ or
unknown ❓, so the workbench can show the tree as the editor built it, marked.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from policies.conditions import Atom, evaluate
from policies.evaluator import Policy, Resolver, check_policy, explain_failed, shown_value
from policies.facts import Facts
from policies.fields import Dictionary

MARKS = {True: "✅", False: "❌", None: "❓"}
STATES = {True: "met", False: "failed", None: "unknown"}


def group_text(key: str, body: Any) -> str:
    """A group as the builder names it."""
    if key == "all":
        return "全部满足"
    if key == "any":
        return "任一满足"
    if key == "not":
        return "除外（以下不成立）"
    return f"至少满足{body['k']}项"


def nodes_of(tree: Any, resolve: Resolver) -> list[dict]:
    """Every node of the tree in order, with its path, depth, words and mark."""
    out: list[dict] = []
    dictionary = resolve.dictionary

    def walk(node: Any, path: str, depth: int) -> None:
        value = evaluate(node, resolve).value
        entry: dict = {"path": path, "depth": depth, "state": STATES[value],
                       "mark": MARKS[value]}
        if isinstance(node, Atom):
            known, _ = resolve(node.field)
            f = dictionary.fields.get(node.field)
            entry.update(kind="atom", field=node.field, op=node.op,
                         text=node.describe(dictionary), clause=node.clause,
                         given=None if known is None else shown_value(known, f.unit if f else ""))
            out.append(entry)
            return
        [(key, body)] = node.items()
        entry.update(kind=key, text=group_text(key, body))
        out.append(entry)
        if key == "not":
            walk(body, f"{path}.not", depth + 1)
            return
        parts, where = (body["of"], f"{path}.at_least.of") if key == "at_least" else (
            body, f"{path}.{key}")
        for i, part in enumerate(parts):
            walk(part, f"{where}[{i}]", depth + 1)

    if tree is not None:
        walk(tree, "conditions", 0)
    return out


def trial(policy: Policy, facts: Facts, day: dt.date, dictionary: Dictionary,
          declined: frozenset[str] = frozenset()) -> dict:
    """The policy's result on the sample and each condition marked."""
    resolve = Resolver(facts, day, dictionary, declined)
    result = check_policy(policy, resolve)
    return {"status": result.status, "in_force": policy.in_force(day),
            "unknown": [{"field": u, "label": dictionary[u].label if u in dictionary else u}
                        for u in result.unknown],
            "failed": [{"field": a.field, "reason": explain_failed(a, resolve)}
                       for a in result.failed],
            "nodes": nodes_of(policy.conditions, resolve)}
