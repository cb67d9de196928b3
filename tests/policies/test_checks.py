"""The checks before publishing (policies/checks.py) and the search behind "can never hold"
(policies/satisfy.py): each finding on a small item, none on the shipped seed."""
from __future__ import annotations

import datetime as dt
import json

import pytest
import yaml

from policies import store
from policies.checks import check_item, errors_of
from policies.conditions import parse_condition
from policies.satisfy import candidates, witness
from tests.policies.conftest import DAY, atom

ITEM = {"id": "p-1", "title": "测试事项", "clause": "第三条", "category": "奖补", "mode": "依申请",
        "document": {"title": "测试文件", "doc_no": "测〔2026〕1号"}, "department": "区科委",
        "benefit": "奖励10万元。", "apply": "一网通办。", "valid_from": "2026-01-01",
        "valid_to": "2030-12-31", "checked_on": "2026-12-01",
        "conditions": {"all": [atom("employees", "le", 300), atom("high_tech", "is_true")]}}


def codes(item: dict, day: dt.date = DAY) -> dict[str, str]:
    return {f.code: f.level for f in check_item(item, day)}


def test_a_sound_item_has_no_finding():
    assert check_item(ITEM, DAY) == []


def test_the_seed_can_be_published():
    for path in sorted(store.SEED.glob("*.yaml")):
        for item in json.loads(json.dumps(yaml.safe_load(path.read_text("utf-8")),
                                          default=str)):
            assert errors_of(check_item(item, DAY)) == [], item["id"]


def test_the_seed_holds_thirty_published_items_in_force_each_with_its_document():
    items = [item for path in sorted(store.SEED.glob("*.yaml"))
             for item in json.loads(json.dumps(yaml.safe_load(path.read_text("utf-8")),
                                               default=str))]
    assert len({i["id"] for i in items}) == len(items)
    documented = [i for i in items if i.get("status") == "published"
                  and i["document"].get("title") and i["document"].get("doc_no")
                  and i.get("valid_from")]
    assert len(documented) >= 30
    for item in items:  # in force on the day the seed was written
        assert str(item.get("valid_from") or "") <= DAY.isoformat() <= str(
            item.get("valid_to") or "9999-12-31"), item["id"]
        # with no condition an enterprise that told nothing would read it as 已确定符合 (and a
        # 免申即享 one would put the whole register on a department's work list)
        assert item.get("conditions"), item["id"]
    # an item not yet compared with its document says so, and nothing else is wrong with it
    unchecked = [i for i in items if not i.get("checked_on")]
    assert unchecked
    for item in unchecked:
        assert [f.code for f in check_item(item, DAY)] == ["unchecked"], item["id"]


@pytest.mark.parametrize(("conditions", "code"), [
    ({"all": [atom("employees", "le", 100), atom("employees", "gt", 200)]}, "never_holds"),
    ({"all": [atom("founded_on", "ge", "2020-01-01"), atom("founded_on", "lt", "2020-01-01")]},
     "never_holds"),
    ({"all": [atom("industry", "has_prefix", ["C"]), atom("industry", "in", ["I6510"])]},
     "never_holds"),
    ({"at_least": {"k": 2, "of": [atom("taxpayer_type", "eq", "一般纳税人"),
                                  atom("taxpayer_type", "eq", "小规模纳税人"),
                                  atom("high_tech", "is_false")]}}, None),
    ({"all": [atom("high_tech", "is_true"), {"not": atom("high_tech", "is_true")}]},
     "never_holds"),
    ({"field": "nope", "op": "eq", "value": 1}, "unknown_field"),
    ({"all": [atom("employees", "le")]}, "invalid_condition"),
])
def test_conditions_that_cannot_hold_or_be_read_are_errors(conditions, code):
    found = codes({**ITEM, "conditions": conditions})
    if code is None:
        assert found == {}
    else:
        assert found[code] == "error"


