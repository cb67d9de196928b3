"""The batch against the single-profile evaluator: random registers and random condition trees
(unknown facts, bands, values on the thresholds, derived fields with inputs missing, founding
dates on anniversaries and 29 February) and the shipped seed; every pair's status is check's,
and 免申即享-ready is check's eligible on the authoritative, fresh facts alone."""
from __future__ import annotations

import datetime as dt
import random

import pytest

from policies import scale
from policies.batch import (
    ELIGIBLE,
    MIANSHEN,
    POSSIBLE,
    STATUSES,
    BatchError,
    batch,
    build_table,
    impact,
    rows_for,
    rule_version,
)
from policies.evaluator import Resolver, check, policy_from_dict
from policies.facts import Interval
from policies.fields import NUMERIC, default_dictionary
from policies.store import SEED, load_file

DICTIONARY = default_dictionary()
# Check days: an ordinary one, 28 February of a common year, 29 February, 1 March of a leap one.
DAYS = (dt.date(2026, 12, 7), dt.date(2027, 2, 28), dt.date(2028, 2, 29), dt.date(2024, 3, 1))
CODES = ("C3921", "C1610", "A0111", "E4710", "F5110", "F5211", "G5990", "G5410", "H6110",
         "I6510", "I6410", "K7010", "K7020", "L7212", "M7320", "R9011", "S9410", "I", "C")
MODES = (MIANSHEN, MIANSHEN, "快申快享", "依申请", "")


def number_pool() -> dict[str, list[float]]:
    """Each numeric field's interesting values: every threshold of the 300号 standard and of
    the generated atoms, and the numbers either side of them."""
    points: dict[str, set[float]] = {name: {0, 1, 3, 5, 10, 20, 30, 100, 300, 1000, 5000}
                                     for name, f in DICTIONARY.fields.items()
                                     if f.type in NUMERIC}
    for standard in scale.standards():
        for group in standard.groups:
            for thresholds in (group.large, group.medium, group.small):
                for name, threshold in thresholds.items():
                    points[name].add(threshold)
    return {name: sorted({v + d for v in values for d in (-1, -0.5, 0, 0.5, 1)
                          if v + d >= 0}) for name, values in points.items()}


POOL = number_pool()


def random_value(rnd: random.Random, name: str, integer_only: bool = False):
    f = DICTIONARY[name]
    if f.type in NUMERIC:
        values = [v for v in POOL[name] if f.type != "integer" and not integer_only
                  or float(v).is_integer()]
        value = rnd.choice(values)
        return int(value) if f.type == "integer" else float(value)
    if f.type == "boolean":
        return rnd.random() < 0.5
    if f.type == "date":
        return random_date(rnd)
    if f.type == "code":
        return rnd.choice(CODES)
    if f.choices:
        return rnd.choice(f.choices)
    return rnd.choice(["宝山区", "浦东新区", "静安区"])


def random_date(rnd: random.Random) -> dt.date:
    kind = rnd.randrange(4)
    if kind == 0:
        return dt.date(rnd.choice([2016, 2020, 2024]), 2, 29)
    if kind == 1:  # an anniversary of a check day, or the day either side
        day = rnd.choice(DAYS)
        year = day.year - rnd.randint(0, 6)
        try:
            base = day.replace(year=year)
        except ValueError:
            base = dt.date(year, 2, 28)
        return base + dt.timedelta(days=rnd.choice([-1, 0, 1]))
    return dt.date(2010, 1, 1) + dt.timedelta(days=rnd.randrange(6500))


def random_band(rnd: random.Random, name: str) -> Interval:
    f = DICTIONARY[name]
    if f.bands and rnd.random() < 0.5:
        low, high = rnd.choice(f.bands)
        return Interval(low, high)
    low, high = sorted(rnd.sample(POOL[name], 2))
    kind = rnd.randrange(4)
    if kind == 0:
        return Interval(low, None, rnd.random() < 0.5)
    if kind == 1:
        return Interval(None, high, True, rnd.random() < 0.5)
    if kind == 2:
        return Interval(low, low, True, rnd.random() < 0.5)  # one number, or none
    return Interval(low, high, rnd.random() < 0.5, rnd.random() < 0.5)


