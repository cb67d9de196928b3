"""The check of a profile against policies: statuses, validity days, derived fields, and the
properties that make it honest (a new fact never flips a decided result; order never matters)."""
from __future__ import annotations

import datetime as dt
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from policies.evaluator import check, years_between
from policies.facts import parse_facts
from tests.policies.conftest import DAY, atom, policy

SMALL_PROFIT = policy("small-profit", {"all": [
    atom("taxable_income", "le", 300), atom("employees", "le", 300),
    atom("total_assets", "le", 5000), {"not": atom("is_individual_business", "is_true")}]},
    valid_from="2023-01-01", valid_to="2027-12-31")
HIGH_TECH = policy("high-tech", atom("high_tech", "is_true"))
YOUNG = policy("young", atom("years_since_founded", "lt", 3))
SMALL = policy("small", atom("scale", "in", ["小型", "微型"]))
POLICIES = [SMALL_PROFIT, HIGH_TECH, YOUNG, SMALL]


def run(facts: dict, dictionary, day=DAY, declined=()):
    return check(POLICIES, parse_facts(facts, dictionary), day, declined=set(declined)).to_dict()


def test_statuses_with_what_is_missing_and_what_failed(dictionary):
    result = run({"employees": 320, "high_tech": True, "founded_on": "2025-01-02"}, dictionary)
    assert result["eligible"] == ["high-tech", "young"]
    assert result["ineligible"] == [{"id": "small-profit", "failed": ["employees"]}]
    assert result["possible"] == [{"id": "small", "unknown": ["industry"]}]


def test_validity_start_and_end_days_count_and_outside_them_it_is_not_in_force(dictionary):
    facts = {"taxable_income": 100, "employees": 10, "total_assets": 100,
             "is_individual_business": False}
    for day, status in ((dt.date(2023, 1, 1), "eligible"), (dt.date(2027, 12, 31), "eligible"),
                        (dt.date(2022, 12, 31), "not_in_force"),
                        (dt.date(2028, 1, 1), "not_in_force")):
        result = run(facts, dictionary, day)
        assert "small-profit" in result[status], day


def test_the_anniversary_day_counts_as_a_full_year(dictionary):
    assert years_between(dt.date(2023, 12, 7), dt.date(2026, 12, 7)) == 3
    assert years_between(dt.date(2023, 12, 8), dt.date(2026, 12, 7)) == 2
    assert years_between(dt.date(2024, 2, 29), dt.date(2025, 2, 28)) == 1
    assert years_between(dt.date(2024, 2, 29), dt.date(2025, 2, 27)) == 0
    assert "young" in run({"founded_on": "2023-12-08"}, dictionary)["eligible"]
    assert {"id": "young", "failed": ["years_since_founded"]} in run(
        {"founded_on": "2023-12-07"}, dictionary)["ineligible"]


def test_a_derived_field_is_unknown_while_an_input_is_and_names_that_input(dictionary):
    result = run({"industry": "C3921", "employees": 500}, dictionary)
    assert {"id": "small", "unknown": ["revenue"]} in result["possible"]
    assert {"id": "young", "unknown": ["founded_on"]} in result["possible"]
    assert "small" in run({"scale": "小型"}, dictionary)["eligible"]  # given, not derived


def test_a_declined_fact_stays_unknown(dictionary):
    result = run({"high_tech": True}, dictionary, declined=["high_tech"])
    assert {"id": "high-tech", "unknown": ["high_tech"]} in result["possible"]


FIELDS = {"taxable_income": st.integers(0, 600), "employees": st.integers(0, 2000),
          "total_assets": st.integers(0, 10000), "is_individual_business": st.booleans(),
          "high_tech": st.booleans(), "founded_on": st.dates(dt.date(2015, 1, 1), DAY),
          "industry": st.sampled_from(["C3921", "I6510", "F5211", "L7212", "A0111"]),
          "revenue": st.integers(0, 50000)}


@settings(max_examples=150, deadline=None)
@given(st.fixed_dictionaries({}, optional=FIELDS), st.sampled_from(sorted(FIELDS)),
       st.data())
def test_making_an_unknown_fact_known_never_flips_a_decided_result(facts, name, data):
    from policies.fields import default_dictionary

    dictionary = default_dictionary()
    facts = {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in facts.items()}
    before = run({k: v for k, v in facts.items() if k != name}, dictionary)
    value = data.draw(FIELDS[name])
    after = run({**facts, name: value.isoformat() if isinstance(value, dt.date) else value},
                dictionary)
    for status in ("eligible", "not_in_force"):
        assert set(before[status]) <= set(after[status])
    assert {r["id"] for r in before["ineligible"]} <= {r["id"] for r in after["ineligible"]}


@settings(max_examples=50, deadline=None)
@given(st.fixed_dictionaries({}, optional=FIELDS), st.randoms())
def test_the_order_of_facts_never_matters(facts, rnd: random.Random):
    from policies.fields import default_dictionary

    dictionary = default_dictionary()
    facts = {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in facts.items()}
    items = list(facts.items())
    rnd.shuffle(items)
    assert run(dict(items), dictionary) == run(facts, dictionary)