def test_a_dead_branch_and_a_condition_that_always_holds_are_warnings():
    dead = {"any": [{"all": [atom("employees", "le", 10), atom("employees", "ge", 20)]},
                    atom("high_tech", "is_true")]}
    assert codes({**ITEM, "conditions": dead}) == {"dead_branch": "warning"}
    always = {"any": [atom("high_tech", "is_true"), atom("high_tech", "is_false")]}
    assert codes({**ITEM, "conditions": always}) == {"always_holds": "warning"}
    assert codes({**ITEM, "conditions": None}) == {"no_conditions": "warning"}


def test_dates_and_missing_fields():
    assert codes(ITEM, dt.date(2031, 1, 1)) == {"expired": "error", "stale_check": "warning"}
    assert "expired" not in codes(ITEM, dt.date(2030, 12, 31))  # the last day is in force
    assert codes(ITEM, dt.date(2025, 12, 31)) == {"not_yet": "warning"}
    assert codes({**ITEM, "checked_on": "2025-11-01"}) == {"stale_check": "warning"}
    assert codes({**ITEM, "checked_on": None}) == {"unchecked": "warning"}
    assert codes({**ITEM, "windows": [{"start": "2026-03-01", "end": "2026-03-31"}]}) == {
        "windows_closed": "warning"}
    bare = {**ITEM, "document": {"title": "测试文件"}, "department": " ", "apply": ""}
    assert codes(bare) == {"missing_doc_no": "error", "missing_department": "error",
                           "missing_apply": "error"}
    assert "missing_apply" not in codes({**bare, "mode": "仅告知"})
    invalid = check_item({**ITEM, "title": "", "category": "其他", "valid_to": "不是日期"}, DAY)
    assert {f.where for f in invalid if f.code == "invalid"} == {"title", "category", "valid_to"}
    assert "必填" in check_item({k: v for k, v in ITEM.items() if k != "benefit"}, DAY)[0].message


def test_free_of_application_on_a_fact_only_the_enterprise_declares_is_an_error():
    item = {**ITEM, "mode": "免申即享", "conditions": atom("rd_ratio", "ge", 3)}
    [finding] = check_item(item, DAY)
    assert (finding.code, finding.level) == ("declared_only", "error")
    assert "研发费用占营业收入比例" in finding.message
    assert codes({**item, "mode": "快申快享"}) == {}


def test_the_search_finds_a_profile_or_proves_there_is_none(dictionary):
    tree = parse_condition({"all": [atom("employees", "gt", 10), atom("employees", "lt", 12),
                                    atom("scale", "in", ["小型", "微型"])]}, dictionary)
    found = witness(tree, dictionary)
    assert found.exhaustive and found.facts == {"employees": 11, "scale": "小型"}
    tight = parse_condition({"all": [atom("employees", "gt", 10), atom("employees", "lt", 11)]},
                            dictionary)
    assert witness(tight, dictionary).facts is None  # no whole number between 10 and 11
    assert witness(tight, dictionary, budget=1).exhaustive is False  # gave up: not known
    assert candidates(dictionary["revenue"], [300.0]) == [299.99, 300.0, 300.01]
    assert candidates(dictionary["founded_on"], [dt.date(2020, 1, 1)]) == [
        dt.date(2019, 12, 31), dt.date(2020, 1, 1), dt.date(2020, 1, 2)]


def test_saved_test_cases_run_and_a_failing_one_is_an_error():
    cases = [{"name": "小企业", "facts": {"employees": 20, "high_tech": True},
              "expected": "eligible"},
             {"facts": {"employees": 20}, "expected": "possible"},
             {"name": "到期后", "facts": {"employees": 20, "high_tech": True},
              "date": "2031-01-01", "expected": "eligible"}]
    found = check_item({**ITEM, "tests": cases}, DAY)
    [failed] = [f for f in found if f.code == "test_failed"]
    assert (failed.level, failed.where) == ("error", "tests[2]")
    assert "测试用例“到期后”预期符合，实际不在有效期内" in failed.message
    assert codes({**ITEM, "tests": cases[:2]}) == {}
    bad = check_item({**ITEM, "tests": [{"facts": {"employees": "很多"}, "expected": "eligible"}]},
                     DAY)
    assert [f.where for f in bad] == ["tests.0.facts"]