def random_record(rnd: random.Random, i: int) -> dict:
    facts = {}
    for f in DICTIONARY.base_fields():
        if rnd.random() < 0.35:
            continue  # unknown
        if f.type in NUMERIC and rnd.random() < 0.25:
            facts[f.name] = random_band(rnd, f.name)
        else:
            facts[f.name] = random_value(rnd, f.name)
    if rnd.random() < 0.1:  # a derived field given as such
        facts["scale"] = rnd.choice(scale.SIZES)
    if rnd.random() < 0.1:
        facts["years_since_founded"] = (random_band(rnd, "years_since_founded")
                                        if rnd.random() < 0.3 else rnd.randint(0, 8))
    fresh = {name for name in facts if rnd.random() < 0.7}
    return {"uscc": f"91310113TEST{i:06d}", "name": f"企业{i}", "facts": facts,
            "authoritative_fresh": fresh}


def random_atom(rnd: random.Random) -> dict:
    name = rnd.choice(sorted(DICTIONARY.fields))
    f = DICTIONARY[name]
    if f.type == "boolean":
        op = rnd.choice(["is_true", "is_false", "eq", "ne", "in", "not_in"])
    elif f.type in NUMERIC | {"date"}:
        op = rnd.choice(["eq", "ne", "in", "not_in", "lt", "le", "gt", "ge", "between"])
    else:
        op = rnd.choice(["eq", "ne", "in", "not_in", "between"]
                        + (["has_prefix"] * 3 if f.type == "code" else []))
    if op in ("is_true", "is_false"):
        return {"field": name, "op": op}

    def one():
        value = random_value(rnd, name, integer_only=True)
        if op == "has_prefix":
            value = rnd.choice(["C", "C39", "F5", "I65", "K", "L", "R90", "C1610"])
        return value.isoformat() if isinstance(value, dt.date) else value

    if op == "between":
        value = sorted([one(), one()])
    elif op in ("in", "not_in", "has_prefix"):
        value = [one() for _ in range(rnd.randint(1, 3))]
    else:
        value = one()
    return {"field": name, "op": op, "value": value}


def random_tree(rnd: random.Random, depth: int = 0) -> dict:
    if depth >= 3 or rnd.random() < 0.35:
        return random_atom(rnd)
    parts = [random_tree(rnd, depth + 1) for _ in range(rnd.randint(1, 4))]
    kind = rnd.choice(["all", "any", "not", "at_least"])
    if kind == "not":
        return {"not": parts[0]}
    if kind == "at_least":
        return {"at_least": {"k": rnd.randint(1, len(parts)), "of": parts}}
    return {kind: parts}


def random_policy(rnd: random.Random, i: int):
    valid = rnd.choice([(None, None), ("2023-01-01", "2027-12-31"), ("2027-03-01", None),
                        (None, "2026-12-06")])
    return policy_from_dict({"id": f"random-{i:03d}", "mode": rnd.choice(MODES),
                             "conditions": random_tree(rnd) if rnd.random() < 0.95 else None,
                             "valid_from": valid[0], "valid_to": valid[1]})


def seed_policies() -> list:
    return [policy_from_dict(p) for path in sorted(SEED.glob("*.yaml")) for p in load_file(path)]


COMPILED_VALUE = {"eligible": True, "ineligible": False, "possible": None}


def assert_same_as_the_evaluator(records: list[dict], policies: list, day: dt.date) -> int:
    result = batch(records, policies, day)
    compared = 0
    for i, record in enumerate(records):
        facts = record["facts"]
        strict = {k: v for k, v in facts.items() if k in record["authoritative_fresh"]}
        full = check(policies, facts, day).results
        fresh = check(policies, strict, day).results
        resolve = Resolver(facts, day, default_dictionary())
        for j, (policy, expected, alone) in enumerate(zip(policies, full, fresh, strict=True)):
            got = STATUSES[result.status[j, i]]
            assert got == expected.status, (day, policy.id, policy.conditions, facts)
            if expected.status != "not_in_force":  # the planner's compiled value agrees
                assert policy.value(resolve) is COMPILED_VALUE[expected.status], policy.id
            ready = policy.mode == MIANSHEN and alone.status == "eligible"
            assert bool(result.ready[j, i]) == ready, (day, policy.id, facts, strict)
            compared += 1
    return compared


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_random_registers_and_trees_give_the_evaluators_statuses(day):
    rnd = random.Random(day.toordinal())
    records = [random_record(rnd, i) for i in range(150)]
    policies = [random_policy(rnd, i) for i in range(60)] + seed_policies()
    statuses = {s: 0 for s in STATUSES}
    assert assert_same_as_the_evaluator(records, policies, day) == 150 * len(policies)
    result = batch(records, policies, day)
    for code in result.status.ravel().tolist():
        statuses[STATUSES[code]] += 1
    # the comparison is worth something only if every status and readiness occur
    assert min(statuses.values()) > 50, statuses
    assert 0 < result.ready.sum() < (result.status == ELIGIBLE).sum()


