"""Condition trees: every operator and combinator, with facts known, unknown and in bands."""
from __future__ import annotations

import datetime as dt
import itertools

import pytest

from policies import conditions
from policies.conditions import ConditionError, evaluate, fields_of, parse_condition
from policies.evaluator import Resolver
from policies.facts import Interval, parse_facts
from tests.policies.conftest import DAY, atom


def value_of(tree: dict, facts: dict, dictionary, declined=()) -> bool | None:
    """The value by :func:`evaluate`, held to the short-circuiting value_of and to the
    compiled closures the planner runs (all three must agree on every case here)."""
    resolve = Resolver(parse_facts(facts, dictionary), DAY, dictionary, frozenset(declined))
    parsed = parse_condition(tree, dictionary)
    value = evaluate(parsed, resolve).value
    assert conditions.value_of(parsed, resolve) is value
    assert conditions.compile_value(parsed)(resolve) is value
    return value


@pytest.mark.parametrize(("cond", "facts", "expected"), [
    (atom("employees", "le", 300), {"employees": 300}, True),
    (atom("employees", "le", 300), {"employees": 301}, False),
    (atom("employees", "lt", 300), {"employees": 300}, False),
    (atom("employees", "ge", 300), {"employees": 300}, True),
    (atom("employees", "gt", 300), {"employees": 300}, False),
    (atom("revenue", "between", [100, 500]), {"revenue": 100}, True),
    (atom("revenue", "between", [100, 500]), {"revenue": 500}, True),
    (atom("revenue", "between", [100, 500]), {"revenue": 500.01}, False),
    (atom("taxpayer_type", "eq", "小规模纳税人"), {"taxpayer_type": "小规模纳税人"}, True),
    (atom("taxpayer_type", "ne", "小规模纳税人"), {"taxpayer_type": "小规模纳税人"}, False),
    (atom("tax_credit_level", "in", ["A", "B"]), {"tax_credit_level": "M"}, False),
    (atom("tax_credit_level", "not_in", ["C", "D"]), {"tax_credit_level": "M"}, True),
    (atom("high_tech", "is_true"), {"high_tech": "是"}, True),
    (atom("high_tech", "is_false"), {"high_tech": True}, False),
    (atom("industry", "has_prefix", ["C", "I65"]), {"industry": "C3921"}, True),
    (atom("industry", "has_prefix", ["C", "I65"]), {"industry": "I6510"}, True),
    (atom("industry", "has_prefix", ["C", "I65"]), {"industry": "I6410"}, False),
    (atom("founded_on", "ge", "2020-01-01"), {"founded_on": "2020-01-01"}, True),
    (atom("founded_on", "lt", "2020-01-01"), {"founded_on": "2020年1月1日"}, False),
])
def test_every_operator_on_a_known_fact(dictionary, cond, facts, expected):
    assert value_of(cond, facts, dictionary) is expected


@pytest.mark.parametrize("op", ["eq", "ne", "in", "not_in", "lt", "le", "gt", "ge", "between",
                                "is_true", "is_false", "has_prefix"])
def test_every_operator_on_an_unknown_fact_is_unknown(dictionary, op):
    field, value = {"is_true": ("high_tech", None), "is_false": ("high_tech", None),
                    "has_prefix": ("industry", ["C"]), "in": ("tax_credit_level", ["A"]),
                    "not_in": ("tax_credit_level", ["A"]),
                    "between": ("employees", [1, 2])}.get(op, ("employees", 10))
    assert value_of(atom(field, op, value), {}, dictionary) is None


T, F, U = atom("high_tech", "is_true"), atom("tech_sme", "is_true"), atom("employees", "ge", 1)
FACTS = {"high_tech": True, "tech_sme": False}  # employees unknown


@pytest.mark.parametrize(("tree", "expected"), [
    ({"all": [T, T]}, True), ({"all": [T, F]}, False), ({"all": [T, U]}, None),
    ({"all": [F, U]}, False),
    ({"any": [F, F]}, False), ({"any": [F, T]}, True), ({"any": [F, U]}, None),
    ({"any": [T, U]}, True),
    ({"not": T}, False), ({"not": F}, True), ({"not": U}, None),
    ({"at_least": {"k": 2, "of": [T, T, U]}}, True),
    ({"at_least": {"k": 2, "of": [T, F, U]}}, None),
    ({"at_least": {"k": 2, "of": [F, F, U]}}, False),
    ({"at_least": {"k": 3, "of": [T, U, F]}}, False),  # decided: 3 can no longer hold
    ({"all": [T, {"any": [F, {"not": F}]}]}, True),
])
def test_combinators_are_three_valued(dictionary, tree, expected):
    assert value_of(tree, FACTS, dictionary) is expected


