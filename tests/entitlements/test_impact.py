"""Impact before publishing: a draft change measured against the live rules on the register,
with masked samples explained."""
from __future__ import annotations

from entitlements.impact import masked, policy_impact
from policies import editing
from policies.store import get_item
from tests.entitlements.conftest import DAY, code

SMALL_PROFIT = "tax-small-profit-cit"


def test_a_stricter_draft_shows_who_would_no_longer_qualify(session):
    item = get_item(session, SMALL_PROFIT)
    stricter = {**item.data, "status": "draft"}
    stricter["conditions"] = {"all": [*item.data["conditions"]["all"],
                                      {"field": "employees", "op": "le", "value": 10}]}
    editing.update(session, SMALL_PROFIT, stricter, "editor", "试算", expected_version=item.version)
    found = policy_impact(session, SMALL_PROFIT, DAY)
    assert found["compared_with"] == "published" and found["enterprises"] == 4
    gone = found["no_longer_eligible"]
    assert gone["count"] == 2  # 甲 on authority's data, 乙 on its own word: 20 people each
    sample = gone["samples"][0]
    assert code(1) not in str(found) and sample["enterprise"] in (masked(code(1)),
                                                                   masked(code(2)))
    assert sample["facts"]["employees"] == 20 and "employees" in sample["failed"]
    assert found["newly_eligible"]["count"] == 0


def test_a_new_policy_is_compared_with_nothing(session):
    editing.create(session, {"id": "new-one", "title": "新事项", "category": "奖补",
                             "mode": "依申请", "document": {"title": "文件"},
                             "benefit": "奖励。", "conditions": {
                                 "field": "employees", "op": "ge", "value": 100}}, "editor")
    found = policy_impact(session, "new-one", DAY)
    assert found["compared_with"].startswith("nothing")
    assert found["newly_eligible"]["count"] == 1  # 丙, 900 people
    assert found["newly_possible"]["count"] == 1  # 丁 has told nothing