def test_one_enterprise_alone_gives_the_same_as_in_the_register():
    """An enterprise whose facts changed is checked alone (policy by policy, not by columns):
    the same statuses and readiness as in the whole register's batch."""
    rnd = random.Random(17)
    day = DAYS[0]
    records = [random_record(rnd, i) for i in range(80)]
    policies = [random_policy(rnd, i) for i in range(60)] + seed_policies()
    whole = batch(records, policies, day)
    for i, record in enumerate(records):
        alone = batch([record], policies, day)
        assert alone.status[:, 0].tolist() == whole.status[:, i].tolist()
        assert alone.ready[:, 0].tolist() == whole.ready[:, i].tolist()
    assert assert_same_as_the_evaluator(records[:1], policies, day) == len(policies)


def test_bands_and_thresholds_decide_as_the_evaluator_on_every_operator():
    """Every numeric operator on every band shape at every pool value of one field."""
    rnd = random.Random(5)
    day = DAYS[0]
    records = []
    for i in range(400):
        value = random_band(rnd, "employees") if i % 2 else random_value(rnd, "employees")
        records.append({"uscc": str(i), "facts": {"employees": value, "industry": "C3921",
                                                  "revenue": random_value(rnd, "revenue")},
                        "authoritative_fresh": {"employees"}})
    policies = []
    for op in ("eq", "ne", "lt", "le", "gt", "ge"):
        for value in (0, 10, 20, 300, 1000):
            policies.append(policy_from_dict({"id": f"{op}-{value}", "conditions": {
                "field": "employees", "op": op, "value": value}}))
    for value in ([10, 20], [300, 300], [0, 1000]):
        for op in ("between", "in", "not_in"):
            policies.append(policy_from_dict({"id": f"{op}-{value}", "conditions": {
                "field": "employees", "op": op, "value": value}}))
    policies.append(policy_from_dict({"id": "scale", "mode": MIANSHEN, "conditions": {
        "field": "scale", "op": "in", "value": ["小型", "微型"]}}))
    assert assert_same_as_the_evaluator(records, policies, day) == 400 * len(policies)


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_derived_fields_with_inputs_missing_and_on_anniversaries(day):
    """Scale from every industry group with indicators exact, banded or unknown; years since
    founding on and either side of every anniversary, 29 February included."""
    rnd = random.Random(day.toordinal() + 1)
    records = []
    for i in range(500):
        facts = {"industry": rnd.choice(CODES)} if rnd.random() < 0.9 else {}
        for name in scale.INDICATORS:
            kind = rnd.randrange(3)
            if kind == 1:
                facts[name] = random_value(rnd, name)
            elif kind == 2:
                facts[name] = random_band(rnd, name)
        founded = dt.date(rnd.choice([2016, 2020, 2024]), 2, 29) if i % 3 == 0 else \
            random_date(rnd)
        if rnd.random() < 0.9:
            facts["founded_on"] = founded
        records.append({"uscc": str(i), "facts": facts,
                        "authoritative_fresh": {n for n in facts if rnd.random() < 0.8}})
    policies = [policy_from_dict({"id": f"scale-{size}", "mode": MIANSHEN, "conditions": {
        "field": "scale", "op": "eq", "value": size}}) for size in scale.SIZES]
    policies += [policy_from_dict({"id": f"years-{op}-{k}", "mode": MIANSHEN, "conditions": {
        "field": "years_since_founded", "op": op, "value": k}})
        for k in range(0, 12) for op in ("ge", "lt", "eq")]
    assert assert_same_as_the_evaluator(records, policies, day) == 500 * len(policies)


