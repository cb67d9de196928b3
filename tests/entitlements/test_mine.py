"""我的政策: what the enterprise qualifies for, what it still needs to say, its items."""
from __future__ import annotations

from entitlements.mine import my_policies
from entitlements.runs import run_batch
from entitlements.worklists import decide, work_list
from tests.entitlements.conftest import DAY, code


def test_an_enterprise_sees_its_own_entitlements_and_confirmed_items(session):
    run_batch(session, day=DAY)
    item = work_list(session, policy_id="tax-small-profit-cit")[0]
    before = my_policies(session, code(1), DAY)
    assert "tax-small-profit-cit" in [p["id"] for p in before["eligible"]]
    assert before["work_items"] == []  # pending: the department has not confirmed it
    decide(session, item.id, actor="c", confirm=True)
    after = my_policies(session, code(1), DAY)
    assert [(w["policy_id"], w["status"]) for w in after["work_items"]] == [
        ("tax-small-profit-cit", "confirmed")]
    assert any(n["kind"] == "mianshen" for n in after["notified"])


def test_an_enterprise_with_no_facts_is_asked_for_them(session):
    mine = my_policies(session, code(4), DAY)
    assert "tax-small-profit-cit" not in [p["id"] for p in mine["eligible"]]
    needed = {p["id"]: p["needed"] for p in mine["possible"]}
    assert "从业人数" in "、".join(needed["tax-small-profit-cit"])


def test_an_application_form_is_offered_only_where_one_is_filed(session):
    from policies.store import get_item

    item = get_item(session, "tax-veterans-hiring")
    assert item.data.get("form"), "the seed's 依申请 relief carries a form"
    mine = my_policies(session, code(4), DAY)
    shown = {p["id"]: p["has_form"] for p in mine["eligible"] + mine["possible"]}
    assert shown["tax-veterans-hiring"] is True
    assert shown["tax-small-profit-cit"] is False  # 免申即享: nothing to apply for
