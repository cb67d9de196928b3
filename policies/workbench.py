"""The test panel's one call: an item (saved or being written) against a sample enterprise on
a date — its checks before publishing, each condition marked, and its boundary cases.

The item may be unfinished: what cannot be evaluated yet (no conditions, a condition still
being built) is reported among the checks, and the rest is still shown.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from policies import checks
from policies.boundaries import base_profile, boundary_cases
from policies.conditions import ConditionError
from policies.evaluator import policy_from_dict
from policies.facts import FactError, fact_json, parse_facts
from policies.fields import Dictionary, default_dictionary
from policies.trial import trial


def trial_run(raw: dict, facts: dict, declined: list[str], day: dt.date,
              dictionary: Dictionary | None = None) -> dict:
    """``{"date", "checks", "publishable", "result", "base", "boundaries", "cases"}`` (the
    saved test cases run); ``result`` None when the conditions cannot be evaluated yet. Bad
    facts raise FactError (422)."""
    dictionary = dictionary or default_dictionary()
    sample = parse_facts(facts, dictionary)
    unknown = [d for d in declined if d not in dictionary]
    if unknown:
        raise FactError(unknown[0][:40], f"未知字段：{unknown[0][:40]}。 / Unknown field.")
    findings = checks.check_item(raw, day, dictionary)
    out: dict[str, Any] = {"date": day.isoformat(),
                           "checks": [f.to_dict() for f in findings],
                           "publishable": not checks.errors_of(findings),
                           "result": None, "base": {}, "boundaries": [],
                           "cases": checks.run_cases(raw, day, dictionary)}
    try:
        policy = policy_from_dict({"id": "test", **{k: raw.get(k) for k in (
            "conditions", "valid_from", "valid_to") if raw.get(k)}}, dictionary)
    except (ConditionError, ValueError, TypeError):
        return out  # reported among the checks
    refused = frozenset(declined)
    out["result"] = trial(policy, sample, day, dictionary, refused)
    base = base_profile(policy, sample, dictionary)
    out["base"] = {name: fact_json(value) for name, value in base.items()}
    out["boundaries"] = boundary_cases(policy, base, day, dictionary, refused)
    return out