def test_many_distinct_codes_are_compared_as_strings_as_the_evaluator_does():
    """Past 64 distinct values a column's strings are compared as arrays, not one by one."""
    rnd = random.Random(3)
    codes = sorted({f"{rnd.choice('ACFIKLR')}{rnd.randint(0, 9999):04d}"[:rnd.randint(1, 5)]
                    for _ in range(300)})
    records = [{"uscc": str(i), "facts": {"industry": rnd.choice(codes),
                                          "district": f"区{rnd.randint(0, 99)}",
                                          "employees": random_value(rnd, "employees"),
                                          "revenue": random_value(rnd, "revenue")},
                "authoritative_fresh": {"industry"} if i % 2 else set()}
               for i in range(600)]
    table = build_table(records)
    assert len(table.columns["industry"].vocab) > 64 and len(table.columns["district"].vocab) > 64
    trees = [{"field": "industry", "op": "has_prefix", "value": ["C", "F5", "I65", "K70"]},
             {"field": "industry", "op": "eq", "value": codes[7]},
             {"field": "industry", "op": "ne", "value": codes[7]},
             {"field": "industry", "op": "in", "value": codes[:40]},
             {"field": "industry", "op": "not_in", "value": codes[10:50]},
             {"field": "industry", "op": "between", "value": ["C", "I6"]},
             {"field": "district", "op": "in", "value": ["区1", "区10", "区99"]},
             {"field": "district", "op": "between", "value": ["区1", "区5"]},
             {"field": "scale", "op": "in", "value": ["小型", "微型"]}]
    policies = [policy_from_dict({"id": f"p{i}", "mode": MIANSHEN, "conditions": tree})
                for i, tree in enumerate(trees)]
    assert assert_same_as_the_evaluator(records, policies, DAYS[0]) == 600 * len(trees)


def test_the_seed_on_its_own_fixed_profiles():
    records = [
        {"uscc": "A", "facts": {"taxable_income": 300, "employees": 300, "total_assets": 5000,
                                "is_individual_business": False},
         "authoritative_fresh": {"taxable_income", "employees", "total_assets",
                                 "is_individual_business"}},
        {"uscc": "B", "facts": {"taxable_income": 100, "employees": 20, "total_assets": 100,
                                "is_individual_business": False},
         "authoritative_fresh": {"taxable_income", "total_assets", "is_individual_business"}},
        {"uscc": "C", "facts": {}, "authoritative_fresh": set()}]
    result = batch(records, seed_policies(), DAYS[0])
    assert result.status_of("A", "tax-small-profit-cit") == "eligible"
    assert result.status_of("B", "tax-small-profit-cit") == "eligible"
    assert result.status_of("C", "tax-small-profit-cit") == "possible"
    rows = {(r["uscc"], r["policy"]): r for r in result.rows()}
    assert rows[("A", "tax-small-profit-cit")]["mianshen_ready"] is True
    # B's headcount is only its own word: eligible, not ready for 免申即享
    assert rows[("B", "tax-small-profit-cit")] == {
        "uscc": "B", "policy": "tax-small-profit-cit", "status": "eligible",
        "mianshen_ready": False}
    assert rows[("C", "tax-small-profit-cit")]["status"] == "possible"
    assert result.counts()["tax-small-profit-cit"] == {"eligible": 2, "possible": 1,
                                                       "mianshen_ready": 1}
    seed = seed_policies()
    assert assert_same_as_the_evaluator(records, seed, DAYS[0]) == 3 * len(seed)


def test_rows_come_enterprise_by_enterprise_and_only_eligible_or_possible():
    rnd = random.Random(11)
    records = [random_record(rnd, i) for i in range(300)]
    policies = [random_policy(rnd, i) for i in range(20)]
    result = batch(records, policies, DAYS[0])
    rows = list(result.rows(chunk=7))
    expected = [(r["uscc"], p.id) for i, r in enumerate(records)
                for j, p in enumerate(policies) if result.status[j, i] in (ELIGIBLE, POSSIBLE)]
    assert [(r["uscc"], r["policy"]) for r in rows] == expected
    assert {r["status"] for r in rows} == {"eligible", "possible"}
    assert list(rows_for(records, policies, DAYS[0], policy_id=policies[3].id)) == [
        r for r in rows if r["policy"] == policies[3].id]


