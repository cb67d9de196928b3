"""政策体检 benchmark: one profile against every published policy, and the next question.

Generated policies of the seed's shapes (thresholds on size and income, industry prefixes,
years since founding, 300号 scale, certificates, at-least-k groups) over the field dictionary;
profiles with a few facts known. Goal (issue 23): the check with the next question p95 ≤ 20 ms
for 500 policies on the 2 cores; the planner weighs with learned priors (answer counts of the
shape :mod:`policies.priors` keeps), as the gateway's does. The chat turn of a check-up at 5
conversations is :mod:`tests.bench.bench_policy_chat` (its own stack).
"""
from __future__ import annotations

import datetime as dt
import gc
import random
import time

from tests.bench import pct

DAY = dt.date(2026, 12, 7)


def generated_policies(count: int, seed: int = 7) -> list:
    from policies.evaluator import policy_from_dict

    rnd = random.Random(seed)

    def atom() -> dict:
        kind = rnd.randrange(7)
        if kind == 0:
            return {"field": "employees", "op": rnd.choice(["le", "ge", "lt"]),
                    "value": rnd.choice([10, 20, 30, 100, 300, 1000])}
        if kind == 1:
            return {"field": rnd.choice(["revenue", "taxable_income", "total_assets"]),
                    "op": rnd.choice(["le", "gt"]), "value": rnd.choice([100, 300, 2000, 5000])}
        if kind == 2:
            return {"field": "industry", "op": "has_prefix",
                    "value": rnd.sample(["C", "I65", "F51", "M", "G59", "K70", "L"], 2)}
        if kind == 3:
            return {"field": "years_since_founded", "op": rnd.choice(["lt", "ge"]),
                    "value": rnd.choice([1, 3, 5])}
        if kind == 4:
            return {"field": "scale", "op": "in", "value": rnd.sample(["中型", "小型", "微型"], 2)}
        if kind == 5:
            return {"field": rnd.choice(["high_tech", "tech_sme", "serious_dishonesty",
                                         "is_individual_business"]), "op": "is_true"}
        field, value = rnd.choice([("taxpayer_type", ["小规模纳税人"]),
                                   ("tax_credit_level", ["A", "B"]),
                                   ("specialized", ["专精特新中小企业", "专精特新“小巨人”企业"])])
        return {"field": field, "op": "in", "value": value}

    def tree(depth: int = 0) -> dict:
        if depth >= 2 or rnd.random() < 0.4:
            return atom()
        parts = [tree(depth + 1) for _ in range(rnd.randint(2, 4))]
        kind = rnd.choice(["all", "all", "any", "at_least", "not"])
        if kind == "not":
            return {"not": parts[0]}
        if kind == "at_least":
            return {"at_least": {"k": rnd.randint(1, len(parts)), "of": parts}}
        return {kind: parts}

    out = []
    for i in range(count):
        policy = {"id": f"gen-{i:04d}", "conditions": tree(),
                  "valid_from": "2023-01-01", "valid_to": rnd.choice([None, "2027-12-31"])}
        out.append(policy_from_dict(policy))
    return out


PROFILES = [{}, {"employees": 15, "industry": "C3921"},
            {"employees": {"gte": 300, "lt": 1000}, "high_tech": True, "founded_on": "2021-03-01"},
            {"taxpayer_type": "小规模纳税人", "revenue": 250, "taxable_income": 80,
             "total_assets": 900, "industry": "I6510", "employees": 40}]


def learned_priors(seed: int = 23) -> dict[str, dict[str, float]]:
    """Answer counts for every answer the planner tries, as the gateways learn them."""
    from policies.answers import answer_key
    from policies.fields import default_dictionary
    from policies.planner import _answers

    rnd = random.Random(seed)
    return {f.name: {key: float(rnd.randint(1, 500)) for a in _answers(f)
                     if (key := answer_key(f, a))}
            for f in default_dictionary().base_fields() if _answers(f)}


def check_and_plan(policies: list, repeats: int) -> dict:
    from policies.evaluator import check
    from policies.facts import parse_facts
    from policies.fields import default_dictionary
    from policies.planner import next_question

    dictionary = default_dictionary()
    priors = learned_priors()
    timings = []
    gc.collect()  # a collection of a caller's garbage is not the check's cost
    for raw in PROFILES:  # warm-up, untimed
        check(policies, parse_facts(raw, dictionary), DAY, dictionary=dictionary)
    for _ in range(repeats):
        for raw in PROFILES:
            facts = parse_facts(raw, dictionary)
            t0 = time.perf_counter()
            result = check(policies, facts, DAY, dictionary=dictionary)
            next_question(policies, facts, DAY, dictionary=dictionary, result=result,
                          priors=priors)
            timings.append((time.perf_counter() - t0) * 1000)
    return {"policies": len(policies), "profiles_checked": len(timings),
            "p50_ms": round(pct(timings, 50), 2), "p95_ms": round(pct(timings, 95), 2),
            "goal_p95_ms": 20}


def run(quick: bool = False) -> dict:
    count = 100 if quick else 500
    return {"check_and_next_question": check_and_plan(generated_policies(count),
                                                      3 if quick else 10)}