def test_combinators_agree_with_kleene_logic_on_every_combination(dictionary):
    leaves = {True: T, False: F, None: U}
    for a, b in itertools.product([True, False, None], repeat=2):
        both = value_of({"all": [leaves[a], leaves[b]]}, FACTS, dictionary)
        either = value_of({"any": [leaves[a], leaves[b]]}, FACTS, dictionary)
        assert both is (False if False in (a, b) else None if None in (a, b) else True)
        assert either is (True if True in (a, b) else None if None in (a, b) else False)


@pytest.mark.parametrize(("band", "cond", "expected"), [
    ({"gte": 0, "lt": 300}, atom("employees", "le", 300), True),  # 300人以下 decides ≤300
    ({"gte": 0, "lt": 300}, atom("employees", "lt", 300), True),
    ({"gte": 300, "lt": 1000}, atom("employees", "le", 300), None),  # 300 itself or more
    ({"gte": 300, "lt": 1000}, atom("employees", "lt", 300), False),
    ({"gte": 1000}, atom("employees", "le", 300), False),
    ({"gte": 300, "lt": 1000}, atom("employees", "ge", 300), True),
    ({"gte": 300, "lt": 1000}, atom("employees", "between", [100, 2000]), True),
    ({"gte": 300, "lt": 1000}, atom("employees", "between", [500, 2000]), None),
    ({"gt": 2000}, atom("revenue", "gt", 2000), True),  # "超过2000万吗？" — 是
    ({"lte": 2000}, atom("revenue", "gt", 2000), False),  # — 否
    ({"gte": 300, "lt": 1000}, atom("employees", "eq", 200), False),
    ({"gte": 300, "lt": 1000}, atom("employees", "eq", 500), None),
])
def test_a_band_decides_every_threshold_it_can(dictionary, band, cond, expected):
    field = cond["field"]
    assert value_of(cond, {field: band}, dictionary) is expected


def test_unknown_names_what_would_decide_it_and_failed_names_what_did(dictionary):
    tree = parse_condition({"all": [atom("employees", "le", 300, clause="第三条"),
                                    {"any": [atom("high_tech", "is_true"),
                                             atom("tech_sme", "is_true")]}]}, dictionary)
    resolve = Resolver(parse_facts({"tech_sme": False}, dictionary), DAY, dictionary)
    assert evaluate(tree, resolve).unknown == ["employees", "high_tech"]
    resolve = Resolver(parse_facts({"employees": 320, "high_tech": True}, dictionary), DAY,
                       dictionary)
    outcome = evaluate(tree, resolve)
    assert outcome.value is False and [a.field for a in outcome.failed] == ["employees"]
    assert outcome.failed[0].clause == "第三条"
    assert outcome.failed[0].describe(dictionary) == "从业人数不超过300人"
    assert fields_of(tree) == {"employees", "high_tech", "tech_sme"}


@pytest.mark.parametrize(("bad", "where"), [
    ({"field": "nope", "op": "eq", "value": 1}, "conditions.field"),
    ({"field": "employees", "op": "about", "value": 1}, "conditions.op"),
    ({"field": "employees", "op": "le", "value": "三百"}, "conditions.value"),
    ({"field": "district", "op": "lt", "value": "宝山区"}, "conditions.value"),
    ({"field": "employees", "op": "is_true"}, "conditions.value"),
    ({"field": "employees", "op": "between", "value": [5, 1]}, "conditions.value"),
    ({"all": []}, "conditions.all"),
    ({"all": [{"field": "employees", "op": "le", "value": 1}], "any": []}, "conditions"),
    ({"at_least": {"k": 3, "of": [{"field": "high_tech", "op": "is_true"}]}},
     "conditions.at_least"),
    ({"all": [{"nope": 1}]}, "conditions.all[0]"),
    ([], "conditions"),
])
def test_a_bad_tree_is_refused_naming_where(dictionary, bad, where):
    with pytest.raises(ConditionError) as refused:
        parse_condition(bad, dictionary)
    assert [p for p, _ in refused.value.problems] == [where]


def test_dates_and_intervals_are_typed_by_the_field(dictionary):
    tree = parse_condition(atom("founded_on", "le", "2021-06-30"), dictionary)
    assert tree.value == dt.date(2021, 6, 30)
    assert parse_facts({"employees": {"gte": 10, "lt": 20}}, dictionary)["employees"] == \
        Interval(10.0, 20.0)