def test_an_unknown_policy_or_a_fact_of_the_wrong_type_is_refused_in_words():
    with pytest.raises(BatchError) as unknown:
        rows_for([], seed_policies(), DAYS[0], policy_id="no-such-policy")
    assert unknown.value.status == 404 and "没有这项政策" in unknown.value.message
    with pytest.raises(BatchError) as wrong:
        build_table([{"uscc": "X", "facts": {"employees": "三百"}}])
    assert wrong.value.status == 422 and "employees" in wrong.value.message
    with pytest.raises(BatchError) as twice:
        build_table([{"uscc": "X", "facts": {}}, {"uscc": "X", "facts": {}}])
    assert twice.value.status == 422 and "X" in twice.value.message


def test_explain_keeps_the_rule_version_and_the_facts_used():
    [policy] = [p for p in seed_policies() if p.id == "tax-small-profit-cit"]
    records = [{"uscc": "B", "facts": {"taxable_income": 100, "employees": 20,
                                       "total_assets": 100, "is_individual_business": False,
                                       "district": "宝山区"},
                "authoritative_fresh": {"taxable_income", "total_assets"}}]
    result = batch(records, [policy], DAYS[0])
    why = result.explain("B", policy.id)
    assert result.rules() == [{"policy": policy.id, "rule_version": rule_version(policy),
                               "mode": MIANSHEN, "day": "2026-12-07", "fields": [
                                   "employees", "is_individual_business", "taxable_income",
                                   "total_assets"]}]
    assert why["rule_version"] == rule_version(policy) and len(why["rule_version"]) == 12
    assert why["facts"] == {"employees": 20, "is_individual_business": False,
                            "taxable_income": 100, "total_assets": 100}  # not the district
    assert why["authoritative"] == ["taxable_income", "total_assets"]
    assert why["status"] == "eligible" and why["mianshen_ready"] is False
    assert set(why["met"]) == {"taxable_income", "employees", "total_assets",
                               "is_individual_business"}


def test_rule_version_changes_with_the_rule_not_its_wording():
    base = {"id": "p", "conditions": {"field": "employees", "op": "le", "value": 300}}
    reworded = {**base, "conditions": {**base["conditions"], "text": "不超过300人"}}
    changed = {**base, "conditions": {**base["conditions"], "value": 200}}
    assert rule_version(policy_from_dict(base)) == rule_version(policy_from_dict(reworded))
    assert rule_version(policy_from_dict(base)) != rule_version(policy_from_dict(changed))


def test_impact_of_a_new_and_of_a_changed_policy():
    records = [{"uscc": f"E{n}", "facts": {"employees": n}, "authoritative_fresh": set()}
               for n in (10, 200, 300, 400)]
    records.append({"uscc": "E-band", "facts": {"employees": Interval(250, 350)},
                    "authoritative_fresh": set()})
    records.append({"uscc": "E-none", "facts": {}, "authoritative_fresh": set()})
    old = policy_from_dict({"id": "p", "conditions": {"field": "employees", "op": "le",
                                                      "value": 300}})
    new = policy_from_dict({"id": "p", "conditions": {"field": "employees", "op": "le",
                                                      "value": 200}})
    first = impact(None, old, records, DAYS[0])
    assert first.newly_eligible == ["E10", "E200", "E300"]
    assert first.no_longer_eligible == []
    assert first.newly_possible == ["E-band", "E-none"]
    changed = impact(old, new, build_table(records), DAYS[0])
    assert changed.newly_eligible == []
    assert changed.no_longer_eligible == ["E300"]
    assert changed.newly_possible == []  # the band was possible before too
    assert changed.to_dict()["no_longer_eligible"] == {"count": 1, "usccs": ["E300"]}
    widened = impact(new, old, records, DAYS[0])
    assert widened.newly_eligible == ["E300"]
